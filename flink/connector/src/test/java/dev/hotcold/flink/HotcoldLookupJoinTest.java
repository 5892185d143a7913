package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Metric;
import org.apache.flink.runtime.testutils.InMemoryReporter;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Lookup joins in a real Flink (MiniCluster) against a real hotcold serve
 * over tables loaded with hotcold load (see TestData for their rows).
 */
class HotcoldLookupJoinTest {
  static final InMemoryReporter METRICS = InMemoryReporter.createWithRetainedMetrics();

  @RegisterExtension
  static final MiniClusterExtension FLINK =
      new MiniClusterExtension(
          new MiniClusterResourceConfiguration.Builder()
              .setConfiguration(METRICS.addToConfiguration(new Configuration()))
              .setNumberTaskManagers(1)
              .setNumberSlotsPerTaskManager(2)
              .build());

  @TempDir static Path dir;
  static Sidecar sidecar;
  static Path tokenFile;

  @BeforeAll
  static void startSidecar() throws Exception {
    sidecar = Sidecar.start(dir, TestData.users(), TestData.orders());
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
    return t;
  }

  /** 'probes': ids 1..n, uid = id % 130 (users 1..100 exist), at most rps rows a second (0: unthrottled). */
  private static void probes(TableEnvironment t, int n, int rps) {
    t.executeSql("CREATE TEMPORARY TABLE probes (id BIGINT, uid AS id % 130, proc AS PROCTIME()) WITH ("
        + "'connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '" + n + "'"
        + (rps > 0 ? ", 'rows-per-second' = '" + rps + "'" : "") + ")");
  }

  private static void users(TableEnvironment t, String address, String extraOptions) {
    t.executeSql("CREATE TEMPORARY TABLE users (" + TestData.USERS_DDL_COLUMNS + ") WITH ("
        + "'connector' = 'hotcold', 'address' = '" + address + "', 'table' = 'users', 'token-file' = '" + tokenFile + "'"
        + extraOptions + ")");
  }

  private static final String JOIN =
      "SELECT p.id, u.* FROM probes AS p LEFT JOIN users FOR SYSTEM_TIME AS OF p.proc AS u ON u.user_id = p.uid";

  private static List<Row> collect(TableEnvironment t, String sql) throws Exception {
    List<Row> rows = new ArrayList<>();
    try (CloseableIterator<Row> it = t.executeSql(sql).collect()) {
      it.forEachRemaining(rows::add);
    }
    return rows;
  }

  /** Asserts one joined row per probe id 1..n with the users row of id % 130, or nulls. */
  private static void assertJoined(List<Row> rows, int n) {
    Map<Long, Row> byId = new TreeMap<>();
    for (Row r : rows) {
      Row prev = byId.put((Long) r.getField(0), r);
      assertNull(prev, "probe " + r.getField(0) + " joined twice");
    }
    assertEquals(n, byId.size(), "joined rows");
    for (long id = 1; id <= n; id++) {
      Row r = byId.get(id);
      long uid = id % 130;
      Object[] got = new Object[r.getArity() - 1];
      for (int i = 1; i < r.getArity(); i++) {
        got[i - 1] = r.getField(i);
      }
      if (uid >= 1 && uid <= 100) {
        assertArrayEquals(TestData.userRow(uid), got, "probe " + id + ": " + Arrays.deepToString(got));
      } else {
        assertArrayEquals(new Object[got.length], got, "probe " + id + " (no user " + uid + ")");
      }
    }
  }

  private double keys() throws Exception {
    return sidecar.metric("hotcold_sidecar_keys_total", "table=\"users\"");
  }

  private double batchCalls() throws Exception {
    return sidecar.metric("grpc_server_handled_total", "grpc_method=\"BatchLookup\"");
  }

  @Test
  void asyncLookupJoinOverTheUnixSocketCoalescesLookupsIntoBatches() throws Exception {
    TableEnvironment t = tableEnv();
    probes(t, 500, 0);
    users(t, "unix://" + sidecar.unix, ", 'lookup.max-in-flight' = '1'");
    double keys0 = keys(), calls0 = batchCalls();
    TableResult result = t.executeSql(JOIN);
    JobID job = result.getJobClient().orElseThrow().getJobID();
    List<Row> rows = new ArrayList<>();
    try (CloseableIterator<Row> it = result.collect()) {
      it.forEachRemaining(rows::add);
    }
    assertJoined(rows, 500);
    assertEquals(500, keys() - keys0, "keys looked up without a cache");
    double calls = batchCalls() - calls0;
    // One call at a time: the lookups issued meanwhile go out together.
    assertTrue(calls < 250, "BatchLookup calls for 500 async lookups: " + calls);

    // The connector's metrics, in the group "hotcold" of the lookup operator.
    long hits = 0;
    for (long id = 1; id <= 500; id++) {
      hits += id % 130 >= 1 && id % 130 <= 100 ? 1 : 0;
    }
    assertEquals(hits, ((Counter) metric(job, LookupCore.HITS)).getCount(), "hits");
    assertEquals(500 - hits, ((Counter) metric(job, LookupCore.MISSES)).getCount(), "misses");
    assertEquals(0, ((Counter) metric(job, LookupCore.ERRORS)).getCount(), "errors");
    assertEquals(500, ((Histogram) metric(job, LookupCore.LATENCY)).getCount(), "latency samples");
    Histogram batches = (Histogram) metric(job, LookupCore.BATCH_SIZE);
    assertEquals((long) calls, batches.getCount(), "batch-size samples, one per BatchLookup call");
    assertEquals(500.0, batches.getStatistics().getMean() * batches.getCount(), 1e-6, "keys over all batches");
  }

