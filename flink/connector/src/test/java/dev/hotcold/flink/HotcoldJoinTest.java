package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * HOTCOLD_JOIN in a real Flink (MiniCluster) against a real hotcold serve
 * whose cold orders table was loaded with hotcold load: its merged output
 * equals Flink's own regular join over the same input.
 *
 * <p>The workload: 400 orders over 8 days from 2026-11-15 (one every 28.8
 * minutes), 300 refunds over the same 8 days (one every 38.4 minutes), each
 * for an order up to 2.8 days older or 4.8 hours newer than itself (some
 * for no order at all, several for one order). The cold table holds the
 * orders of the first 5 days, covers-until 2026-11-20T00:00:00Z.
 */
class HotcoldJoinTest {
  static final InMemoryReporter METRICS = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension FLINK =
      new MiniClusterExtension(
          new MiniClusterResourceConfiguration.Builder()
              .setConfiguration(METRICS.addToConfiguration(new Configuration()))
              .setNumberTaskManagers(1)
              .setNumberSlotsPerTaskManager(2)
              .build());

  static final long BASE = Instant.parse("2026-11-15T00:00:00Z").toEpochMilli();
  static final long ORDER_EVERY = 1_728_000L, REFUND_EVERY = 2_304_000L;
  static final int ORDERS = 400, REFUNDS = 300, COLD_ORDERS = 249; // order_ts < BASE + 5 days

  @TempDir static Path dir;
  static Sidecar sidecar;
  static Path tokenFile;

