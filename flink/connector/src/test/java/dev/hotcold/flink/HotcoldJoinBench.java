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
import java.util.Map;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.WebOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
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
 * older days; on the heap backend, and on RocksDB for reference) against
 * Flink's regular join with a 30-day state TTL on the RocksDB backend, with a
 * checkpoint every second: records/s over the
 * 30 days, the largest completed checkpoint, and the time a new job takes to
 * catch up (the regular join must read 30 days; HOTCOLD_JOIN its 2 hot days).
 * Prints one line per figure ("bench: ...") for BENCHMARKS.md.
 */
class HotcoldJoinBench {
  static final InMemoryReporter METRICS = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension FLINK =
      new MiniClusterExtension(
          new MiniClusterResourceConfiguration.Builder()
              // Every checkpoint's details stay in the REST history (default: the last 10).
              .setConfiguration(METRICS.addToConfiguration(new Configuration().set(RestOptions.PORT, 0)
                  .set(WebOptions.CHECKPOINTS_HISTORY_SIZE, 10_000)))
              .setNumberTaskManagers(1)
              .setNumberSlotsPerTaskManager(2)
              .build());

  static final int DAYS = 30;
  static final int ORDERS_PER_DAY = Integer.getInteger("bench.orders-per-day", 20_000);
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

  private static StreamTableEnvironment tableEnv() {
    return tableEnv("rocksdb");
  }

  /** Each table environment's stream environment, for its sources (tables). */
  private static final Map<StreamTableEnvironment, StreamExecutionEnvironment> ENVS = new java.util.IdentityHashMap<>();

  private static StreamTableEnvironment tableEnv(String backend) {
    Configuration c = new Configuration();
    c.setString("parallelism.default", "1");
    c.setString("restart-strategy.type", "none");
    c.setString("state.backend.type", backend);
    c.setString("execution.checkpointing.snapshot-compression", String.valueOf(SNAPSHOT_COMPRESSION));
    c.setString("execution.checkpointing.interval", "1 s");
    // Full checkpoints (Flink's default, said here): state_size is the live state itself.
    c.setString("execution.checkpointing.incremental", "false");
    c.setString("execution.checkpointing.dir", dir.resolve("checkpoints").toUri().toString());
    c.setString("state.backend.rocksdb.timer-service.factory", TIMER_SERVICE);
    c.setString("state.backend.rocksdb.use-bloom-filter", String.valueOf(BLOOM));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(c);
    StreamTableEnvironment t = StreamTableEnvironment.create(env, EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(c).build());
    ENVS.put(t, env);
    return t;
  }

  /**
   * The ids from..to (inclusive) as a FLIP-27 source, perSecond a second (0:
   * as fast as the job goes). Its checkpointed state is its split's
   * position: SQL's 'datagen' connector (the legacy SequenceGenerator of
   * flink-streaming-java) checkpoints a Deque of every number it has yet to
   * emit, ~8.5 MB here at the start, which made the whole job's checkpoints
   * mostly source state in both jobs.
   */
  private static DataStream<Long> ids(StreamTableEnvironment t, String name, long from, long to, long perSecond) {
    GeneratorFunction<Long, Long> id = i -> from + i;
    DataGeneratorSource<Long> src = new DataGeneratorSource<>(id, to - from + 1,
        perSecond > 0 ? RateLimiterStrategy.perSecond(perSecond) : RateLimiterStrategy.noOp(), Types.LONG);
    return ENVS.get(t).fromSource(src, WatermarkStrategy.noWatermarks(), name);
  }

