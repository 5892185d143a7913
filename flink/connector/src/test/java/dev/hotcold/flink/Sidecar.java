package dev.hotcold.flink;

import dev.hotcold.client.HotcoldLookupClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real {@code hotcold serve} over a Pebble store loaded with
 * {@code hotcold load}, for the tests. The binaries are built from this
 * repository with {@code go build} into target/go once per JVM. Restartable
 * on the same addresses.
 */
final class Sidecar implements AutoCloseable {
  static final String TOKEN = "tok-flink-4b2e91";
  static final String VERSION = "2026-11-22";

  private static Path hotcold;
  private static Path jsonparquet;

  final Path dir;
  final String tcp;
  final Path unix;
  final String metrics;
  private final List<String> serveArgs;
  private final Path log;
  private Process process;

  private Sidecar(Path dir, String tcp, Path unix, String metrics, List<String> serveArgs) {
    this.dir = dir;
    this.tcp = tcp;
    this.unix = unix;
    this.metrics = metrics;
    this.serveArgs = serveArgs;
    this.log = dir.resolve("sidecar.log");
  }

  /**
   * A cold table to load: JSON spec (see internal/jsonparquet), key columns
   * and the version's covers-until (hotcold load --covers-until; null: none).
   */
  record Table(String name, String specJson, String key, String coversUntil) {
    Table(String name, String specJson, String key) {
      this(name, specJson, key, null);
    }
  }

  /** Loads the tables into a new store and starts serving them with one job that may read them all. */
  static Sidecar start(Path dir, Table... tables) throws Exception {
    return start(dir, List.of(), tables);
  }

  /** As start, with more hotcold serve flags (--tls-cert...: then readiness is checked on the unix socket). */
  static Sidecar start(Path dir, List<String> serveFlags, Table... tables) throws Exception {
    buildBinaries();
    Path store = dir.resolve("cold");
    List<String> names = new ArrayList<>();
    for (Table t : tables) {
      Path spec = dir.resolve(t.name() + ".json");
      Files.writeString(spec, t.specJson());
      Path parquet = dir.resolve(t.name() + ".parquet");
      run(List.of(jsonparquet.toString(), spec.toString(), parquet.toString()));
      List<String> load = new ArrayList<>(List.of(hotcold.toString(), "load", "--store", "pebble:" + store, "--table", t.name(),
          "--version", VERSION, "--key", t.key(), "--progress", "never"));
      if (t.coversUntil() != null) {
        load.addAll(List.of("--covers-until", t.coversUntil()));
      }
      load.add(parquet.toString());
      run(load);
      names.add(t.name());
    }
    String tcp = "127.0.0.1:" + freePort();
    String metrics = "127.0.0.1:" + freePort();
    Path cfg = dir.resolve("sidecar.yaml");
    Files.writeString(cfg, "metrics_listen: \"" + metrics + "\"\ndrain_timeout: 1s\njobs:\n  - name: flink\n    token: \"" + TOKEN
        + "\"\n    tables: [" + String.join(", ", names) + "]\n");
    Path unix = dir.resolve("hotcold.sock");
    List<String> args = new ArrayList<>(List.of(hotcold.toString(), "serve", "--store", "pebble:" + store, "--listen", tcp,
        "--unix", unix.toString(), "--config", cfg.toString()));
    args.addAll(serveFlags);
    Sidecar s = new Sidecar(dir, tcp, unix, metrics, args);
    s.start();
    return s;
  }

  /** Starts the process and returns once it answers DescribeTable. */
  synchronized void start() throws Exception {
    if (process != null) {
      throw new IllegalStateException("the sidecar is already running");
    }
    process = new ProcessBuilder(serveArgs).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    Process p = process;
    boolean plainTcp = serveArgs.stream().noneMatch(f -> f.startsWith("--tls"));
    HotcoldLookupClient.Builder cb = HotcoldLookupClient.newBuilder().token(TOKEN).deadline(Duration.ofSeconds(2));
    try (HotcoldLookupClient c = (plainTcp ? cb.target(tcp) : cb.unixSocket(unix.toString())).build()) {
      await("hotcold serve answering on " + (plainTcp ? tcp : unix), Duration.ofMinutes(1), () -> {
        if (!p.isAlive()) {
          throw new IllegalStateException("hotcold serve exited with " + p.exitValue() + ":\n" + logs());
        }
        try {
          c.listTables();
          return true;
        } catch (RuntimeException e) {
          return false;
        }
      });
    }
  }

  /** Stops the process gracefully (SIGTERM) and returns once it exited. */
  synchronized void stop() throws Exception {
    if (process == null) {
      return;
    }
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
      throw new IllegalStateException("hotcold serve did not exit within 30s of SIGTERM:\n" + logs());
    }
    process = null;
  }

  @Override
  public void close() throws Exception {
    stop();
  }

  String logs() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** The sum of a Prometheus counter over the series whose labels contain every given label="value". */
  double metric(String name, String... labels) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://" + metrics + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
    double sum = 0;
    Pattern line = Pattern.compile("^" + Pattern.quote(name) + "(\\{[^}]*\\})? (\\S+)$");
    for (String l : r.body().split("\n")) {
      Matcher m = line.matcher(l);
      if (!m.matches()) {
        continue;
      }
      boolean all = true;
      for (String lab : labels) {
        all &= m.group(1) != null && m.group(1).contains(lab);
      }
      if (all) {
        sum += Double.parseDouble(m.group(2));
      }
    }
    return sum;
  }

  /** Polls cond until it holds; fails after timeout naming what it waited for. */
  static void await(String what, Duration timeout, BooleanSupplier cond) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out after " + timeout + " waiting for " + what);
      }
      Thread.sleep(20); // poll interval
    }
  }

  private static synchronized void buildBinaries() throws Exception {
    if (hotcold != null) {
      return;
    }
    Path repo = Path.of(System.getProperty("hotcold.repo", "../..")).toAbsolutePath().normalize();
    Path out = Path.of(System.getProperty("hotcold.build", "target")).toAbsolutePath().resolve("go");
    Files.createDirectories(out);
    String go = goTool();
    runIn(repo, List.of(go, "build", "-o", out.resolve("hotcold").toString(), "./cmd/hotcold"));
    runIn(repo, List.of(go, "build", "-o", out.resolve("jsonparquet").toString(), "./internal/jsonparquet"));
    jsonparquet = out.resolve("jsonparquet");
    hotcold = out.resolve("hotcold");
  }

  private static String goTool() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (Files.isExecutable(Path.of(dir, "go"))) {
        return Path.of(dir, "go").toString();
      }
    }
    if (Files.isExecutable(Path.of("/usr/local/go/bin/go"))) {
      return "/usr/local/go/bin/go";
    }
    throw new IllegalStateException("the Go toolchain (go) is not on PATH: the Flink tests build hotcold from this repository with it");
  }

  private static void run(List<String> cmd) throws Exception {
    runIn(null, cmd);
  }

  private static void runIn(Path dir, List<String> cmd) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    if (dir != null) {
      pb.directory(dir.toFile());
    }
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed (" + p.exitValue() + "):\n" + out);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
