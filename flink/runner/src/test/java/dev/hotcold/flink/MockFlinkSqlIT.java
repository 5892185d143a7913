package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.hotcold.kafka.testkit.KafkaBroker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Flink SQL example case (examples/mock/flink-sql-open-balances) run as
 * the README shows: {@code hotcold mock test} with the runner jar as the job
 * under test, on a real Apache Kafka broker. It passes as written, and a copy
 * whose expected table is wrong fails with a diff naming the key and column.
 */
class MockFlinkSqlIT {
  @RegisterExtension
  static final KafkaBroker kafka = new KafkaBroker();

  static final Path REPO = Path.of(System.getProperty("hotcold.repo", "../..")).toAbsolutePath().normalize();
  static final Path CASE = REPO.resolve("examples/mock/flink-sql-open-balances");
  static Path hotcold;

  @BeforeAll
  static void buildHotcold() throws Exception {
    Path dir = Path.of(System.getProperty("hotcold.build", "target")).resolve("go");
    Files.createDirectories(dir);
    hotcold = dir.resolve("hotcold");
    Result r = run(REPO, dir.resolve("go-build.log"), List.of("go", "build", "-o", hotcold.toString(), "./cmd/hotcold"));
    assertEquals(0, r.exit, "go build ./cmd/hotcold:\n" + r.output);
  }

  record Result(int exit, String output) {}

  static Result run(Path dir, Path log, List<String> cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    p.getOutputStream().close();
    if (!p.waitFor(10, TimeUnit.MINUTES)) {
      p.destroyForcibly().waitFor();
      throw new AssertionError(String.join(" ", cmd) + " did not end within 10 minutes:\n" + Files.readString(log));
    }
    return new Result(p.exitValue(), Files.readString(log));
  }

  /** hotcold mock test CASE with the Flink SQL job, as the README's step. */
  static Result mockTest(Path caseDir, Path work) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String jar = Path.of(System.getProperty("hotcold.runner.jar", "target/hotcold-flink-runner.jar")).toAbsolutePath().toString();
    String exec = "'" + java + "' -jar '" + jar + "' sql '" + CASE.resolve("job.sql") + "'";
    List<String> cmd = new ArrayList<>(List.of(hotcold.toString(), "mock", "test", caseDir.toString(),
        "--brokers", kafka.bootstrapServers(), "--exec", exec, "--store", work.resolve("store").toString(),
        "--junit", work.resolve("junit.xml").toString(),
        // room for the job's cancel on SIGINT on a loaded CI machine
        "--stop-grace", "60s"));
    return run(REPO, work.resolve("mock.log"), cmd);
  }

  @Test
  void theExampleCasePasses(@TempDir Path work) throws Exception {
    Result r = mockTest(CASE, work);
    assertEquals(0, r.exit, r.output);
    assertTrue(r.output.contains("PASS  flink-sql-open-balances") && r.output.contains("1 passed, 0 failed"), r.output);
    String junit = Files.readString(work.resolve("junit.xml"));
    assertTrue(junit.contains("flink-sql-open-balances") && !junit.contains("<failure") && !junit.contains("<error"), junit);
  }

  @Test
  void aWrongExpectedValueFailsWithADiffNamingKeyAndColumn(@TempDir Path work) throws Exception {
    Path edited = work.resolve("open-balances-edited");
    copyTree(CASE, edited);
    Path expected = edited.resolve("expected.jsonl");
    String text = Files.readString(expected);
    assertTrue(text.contains("\"open_amount\":\"42.50\""), text);
    Files.writeString(expected, text.replace("\"open_amount\":\"42.50\"", "\"open_amount\":\"42.00\""));

    Result r = mockTest(edited, work);
    assertEquals(1, r.exit, r.output);
    assertTrue(r.output.contains("FAIL  open-balances-edited"), r.output);
    assertTrue(r.output.contains("0 missing, 0 unexpected, 1 changed"), r.output);
    assertTrue(r.output.contains("~ user_id=7") && r.output.contains("open_amount: expected 42.00, got 42.50"), r.output);
    assertTrue(r.output.contains("0 passed, 1 failed"), r.output);
  }

  static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> walk = Files.walk(from)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        Path dst = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(dst);
        } else {
          Files.copy(p, dst);
        }
      }
    }
  }
}