  /** Orders and refunds from the start of day `fromDay`; a refund's order is up to 28 days older. */
  private static void tables(StreamTableEnvironment t, int fromDay, boolean steady) {
    // steady: one event-time day a second on both inputs, so that watermarks
    // (and HOTCOLD_JOIN's expiry) keep pace as on a live stream; otherwise as
    // fast as the job goes.
    long ordersFrom = (long) fromDay * ORDERS_PER_DAY + 1;
    long refundsFrom = fromDay * DAY_MS / REFUND_EVERY + 1;
    t.createTemporaryView("orders_ids", t.fromDataStream(ids(t, "orders", ordersFrom, ORDERS, steady ? ORDERS_PER_DAY : 0),
        Schema.newBuilder().column("f0", DataTypes.BIGINT())
            .columnByExpression("order_ts", "TO_TIMESTAMP_LTZ(" + BASE + " + f0 * " + ORDER_EVERY + ", 3)")
            .watermark("order_ts", "order_ts - INTERVAL '1' MINUTE").build()));
    t.executeSql("CREATE TEMPORARY VIEW orders AS SELECT f0 AS order_id, order_ts, CAST(f0 * 1.5 AS DOUBLE) AS amount FROM orders_ids");
    // The refund's order: r's own time minus (r * 7919 mod 28 days), as an order id.
    t.createTemporaryView("refunds_ids", t.fromDataStream(ids(t, "refunds", refundsFrom, REFUNDS, steady ? Math.max(1, REFUNDS / DAYS) : 0),
        Schema.newBuilder().column("f0", DataTypes.BIGINT())
            .columnByExpression("refund_ts", "TO_TIMESTAMP_LTZ(" + BASE + " + f0 * " + REFUND_EVERY + ", 3)")
            .watermark("refund_ts", "refund_ts - INTERVAL '1' MINUTE").build()));
    t.executeSql("CREATE TEMPORARY VIEW refunds AS SELECT f0 AS refund_id, refund_ts, (f0 * " + REFUND_EVERY + " - MOD(f0 * 7919, "
        + 28 * ORDERS_PER_DAY + ") * " + ORDER_EVERY + ") / " + ORDER_EVERY + " AS order_id FROM refunds_ids");
    t.executeSql("CREATE TEMPORARY TABLE sink (order_id BIGINT, amount DOUBLE, refund_id BIGINT) WITH ('connector' = 'blackhole')");
  }

  private static final String REGULAR = "INSERT INTO sink SELECT o.order_id, o.amount, r.refund_id FROM orders AS o"
      + " JOIN refunds AS r ON o.order_id = r.order_id";
  private static final String HOTCOLD = "INSERT INTO sink SELECT order_id1, amount, refund_id FROM HOTCOLD_JOIN("
      + "orders => TABLE orders PARTITION BY order_id, refunds => TABLE refunds PARTITION BY order_id, on_time => DESCRIPTOR(order_ts, refund_ts))";

