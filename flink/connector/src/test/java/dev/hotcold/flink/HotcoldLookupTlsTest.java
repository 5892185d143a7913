package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Base64;
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
 * The lookup connector's tls.* options against a real hotcold serve that
 * requires mutual TLS on its TCP listener (--tls-cert, --tls-key,
 * --tls-client-ca). The certificates are made by the JDK's keytool (a CA,
 * a server certificate for 127.0.0.1 and a client certificate), the private
 * keys written as PKCS#8 PEM.
 */
class HotcoldLookupTlsTest {
  @RegisterExtension
  static final MiniClusterExtension FLINK =
      new MiniClusterExtension(
          new MiniClusterResourceConfiguration.Builder().setNumberTaskManagers(1).setNumberSlotsPerTaskManager(1).build());

  @TempDir static Path dir;
  static Sidecar sidecar;
  static Path tokenFile, ca, clientCert, clientKey;

  @BeforeAll
  static void startTlsSidecar() throws Exception {
    TlsSidecar t = TlsSidecar.start(dir);
    sidecar = t.sidecar();
    tokenFile = t.tokenFile();
    ca = t.ca();
    clientCert = t.cert();
    clientKey = t.key();
  }

  /** A hotcold serve with mutual TLS on its TCP listener, serving TestData.users(), and the files a client needs. */
  record TlsSidecar(Sidecar sidecar, Path tokenFile, Path ca, Path cert, Path key) {
    static TlsSidecar start(Path dir) throws Exception {
    Path pki = Files.createDirectories(dir.resolve("pki"));
    Path ks = pki.resolve("ks.p12");
    keytool("-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=hotcold test CA",
        "-ext", "bc:c", "-validity", "2", "-keystore", ks.toString(), "-storepass", "changeit", "-storetype", "PKCS12");
    keytool("-exportcert", "-alias", "ca", "-rfc", "-file", pki.resolve("ca.pem").toString(), "-keystore", ks.toString(), "-storepass", "changeit");
    issue(ks, pki, "server", "CN=hotcold sidecar", "san=ip:127.0.0.1,dns:sidecar.test,dns:sidecar.internal", "eku=serverAuth");
    issue(ks, pki, "client", "CN=flink job", null, "eku=clientAuth");
    Path ca = pki.resolve("ca.pem");
    Sidecar sidecar = Sidecar.start(dir, List.of("--tls-cert", pki.resolve("server.pem").toString(), "--tls-key",
        pki.resolve("server.key").toString(), "--tls-client-ca", ca.toString()), TestData.users());
    Path tokenFile = dir.resolve("job.token");
    Files.writeString(tokenFile, Sidecar.TOKEN + "\n");
    return new TlsSidecar(sidecar, tokenFile, ca, pki.resolve("client.pem"), pki.resolve("client.key"));
    }
  }

  @AfterAll
  static void stopSidecar() throws Exception {
    if (sidecar != null) {
      sidecar.close();
    }
  }

