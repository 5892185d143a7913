package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code java -jar hotcold-flink-runner.jar}, as a user runs it. */
class RunnerJarIT {
  private static Process runner(Path out, List<String> args, java.util.Map<String, String> env) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-jar", System.getProperty("hotcold.runner.jar", "target/hotcold-flink-runner.jar")));
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
    pb.environment().putAll(env);
    return pb.start();
  }

  @Test
  void helpShowsUsageAndAnExample(@TempDir Path dir) throws Exception {
    Path out = dir.resolve("help.out");
    Process p = runner(out, List.of("--help"), java.util.Map.of());
    assertTrue(p.waitFor(2, TimeUnit.MINUTES));
    String log = Files.readString(out);
    assertEquals(0, p.exitValue(), log);
    assertTrue(log.contains("usage: hotcold-flink sql FILE.sql") && log.contains("example:"), log);
  }

  @Test
  void runsTheReadmeExampleAgainstARealSidecar(@TempDir Path dir) throws Exception {
    try (Sidecar sidecar = Sidecar.start(dir, TestData.users())) {
      Path token = dir.resolve("job.token");
      Files.writeString(token, Sidecar.TOKEN);
      Path example = Path.of(System.getProperty("hotcold.repo", "../..")).resolve("flink/examples/enrich.sql");
      Path out = dir.resolve("enrich.out");
      Process p = runner(out, List.of("sql", example.toString()),
          java.util.Map.of("HOTCOLD_ADDRESS", "unix://" + sidecar.unix, "HOTCOLD_TOKEN_FILE", token.toString(), "ORDERS", "50"));
      assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the runner did not exit");
      String log = Files.readString(out);
      assertEquals(0, p.exitValue(), log);
      Matcher m = Pattern.compile("\\+I\\[(\\d+), ([^,]+), ([^,]+), ([^\\]]+)\\]").matcher(log);
      int n = 0;
      while (m.find()) {
        long id = Long.parseLong(m.group(1));
        assertEquals("user-" + id, m.group(2), log);
        assertEquals(id % 2 == 0 ? "nick-" + id : "null", m.group(4), log);
        n++;
      }
      assertEquals(50, n, log);
    }
  }
}