  /**
   * One job: wall-clock seconds from submission to its end, seconds RUNNING
   * (REST timestamps RUNNING to FINISHED: without the submission and
   * planning), the largest completed checkpoint, whole job and of the join's
   * vertex alone, and the join's live state in a canonical savepoint (or -1).
   * Flink 2.2.1's RocksDB backend writes a non-incremental checkpoint as its
   * SST files (RocksNativeFullSnapshotStrategy), so a checkpoint counts rows
   * deleted since the last compaction too (here one every 4 checkpoints: the
   * L0 file trigger); a canonical savepoint writes only the live keys.
   */
  record Run(String backend, double seconds, double runningSeconds, double processingSeconds, long records, long maxCheckpointBytes, long maxJoinBytes, String joinSizes,
      long savepointJoinBytes) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private static JsonNode rest(String path) throws Exception {
    String base = "http://" + FLINK.getClientConfiguration().get(RestOptions.ADDRESS) + ":" + FLINK.getClientConfiguration().get(RestOptions.PORT);
    return JSON.readTree(HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(base + path)).build(),
        HttpResponse.BodyHandlers.ofString()).body());
  }

  /** The most records any operator of the job has read: the join's (sources read none, the sink only the pairs). */
  private static long recordsIn(JobID job) {
    long max = 0;
    // A list, not findMetrics' map: both sources' DataStreamToTable operators have the same identifier.
    for (var g : METRICS.findJobMetricGroups(job, "numRecordsIn")) {
      if (g.f2 instanceof org.apache.flink.metrics.Counter c) {
        max = Math.max(max, c.getCount());
      }
    }
    return max;
  }

  /**
   * Runs the job to its end. savepointAfter >= 0: once the join has read
   * that many records, a canonical savepoint (Flink's own format, the live
   * keys and values only) measures the live state, which the native RocksDB
   * checkpoints do not (see Run).
   */
  private static Run run(StreamTableEnvironment t, String sql, long records, long savepointAfter) throws Exception {
    long start = System.nanoTime();
    TableResult r = t.executeSql(sql);
    JobClient client = r.getJobClient().orElseThrow();
    JobID job = client.getJobID();
    String savepoint = null;
    if (savepointAfter >= 0) {
      long deadline = System.nanoTime() + 300_000_000_000L;
      while (recordsIn(job) < savepointAfter) {
        assertTrue(System.nanoTime() < deadline && !client.getJobStatus().get().isGloballyTerminalState(),
            "the job ended or stalled before reading " + savepointAfter + " records (" + recordsIn(job) + ")");
        Thread.sleep(20); // poll interval
      }
      savepoint = client.triggerSavepoint(dir.resolve("savepoints").toUri().toString(), SavepointFormatType.CANONICAL).get();
    }
    r.await();
    double s = (System.nanoTime() - start) / 1e9;
    JsonNode info = rest("/jobs/" + job);
    double running = (info.path("timestamps").path("FINISHED").asLong() - info.path("timestamps").path("RUNNING").asLong()) / 1e3;
    // The join's vertex: the one that is not a source (the sink is chained to it).
    String joinVertex = null;
    for (JsonNode v : info.path("vertices")) {
      if (!v.path("name").asText().startsWith("Source")) {
        joinVertex = v.path("id").asText();
      }
    }
    // The join task's own RUNNING to FINISHED: without the ~0.15 s of scheduling, deployment and initialization.
    JsonNode task = rest("/jobs/" + job + "/vertices/" + joinVertex + "/subtasktimes").path("subtasks").path(0).path("timestamps");
    double processing = (task.path("FINISHED").asLong() - task.path("RUNNING").asLong()) / 1e3;
    assertTrue(processing > 0, "join task timestamps: " + task);
    long max = 0, maxJoin = 0, savepointJoin = -1;
    StringBuilder sizes = new StringBuilder();
    JsonNode history = rest("/jobs/" + job + "/checkpoints").path("history");
    for (int i = history.size() - 1; i >= 0; i--) { // oldest first
      JsonNode c = history.get(i);
      if (!"COMPLETED".equals(c.path("status").asText())) {
        continue;
      }
      long join = rest("/jobs/" + job + "/checkpoints/details/" + c.path("id").asLong()).path("tasks").path(joinVertex).path("state_size").asLong();
      if (c.path("is_savepoint").asBoolean()) {
        savepointJoin = join;
        continue;
      }
      max = Math.max(max, c.path("state_size").asLong());
      maxJoin = Math.max(maxJoin, join);
      sizes.append(join).append(' ');
    }
    assertTrue(max > 0 && maxJoin > 0, "no completed checkpoint with join state: " + history);
    assertTrue(savepoint == null || savepointJoin >= 0, "savepoint " + savepoint + " not in the checkpoint history: " + history);
    // The backend the job ran on, as its checkpoint configuration reports it.
    String backend = rest("/jobs/" + job + "/checkpoints/config").path("state_backend").asText();
    assertTrue(!backend.isEmpty(), "no state backend in the job's checkpoint configuration");
    return new Run(backend, s, running, processing, records, max, maxJoin, sizes.toString().strip(), savepointJoin);
  }

  private static void print(String what, Run r) {
    System.out.printf("bench: %s [%s]: %d records in %.2f s (%.2f s running, the join task %.2f s) = %.0f records/s (%.0f running, %.0f the task),"
        + " largest checkpoint %d bytes, of the join %d bytes%n", what, r.backend, r.records, r.seconds, r.runningSeconds, r.processingSeconds,
        r.records / r.seconds, r.records / r.runningSeconds, r.records / r.processingSeconds, r.maxCheckpointBytes, r.maxJoinBytes);
    System.out.println("bench:   join state per checkpoint (bytes, oldest first): " + r.joinSizes);
    if (r.savepointJoinBytes >= 0) {
      System.out.printf("bench:   live join state (canonical savepoint at the start of day %d): %d bytes%n", SAVEPOINT_DAY + 1, r.savepointJoinBytes);
    }
  }

  /** The steady runs' canonical savepoint: once the join read the records of the first SAVEPOINT_DAY days. */
  static final int SAVEPOINT_DAY = DAYS - 1;

  static final int PROBES = Integer.getInteger("bench.probes", 100_000);

  /**
   * Where both jobs keep their timers (state.backend.rocksdb.timer-service.factory; the regular join has
   * none). HEAP, the README's recommendation for HOTCOLD_JOIN: its timers are one per hot key, few by
   * design; in RocksDB each costs a write, a delete and a read (profiled: ~2x the job's time).
   */
  static final String TIMER_SERVICE = System.getProperty("bench.timer-service", "HEAP");

  /**
   * Bloom filters in both jobs' SST files (state.backend.rocksdb.use-bloom-filter; Flink's default: none):
   * every order is a new key, whose state read misses, and without a filter a miss searches every SST file.
   */
  /**
   * HOTCOLD_JOIN's state backend (-Dbench.hotcold-backend; the regular join's is RocksDB): hashmap, the
   * README's recommendation for a job whose join state is its hot days (small by design: on the heap it
   * needs no serialization per access, and a checkpoint writes the live state only). The "rocksdb" part
   * of the runs measures HOTCOLD_JOIN on RocksDB too, for reference.
   */
  static final String HOT_BACKEND = System.getProperty("bench.hotcold-backend", "hashmap");

  /**
   * execution.checkpointing.snapshot-compression for both jobs (-Dbench.snapshot-compression; Flink's
   * default false): compresses the heap backend's checkpoints and both jobs' canonical savepoints (the
   * RocksDB native checkpoint is SST files, compressed by RocksDB itself either way).
   */
  static final boolean SNAPSHOT_COMPRESSION = Boolean.parseBoolean(System.getProperty("bench.snapshot-compression", "true"));

  static final boolean BLOOM = Boolean.parseBoolean(System.getProperty("bench.bloom-filter", "true"));

  /**
   * Whether both jobs first run once unmeasured (-Dbench.warmup=false: not):
   * the first job in the JVM pays the JIT compilation of Flink's runtime
   * (C2 compiler threads took more CPU than the join itself), which
   * otherwise counts against whichever job runs first (the regular join).
   */
  static final boolean WARMUP = Boolean.parseBoolean(System.getProperty("bench.warmup", "true"));

  /**
   * The parts to run (-Dbench.runs=fast,steady,bootstrap,rocksdb,lookup, the
   * default all of them): a subset while iterating on one figure. The ratios
   * need fast, steady and bootstrap.
   */
  static final java.util.Set<String> RUNS = java.util.Set.of(System.getProperty("bench.runs", "fast,steady,bootstrap,rocksdb,lookup").split(","));

  /**
   * The lookup connector on one subtask: PROBES lookups of existing keys of
   * the cold orders table (lookup join, no cache) as fast as the job goes.
   * lookups/s over the vertex's run; p99 of the lookupLatencyMicros
   * histogram (its last 10,000 lookups).
   */
  private static void lookupBench(boolean async) throws Exception {
    TableEnvironment t = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    t.getConfig().set("parallelism.default", "1");
    t.getConfig().set("restart-strategy.type", "none");
    long cold = (long) (DAYS - 2) * ORDERS_PER_DAY - 1;
    t.executeSql("CREATE TEMPORARY TABLE probes (id BIGINT, k AS id % " + cold + " + 1, proc AS PROCTIME()) WITH ('connector' = 'datagen',"
        + " 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '" + PROBES + "',"
        + " 'rows-per-second' = '1000000000')"); // datagen's default is 10,000 rows a second
    t.executeSql("CREATE TEMPORARY TABLE cold_orders (order_id BIGINT, amount DOUBLE) WITH ('connector' = 'hotcold', 'address' = 'unix://"
        + sidecar.unix + "', 'table' = 'orders', 'token-file' = '" + tokenFile + "', 'lookup.async' = '" + async + "')");
    t.executeSql("CREATE TEMPORARY TABLE lsink (id BIGINT, amount DOUBLE) WITH ('connector' = 'blackhole')");
    long start = System.nanoTime();
    TableResult r = t.executeSql("INSERT INTO lsink SELECT p.id, o.amount FROM probes AS p JOIN cold_orders FOR SYSTEM_TIME AS OF p.proc AS o"
        + " ON o.order_id = p.k");
    JobID job = r.getJobClient().orElseThrow().getJobID();
    r.await();
    double wall = (System.nanoTime() - start) / 1e9;
    JsonNode info = rest("/jobs/" + job);
    double vertex = info.path("vertices").get(0).path("duration").asLong() / 1e3;
    Histogram h = null;
    for (Map.Entry<String, Metric> e : METRICS.findMetrics(job, "hotcold." + LookupCore.LATENCY).entrySet()) {
      if (e.getKey().endsWith(".hotcold." + LookupCore.LATENCY)) {
        h = (Histogram) e.getValue();
      }
    }
    assertTrue(h != null && h.getCount() == PROBES, "lookup latency histogram of job " + job + ": " + (h == null ? "none" : h.getCount()));
    var st = h.getStatistics();
    System.out.printf("bench: lookup connector, %s, 1 subtask: %d lookups in %.1f s (vertex running; %.1f s with submission) = %.0f lookups/s,"
        + " latency p50 %.0f us, p99 %.0f us (last %d lookups)%n", async ? "async" : "sync", PROBES, vertex, wall, PROBES / vertex,
        st.getQuantile(0.5), st.getQuantile(0.99), st.size());
  }

  /** A new HOTCOLD_JOIN job on the given backend at the end of day 30: its 2 hot days, older orders from the cold table. */
  private Run bootstrap(String backend) throws Exception {
    StreamTableEnvironment boot = tableEnv(backend);
    tables(boot, DAYS - 2, false);
    HotcoldJoin.Options advanced = new HotcoldJoin.Options().coldTable("orders").address("unix://" + sidecar.unix)
        .tokenFile(tokenFile.toString()).advanceTo(Instant.ofEpochMilli(BASE + DAYS * DAY_MS).toString());
    boot.createTemporarySystemFunction("HOTCOLD_JOIN", new HotcoldJoin("orders", "refunds", advanced));
    long bootRecords = ORDERS - (long) (DAYS - 2) * ORDERS_PER_DAY + REFUNDS - (DAYS - 2) * DAY_MS / REFUND_EVERY;
    Run r = run(boot, HOTCOLD, bootRecords, -1);
    print("HOTCOLD_JOIN bootstrap (2 days + cold) on " + backend, r);
    return r;
  }

  /** The records of the first SAVEPOINT_DAY days, orders and refunds. */
  private static long savepointAfter() {
    return (long) SAVEPOINT_DAY * ORDERS_PER_DAY + SAVEPOINT_DAY * DAY_MS / REFUND_EVERY;
  }

  @Test
  void ordersRefunds30Days() throws Exception {
    long all = ORDERS + REFUNDS;
    System.out.printf("bench: workload: %d days x %d orders/day = %d orders, %d refunds (5%%), %d records%n", DAYS, ORDERS_PER_DAY, ORDERS,
        REFUNDS, all);
    System.out.printf("bench: config: regular join on rocksdb, HOTCOLD_JOIN on %s (state.backend.type); on rocksdb timers %s"
        + " (state.backend.rocksdb.timer-service.factory), bloom filters %s (state.backend.rocksdb.use-bloom-filter); snapshot compression %s"
        + " (execution.checkpointing.snapshot-compression); full checkpoints every 1 s; warm-up run of both jobs first: %s%n", HOT_BACKEND,
        TIMER_SERVICE, BLOOM, SNAPSHOT_COMPRESSION, WARMUP);

    HotcoldJoin.Options cold = new HotcoldJoin.Options().coldTable("orders").address("unix://" + sidecar.unix).tokenFile(tokenFile.toString());
    Run[] regular = new Run[2], hotcold = new Run[2];
    if (WARMUP) {
      StreamTableEnvironment reg = tableEnv();
      reg.getConfig().set("table.exec.state.ttl", "30 d");
      tables(reg, 0, false);
      print("warm-up (not measured): regular join, as fast as it goes", run(reg, REGULAR, all, -1));
      StreamTableEnvironment hot = tableEnv(HOT_BACKEND);
      tables(hot, 0, false);
      hot.createTemporarySystemFunction("HOTCOLD_JOIN", new HotcoldJoin("orders", "refunds", cold));
      print("warm-up (not measured): HOTCOLD_JOIN, as fast as it goes", run(hot, HOTCOLD, all, -1));
    }
    for (int steady = 0; steady <= 1; steady++) {
      if (!RUNS.contains(steady == 1 ? "steady" : "fast")) {
        continue;
      }
      StreamTableEnvironment reg = tableEnv();
      reg.getConfig().set("table.exec.state.ttl", "30 d");
      tables(reg, 0, steady == 1);
      regular[steady] = run(reg, REGULAR, all, steady == 1 ? savepointAfter() : -1);
      print("regular join, 30-day TTL, 30 days" + (steady == 1 ? ", steady (1 day/s)" : ", as fast as it goes"), regular[steady]);

      StreamTableEnvironment hot = tableEnv(HOT_BACKEND);
      tables(hot, 0, steady == 1);
      hot.createTemporarySystemFunction("HOTCOLD_JOIN", new HotcoldJoin("orders", "refunds", cold));
      hotcold[steady] = run(hot, HOTCOLD, all, steady == 1 ? savepointAfter() : -1);
      print("HOTCOLD_JOIN, 2 hot days + cold, 30 days" + (steady == 1 ? ", steady (1 day/s)" : ", as fast as it goes"), hotcold[steady]);
    }

    // Catching up: a new job at the end of day 30. The regular join must
    // read all 30 days (its fast run above); HOTCOLD_JOIN reads its 2 hot
    // days (older orders from the cold table).
    Run hotBoot = RUNS.contains("bootstrap") ? bootstrap(HOT_BACKEND) : null;

    // For reference: HOTCOLD_JOIN on the regular join's backend (RocksDB,
    // the same settings), which a job whose hot state outgrows the heap uses.
    Run refFast = null, refBoot = null;
    if (RUNS.contains("rocksdb") && !"rocksdb".equals(HOT_BACKEND)) {
      StreamTableEnvironment hot = tableEnv("rocksdb");
      tables(hot, 0, false);
      hot.createTemporarySystemFunction("HOTCOLD_JOIN", new HotcoldJoin("orders", "refunds", cold));
      refFast = run(hot, HOTCOLD, all, -1);
      print("for reference: HOTCOLD_JOIN on rocksdb, 30 days, as fast as it goes", refFast);
      refBoot = bootstrap("rocksdb");
    }

    if (hotBoot != null && regular[0] != null && regular[1] != null) {
      System.out.printf("bench: ratios (%d orders/day): live join state %.1fx smaller (canonical savepoint, steady, start of day %d; target >= 10x),"
          + " join checkpoint %.1fx smaller (largest checkpoint of the join vertex, steady; whole job %.1fx; target >= 10x),"
          + " records/s %.2fx (fast, running; %.2fx with submission; %.2fx the join task alone; target >= 1x),"
          + " bootstrap %.1fx shorter (running; %.1fx with submission; %.1fx the join task alone; target >= 10x)%n", ORDERS_PER_DAY,
          (double) regular[1].savepointJoinBytes / hotcold[1].savepointJoinBytes, SAVEPOINT_DAY + 1,
          (double) regular[1].maxJoinBytes / hotcold[1].maxJoinBytes, (double) regular[1].maxCheckpointBytes / hotcold[1].maxCheckpointBytes,
          regular[0].runningSeconds / hotcold[0].runningSeconds, regular[0].seconds / hotcold[0].seconds,
          regular[0].processingSeconds / hotcold[0].processingSeconds,
          regular[0].runningSeconds / hotBoot.runningSeconds, regular[0].seconds / hotBoot.seconds,
          regular[0].processingSeconds / hotBoot.processingSeconds);
    } else if (regular[0] != null && hotcold[0] != null) {
      System.out.printf("bench: ratios (part of the runs): records/s %.2fx (fast, running; %.2fx with submission; %.2fx the join task alone;"
          + " target >= 1x)%n", regular[0].runningSeconds / hotcold[0].runningSeconds, regular[0].seconds / hotcold[0].seconds,
          regular[0].processingSeconds / hotcold[0].processingSeconds);
    }
    if (regular[0] != null && refFast != null) {
      System.out.printf("bench: for reference, HOTCOLD_JOIN on rocksdb: records/s %.2fx (fast, running; %.2fx the join task alone),"
          + " bootstrap %.1fx shorter (running; %.1fx the join task alone)%n", regular[0].runningSeconds / refFast.runningSeconds,
          regular[0].processingSeconds / refFast.processingSeconds, regular[0].runningSeconds / refBoot.runningSeconds,
          regular[0].processingSeconds / refBoot.processingSeconds);
    }
    if (regular[0] != null) {
      assertEquals(all, regular[0].records);
    }

    if (RUNS.contains("lookup")) {
      lookupBench(true);
      lookupBench(false);
    }
  }
}
