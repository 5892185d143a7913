package dev.hotcold.flink.diagit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `hotcold diag run` against a real Flink 2.2.1: a MiniCluster with its
 * REST endpoint and flame graphs on runs a job with a known problem, the
 * test waits (polling the REST API) until the problem shows in Flink's own
 * answers, then runs the hotcold binary against the live REST API and
 * asserts that the report names the problem from the evidence diag read:
 * exception history, vertices, back-pressure, subtask and TaskManager
 * metrics, checkpoints and the flame graph.
 *
 * <p>With -Dhotcold.diag.record=DIR the REST answers diag read are also
 * written to DIR/dirty/flink and DIR/hotkey/flink (diag.ReplayHandler's
 * layout): that is how diag/testdata/flink-2.2.1 was recorded.
 *
 * <p>(c) GC pressure runs in a MiniCluster of its own ({@link GcPressureMain}
 * in a second JVM with a 320 MiB heap and the serial collector): in the
 * shared MiniCluster the TaskManager is the test JVM itself, whose
 * multi-GiB default heap no job fills reliably, and whose GC would slow the
 * other cases. In a MiniCluster the JobManager and its REST endpoint share
 * the TaskManager's heap, so the job's allocations are paced: unpaced, the
 * JVM was in GC nearly all the time on a loaded machine and diag's request
 * for the job timed out (10 s), an UNKNOWN verdict.
 */
class DiagRealFlinkIT {
  /** Overall bound of each wait on Flink; generous for a loaded machine. */
  private static final Duration WAIT = Duration.ofSeconds(90);
  private static final String BAD_RECORD = "{\"id\": 4, \"amount\": 12.5x, \"customer\": \"acme\"}";

  private static MiniCluster cluster;
  private static Rest rest;
  private static URI restUri;
  private static Path hotcold;

  @BeforeAll
  static void start() throws Exception {
    progress("building hotcold");
    hotcold = Hotcold.build();
    progress("starting the MiniCluster");
    Configuration conf = Configuration.fromMap(Map.of(
        "rest.bind-address", "127.0.0.1",
        "rest.address", "127.0.0.1",
        "rest.bind-port", "0",
        "rest.flamegraph.enabled", "true",
        // Sample for about a second (the default is 100 samples 50 ms apart).
        "rest.flamegraph.num-samples", "50",
        "rest.flamegraph.delay-between-samples", "20 ms",
        // The REST metrics are refreshed this often (default 10 s).
        "metrics.fetcher.update-interval", "1 s",
        "restart-strategy.type", "fixed-delay",
        "restart-strategy.fixed-delay.attempts", "1000",
        "restart-strategy.fixed-delay.delay", "1 s"));
    cluster = new MiniCluster(new MiniClusterConfiguration.Builder()
        .setConfiguration(conf)
        .setNumTaskManagers(1)
        .setNumSlotsPerTaskManager(HotKeyJob.SINK_PARALLELISM)
        .build());
    cluster.start();
    restUri = cluster.getRestAddress().get(30, TimeUnit.SECONDS);
    rest = new Rest("http://127.0.0.1:" + restUri.getPort());
    progress("MiniCluster REST at " + rest.base());
  }

  @AfterAll
  static void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static StreamExecutionEnvironment remoteEnv() {
    return StreamExecutionEnvironment.createRemoteEnvironment("127.0.0.1", restUri.getPort(), new Configuration());
  }

