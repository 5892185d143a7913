package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Benchmark (#16 point 8), not part of `verify`: run with
 * {@code mvn -f flink -pl connector -am -Pbench test} (the profile adds
 * flink-statebackend-rocksdb and selects this class). The 30-day
 * orders/refunds workload, HOTCOLD_JOIN (2 hot days + the cold table of the
 * older days) against Flink's regular join with a 30-day state TTL, both on
 * the RocksDB backend with a checkpoint every second: records/s over the
 * 30 days, the largest completed checkpoint, and the time a new job takes to
 * catch up (the regular join must read 30 days; HOTCOLD_JOIN its 2 hot days).
 * Prints one line per figure ("bench: ...") for BENCHMARKS.md.
 */
class HotcoldJoinBench {
  @RegisterExtension
  static final MiniClusterExtension FLINK =
      new MiniClusterExtension(
          new MiniClusterResourceConfiguration.Builder()
              .setConfiguration(new Configuration().set(RestOptions.PORT, 0))
              .setNumberTaskManagers(1)
              .setNumberSlotsPerTaskManager(2)
              .build());

  static final int DAYS = 30;
  static final int ORDERS_PER_DAY = Integer.getInteger("bench.orders-per-day", 2000);
  static final long BASE = Instant.parse("2026-10-24T00:00:00Z").toEpochMilli();
  static final long DAY_MS = 86_400_000L;
  static final long ORDERS = (long) DAYS * ORDERS_PER_DAY;
  static final long ORDER_EVERY = DAY_MS / ORDERS_PER_DAY;
  // 5% of orders refunded, each refund up to 28 days after its order.
  static final long REFUNDS = ORDERS / 20;
  static final long REFUND_EVERY = DAY_MS * DAYS / REFUNDS;

  @TempDir static Path dir;
  static Sidecar sidecar;
  static Path tokenFile;

  @BeforeAll
  static void start() throws Exception {
    // The cold table: the orders of every day but the last 2, covering them.
    long cold = (long) (DAYS - 2) * ORDERS_PER_DAY - 1;
    StringBuilder rows = new StringBuilder();
    for (long id = 1; id <= cold; id++) {
      rows.append(id > 1 ? ",\n" : "").append("{\"order_id\": ").append(id).append(", \"order_ts\": ").append(BASE + id * ORDER_EVERY)
          .append(", \"amount\": ").append(id * 1.5).append("}");
    }
    String spec = "{\"columns\": [{\"name\": \"order_id\", \"type\": \"int64\"}, {\"name\": \"order_ts\", \"type\": \"timestamp[ms, UTC]\"},"
        + " {\"name\": \"amount\", \"type\": \"float64\"}], \"key\": [\"order_id\"], \"rows\": [\n" + rows + "]}";
    String coversUntil = LocalDate.ofInstant(Instant.ofEpochMilli(BASE + (DAYS - 3) * DAY_MS), ZoneOffset.UTC).toString();
    sidecar = Sidecar.start(dir, new Sidecar.Table("orders", spec, "order_id", coversUntil));
    tokenFile = dir.resolve("job.token");
    Files.writeString(tokenFile, Sidecar.TOKEN + "\n");
  }

  @AfterAll
  static void stop() throws Exception {
    if (sidecar != null) {
      sidecar.close();
    }
  }

  private static TableEnvironment tableEnv() {
    TableEnvironment t = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    t.getConfig().set("parallelism.default", "1");
    t.getConfig().set("restart-strategy.type", "none");
    t.getConfig().set("state.backend.type", "rocksdb");
    t.getConfig().set("execution.checkpointing.interval", "1 s");
    t.getConfig().set("execution.checkpointing.dir", dir.resolve("checkpoints").toUri().toString());
    return t;
  }

  /** Orders and refunds from the start of day `fromDay`; a refund's order is up to 28 days older. */
  private static void tables(TableEnvironment t, int fromDay, boolean steady) {
    // steady: one event-time day a second on both inputs, so that watermarks
    // (and HOTCOLD_JOIN's expiry) keep pace as on a live stream; otherwise as
    // fast as the job goes.
    String orderRate = steady ? String.valueOf(ORDERS_PER_DAY) : "1000000";
    String refundRate = steady ? String.valueOf(Math.max(1, REFUNDS / DAYS)) : "1000000";
    long ordersFrom = (long) fromDay * ORDERS_PER_DAY + 1;
    long refundsFrom = fromDay * DAY_MS / REFUND_EVERY + 1;
    t.executeSql("CREATE TEMPORARY TABLE orders (order_id BIGINT,"
        + " order_ts AS TO_TIMESTAMP_LTZ(" + BASE + " + order_id * " + ORDER_EVERY + ", 3), amount AS CAST(order_id * 1.5 AS DOUBLE),"
        + " WATERMARK FOR order_ts AS order_ts - INTERVAL '1' MINUTE) WITH ('connector' = 'datagen',"
        + " 'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '" + ordersFrom + "', 'fields.order_id.end' = '" + ORDERS
        + "', 'rows-per-second' = '" + orderRate + "')");
    // The refund's order: r's own time minus (r * 7919 mod 28 days), as an order id.
    t.executeSql("CREATE TEMPORARY TABLE refunds (refund_id BIGINT,"
        + " refund_ts AS TO_TIMESTAMP_LTZ(" + BASE + " + refund_id * " + REFUND_EVERY + ", 3),"
        + " order_id AS (refund_id * " + REFUND_EVERY + " - MOD(refund_id * 7919, " + 28 * ORDERS_PER_DAY + ") * " + ORDER_EVERY + ") / "
        + ORDER_EVERY + ","
        + " WATERMARK FOR refund_ts AS refund_ts - INTERVAL '1' MINUTE) WITH ('connector' = 'datagen',"
        + " 'fields.refund_id.kind' = 'sequence', 'fields.refund_id.start' = '" + refundsFrom + "', 'fields.refund_id.end' = '" + REFUNDS
        + "', 'rows-per-second' = '" + refundRate + "')");
    t.executeSql("CREATE TEMPORARY TABLE sink (order_id BIGINT, amount DOUBLE, refund_id BIGINT) WITH ('connector' = 'blackhole')");
  }

  private static final String REGULAR = "INSERT INTO sink SELECT o.order_id, o.amount, r.refund_id FROM orders AS o"
      + " JOIN refunds AS r ON o.order_id = r.order_id";
  private static final String HOTCOLD = "INSERT INTO sink SELECT order_id1, amount, refund_id FROM HOTCOLD_JOIN("
      + "orders => TABLE orders PARTITION BY order_id, refunds => TABLE refunds PARTITION BY order_id, on_time => DESCRIPTOR(order_ts, refund_ts))";

  record Run(double seconds, long records, long maxCheckpointBytes) {}

  private static Run run(TableEnvironment t, String sql, long records) throws Exception {
    long start = System.nanoTime();
    TableResult r = t.executeSql(sql);
    JobID job = r.getJobClient().orElseThrow().getJobID();
    r.await();
    double s = (System.nanoTime() - start) / 1e9;
    return new Run(s, records, maxCheckpoint(job));
  }

  /** The largest state_size of the job's completed checkpoints (REST /jobs/:id/checkpoints). */
  private static long maxCheckpoint(JobID job) throws Exception {
    String rest = "http://" + FLINK.getClientConfiguration().get(RestOptions.ADDRESS) + ":" + FLINK.getClientConfiguration().get(RestOptions.PORT);
    String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(rest + "/jobs/" + job + "/checkpoints")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    long max = 0;
    Matcher m = Pattern.compile("\"status\":\"COMPLETED\"[^{}]*?\"state_size\":(\\d+)").matcher(body);
    while (m.find()) {
      max = Math.max(max, Long.parseLong(m.group(1)));
    }
    Matcher m2 = Pattern.compile("\"state_size\":(\\d+)[^{}]*?\"status\":\"COMPLETED\"").matcher(body);
    while (m2.find()) {
      max = Math.max(max, Long.parseLong(m2.group(1)));
    }
    assertTrue(max > 0, "no completed checkpoint with state in " + body);
    Matcher sizes = Pattern.compile("\"state_size\":(\\d+)").matcher(body);
    StringBuilder all = new StringBuilder();
    while (sizes.find()) {
      all.append(sizes.group(1)).append(' ');
    }
    System.out.println("bench: checkpoint sizes (REST, newest first; summary first): " + all);
    return max;
  }

  private static void print(String what, Run r) {
    System.out.printf("bench: %s: %d records in %.1f s = %.0f records/s, largest checkpoint %d bytes%n", what, r.records, r.seconds,
        r.records / r.seconds, r.maxCheckpointBytes);
  }

  @Test
  void ordersRefunds30Days() throws Exception {
    long all = ORDERS + REFUNDS;
    System.out.printf("bench: workload: %d days x %d orders/day = %d orders, %d refunds (5%%), %d records%n", DAYS, ORDERS_PER_DAY, ORDERS,
        REFUNDS, all);

    HotcoldJoin.Options cold = new HotcoldJoin.Options().coldTable("orders").address("unix://" + sidecar.unix).tokenFile(tokenFile.toString());
    Run[] regular = new Run[2], hotcold = new Run[2];
    for (int steady = 0; steady <= 1; steady++) {
      TableEnvironment reg = tableEnv();
      reg.getConfig().set("table.exec.state.ttl", "30 d");
      tables(reg, 0, steady == 1);
      regular[steady] = run(reg, REGULAR, all);
      print("regular join, 30-day TTL, 30 days" + (steady == 1 ? ", steady (1 day/s)" : ", as fast as it goes"), regular[steady]);

      TableEnvironment hot = tableEnv();
      tables(hot, 0, steady == 1);
      hot.createTemporarySystemFunction("HOTCOLD_JOIN", new HotcoldJoin("orders", "refunds", cold));
      hotcold[steady] = run(hot, HOTCOLD, all);
      print("HOTCOLD_JOIN, 2 hot days + cold, 30 days" + (steady == 1 ? ", steady (1 day/s)" : ", as fast as it goes"), hotcold[steady]);
    }

    // Catching up: a new job at the end of day 30. The regular join must
    // read all 30 days (its fast run above); HOTCOLD_JOIN reads its 2 hot
    // days (older orders from the cold table).
    TableEnvironment boot = tableEnv();
    tables(boot, DAYS - 2, false);
    HotcoldJoin.Options advanced = new HotcoldJoin.Options().coldTable("orders").address("unix://" + sidecar.unix)
        .tokenFile(tokenFile.toString()).advanceTo(Instant.ofEpochMilli(BASE + DAYS * DAY_MS).toString());
    boot.createTemporarySystemFunction("HOTCOLD_JOIN", new HotcoldJoin("orders", "refunds", advanced));
    long bootRecords = ORDERS - (long) (DAYS - 2) * ORDERS_PER_DAY + REFUNDS - (DAYS - 2) * DAY_MS / REFUND_EVERY;
    Run hotBoot = run(boot, HOTCOLD, bootRecords);
    print("HOTCOLD_JOIN bootstrap (2 days + cold)", hotBoot);

    System.out.printf("bench: ratios: checkpoint %.1fx smaller (steady; target >= 10x), records/s %.2fx (fast; target >= 1x),"
        + " bootstrap %.1fx shorter (target >= 10x)%n",
        (double) regular[1].maxCheckpointBytes / hotcold[1].maxCheckpointBytes,
        (hotcold[0].records / hotcold[0].seconds) / (regular[0].records / regular[0].seconds), regular[0].seconds / hotBoot.seconds);
    assertEquals(all, regular[0].records);
  }
}