  /** A key pair signed by the CA: ALIAS.pem (certificate) and ALIAS.key (PKCS#8 PEM). */
  private static void issue(Path ks, Path pki, String alias, String dname, String san, String eku) throws Exception {
    String store = ks.toString();
    keytool("-genkeypair", "-alias", alias, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", dname, "-validity", "2",
        "-keystore", store, "-storepass", "changeit");
    Path csr = pki.resolve(alias + ".csr");
    keytool("-certreq", "-alias", alias, "-file", csr.toString(), "-keystore", store, "-storepass", "changeit");
    List<String> gen = new ArrayList<>(List.of("-gencert", "-alias", "ca", "-infile", csr.toString(), "-outfile",
        pki.resolve(alias + ".pem").toString(), "-rfc", "-validity", "2", "-ext", eku, "-keystore", store, "-storepass", "changeit"));
    if (san != null) {
      gen.addAll(List.of("-ext", san));
    }
    keytool(gen.toArray(String[]::new));
    KeyStore k = KeyStore.getInstance("PKCS12");
    try (FileInputStream in = new FileInputStream(ks.toFile())) {
      k.load(in, "changeit".toCharArray());
    }
    Key key = k.getKey(alias, "changeit".toCharArray());
    assertEquals("PKCS#8", key.getFormat());
    Files.writeString(pki.resolve(alias + ".key"), "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded()) + "\n-----END PRIVATE KEY-----\n");
  }

  private static void keytool(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-noprompt"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), String.join(" ", cmd) + ":\n" + out);
  }

  private static TableEnvironment tableEnv(String tlsOptions) {
    TableEnvironment t = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    t.getConfig().set("parallelism.default", "1");
    t.getConfig().set("restart-strategy.type", "none");
    t.executeSql("CREATE TEMPORARY TABLE probes (id BIGINT, uid AS id % 130, proc AS PROCTIME()) WITH ("
        + "'connector' = 'datagen', 'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '40')");
    t.executeSql("CREATE TEMPORARY TABLE users (user_id BIGINT, name STRING) WITH ('connector' = 'hotcold', 'address' = '"
        + sidecar.tcp + "', 'table' = 'users', 'token-file' = '" + tokenFile + "', 'lookup.max-retries' = '0', 'lookup.timeout' = '10 s'"
        + tlsOptions + ")");
    return t;
  }

  private static final String JOIN =
      "SELECT p.id, u.name FROM probes AS p LEFT JOIN users FOR SYSTEM_TIME AS OF p.proc AS u ON u.user_id = p.uid";

  private static List<Row> collect(TableEnvironment t) throws Exception {
    List<Row> rows = new ArrayList<>();
    try (CloseableIterator<Row> it = t.executeSql(JOIN).collect()) {
      it.forEachRemaining(rows::add);
    }
    return rows;
  }

  @Test
  void mutualTlsLookupJoinReturnsTheRows() throws Exception {
    for (String mode : new String[] {"true", "false"}) {
      List<Row> rows = collect(tableEnv(", 'lookup.async' = '" + mode + "', 'tls.ca' = '" + ca + "', 'tls.cert' = '" + clientCert
          + "', 'tls.key' = '" + clientKey + "'"));
      assertEquals(40, rows.size(), "async " + mode + ": " + rows);
      for (Row r : rows) {
        long id = (Long) r.getField(0);
        assertEquals("user-" + id, r.getField(1), "async " + mode + ": probe " + id);
      }
    }
  }

  @Test
  void serverNameIsCheckedAgainstTheCertificate() throws Exception {
    // The certificate carries sidecar.test: accepted under that name, refused under another.
    String files = ", 'tls.ca' = '" + ca + "', 'tls.cert' = '" + clientCert + "', 'tls.key' = '" + clientKey + "'";
    assertEquals(40, collect(tableEnv(files + ", 'tls.server-name' = 'sidecar.test'")).size());
    Exception e = assertThrows(Exception.class, () -> collect(tableEnv(files + ", 'tls.server-name' = 'other.test'")));
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("hotcold table users at " + sidecar.tcp + ": DescribeTable failed"), chain);
    assertTrue(chain.contains("No subject alternative DNS name matching other.test"), chain);
  }

  @Test
  void readmeTlsExampleRuns() throws Exception {
    String readme = Files.readString(Path.of(System.getProperty("hotcold.repo", "../..")).resolve("README.md"));
    String head = "```sql\nCREATE TABLE users (user_id BIGINT, name STRING) WITH (\n  'connector' = 'hotcold',";
    int at = readme.indexOf(head);
    assertTrue(at >= 0, "README.md shows the mutual-TLS lookup table");
    String ddl = readme.substring(at + "```sql\n".length(), readme.indexOf("```", at + 6)).strip();
    for (String[] r : new String[][] {{"sidecar.internal:7070", sidecar.tcp}, {"/etc/hotcold/job.token", tokenFile.toString()},
        {"/etc/hotcold/ca.pem", ca.toString()}, {"/etc/hotcold/job.pem", clientCert.toString()}, {"/etc/hotcold/job.key", clientKey.toString()}}) {
      assertTrue(ddl.contains(r[0]), ddl);
      ddl = ddl.replace(r[0], r[1]);
    }
    TableEnvironment t = tableEnv("");
    t.executeSql("DROP TEMPORARY TABLE users");
    t.executeSql(ddl.replace("CREATE TABLE", "CREATE TEMPORARY TABLE").replaceAll(";$", ""));
    List<Row> rows = collect(t);
    assertEquals(40, rows.size(), rows.toString());
    for (Row r : rows) {
      assertEquals("user-" + r.getField(0), r.getField(1));
    }
  }

