package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hotcold.kafka.testkit.KafkaBroker;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole pipeline on a real Apache Kafka broker: JSON orders and refunds
 * in Kafka topics, a Flink SQL job (Kafka source, HOTCOLD_JOIN against a
 * real hotcold serve whose cold orders table was loaded by hotcold load,
 * upsert-kafka sink), and the sink topic merged by key (last value wins, a
 * tombstone deletes) equal to the join computed here in plain Java.
 *
 * <p>The workload is HotcoldJoinTest's: orders every 28.8 minutes from
 * 2026-11-15, refunds every 38.4 minutes, each for an order up to 2.8 days
 * older or 4.8 hours newer. The cold table holds the orders of the first 5
 * days (1..249, covers-until 2026-11-20); the topics hold what a Kafka
 * retention of about 3 days leaves: orders from 250, refunds from 188
 * (2026-11-20 on). So a refund's order comes from the topic or, when older,
 * from the cold table through the sidecar.
 */
class KafkaPipelineIT {
  @RegisterExtension
  static final KafkaBroker kafka = new KafkaBroker();

  static final long BASE = Instant.parse("2026-11-15T00:00:00Z").toEpochMilli();
  static final long ORDER_EVERY = 1_728_000L, REFUND_EVERY = 2_304_000L;
  static final int ORDERS = 400, REFUNDS = 300, COLD_ORDERS = 249, TOPIC_ORDERS_FROM = 250, TOPIC_REFUNDS_FROM = 188;
  static final ObjectMapper JSON = new ObjectMapper();
  private static final java.util.concurrent.atomic.AtomicInteger RUNS = new java.util.concurrent.atomic.AtomicInteger();

  @TempDir static Path dir;
  static Sidecar sidecar;
  static Path tokenFile;

  static long orderTs(long id) {
    return BASE + id * ORDER_EVERY;
  }

  static String customer(long id) {
    return "c-" + (id % 17);
  }

  static long refundOrder(long refundId) {
    return refundId * 4 / 3 - Math.floorMod(refundId * 37, 150) + 10;
  }

  static String order(long id) {
    return String.format("{\"order_id\": %d, \"order_ts\": \"%s\", \"amount\": %s, \"customer\": \"%s\"}",
        id, Instant.ofEpochMilli(orderTs(id)), Double.toString(id * 1.5), customer(id));
  }

  @BeforeAll
  static void startSidecar() throws Exception {
    StringBuilder rows = new StringBuilder();
    for (long id = 1; id <= COLD_ORDERS; id++) {
      rows.append(id > 1 ? ",\n" : "").append(String.format("{\"order_id\": %d, \"order_ts\": %d, \"amount\": %s, \"customer\": \"%s\"}",
          id, orderTs(id), Double.toString(id * 1.5), customer(id)));
    }
    String spec = "{\"columns\": [{\"name\": \"order_id\", \"type\": \"int64\"}, {\"name\": \"order_ts\", \"type\": \"timestamp[ms, UTC]\"},"
        + " {\"name\": \"amount\", \"type\": \"float64\"}, {\"name\": \"customer\", \"type\": \"string\"}], \"key\": [\"order_id\"], \"rows\": [\n"
        + rows + "]}";
    sidecar = Sidecar.start(dir, new Sidecar.Table("orders", spec, "order_id", "2026-11-19"));
    tokenFile = dir.resolve("job.token");
    Files.writeString(tokenFile, Sidecar.TOKEN + "\n");
  }

  @AfterAll
  static void stopSidecar() throws Exception {
    if (sidecar != null) {
      sidecar.close();
    }
  }