  /**
   * (a) A JSON source with 'json.ignore-parse-errors' = 'false' meets a
   * dirty record: every attempt fails on it and the restart strategy starts
   * the job again. diag must report the restarts with the root exception
   * from the exception history and the raw record.
   */
  @Test
  void dirtyRecordRestartIsReportedFromTheExceptionHistory(@TempDir Path tmp) throws Exception {
    Path input = tmp.resolve("orders.jsonl");
    Files.writeString(input, String.join("\n",
        "{\"id\": 1, \"amount\": 10.0, \"customer\": \"acme\"}",
        "{\"id\": 2, \"amount\": 11.0, \"customer\": \"bolt\"}",
        "{\"id\": 3, \"amount\": 12.0, \"customer\": \"acme\"}",
        BAD_RECORD,
        "{\"id\": 5, \"amount\": 13.0, \"customer\": \"bolt\"}") + "\n");
    StreamTableEnvironment tEnv = StreamTableEnvironment.create(remoteEnv());
    tEnv.executeSql("CREATE TABLE orders (id BIGINT, amount DOUBLE, customer STRING) WITH ("
        + "'connector' = 'filesystem', 'path' = 'file://" + input + "', 'format' = 'json', "
        + "'json.ignore-parse-errors' = 'false')");
    tEnv.executeSql("CREATE TABLE sink (id BIGINT, amount DOUBLE, customer STRING) WITH ('connector' = 'blackhole')");
    Instant from = Instant.now().minus(1, ChronoUnit.MINUTES).truncatedTo(ChronoUnit.SECONDS);
    TableResult res = tEnv.executeSql("INSERT INTO sink SELECT id, amount, customer FROM orders");
    JobClient job = res.getJobClient().orElseThrow();
    String id = job.getJobID().toHexString();
    try {
      // Three failures in the history: the job has restarted at least twice.
      rest.await("3 failures in the exception history of job " + id, "/jobs/" + id + "/exceptions?maxExceptions=20", WAIT,
          e -> e.path("exceptionHistory").path("entries").size() >= 3);
      rest.await("numRestarts >= 2 of job " + id, "/jobs/" + id + "/metrics?get=numRestarts", WAIT,
          m -> m.size() == 1 && Long.parseLong(m.get(0).get("value").asText()) >= 2);
      record("dirty", id, List.of());

      JsonNode report = diag(id, from);
      assertEquals("ANOMALY", report.get("verdict").asText(), report::toPrettyString);
      JsonNode restart = finding(report, "restart");
      assertEquals("restart/dirty-data", restart.get("rule").asText(), restart::toPrettyString);
      assertTrue(restart.get("cause").asText().startsWith("Dirty data"), restart::toPrettyString);
      assertEquals(BAD_RECORD, restart.path("raw").asText(), restart::toPrettyString);
      // The root exception of the history, and where it was thrown.
      assertTrue(restart.get("details").toString().contains("JsonParseException: Unexpected character ('x'"), restart::toPrettyString);
      assertTrue(restart.get("details").toString().contains("task Source: orders"), restart::toPrettyString);
      assertTrue(restart.get("details").toString().contains("seen in: flink-rest"), restart::toPrettyString);
      // Every failure of the history is a restart, though a second apart.
      int failures = rest.get("/jobs/" + id + "/exceptions?maxExceptions=20").get("exceptionHistory").get("entries").size();
      assertTrue(report.get("restarts").size() >= 3, () -> "restarts: " + report.get("restarts"));
      assertTrue(report.get("restarts").size() <= failures + 1, () -> failures + " failures, restarts: " + report.get("restarts"));
      assertTrue(report.get("sources").path("job").asText().startsWith("flink-rest"), () -> "sources: " + report.get("sources"));
      // The exception history was read (a missing one would be listed).
      for (JsonNode m : report.get("missing")) {
        assertTrue(!m.get("what").asText().contains("exception"), () -> "missing: " + m);
      }
    } finally {
      job.cancel().get(30, TimeUnit.SECONDS);
    }
  }