  @Test
  void withoutTheClientCertificateTheSidecarRefusesAndTheJobFailsNamingIt() {
    Exception e = assertThrows(Exception.class, () -> collect(tableEnv(", 'tls.ca' = '" + ca + "'")));
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("hotcold table users at " + sidecar.tcp + ": DescribeTable failed"), chain);
    assertTrue(chain.contains("certificate_required"), chain); // the sidecar's TLS 1.3 alert
  }

  @Test
  void plaintextAgainstTheTlsListenerFailsSayingToSetTls() {
    Exception e = assertThrows(Exception.class, () -> collect(tableEnv("")));
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("hotcold table users at " + sidecar.tcp + ": DescribeTable failed"), chain);
    assertTrue(chain.contains("(the sidecar at " + sidecar.tcp + " speaks TLS: set 'tls' = 'true', with 'tls.ca'"), chain);
  }

  @Test
  void aPlaintextSidecarGetsNoTlsHint() {
    // The sidecar's metrics listener is plain HTTP: a TLS probe of it gets no TLS answer.
    String http = sidecar.metrics;
    org.junit.jupiter.api.Assertions.assertFalse(SidecarTls.speaksTls(http));
    assertEquals("", SidecarTls.plaintextHint(http, null, SidecarTls.connector("users")));
    assertTrue(SidecarTls.speaksTls(sidecar.tcp));
  }

  // ---- HOTCOLD_LOOKUP ----

  private static TableEnvironment udfEnv(HotcoldLookupUdf udf) {
    TableEnvironment t = tableEnv("");
    t.createTemporarySystemFunction("HOTCOLD_LOOKUP", udf);
    return t;
  }

  private static final String UDF_QUERY = "SELECT id, HOTCOLD_LOOKUP('users', uid).name FROM probes";

  @Test
  void hotcoldLookupOverMutualTls() throws Exception {
    TableEnvironment t = udfEnv(new HotcoldLookupUdf(sidecar.tcp, tokenFile.toString(), null)
        .withTls(ca.toString(), clientCert.toString(), clientKey.toString(), "sidecar.test"));
    List<Row> rows = new ArrayList<>();
    try (CloseableIterator<Row> it = t.executeSql(UDF_QUERY).collect()) {
      it.forEachRemaining(rows::add);
    }
    assertEquals(40, rows.size(), rows.toString());
    for (Row r : rows) {
      assertEquals("user-" + r.getField(0), r.getField(1));
    }
  }

  @Test
  void hotcoldLookupInPlaintextSaysToSetHotcoldTls() {
    TableEnvironment t = udfEnv(new HotcoldLookupUdf(sidecar.tcp, tokenFile.toString(), null));
    Exception e = assertThrows(Exception.class, () -> t.executeSql(UDF_QUERY).collect().close());
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("HOTCOLD_LOOKUP('users'): DescribeTable at " + sidecar.tcp + " failed"), chain);
    assertTrue(chain.contains("(the sidecar at " + sidecar.tcp + " speaks TLS: set HOTCOLD_TLS=true, with HOTCOLD_TLS_CA"), chain);
  }

  @Test
  void hotcoldLookupNamesItsTlsSettings() {
    Exception e = assertThrows(Exception.class, () -> new HotcoldLookupUdf(sidecar.tcp, null, null).withTls(null, clientCert.toString(), null, null));
    assertTrue(e.getMessage().contains("HOTCOLD_LOOKUP: HOTCOLD_TLS_CERT and HOTCOLD_TLS_KEY go together"), e.getMessage());
    Path missing = dir.resolve("no-such-ca.pem");
    TableEnvironment t = udfEnv(new HotcoldLookupUdf(sidecar.tcp, tokenFile.toString(), null).withTls(missing.toString(), null, null, null));
    e = assertThrows(Exception.class, () -> t.executeSql(UDF_QUERY).collect().close());
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("HOTCOLD_LOOKUP: cannot read HOTCOLD_TLS_CA " + missing + " (no such file)"), chain);
  }

  @Test
  void anUnreadableFileFailsAtOpenNamingTheOption() {
    Path missing = dir.resolve("no-such-ca.pem");
    Exception e = assertThrows(Exception.class, () -> collect(tableEnv(", 'tls.ca' = '" + missing + "'")));
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("hotcold table users: cannot read 'tls.ca' " + missing + " (no such file)"), chain);
  }

  @Test
  void aFileThatIsNotPemFailsAtOpenNamingTheOptions() throws Exception {
    Path junk = Files.writeString(dir.resolve("junk.key"), "not a key\n");
    Exception e = assertThrows(Exception.class,
        () -> collect(tableEnv(", 'tls.ca' = '" + ca + "', 'tls.cert' = '" + clientCert + "', 'tls.key' = '" + junk + "'")));
    String chain = HotcoldLookupJoinTest.chain(e);
    assertTrue(chain.contains("hotcold table users: the 'tls.ca' / 'tls.cert' / 'tls.key' files:"), chain);
  }

  @Test
  void badTlsOptionsFailAtPlanningNamingThem() {
    Exception e = assertThrows(Exception.class, () -> collect(tableEnv(", 'tls.cert' = '" + clientCert + "'")));
    assertTrue(HotcoldLookupJoinTest.chain(e).contains("'tls.cert' and 'tls.key' go together"), HotcoldLookupJoinTest.chain(e));

    TableEnvironment t = tableEnv("");
    t.executeSql("CREATE TEMPORARY TABLE users_unix (user_id BIGINT, name STRING) WITH ('connector' = 'hotcold', 'address' = 'unix://"
        + sidecar.unix + "', 'table' = 'users', 'token-file' = '" + tokenFile + "', 'tls' = 'true')");
    e = assertThrows(Exception.class, () -> t.executeSql(
        "SELECT p.id, u.name FROM probes AS p JOIN users_unix FOR SYSTEM_TIME AS OF p.proc AS u ON u.user_id = p.uid").collect().close());
    assertTrue(HotcoldLookupJoinTest.chain(e).contains("the tls options apply to a host:port 'address'; the unix socket is plaintext"),
        HotcoldLookupJoinTest.chain(e));
  }
}