  /** The expected sink table: refund_id to the joined row, as the sink's JSON value normalised by {@link #row}. */
  static Map<Long, String> expected() {
    Map<Long, String> want = new TreeMap<>();
    for (long r = TOPIC_REFUNDS_FROM; r <= REFUNDS; r++) {
      long o = refundOrder(r);
      if (o >= 1 && o <= ORDERS) {
        want.put(r, o + "|" + orderTs(o) + "|" + (o * 1.5) + "|" + customer(o) + "|" + r + "|" + (BASE + r * REFUND_EVERY));
      }
    }
    return want;
  }

  /** A sink value as order_id|order_ts ms|amount|customer|refund_id|refund_ts ms. */
  static String row(JsonNode v) {
    return v.get("order_id").asLong() + "|" + Instant.parse(v.get("order_ts").asText()).toEpochMilli() + "|" + v.get("amount").asDouble()
        + "|" + v.get("customer").asText() + "|" + v.get("refund_id").asLong() + "|"
        + Instant.parse(v.get("refund_ts").asText()).toEpochMilli();
  }

  static void produce(String orders, String refunds) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      // Each topic in event-time order, keyed by order_id (so a key's records stay in order in one partition).
      for (long id = TOPIC_ORDERS_FROM; id <= ORDERS; id++) {
        producer.send(new ProducerRecord<>(orders, String.valueOf(id), order(id)));
      }
      for (long r = TOPIC_REFUNDS_FROM; r <= REFUNDS; r++) {
        String v = String.format("{\"refund_id\": %d, \"order_id\": %d, \"refund_ts\": \"%s\"}", r, refundOrder(r),
            Instant.ofEpochMilli(BASE + r * REFUND_EVERY));
        producer.send(new ProducerRecord<>(refunds, String.valueOf(refundOrder(r)), v));
      }
      producer.flush();
    }
  }

  static String kafkaSource(String table, String topic, String columns, String time) {
    return "CREATE TEMPORARY TABLE " + table + " (" + columns + ", WATERMARK FOR " + time + " AS " + time + " - INTERVAL '1' HOUR)"
        + " WITH ('connector' = 'kafka', 'topic' = '" + topic + "', 'properties.bootstrap.servers' = '" + kafka.bootstrapServers() + "',"
        + " 'properties.group.id' = 'pipeline-it', 'scan.startup.mode' = 'earliest-offset',"
        + " 'format' = 'json', 'json.timestamp-format.standard' = 'ISO-8601', 'json.fail-on-missing-field' = 'true')";
  }

  @Test
  void kafkaThroughHotcoldJoinToUpsertKafkaEqualsTheExpectedTable() throws Exception {
    // Topics of their own per run (the test repeats in one broker when checked for flakiness).
    int run = RUNS.incrementAndGet();
    String orders = "orders-" + run, refunds = "refunds-" + run, sink = "refunded_orders-" + run;
    kafka.createTopic(orders, 2);
    kafka.createTopic(refunds, 2);
    kafka.createTopic(sink, 1);
    produce(orders, refunds);

    Map<Long, String> want = expected();
    long coldPairs = want.values().stream().filter(v -> Long.parseLong(v.substring(0, v.indexOf('|'))) <= COLD_ORDERS).count();
    assertTrue(coldPairs > 20 && want.size() - coldPairs > 20, "pairs with a cold order " + coldPairs + " of " + want.size());

    TableEnvironment t = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    t.getConfig().set("parallelism.default", "2");
    t.getConfig().set("restart-strategy.type", "none");
    t.getConfig().set("pipeline.auto-watermark-interval", "50 ms");
    t.executeSql(kafkaSource("orders", orders, "order_id BIGINT, order_ts TIMESTAMP_LTZ(3), amount DOUBLE, customer STRING", "order_ts"));
    t.executeSql(kafkaSource("refunds", refunds, "refund_id BIGINT, order_id BIGINT, refund_ts TIMESTAMP_LTZ(3)", "refund_ts"));
    t.executeSql("CREATE TEMPORARY TABLE refunded_orders (refund_id BIGINT, order_id BIGINT, order_ts TIMESTAMP_LTZ(3), amount DOUBLE,"
        + " customer STRING, refund_ts TIMESTAMP_LTZ(3), PRIMARY KEY (refund_id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka',"
        + " 'topic' = '" + sink + "', 'properties.bootstrap.servers' = '" + kafka.bootstrapServers() + "',"
        + " 'key.format' = 'json', 'value.format' = 'json', 'value.json.timestamp-format.standard' = 'ISO-8601')");
    t.createTemporarySystemFunction("HOTCOLD_JOIN", new HotcoldJoin("orders", "refunds", new HotcoldJoin.Options()
        .coldTable("orders").address(sidecar.tcp).tokenFile(tokenFile.toString()).advanceTo("2026-11-21")));
    JobClient job = t.executeSql("INSERT INTO refunded_orders SELECT refund_id, order_id1, CAST(order_ts AS TIMESTAMP_LTZ(3)), amount,"
        + " customer, CAST(refund_ts AS TIMESTAMP_LTZ(3)) FROM HOTCOLD_JOIN(orders => TABLE orders PARTITION BY order_id,"
        + " refunds => TABLE refunds PARTITION BY order_id, on_time => DESCRIPTOR(order_ts, refund_ts))"
        // Flink 2.3.0 requires the clause when the query's upsert key (none:
        // a PTF's output has none) is not the sink's primary key
        // (table.exec.sink.require-on-conflict); an inner join emits each
        // refund once, and DEDUPLICATE of an insert-only input is the upsert
        // it was before 2.3.
        + " ON CONFLICT DO DEDUPLICATE").getJobClient().orElseThrow();
    try {
      Map<Long, String> got = readSinkUntil(job, sink, want, Duration.ofMinutes(3));
      assertSame(want, got);
    } finally {
      if (!job.getJobStatus().get().isGloballyTerminalState()) {
        job.cancel().get();
      }
    }
  }

  /** Reads the sink topic, merging by key, until it equals want, the job fails, or the timeout passes. */
  static Map<Long, String> readSinkUntil(JobClient job, String sink, Map<Long, String> want, Duration timeout) throws Exception {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    Map<Long, String> got = new TreeMap<>();
    long end = System.nanoTime() + timeout.toNanos();
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
      TopicPartition tp = new TopicPartition(sink, 0);
      c.assign(List.of(tp));
      c.seekToBeginning(List.of(tp));
      while (!got.equals(want)) {
        if (job.getJobStatus().get().isGloballyTerminalState()) {
          job.getJobExecutionResult().get(); // throws the job's failure
          throw new AssertionError("the job ended (" + job.getJobStatus().get() + ") before the sink held the expected table");
        }
        if (System.nanoTime() > end) {
          break; // assertSame names the difference
        }
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
          long key = JSON.readTree(r.key()).get("refund_id").asLong();
          if (r.value() == null) {
            got.remove(key); // tombstone
          } else {
            got.put(key, row(JSON.readTree(new String(r.value(), StandardCharsets.UTF_8))));
          }
        }
      }
    }
    return got;
  }

  static void assertSame(Map<Long, String> want, Map<Long, String> got) {
    List<String> missing = new ArrayList<>(), extra = new ArrayList<>(), changed = new ArrayList<>();
    Map<Long, String> rest = new HashMap<>(got);
    for (Map.Entry<Long, String> e : want.entrySet()) {
      String g = rest.remove(e.getKey());
      if (g == null) {
        missing.add(e.getKey() + "=" + e.getValue());
      } else if (!g.equals(e.getValue())) {
        changed.add(e.getKey() + ": expected " + e.getValue() + ", got " + g);
      }
    }
    rest.forEach((k, v) -> extra.add(k + "=" + v));
    assertTrue(missing.isEmpty() && extra.isEmpty() && changed.isEmpty(),
        "sink refunded_orders vs the expected " + want.size() + " rows: missing " + missing + ", extra " + extra + ", changed " + changed);
  }
}