  @Test
  void syncLookupJoinOverTcp() throws Exception {
    TableEnvironment t = tableEnv();
    probes(t, 500, 0);
    users(t, sidecar.tcp, ", 'lookup.async' = 'false'");
    double keys0 = keys(), calls0 = batchCalls();
    assertJoined(collect(t, JOIN), 500);
    assertEquals(500, keys() - keys0, "keys looked up without a cache");
    assertEquals(500, batchCalls() - calls0, "a synchronous lookup sends one key per call");
  }

  @Test
  void partialCacheAnswersRepeatedKeysWithoutTheSidecar() throws Exception {
    TableEnvironment t = tableEnv();
    probes(t, 500, 0);
    users(t, sidecar.tcp, ", 'lookup.async' = 'false', 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '1000'");
    double keys0 = keys();
    assertJoined(collect(t, JOIN), 500);
    // 130 distinct keys (0..129), missing ones cached too.
    assertEquals(130, keys() - keys0, "keys looked up with the cache on");
  }

  @Test
  void asyncWithPartialCacheJoinsCorrectly() throws Exception {
    TableEnvironment t = tableEnv();
    probes(t, 500, 0);
    users(t, sidecar.tcp, ", 'lookup.cache' = 'PARTIAL', 'lookup.partial-cache.max-rows' = '1000'");
    double keys0 = keys();
    assertJoined(collect(t, JOIN), 500);
    double looked = keys() - keys0;
    assertTrue(looked >= 130 && looked <= 500, "keys looked up: " + looked);
  }

  @Test
  void compositeKeyInAnyOrderAndNullKeys() throws Exception {
    TableEnvironment t = tableEnv();
    t.executeSql("CREATE TEMPORARY TABLE probes (id BIGINT,"
        + " region AS CASE WHEN id % 5 = 0 THEN CAST(NULL AS STRING) WHEN id % 2 = 0 THEN 'eu' ELSE 'us' END,"
        + " ono AS CAST(id % 7 AS INT), proc AS PROCTIME()) WITH ("
        + "'connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '60')");
    t.executeSql("CREATE TEMPORARY TABLE orders (order_no INT, total DOUBLE, region STRING) WITH ("
        + "'connector' = 'hotcold', 'address' = '" + sidecar.tcp + "', 'table' = 'orders', 'token' = '" + Sidecar.TOKEN + "')");
    List<Row> rows = collect(t, "SELECT p.id, o.region, o.order_no, o.total FROM probes AS p"
        + " LEFT JOIN orders FOR SYSTEM_TIME AS OF p.proc AS o ON o.order_no = p.ono AND o.region = p.region");
    assertEquals(60, rows.size());
    for (Row r : rows) {
      long id = (Long) r.getField(0);
      int no = (int) (id % 7);
      String region = id % 5 == 0 ? null : id % 2 == 0 ? "eu" : "us";
      if (region != null && no >= 1 && no <= 5) {
        assertEquals(Row.of(id, region, no, no * (region.equals("eu") ? 10.0 : 100.0)), r);
      } else {
        assertEquals(Row.of(id, null, null, null), r, "probe " + id + " must not match");
      }
    }
  }

