package dev.hotcold.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Java client against a {@code hotcold serve} with mutual TLS on its TCP
 * listener, started by the Go harness (TestJavaClient in
 * clients/clients_test.go), which passes HOTCOLD_TEST_TLS_*: the address, the
 * CA of the server certificate, and a client certificate and PKCS#8 key signed
 * by the sidecar's client CA. The harness checks that these tests ran, not
 * skipped.
 */
public class HotcoldTlsIT {
  private static String tcp, ca, cert, key, token, table;

  @BeforeAll
  public static void setUp() {
    tcp = System.getenv("HOTCOLD_TEST_TLS_TCP");
    Assumptions.assumeTrue(tcp != null && !tcp.isEmpty(), "HOTCOLD_TEST_TLS_* not set: run through go test ./clients -run TestJavaClient");
    ca = System.getenv("HOTCOLD_TEST_TLS_CA");
    cert = System.getenv("HOTCOLD_TEST_TLS_CERT");
    key = System.getenv("HOTCOLD_TEST_TLS_KEY");
    token = System.getenv("HOTCOLD_TEST_TLS_TOKEN");
    table = System.getenv("HOTCOLD_TEST_TLS_TABLE");
  }

  private static HotcoldLookupClient.Builder base() {
    return HotcoldLookupClient.newBuilder().target(tcp).token(token).deadline(Duration.ofSeconds(5)).retries(0, Duration.ofMillis(10), Duration.ofMillis(10));
  }

  @Test
  public void aClientCertificateGetsAnswers() {
    try (HotcoldLookupClient c = base().tls(ca).tlsClientCertificate(cert, key).build()) {
      Row r = c.lookup(table, 7L).orElseThrow();
      assertEquals(Long.valueOf(7), r.getLong("user_id"));
    }
  }

  @Test
  public void withoutAClientCertificateTheSidecarRefuses() {
    try (HotcoldLookupClient c = base().tls(ca).build()) {
      HotcoldException e = assertThrows(HotcoldException.class, () -> c.lookup(table, 7L));
      assertEquals(io.grpc.Status.Code.UNAVAILABLE, e.code());
    }
  }

  @Test
  public void aPlaintextClientIsRefused() {
    try (HotcoldLookupClient c = base().build()) {
      assertThrows(HotcoldException.class, () -> c.lookup(table, 7L));
    }
  }

  @Test
  public void aMissingCAFileIsNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> base().tls("/nonexistent/ca.pem").build());
    assertTrue(e.getMessage().contains("/nonexistent/ca.pem"), e.getMessage());
  }
}
