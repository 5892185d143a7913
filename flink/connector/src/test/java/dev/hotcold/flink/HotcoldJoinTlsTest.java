package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
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
 * HOTCOLD_JOIN's tls settings (Options.tls* and the hotcold.join.tls.* job
 * parameters) against a real hotcold serve that requires mutual TLS, as
 * HotcoldLookupTlsTest runs it: a stream of events joined with the cold
 * users table.
 */
class HotcoldJoinTlsTest {
  @RegisterExtension
  static final MiniClusterExtension FLINK =
      new MiniClusterExtension(
          new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(1).build());

  @TempDir static Path dir;
  static Sidecar sidecar;
  static Path tokenFile, ca, clientCert, clientKey;

  @BeforeAll
  static void startTlsSidecar() throws Exception {
    HotcoldLookupTlsTest.TlsSidecar t = HotcoldLookupTlsTest.TlsSidecar.start(dir);
    sidecar = t.sidecar();
    tokenFile = t.tokenFile();
    ca = t.ca();
    clientCert = t.cert();
    clientKey = t.key();
  }

  @AfterAll
  static void stopSidecar() throws Exception {
    if (sidecar != null) {
      sidecar.close();
    }
  }

  /** users_hot holds one user absent from the cold table; events 1..40 of users 1..40 each find theirs in the cold table. */
  private static TableEnvironment joinEnv(HotcoldJoin.Options o) {
    TableEnvironment t = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    t.getConfig().set("parallelism.default", "1");
    t.getConfig().set("restart-strategy.type", "none");
    t.executeSql("CREATE TEMPORARY TABLE users_hot (user_id BIGINT, name AS CAST('hot' AS STRING), ts AS TO_TIMESTAMP_LTZ(1795000000000, 3),"
        + " WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'fields.user_id.kind' = 'sequence', 'fields.user_id.start' = '1000',"
        + " 'fields.user_id.end' = '1000')");
    t.executeSql("CREATE TEMPORARY TABLE events (id BIGINT, user_id AS id, ts AS TO_TIMESTAMP_LTZ(1795000000000 + id * 1000, 3),"
        + " WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1',"
        + " 'fields.id.end' = '40')");
    t.createTemporarySystemFunction("HOTCOLD_JOIN", new HotcoldJoin("users_hot", "events", o.coldTable("users").tokenFile(tokenFile.toString())));
    return t;
  }

  private static void drain(TableEnvironment t, String sql) throws Exception {
    try (CloseableIterator<Row> it = t.executeSql(sql).collect()) {
      it.forEachRemaining(r -> {});
    }
  }

  private static final String JOIN_QUERY = "SELECT id, name FROM HOTCOLD_JOIN(users_hot => TABLE users_hot PARTITION BY user_id,"
      + " events => TABLE events PARTITION BY user_id, on_time => DESCRIPTOR(ts, ts))";

  @Test
  void hotcoldJoinLooksUpOverMutualTls() throws Exception {
    TableEnvironment t = joinEnv(new HotcoldJoin.Options().address(sidecar.tcp).tlsCa(ca.toString()).tlsCert(clientCert.toString())
        .tlsKey(clientKey.toString()));
    List<Row> rows = new ArrayList<>();
    try (CloseableIterator<Row> it = t.executeSql(JOIN_QUERY).collect()) {
      it.forEachRemaining(rows::add);
    }
    assertEquals(40, rows.size(), rows.toString());
    for (Row r : rows) {
      assertEquals("user-" + r.getField(0), r.getField(1));
    }
  }

  @Test
  void hotcoldJoinTakesTlsFromJobParameters() throws Exception {
    TableEnvironment t = joinEnv(new HotcoldJoin.Options());
    t.getConfig().set("pipeline.global-job-parameters", "hotcold.join.address:\"" + sidecar.tcp + "\",hotcold.join.tls.ca:" + ca
        + ",hotcold.join.tls.cert:" + clientCert + ",hotcold.join.tls.key:" + clientKey + ",hotcold.join.tls.server_name:sidecar.internal");
    List<Row> rows = new ArrayList<>();
    try (CloseableIterator<Row> it = t.executeSql(JOIN_QUERY).collect()) {
      it.forEachRemaining(rows::add);
    }
    assertEquals(40, rows.size(), rows.toString());
  }

  @Test
  void hotcoldJoinInPlaintextSaysToSetTheTlsJobParameter() {
    TableEnvironment t = joinEnv(new HotcoldJoin.Options().address(sidecar.tcp));
    Exception e = assertThrows(Exception.class, () -> drain(t, JOIN_QUERY));
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("the hotcold sidecar at " + sidecar.tcp + " did not describe cold table users"), chain);
    assertTrue(chain.contains("(the sidecar at " + sidecar.tcp + " speaks TLS: set the job parameter hotcold.join.tls to true"
        + " (HotcoldJoin.Options.tls(true) from Java, the argument tls => TRUE in the call), with hotcold.join.tls.ca"), chain);
  }

  @Test
  void hotcoldJoinTakesTlsFromTheCallsArgumentsOverOptions() throws Exception {
    // The Options say plaintext to a dead address; the call's arguments win.
    TableEnvironment t = joinEnv(new HotcoldJoin.Options().address("127.0.0.1:1").tls(false));
    String sql = "SELECT id, name FROM HOTCOLD_JOIN(users_hot => TABLE users_hot PARTITION BY user_id,"
        + " events => TABLE events PARTITION BY user_id, address => '" + sidecar.tcp + "', tls => TRUE, tls_ca => '" + ca + "',"
        + " tls_cert => '" + clientCert + "', tls_key => '" + clientKey + "', tls_server_name => 'sidecar.internal',"
        + " on_time => DESCRIPTOR(ts, ts))";
    List<Row> rows = new ArrayList<>();
    try (CloseableIterator<Row> it = t.executeSql(sql).collect()) {
      it.forEachRemaining(rows::add);
    }
    assertEquals(40, rows.size(), rows.toString());
    for (Row r : rows) {
      assertEquals("user-" + r.getField(0), r.getField(1));
    }
    // A tls setting from the call is named as the call spells it.
    TableEnvironment t2 = joinEnv(new HotcoldJoin.Options());
    Exception e = assertThrows(Exception.class, () -> drain(t2, "SELECT id FROM HOTCOLD_JOIN(users_hot => TABLE users_hot PARTITION BY user_id,"
        + " events => TABLE events PARTITION BY user_id, address => '" + sidecar.tcp + "', tls_key => '" + clientKey + "',"
        + " on_time => DESCRIPTOR(ts, ts))"));
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("HOTCOLD_JOIN: tls_cert and tls_key go together"), chain);
  }

  @Test
  void hotcoldJoinNamesItsTlsSettings() {
    TableEnvironment t = joinEnv(new HotcoldJoin.Options().address(sidecar.tcp).tlsKey(clientKey.toString()));
    Exception e = assertThrows(Exception.class, () -> drain(t, JOIN_QUERY));
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("HOTCOLD_JOIN: hotcold.join.tls.cert and hotcold.join.tls.key go together"), chain);
    Path missing = dir.resolve("no-such-ca.pem");
    TableEnvironment t2 = joinEnv(new HotcoldJoin.Options().address(sidecar.tcp).tlsCa(missing.toString()));
    e = assertThrows(Exception.class, () -> drain(t2, JOIN_QUERY));
    chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("HOTCOLD_JOIN: cannot read hotcold.join.tls.ca " + missing + " (no such file)"), chain);
  }
}