  @BeforeAll
  static void startSidecar() throws Exception {
    StringBuilder rows = new StringBuilder();
    for (long id = 1; id <= COLD_ORDERS; id++) {
      rows.append(id > 1 ? ",\n" : "").append(String.format("{\"order_id\": %d, \"order_ts\": %d, \"amount\": %s, \"customer\": \"c-%d\"}",
          id, BASE + id * ORDER_EVERY, Double.toString(id * 1.5), id % 17));
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

  private static TableEnvironment tableEnv() {
    TableEnvironment t = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    t.getConfig().set("parallelism.default", "1");
    t.getConfig().set("restart-strategy.type", "none");
    t.getConfig().set("pipeline.auto-watermark-interval", "50 ms");
    return t;
  }

  /**
   * orders and refunds as above, from sequence number `from`, at most rps
   * rows a second each (0: unthrottled). Each watermark is its table's time
   * minus an hour.
   */
  private static void tables(TableEnvironment t, int ordersFrom, int refundsFrom, int rps) {
    String rate = rps > 0 ? ", 'rows-per-second' = '" + rps + "'" : "";
    t.executeSql("CREATE TEMPORARY TABLE orders (order_id BIGINT,"
        + " order_ts AS TO_TIMESTAMP_LTZ(" + BASE + " + order_id * " + ORDER_EVERY + ", 3),"
        + " amount AS CAST(order_id * 1.5 AS DOUBLE), customer AS CONCAT('c-', CAST(order_id % 17 AS STRING)),"
        + " WATERMARK FOR order_ts AS order_ts - INTERVAL '1' HOUR) WITH ('connector' = 'datagen',"
        + " 'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '" + ordersFrom + "', 'fields.order_id.end' = '" + ORDERS + "'"
        + rate + ")");
    t.executeSql("CREATE TEMPORARY TABLE refunds (refund_id BIGINT,"
        + " order_id AS refund_id * 4 / 3 - MOD(refund_id * 37, 150) + 10,"
        + " refund_ts AS TO_TIMESTAMP_LTZ(" + BASE + " + refund_id * " + REFUND_EVERY + ", 3),"
        + " WATERMARK FOR refund_ts AS refund_ts - INTERVAL '1' HOUR) WITH ('connector' = 'datagen',"
        + " 'fields.refund_id.kind' = 'sequence', 'fields.refund_id.start' = '" + refundsFrom + "', 'fields.refund_id.end' = '" + REFUNDS + "'"
        + rate + ")");
  }

  private static final String REGULAR =
      "SELECT o.order_id, CAST(o.order_ts AS TIMESTAMP_LTZ(3)), o.amount, o.customer, r.refund_id, r.order_id,"
          + " CAST(r.refund_ts AS TIMESTAMP_LTZ(3)) FROM orders AS o JOIN refunds AS r ON o.order_id = r.order_id";

  private static String hotcold() {
    return hotcold("");
  }

  /** The join with these option arguments (", cold_table => 'orders'", or ""). */
  private static String hotcold(String args) {
    return "SELECT order_id1 AS order_id, CAST(order_ts AS TIMESTAMP_LTZ(3)) AS order_ts, amount, customer,"
        + " refund_id, order_id_right AS refund_order_id, CAST(refund_ts AS TIMESTAMP_LTZ(3)) AS refund_ts"
        + " FROM HOTCOLD_JOIN(orders => TABLE orders PARTITION BY order_id, refunds => TABLE refunds PARTITION BY order_id" + args
        + ", on_time => DESCRIPTOR(order_ts, refund_ts))";
  }

  private static HotcoldJoin.Options options(String address) {
    return new HotcoldJoin.Options().address(address).tokenFile(tokenFile.toString());
  }

  private static void register(TableEnvironment t, HotcoldJoin.Options o) {
    t.createTemporarySystemFunction("HOTCOLD_JOIN", new HotcoldJoin("orders", "refunds", o));
  }

  /** A changelog merged into the multiset of rows it ends with (+I adds, -D removes; a -D of nothing fails). */
  static Map<Row, Integer> merge(Iterable<Row> changelog) {
    Map<Row, Integer> m = new HashMap<>();
    for (Row r : changelog) {
      RowKind k = r.getKind();
      Row v = Row.copy(r);
      v.setKind(RowKind.INSERT);
      if (k == RowKind.INSERT || k == RowKind.UPDATE_AFTER) {
        m.merge(v, 1, Integer::sum);
      } else {
        Integer n = m.get(v);
        assertTrue(n != null && n > 0, "retraction of a row never inserted: " + r);
        if (n == 1) {
          m.remove(v);
        } else {
          m.put(v, n - 1);
        }
      }
    }
    return m;
  }

  /** Asserts equal multisets, naming the rows missing and the rows extra. */
  static void assertSameRows(Map<Row, Integer> want, Map<Row, Integer> got) {
    List<String> missing = new ArrayList<>(), extra = new ArrayList<>();
    for (Map.Entry<Row, Integer> e : want.entrySet()) {
      int n = got.getOrDefault(e.getKey(), 0);
      if (n < e.getValue()) {
        missing.add(e.getKey() + " x" + (e.getValue() - n));
      }
    }
    for (Map.Entry<Row, Integer> e : got.entrySet()) {
      int n = want.getOrDefault(e.getKey(), 0);
      if (n < e.getValue()) {
        extra.add(e.getKey() + " x" + (e.getValue() - n));
      }
    }
    assertTrue(missing.isEmpty() && extra.isEmpty(), "of " + count(want) + " pairs, missing " + missing + ", extra " + extra);
  }

  static List<Row> collect(TableEnvironment t, String sql) throws Exception {
    List<Row> rows = new ArrayList<>();
    try (CloseableIterator<Row> it = t.executeSql(sql).collect()) {
      it.forEachRemaining(rows::add);
    }
    return rows;
  }

  private static final Map<String, Map<Row, Integer>> REGULAR_RESULTS = new HashMap<>();

  /** Flink's regular join over the inputs from these sequence numbers, merged (once per JVM). */
  private static synchronized Map<Row, Integer> regular(int ordersFrom, int refundsFrom) throws Exception {
    String k = ordersFrom + "/" + refundsFrom;
    if (!REGULAR_RESULTS.containsKey(k)) {
      TableEnvironment t = tableEnv();
      tables(t, ordersFrom, refundsFrom, 0);
      REGULAR_RESULTS.put(k, merge(collect(t, REGULAR)));
    }
    return REGULAR_RESULTS.get(k);
  }

  /** The one counter of the job whose identifier ends with .hotcold_join.NAME. */
  private static long counter(JobID job, String name) {
    Map<String, Metric> found = METRICS.findMetrics(job, "hotcold_join." + name);
    List<Metric> ms = new ArrayList<>();
    for (Map.Entry<String, Metric> e : found.entrySet()) {
      if (e.getKey().endsWith(".hotcold_join." + name)) {
        ms.add(e.getValue());
      }
    }
    assertEquals(1, ms.size(), "metrics hotcold_join." + name + " of job " + job + ": " + found.keySet());
    return ((Counter) ms.get(0)).getCount();
  }

  private static long count(Map<Row, Integer> m) {
    return m.values().stream().mapToLong(Integer::longValue).sum();
  }

  @Test
  void innerJoinOverEightDaysEqualsFlinksRegularJoin() throws Exception {
    Map<Row, Integer> want = regular(1, 1);
    TableEnvironment t = tableEnv();
    tables(t, 1, 1, 150); // throttled: watermarks advance (and buckets expire) while refunds arrive
    register(t, options(sidecar.tcp).coldTable("orders").coldSide("orders"));
    TableResult res = t.executeSql(hotcold());
    JobID job = res.getJobClient().orElseThrow().getJobID();
    List<Row> got = new ArrayList<>();
    try (CloseableIterator<Row> it = res.collect()) {
      it.forEachRemaining(got::add);
    }
    for (Row r : got) {
      assertEquals(RowKind.INSERT, r.getKind(), "an inner join emits inserts only: " + r);
    }
    assertTrue(count(want) > 200, "pairs of the workload: " + count(want));
    assertSameRows(want, merge(got));
    // The buckets of the covered days were dropped (at the latest when the
    // bounded input's final watermark fired every timer); the uncovered ones kept.
    assertTrue(counter(job, HotcoldJoin.METRIC_EXPIRED) > 0, "expired rows");
  }

  private static final String REGULAR_LEFT =
      "SELECT r.refund_id, r.order_id, CAST(r.refund_ts AS TIMESTAMP_LTZ(3)), o.order_id, CAST(o.order_ts AS TIMESTAMP_LTZ(3)),"
          + " o.amount, o.customer FROM refunds AS r LEFT JOIN orders AS o ON o.order_id = r.order_id";

  private static final String HOTCOLD_LEFT =
      "SELECT refund_id, order_id1, CAST(refund_ts AS TIMESTAMP_LTZ(3)), order_id_right, CAST(order_ts AS TIMESTAMP_LTZ(3)), amount, customer"
          + " FROM HOTCOLD_LEFT_JOIN(refunds => TABLE refunds PARTITION BY order_id, orders => TABLE orders PARTITION BY order_id,"
          + " cold_table => 'orders')";

  @Test
  void leftJoinOverEightDaysEqualsFlinksLeftJoinAfterTheChangelogMerge() throws Exception {
    // Refunds LEFT JOIN orders, the cold table backing orders (the right input, by default).
    TableEnvironment reg = tableEnv();
    tables(reg, 1, 1, 0);
    Map<Row, Integer> want = merge(collect(reg, REGULAR_LEFT));
    TableEnvironment t = tableEnv();
    tables(t, 1, 1, 150); // throttled: watermarks advance (and buckets expire) while refunds arrive
    t.createTemporarySystemFunction("HOTCOLD_LEFT_JOIN", new HotcoldLeftJoin("refunds", "orders", options(sidecar.tcp)));
    TableResult res = t.executeSql(HOTCOLD_LEFT);
    JobID job = res.getJobClient().orElseThrow().getJobID();
    List<Row> got = new ArrayList<>();
    try (CloseableIterator<Row> it = res.collect()) {
      it.forEachRemaining(got::add);
    }
    long padded = 0, retracted = 0;
    for (Row r : got) {
      assertTrue(r.getKind() == RowKind.INSERT || r.getKind() == RowKind.DELETE, "inserts and deletes only: " + r);
      padded += r.getKind() == RowKind.INSERT && r.getField(3) == null ? 1 : 0;
      retracted += r.getKind() == RowKind.DELETE ? 1 : 0;
      if (r.getKind() == RowKind.DELETE) {
        assertEquals(null, r.getField(3), "only a null-padded row is retracted: " + r);
      }
    }
    long unmatched = want.keySet().stream().filter(r -> r.getField(3) == null).count();
    assertTrue(unmatched > 10 && count(want) - unmatched > 200, "refunds with and without their order: " + count(want) + ", " + unmatched);
    assertTrue(retracted > 0, "refunds seen before their order: a null-padded row, then -D of it");
    assertEquals(padded - retracted, unmatched, "null-padded rows left after the merge");
    assertSameRows(want, merge(got));
    assertTrue(counter(job, HotcoldJoin.METRIC_COLD_HITS) > 0, "refunds joined with an order from the cold table");
    assertTrue(counter(job, HotcoldJoin.METRIC_EXPIRED) > 0, "expired rows");
  }

  @Test
  void bootstrappingFromTheLastDaysJoinsOlderOrdersThroughTheColdTable() throws Exception {
    // A new job reads only the last 3 days (from 2026-11-20) of both inputs;
    // the orders before are in the cold table only.
    int ordersFrom = 250, refundsFrom = 188; // 2026-11-20T00:00:00Z, 2026-11-20T00:19:12Z
    // Flink's regular join over every order and the refunds of the last days.
    Map<Row, Integer> want = regular(1, refundsFrom);
    TableEnvironment t = tableEnv();
    tables(t, ordersFrom, refundsFrom, 0);
    register(t, options("unix://" + sidecar.unix).coldTable("orders").advanceTo("2026-11-21"));
    TableResult res = t.executeSql(hotcold());
    JobID job = res.getJobClient().orElseThrow().getJobID();
    List<Row> got = new ArrayList<>();
    try (CloseableIterator<Row> it = res.collect()) {
      it.forEachRemaining(got::add);
    }
    assertSameRows(want, merge(got));
    long coldPairs = 0;
    for (Row r : want.keySet()) {
      coldPairs += (Long) r.getField(0) < ordersFrom ? want.get(r) : 0;
    }
    assertTrue(coldPairs > 20, "pairs with an order only in the cold table: " + coldPairs);
    assertEquals(coldPairs, counter(job, HotcoldJoin.METRIC_COLD_HITS), "cold hits");
  }

  @Test
  void theCallsArgumentsWinOverOptions() throws Exception {
    // As the bootstrap above, every option from the call's arguments; the
    // Options name a table, an address and an advance_to that would fail
    // or join differently.
    int ordersFrom = 250, refundsFrom = 188;
    Map<Row, Integer> want = regular(1, refundsFrom);
    TableEnvironment t = tableEnv();
    tables(t, ordersFrom, refundsFrom, 0);
    register(t, new HotcoldJoin.Options().coldTable("no_such_table").coldSide("right").retentionDays(9)
        .address("unix://" + dir.resolve("no-sidecar.sock")).tokenFile(dir.resolve("no-token").toString()).advanceTo("2026-11-01"));
    TableResult res = t.executeSql(hotcold(", cold_table => 'orders', cold_side => 'orders', retention_days => 2,"
        + " address => 'unix://" + sidecar.unix + "', token_file => '" + tokenFile + "', advance_to => '2026-11-21'"));
    JobID job = res.getJobClient().orElseThrow().getJobID();
    List<Row> got = new ArrayList<>();
    try (CloseableIterator<Row> it = res.collect()) {
      it.forEachRemaining(got::add);
    }
    assertSameRows(want, merge(got));
    long coldPairs = 0;
    for (Row r : want.keySet()) {
      coldPairs += (Long) r.getField(0) < ordersFrom ? want.get(r) : 0;
    }
    assertTrue(coldPairs > 20, "pairs with an order only in the cold table: " + coldPairs);
    assertEquals(coldPairs, counter(job, HotcoldJoin.METRIC_COLD_HITS), "cold hits");
  }

  @Test
  void badOptionArgumentsFailWhenTheQueryIsPlanned() {
    TableEnvironment t = tableEnv();
    tables(t, 1, 1, 0);
    register(t, options(sidecar.tcp));
    String[][] cases = {
      {", retention_days => 0", "HOTCOLD_JOIN: retention_days must be at least 1, got 0"},
      {", cold_table => 'orders', cold_side => 'middle'", "HOTCOLD_JOIN: cold_side must be 'left' or 'right'"},
      {", advance_to => 'yesterday'", "HOTCOLD_JOIN: advance_to must be a date (2026-11-22)"},
      {", cold_table => CAST(CURRENT_TIMESTAMP AS STRING)", "HOTCOLD_JOIN: the argument cold_table must be a literal"},
    };
    for (String[] c : cases) {
      // Planning only: explain() plans the query and runs nothing.
      Exception e = assertThrows(Exception.class, () -> t.explainSql(hotcold(c[0])), c[0]);
      String chain = HotcoldLookupJoinTest.chain(e);
      assertTrue(chain.contains(c[1]), c[0] + ": " + chain);
    }
  }

  @Test
  void stopWithSavepointAndRestoreLosesAndDuplicatesNoPair() throws Exception {
    Map<Row, Integer> want = regular(1, 1);
    String sql = hotcold();
    HotcoldJoin.Options o = options(sidecar.tcp).coldTable("orders").coldSide("left");
    ConcurrentLinkedQueue<Row> got = new ConcurrentLinkedQueue<>();

    // Both jobs on the README's recommended state backend for HOTCOLD_JOIN
    // (the heap, compressed snapshots): the savepoint is written and read
    // compressed.
    Map<String, String> backend = readmeSets("```sql\nSET 'state.backend.type' = 'hashmap';");
    assertEquals(Map.of(StateBackendOptions.STATE_BACKEND.key(), "hashmap", ExecutionOptions.SNAPSHOT_COMPRESSION.key(), "true"), backend,
        "the README's state backend block names Flink's options");
    TableEnvironment t1 = tableEnv();
    backend.forEach(t1.getConfig()::set);
    t1.getConfig().set("execution.checkpointing.interval", "200 ms");
    tables(t1, 1, 1, 30);
    register(t1, o);
    TableResult r1 = t1.executeSql(sql);
    JobClient c1 = r1.getJobClient().orElseThrow();
    CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
      try (CloseableIterator<Row> it = r1.collect()) {
        it.forEachRemaining(got::add);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    Sidecar.await("the first 20 pairs", Duration.ofMinutes(2), () -> got.size() >= 20);
    String savepoint = c1.stopWithSavepoint(false, dir.resolve("savepoints").toUri().toString(), SavepointFormatType.CANONICAL).get();
    reader.join();
    int before = got.size();
    assertTrue(before < count(want), "stopped before the end: " + before + " of " + count(want));

    TableEnvironment t2 = tableEnv();
    backend.forEach(t2.getConfig()::set);
    t2.getConfig().set("execution.state-recovery.path", savepoint);
    // The collect sink of the first job is not in the second; the equality
    // below shows that the sources' and HOTCOLD_JOIN's state were restored.
    t2.getConfig().set("execution.state-recovery.ignore-unclaimed-state", "true");
    tables(t2, 1, 1, 30);
    register(t2, o);
    got.addAll(collect(t2, sql));
    assertTrue(got.size() > before, "the restored job emitted the rest");
    assertSameRows(want, merge(got));
  }

  @Test
  void theCallsArgumentsAreKnownBeforeItsFirstRecord() throws Exception {
    // Flink hands the function the call's literal arguments when it
    // translates the query (SpecializedFunction), so each subtask knows them
    // at open(): a restored timer that fires before the subtask's first
    // record expires and emits as any other, and a bad setting fails the
    // job even when no record ever arrives (here: inputs that are empty).
    TableEnvironment t = tableEnv();
    tables(t, 1, 1, 0);
    t.executeSql("CREATE TEMPORARY VIEW no_orders AS SELECT * FROM orders WHERE order_id < 0");
    t.executeSql("CREATE TEMPORARY VIEW no_refunds AS SELECT * FROM refunds WHERE refund_id < 0");
    register(t, options(sidecar.tcp));
    Exception e = assertThrows(Exception.class, () -> collect(t, "SELECT order_id1 FROM HOTCOLD_JOIN(orders => TABLE no_orders PARTITION BY"
        + " order_id, refunds => TABLE no_refunds PARTITION BY order_id, cold_table => 'orders', tls_key => '" + tokenFile + "',"
        + " on_time => DESCRIPTOR(order_ts, refund_ts))"));
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("HOTCOLD_JOIN: tls_cert and tls_key go together"), chain);
  }

  @Test
  void readmeSqlOnlyExampleRunsWithCallArguments() throws Exception {
    readmeSqlOnlyExample("```sql\nCREATE TEMPORARY FUNCTION HOTCOLD_JOIN");
  }

  @Test
  void readmeSqlOnlyExampleRunsWithJobParameters() throws Exception {
    readmeSqlOnlyExample("```sql\n-- the options as job parameters\nCREATE TEMPORARY FUNCTION HOTCOLD_JOIN");
  }

  @Test
  void readmeJavaRegisteredExampleRunsWithOptionsAndACallArgument() throws Exception {
    // The README's Java registration (with this test's sidecar), then its query, whose retention_days wins.
    readmeSqlOnlyExample("```sql\nSELECT order_id1 AS order_id, amount, refund_id, refund_ts\nFROM HOTCOLD_JOIN(\n  orders =>",
        t -> register(t, new HotcoldJoin.Options().coldTable("orders").retentionDays(2).address("unix://" + sidecar.unix)
            .tokenFile(tokenFile.toString())));
  }

  private static final java.util.regex.Pattern SET =
      java.util.regex.Pattern.compile("(?is)SET\\s+'((?:[^']|'')*)'\\s*=\\s*'((?:[^']|'')*)'");

  /** The body of the README's ```sql block starting with start. */
  private static String readmeBlock(String start) throws IOException {
    Path repo = Path.of(System.getProperty("hotcold.repo", "../.."));
    String readme = Files.readString(repo.resolve("README.md"));
    int at = readme.indexOf(start);
    assertTrue(at >= 0, "README.md shows the block " + start);
    return readme.substring(at + "```sql\n".length(), readme.indexOf("```", at + 6));
  }

  /** The SET statements of the README's ```sql block starting with start, in order. */
  private static Map<String, String> readmeSets(String start) throws IOException {
    Map<String, String> sets = new java.util.LinkedHashMap<>();
    for (SqlScript.Statement st : SqlScript.split(readmeBlock(start))) {
      java.util.regex.Matcher m = SET.matcher(st.sql());
      assertTrue(m.matches(), "only SET statements in the README's block " + start + ": " + st.sql());
      sets.put(m.group(1).replace("''", "'"), m.group(2).replace("''", "'"));
    }
    return sets;
  }

  private static void readmeSqlOnlyExample(String start) throws Exception {
    readmeSqlOnlyExample(start, t -> {});
  }

  /**
   * Runs the README's ```sql block starting with start as the runner would
   * (after setup), asserting Flink's regular join's pairs.
   */
  private static void readmeSqlOnlyExample(String start, java.util.function.Consumer<TableEnvironment> setup) throws Exception {
    String block = readmeBlock(start);
    // As the runner does: ${NAME} from the environment, SET into the configuration.
    block = SqlScript.substitute("README.md", block, Map.of("HOTCOLD_ADDRESS", sidecar.tcp, "HOTCOLD_TOKEN_FILE", tokenFile.toString()));
    TableEnvironment t = tableEnv();
    tables(t, 1, 1, 0);
    setup.accept(t);
    List<Row> got = null;
    for (SqlScript.Statement st : SqlScript.split(block)) {
      java.util.regex.Matcher m = SET.matcher(st.sql());
      if (m.matches()) {
        t.getConfig().set(m.group(1).replace("''", "'"), m.group(2).replace("''", "'"));
      } else if (st.sql().strip().startsWith("SELECT")) {
        got = collect(t, st.sql());
      } else {
        t.executeSql(st.sql());
      }
    }
    Map<Row, Integer> want = new HashMap<>();
    for (Map.Entry<Row, Integer> e : regular(1, 1).entrySet()) {
      Row r = e.getKey();
      want.merge(Row.of(r.getField(0), r.getField(2), r.getField(4), r.getField(6)), e.getValue(), Integer::sum);
    }
    Map<Row, Integer> merged = new HashMap<>();
    for (Map.Entry<Row, Integer> e : merge(got).entrySet()) {
      Row r = e.getKey();
      // refund_ts is the input's rowtime (LocalDateTime-free Instant either way).
      merged.merge(Row.of(r.getField(0), r.getField(1), r.getField(2), r.getField(3)), e.getValue(), Integer::sum);
    }
    assertSameRows(want, merged);
  }

  @Test
  void sidecarDownFailsTheJobNamingTheSidecar() throws Exception {
    TableEnvironment t = tableEnv();
    tables(t, 1, 1, 0);
    String dead = "unix://" + dir.resolve("no-sidecar.sock");
    register(t, options(dead).coldTable("orders"));
    Exception e = assertThrows(Exception.class, () -> collect(t, hotcold()));
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("the hotcold sidecar at " + dead + " did not describe cold table orders"), chain);
  }

  @Test
  void theSidecarClientIsClosedOnceTheJobHasEnded() throws Exception {
    // Flink 2.3.0 never calls a ProcessTableFunction's close(): without
    // ClientCleaner every subtask's gRPC channel to the sidecar would stay
    // open. No garbage collection is asked for: the job's release on the
    // TaskManager closes them (a finished task's function instance stays
    // reachable until then anyway).
    TableEnvironment t = tableEnv();
    tables(t, 1, 1, 0);
    register(t, options(sidecar.tcp).coldTable("orders").coldSide("orders"));
    long before = ClientCleaner.registered();
    assertTrue(!collect(t, hotcold()).isEmpty(), "the join emitted nothing");
    assertTrue(ClientCleaner.registered() > before, "the job opened no sidecar client");
    assertEquals(0, ClientCleaner.awaitClosed(before, 300, false), "sidecar clients still open after the job ended");
  }

  @Test
  void theSidecarClientIsClosedOnceTheJobIsCancelled() throws Exception {
    TableEnvironment t = tableEnv();
    tables(t, 1, 1, 10); // throttled: 40 s of input, so the job is cancelled, not finished
    register(t, options(sidecar.tcp).coldTable("orders").coldSide("orders"));
    long before = ClientCleaner.registered();
    TableResult res = t.executeSql(hotcold());
    JobClient job = res.getJobClient().orElseThrow();
    try (CloseableIterator<Row> it = res.collect()) {
      assertTrue(it.hasNext(), "the join emitted nothing");
      assertTrue(ClientCleaner.registered() > before, "the job opened no sidecar client");
      job.cancel().get();
    }
    assertEquals(0, ClientCleaner.awaitClosed(before, 300, false), "sidecar clients still open after the job was cancelled");
    assertEquals(JobStatus.CANCELED, job.getJobStatus().get());
  }

  @Test
  void theSidecarClientIsClosedOnceTheJobHasFailed() throws Exception {
    TableEnvironment t = tableEnv(); // restart-strategy none: the first failure fails the job
    tables(t, 1, 1, 0);
    register(t, options(sidecar.tcp).coldTable("orders").coldSide("orders"));
    long before = ClientCleaner.registered();
    // The first joined row divides by zero in the projection after the
    // join, in the join's task: the client is open by then.
    String sql = "SELECT order_id, 1 / (refund_id - refund_id) FROM (" + hotcold() + ")";
    Exception e = assertThrows(Exception.class, () -> collect(t, sql));
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("/ by zero"), chain);
    assertTrue(ClientCleaner.registered() > before, "the job opened no sidecar client");
    assertEquals(0, ClientCleaner.awaitClosed(before, 300, false), "sidecar clients still open after the job failed");
  }
}