  /**
   * (b) One hot key saturates one subtask of a slow sink, which
   * back-pressures the source. diag must name the sink as the bottleneck
   * with the back-pressured source upstream, the skew on its hot subtask
   * (subtask records-in rates), the hot method from the flame graph, and
   * must have read every piece of evidence (nothing missing).
   */
  @Test
  void slowSinkWithAHotKeyIsTheSkewedBottleneck() throws Exception {
    StreamExecutionEnvironment env = remoteEnv();
    HotKeyJob.define(env);
    Instant from = Instant.now().minus(1, ChronoUnit.MINUTES).truncatedTo(ChronoUnit.SECONDS);
    JobClient job = env.executeAsync("hot key behind a slow sink");
    String id = job.getJobID().toHexString();
    try {
      JsonNode details = rest.await("job " + id + " running", "/jobs/" + id, WAIT, j -> j.path("state").asText().equals("RUNNING")
          && allRunning(j.get("vertices")));
      String source = vertexId(details, HotKeyJob.SOURCE);
      String sink = vertexId(details, HotKeyJob.SINK);
      rest.await("back-pressure HIGH on the source of job " + id, "/jobs/" + id + "/vertices/" + source + "/backpressure", WAIT,
          bp -> bp.path("backpressureLevel").asText().equals("high"));
      // The sink's input rates are published (the metric fetcher's first
      // round after the records flowed), so the skew is measurable.
      for (int i = 0; i < HotKeyJob.SINK_PARALLELISM; i++) {
        rest.await("numRecordsInPerSecond of sink subtask " + i, "/jobs/" + id + "/vertices/" + sink + "/subtasks/" + i + "/metrics?get=numRecordsInPerSecond", WAIT,
            m -> m.size() == 1);
      }
      // Flink's numRecordsInPerSecond is a rate over the last 60 s, so it
      // climbs for a minute after the start: wait until Flink's own
      // aggregate over the sink's subtasks shows one subtask far above the
      // rest (max >= 2.5 x avg of 4 means >= 5 x each of the others) at a
      // rate well above noise.
      rest.await("the sink's input skewed onto one subtask", "/jobs/" + id + "/vertices/" + sink + "/subtasks/metrics?get=numRecordsInPerSecond&agg=max,avg", WAIT,
          m -> m.size() == 1 && m.get(0).path("max").asDouble() >= 30 && m.get(0).path("max").asDouble() >= 2.5 * m.get(0).path("avg").asDouble());
      rest.await("a completed checkpoint of job " + id, "/jobs/" + id + "/checkpoints", WAIT,
          c -> c.path("counts").path("completed").asLong() >= 1);

      JsonNode report = diag(id, from);
      record("hotkey", id, List.of(sink));
      assertEquals("ANOMALY", report.get("verdict").asText(), report::toPrettyString);
      // Everything diag reads from Flink was read (Prometheus, logs and lag
      // are not given, and are listed as such).
      for (JsonNode m : report.get("missing")) {
        assertTrue(!m.get("source").asText().equals("flink"), () -> "missing Flink evidence: " + m.toPrettyString());
      }

      JsonNode bottleneck = finding(report, "bottleneck");
      assertTrue(bottleneck.get("cause").asText().contains("\"" + details.get("vertices").get(1).get("name").asText() + "\""), bottleneck::toPrettyString);
      assertTrue(bottleneck.toString().contains("upstream " + details.get("vertices").get(0).get("name").asText()), bottleneck::toPrettyString);
      assertTrue(bottleneck.toString().contains("skewed:"), bottleneck::toPrettyString);
      assertTrue(bottleneck.get("suggestion").asText().startsWith("One subtask carries the load: hot keys."), bottleneck::toPrettyString);

      JsonNode skew = finding(report, "skew");
      int hot = hotSubtask(id, sink);
      assertTrue(skew.get("cause").asText().contains("subtask " + hot + " receives"), () -> "hot subtask " + hot + ": " + skew.toPrettyString());

      JsonNode hotMethod = finding(report, "hot-method");
      assertTrue(hotMethod.get("cause").asText().contains(EnrichCost.class.getName() + ".enrich"), hotMethod::toPrettyString);

      assertEquals("passed", check(report, "gc").get("result").asText(), () -> "gc check: " + check(report, "gc"));
      assertEquals("passed", check(report, "checkpoint").get("result").asText(), () -> "checkpoint check: " + check(report, "checkpoint"));
      assertEquals("passed", check(report, "restart").get("result").asText(), () -> "restart check: " + check(report, "restart"));
    } finally {
      job.cancel().get(30, TimeUnit.SECONDS);
    }
  }

