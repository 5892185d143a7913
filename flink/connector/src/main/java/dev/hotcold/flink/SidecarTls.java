package dev.hotcold.flink;

import dev.hotcold.client.HotcoldLookupClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * TLS to the sidecar, shared by the connector, HOTCOLD_JOIN and
 * HOTCOLD_LOOKUP: the same four settings (LookupSpec.Tls), which each names
 * in its own terms (Names: a table option, a job parameter, an environment
 * variable).
 */
final class SidecarTls {
  private SidecarTls() {}

  /** How the caller's user spells each setting, e.g. 'tls.ca' or the job parameter hotcold.join.tls.ca. */
  record Names(String who, String tls, String ca, String cert, String key) {}

  /** The connector's table options. */
  static Names connector(String table) {
    return new Names("hotcold table " + table, "'tls' = 'true'", "'tls.ca'", "'tls.cert'", "'tls.key'");
  }

  /** What is wrong with the settings for this address, in the user's terms (empty: nothing). */
  static List<String> problems(LookupSpec.Tls tls, String address, Names n) {
    List<String> p = new ArrayList<>();
    if (tls == null) {
      return p;
    }
    if ((tls.cert() == null) != (tls.key() == null)) {
      p.add(n.cert() + " and " + n.key() + " go together (the client certificate and its PKCS#8 key): set both or neither");
    }
    if (address != null && address.startsWith("unix:")) {
      p.add("the tls options apply to a host:port address; the unix socket is plaintext (its file permissions guard it)");
    }
    return p;
  }

  /**
   * Sets TLS on the builder (nothing when tls is null); fails naming the
   * setting whose file cannot be read. The files are read here, on the
   * TaskManager (or planner) that opens the client.
   */
  static void configure(HotcoldLookupClient.Builder b, LookupSpec.Tls tls, Names n) throws IOException {
    if (tls == null) {
      return;
    }
    String[][] files = {{n.ca(), tls.ca()}, {n.cert(), tls.cert()}, {n.key(), tls.key()}};
    for (String[] f : files) {
      if (f[1] != null && !Files.isReadable(Path.of(f[1]))) {
        throw new IOException(n.who() + ": cannot read " + f[0] + " " + f[1]
            + (Files.exists(Path.of(f[1])) ? " (permission denied)" : " (no such file)"));
      }
    }
    b.tls(tls.ca());
    if (tls.cert() != null) {
      b.tlsClientCertificate(tls.cert(), tls.key());
    }
    if (tls.serverName() != null) {
      b.tlsServerName(tls.serverName());
    }
  }

  /** Builds the client; PEM that does not parse fails naming the settings that hold the files. */
  static HotcoldLookupClient build(HotcoldLookupClient.Builder b, LookupSpec.Tls tls, Names n) throws IOException {
    try {
      return b.build();
    } catch (IllegalArgumentException e) {
      if (tls == null) {
        throw e;
      }
      throw new IOException(n.who() + ": the " + n.ca() + " / " + n.cert() + " / " + n.key() + " files: " + e.getMessage(), e);
    }
  }

  /**
   * After a plaintext call to a host:port sidecar failed: " (the sidecar at
   * ADDR speaks TLS: set ...)" when a TLS handshake with it gets an answer,
   * else "". Only to word the error: the probe trusts any certificate and
   * sends no data.
   */
  static String plaintextHint(String address, LookupSpec.Tls tls, Names n) {
    if (tls != null || address == null || address.startsWith("unix:") || !speaksTls(address)) {
      return "";
    }
    return " (the sidecar at " + address + " speaks TLS: set " + n.tls() + ", with " + n.ca()
        + " unless the JVM's trust store holds its CA, and " + n.cert() + " / " + n.key() + " when it requires client certificates)";
  }

  /** Whether host:port answers a TLS ClientHello with a TLS handshake or a TLS alert. */
  static boolean speaksTls(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0) {
      return false;
    }
    String host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
    int port;
    try {
      port = Integer.parseInt(hostPort.substring(colon + 1));
    } catch (NumberFormatException e) {
      return false;
    }
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new TrustManager[] {new TrustAny()}, null);
      try (Socket raw = new Socket()) {
        raw.connect(new InetSocketAddress(host, port), 2000);
        raw.setSoTimeout(2000);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, host, port, false)) {
          s.startHandshake();
          return true;
        }
      }
    } catch (SSLException e) {
      // "Received fatal alert: ..." is a TLS server refusing us; a plaintext
      // one gives "Unsupported or unrecognized SSL message" or a closed socket.
      return e.getMessage() != null && e.getMessage().contains("alert");
    } catch (IOException | java.security.GeneralSecurityException | RuntimeException e) {
      return false;
    }
  }

  private static final class TrustAny implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