  @Test
  void sidecarRestartMidJobLosesNoRows() throws Exception {
    TableEnvironment t = tableEnv();
    probes(t, 600, 100);
    users(t, sidecar.tcp, ", 'lookup.timeout' = '60s', 'lookup.max-retries' = '100'");
    double keys0 = keys();
    CompletableFuture<Void> restart = CompletableFuture.runAsync(() -> {
      try {
        Sidecar.await("100 lookups before the restart", Duration.ofMinutes(2), () -> {
          try {
            return keys() - keys0 >= 100;
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        sidecar.stop();
        sidecar.start();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    List<Row> rows = collect(t, JOIN);
    restart.join();
    assertJoined(rows, 600);
    // The new process counts from zero: it answered part of the job.
    double afterRestart = keys();
    assertTrue(afterRestart > 0 && afterRestart < 600, "keys looked up after the restart: " + afterRestart);
  }

  @Test
  void hotcoldLookupFunctionReturnsTheRowOrNull() throws Exception {
    TableEnvironment t = tableEnv();
    t.createTemporarySystemFunction("HOTCOLD_LOOKUP", new HotcoldLookupUdf(sidecar.tcp, tokenFile.toString(), null));
    probes(t, 120, 0);
    List<Row> rows = collect(t, "SELECT p.id, HOTCOLD_LOOKUP('users', p.uid) AS u FROM probes AS p");
    assertEquals(120, rows.size());
    for (Row r : rows) {
      long id = (Long) r.getField(0);
      Row u = (Row) r.getField(1);
      if (id <= 100) {
        Object[] got = new Object[u.getArity()];
        for (int i = 0; i < got.length; i++) {
          got[i] = u.getField(i);
        }
        assertArrayEquals(TestData.userRow(id), got, "user " + id);
      } else {
        assertNull(u, "user " + id + " is missing");
      }
    }
    // Fields by name, a composite key, and an int literal cast to the key's int32.
    t.createTemporarySystemFunction("HOTCOLD_LOOKUP2", new HotcoldLookupUdf(sidecar.tcp, null, Sidecar.TOKEN));
    assertEquals(List.of(Row.of("user-7", 30.0)),
        collect(t, "SELECT HOTCOLD_LOOKUP2('users', CAST(7 AS BIGINT)).name, HOTCOLD_LOOKUP2('orders', 'eu', 3).total"));
  }

  @Test
  void hotcoldLookupFunctionWithWrongArityFailsAtPlanning() {
    TableEnvironment t = tableEnv();
    t.createTemporarySystemFunction("HOTCOLD_LOOKUP", new HotcoldLookupUdf(sidecar.tcp, tokenFile.toString(), null));
    Exception e = assertThrows(Exception.class, () -> collect(t, "SELECT HOTCOLD_LOOKUP('orders', 'eu')"));
    assertTrue(chain(e).contains("HOTCOLD_LOOKUP('orders', ...) takes the 2 key value(s) [region, order_no], got 1"), chain(e));
  }

  @Test
  void schemaMismatchFailsNamingTheColumnAndBothTypes() {
    TableEnvironment t = tableEnv();
    probes(t, 10, 0);
    t.executeSql("CREATE TEMPORARY TABLE users (user_id BIGINT, score FLOAT, nickname STRING NOT NULL, shoe_size INT) WITH ("
        + "'connector' = 'hotcold', 'address' = '" + sidecar.tcp + "', 'table' = 'users', 'token-file' = '" + tokenFile + "')");
    Exception e = assertThrows(Exception.class, () -> collect(t, JOIN));
    String chain = chain(e);
    assertTrue(chain.contains("column \"score\" is declared FLOAT but the cold store's column is float64"), chain);
    assertTrue(chain.contains("declare it DOUBLE"), chain);
    assertTrue(chain.contains("column \"nickname\" is declared STRING NOT NULL but the cold store's column is string and nullable"), chain);
    assertTrue(chain.contains("column \"shoe_size\" is not in the cold table"), chain);
  }

  @Test
  void joinNotOnTheWholeKeyFails() {
    TableEnvironment t = tableEnv();
    probes(t, 10, 0);
    users(t, sidecar.tcp, "");
    Exception e = assertThrows(Exception.class,
        () -> collect(t, "SELECT p.id, u.name FROM probes AS p JOIN users FOR SYSTEM_TIME AS OF p.proc AS u ON u.level = CAST(p.uid AS INT)"));
    String chain = chain(e);
    assertTrue(chain.contains("the join looks up by [level] but the cold table's key is [user_id]"), chain);
  }

  @Test
  void badOptionsFailAtPlanningNamingThem() {
    TableEnvironment t = tableEnv();
    probes(t, 10, 0);
    t.executeSql("CREATE TEMPORARY TABLE users (user_id BIGINT) WITH ('connector' = 'hotcold', 'address' = 'unix:relative.sock',"
        + " 'table' = 'users', 'token' = 'x', 'token-file' = '/x', 'lookup.batch-size' = '0', 'lookup.cache' = 'FULL')");
    Exception e = assertThrows(Exception.class, () -> collect(t, "SELECT p.id, u.user_id FROM probes AS p JOIN users FOR SYSTEM_TIME AS OF p.proc AS u ON u.user_id = p.uid"));
    String chain = chain(e);
    assertTrue(chain.contains("unix:///absolute/path.sock"), chain);
    assertTrue(chain.contains("set 'token' or 'token-file', not both"), chain);
    assertTrue(chain.contains("'lookup.batch-size' 0 must be at least 1"), chain);
    assertTrue(chain.contains("'lookup.cache' = 'FULL' is not supported"), chain);
  }

  /** The one metric of the job whose identifier ends with .hotcold.NAME. */
  private static Metric metric(JobID job, String name) {
    Map<String, Metric> found = METRICS.findMetrics(job, "hotcold." + name);
    List<Metric> ms = new ArrayList<>();
    for (Map.Entry<String, Metric> e : found.entrySet()) {
      if (e.getKey().endsWith(".hotcold." + name)) {
        ms.add(e.getValue());
      }
    }
    assertEquals(1, ms.size(), "metrics hotcold." + name + " of job " + job + ": " + found.keySet());
    return ms.get(0);
  }

  static String chain(Throwable e) {
    StringBuilder b = new StringBuilder();
    for (Throwable c = e; c != null; c = c.getCause()) {
      b.append(c).append("\n");
    }
    return b.toString();
  }
}