  /**
   * (c) A job that keeps a large live set and replaces it all the time
   * makes its TaskManager spend a large share of its time in GC. diag must
   * report GC pressure on that TaskManager from its
   * Status.JVM.GarbageCollector metrics.
   */
  @Test
  void gcPressureIsReportedForTheTaskManager(@TempDir Path tmp) throws Exception {
    Path log = tmp.resolve("gc-minicluster.log");
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx320m", "-XX:+UseSerialGC"));
    for (String opt : System.getProperty("hotcold.jvm.opens", "").split(" ")) {
      if (!opt.isBlank()) {
        cmd.add(opt);
      }
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), GcPressureMain.class.getName()));
    progress("starting GcPressureMain");
    Process p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
    try {
      java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      java.util.concurrent.CompletableFuture<String> ready = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
        try {
          for (String line; (line = out.readLine()) != null; ) {
            if (line.startsWith("READY ")) {
              return line;
            }
          }
          return null;
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
      String line;
      try {
        line = ready.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        throw new AssertionError("GcPressureMain printed no READY line in " + WAIT + ":\n" + Files.readString(log));
      }
      assertTrue(line != null, () -> "GcPressureMain ended before READY:\n" + readQuietly(log));
      progress("GC MiniCluster ready: " + line);
      String[] f = line.split(" ");
      Rest gcRest = new Rest(f[1]);
      String id = f[2];
      Instant from = Instant.now().minus(1, ChronoUnit.MINUTES).truncatedTo(ChronoUnit.SECONDS);
      JsonNode tms = gcRest.await("a TaskManager", "/taskmanagers", WAIT, t -> t.path("taskmanagers").size() == 1);
      String tm = tms.get("taskmanagers").get(0).get("id").asText();
      // TimeMsPerSecond is a rate over the last 60 s, so it climbs while
      // the job runs. 1.5 times diag's 10% threshold: diag's own read a
      // moment later is over it too.
      gcRest.await("TaskManager " + tm + " in GC 15% of the time", "/taskmanagers/" + tm + "/metrics?get=Status.JVM.GarbageCollector.All.TimeMsPerSecond", WAIT,
          m -> m.size() == 1 && Double.parseDouble(m.get(0).get("value").asText()) >= 150);
      progress("GC share over 15%");
      JsonNode report = diag(gcRest, id, from);
      progress("diag done");
      record(gcRest, "gc", id, List.of());
      // A GC share from 10% to 20% is a warning, which alone does not make
      // the verdict ANOMALY; it must not be UNKNOWN (diag read Flink).
      assertTrue(!report.get("verdict").asText().equals("UNKNOWN"), report::toPrettyString);
      JsonNode gc = finding(report, "gc");
      assertTrue(gc.toString().contains(tm), gc::toPrettyString);
      for (JsonNode m : report.get("missing")) {
        assertTrue(!m.get("what").asText().contains("GC"), () -> "missing: " + m);
      }
    } finally {
      p.getOutputStream().close(); // GcPressureMain halts on end of input
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    }
  }

  /** A progress line in the test's output, for a slow CI run. */
  private static void progress(String what) {
    System.err.println(Instant.now() + " DiagRealFlinkIT: " + what);
  }

  private static String readQuietly(Path p) {
    try {
      return Files.readString(p);
    } catch (java.io.IOException e) {
      return "(" + e + ")";
    }
  }

  /** The sink subtask with the most records in, per Flink's vertex details. */
  private static int hotSubtask(String job, String vertex) throws Exception {
    JsonNode det = rest.get("/jobs/" + job + "/vertices/" + vertex);
    int hot = -1;
    long most = -1;
    for (JsonNode s : det.get("subtasks")) {
      long in = s.path("metrics").path("read-records").asLong();
      if (in > most) {
        most = in;
        hot = s.get("subtask").asInt();
      }
    }
    return hot;
  }

  private static boolean allRunning(JsonNode vertices) {
    for (JsonNode v : vertices) {
      if (!v.path("status").asText().equals("RUNNING")) {
        return false;
      }
    }
    return vertices.size() > 0;
  }

  private static String vertexId(JsonNode job, String nameContains) {
    for (JsonNode v : job.get("vertices")) {
      if (v.get("name").asText().contains(nameContains)) {
        return v.get("id").asText();
      }
    }
    throw new AssertionError("no vertex named like " + nameContains + " in " + job.get("vertices"));
  }

  private static JsonNode finding(JsonNode report, String rule) {
    for (JsonNode f : report.get("findings")) {
      String r = f.get("rule").asText();
      if (r.equals(rule) || r.startsWith(rule + "/")) {
        return f;
      }
    }
    throw new AssertionError("no " + rule + " finding in the report:\n" + report.toPrettyString());
  }

  private static JsonNode check(JsonNode report, String rule) {
    for (JsonNode c : report.path("checks")) {
      if (c.get("rule").asText().equals(rule)) {
        return c;
      }
    }
    throw new AssertionError("no " + rule + " check in the report:\n" + report.toPrettyString());
  }

  /** Runs `hotcold diag run` against the live REST API; the JSON report. */
  private static JsonNode diag(String job, Instant from) throws Exception {
    return diag(rest, job, from);
  }

  private static JsonNode diag(Rest rest, String job, Instant from) throws Exception {
    Instant to = Instant.now().plus(1, ChronoUnit.MINUTES).truncatedTo(ChronoUnit.SECONDS);
    List<String> cmd = new ArrayList<>(List.of(hotcold.toString(), "diag", "run",
        "--flink", rest.base(), "--job", job, "--from", from.toString(), "--to", to.toString(),
        "--format", "json", "--flame-graph-wait", "1s"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
    byte[] err;
    String out;
    try (var stderr = p.getErrorStream()) {
      out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      err = stderr.readAllBytes();
    }
    int code = p.waitFor();
    assertEquals(0, code, () -> String.join(" ", cmd) + " exited " + code + ":\n" + new String(err, StandardCharsets.UTF_8) + "\n" + out);
    return Rest.JSON.readTree(out);
  }

  private static void record(String scenario, String job, List<String> flameGraphVertices) throws Exception {
    record(rest, scenario, job, flameGraphVertices);
  }

  private static void record(Rest rest, String scenario, String job, List<String> flameGraphVertices) throws Exception {
    String dir = System.getProperty("hotcold.diag.record", "");
    if (dir.isEmpty()) {
      return;
    }
    new Recorder(rest, Path.of(dir).resolve(scenario).resolve("flink")).job(job, flameGraphVertices);
  }
}
