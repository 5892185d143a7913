-- The job under test: open balances per user (what was ordered minus what was
-- refunded), kept for users who still owe something, as an upsert-kafka table.
-- A regular LEFT JOIN of orders with refunds summed per order, then a group
-- aggregation with HAVING: a user whose orders are all refunded leaves the
-- table again (Flink writes a tombstone for the key).
--
-- Run by `hotcold mock test` in one process (see case.yaml):
--   java -jar flink/runner/target/hotcold-flink-runner.jar sql examples/mock/flink-sql-open-balances/job.sql
-- The runner fills in the environment variables named below: mock gives the
-- run's brokers and isolated topic names (HOTCOLD_BROKERS, HOTCOLD_SOURCE_<NAME>,
-- HOTCOLD_SINK_TOPIC).
SET 'parallelism.default' = '1';

CREATE TABLE orders (
  order_id BIGINT NOT NULL,
  user_id BIGINT,
  amount DECIMAL(10, 2),
  order_time TIMESTAMP(3)
) WITH (
  'connector' = 'kafka',
  'topic' = '${HOTCOLD_SOURCE_ORDERS}',
  'properties.bootstrap.servers' = '${HOTCOLD_BROKERS}',
  'scan.startup.mode' = 'earliest-offset',
  'format' = 'json'
);

CREATE TABLE refunds (
  refund_id BIGINT NOT NULL,
  order_id BIGINT NOT NULL,
  refund_amount DECIMAL(10, 2),
  refund_time TIMESTAMP(3)
) WITH (
  'connector' = 'kafka',
  'topic' = '${HOTCOLD_SOURCE_REFUNDS}',
  'properties.bootstrap.servers' = '${HOTCOLD_BROKERS}',
  'scan.startup.mode' = 'earliest-offset',
  'format' = 'json'
);

CREATE TABLE open_balances (
  user_id BIGINT NOT NULL,
  order_count BIGINT,
  ordered DECIMAL(12, 2),
  refunded DECIMAL(12, 2),
  open_amount DECIMAL(12, 2),
  PRIMARY KEY (user_id) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '${HOTCOLD_SINK_TOPIC}',
  'properties.bootstrap.servers' = '${HOTCOLD_BROKERS}',
  'key.format' = 'json',
  'value.format' = 'json'
);

INSERT INTO open_balances
SELECT
  o.user_id,
  COUNT(*) AS order_count,
  CAST(SUM(o.amount) AS DECIMAL(12, 2)) AS ordered,
  CAST(SUM(COALESCE(r.refunded, 0)) AS DECIMAL(12, 2)) AS refunded,
  CAST(SUM(o.amount) - SUM(COALESCE(r.refunded, 0)) AS DECIMAL(12, 2)) AS open_amount
FROM orders AS o
LEFT JOIN (
  SELECT order_id, SUM(refund_amount) AS refunded FROM refunds GROUP BY order_id
) AS r ON r.order_id = o.order_id
GROUP BY o.user_id
HAVING SUM(o.amount) > SUM(COALESCE(r.refunded, 0));
