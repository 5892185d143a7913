-- Enrich a stream of orders with the cold users table through the hotcold sidecar.
-- Run: HOTCOLD_ADDRESS=unix:///run/hotcold/hotcold.sock HOTCOLD_TOKEN_FILE=/etc/hotcold/job.token \
--      ORDERS=1000 java -jar hotcold-flink-runner.jar sql enrich.sql
SET 'parallelism.default' = '1';

CREATE TABLE orders (
  order_id BIGINT,
  user_id AS order_id % 130,
  proc_time AS PROCTIME()
) WITH (
  'connector' = 'datagen',
  'fields.order_id.kind' = 'sequence',
  'fields.order_id.start' = '1',
  'fields.order_id.end' = '${ORDERS}'
);

-- Declare the columns you read; the connector checks them against the sidecar at start.
CREATE TABLE users (
  user_id BIGINT,
  name STRING,
  balance DECIMAL(12, 2),
  signup TIMESTAMP_LTZ(6)
) WITH (
  'connector' = 'hotcold',
  'address' = '${HOTCOLD_ADDRESS}',
  'table' = 'users',
  'token-file' = '${HOTCOLD_TOKEN_FILE}',
  'lookup.cache' = 'PARTIAL',
  'lookup.partial-cache.max-rows' = '100000',
  'lookup.partial-cache.expire-after-write' = '10 min'
);

CREATE TABLE enriched (
  order_id BIGINT,
  name STRING,
  balance DECIMAL(12, 2),
  nickname STRING
) WITH ('connector' = 'print');

INSERT INTO enriched
SELECT o.order_id, u.name, u.balance, HOTCOLD_LOOKUP('users', o.user_id).nickname
FROM orders AS o
LEFT JOIN users FOR SYSTEM_TIME AS OF o.proc_time AS u ON u.user_id = o.user_id;
