package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code Main sql FILE} in its own JVM (as {@code java -jar
 * hotcold-flink-runner.jar sql FILE} runs it) against a real hotcold serve:
 * the README's example job, exit codes, and SIGTERM.
 */
class SqlRunnerTest {
  @TempDir static Path dir;
  static Sidecar sidecar;
  static Path tokenFile;

  @BeforeAll
  static void startSidecar() throws Exception {
    sidecar = Sidecar.start(dir, TestData.users());
    tokenFile = dir.resolve("job.token");
    Files.writeString(tokenFile, Sidecar.TOKEN + "\n");
  }

  @AfterAll
  static void stopSidecar() throws Exception {
    if (sidecar != null) {
      sidecar.close();
    }
  }

  static Path example() {
    return Path.of(System.getProperty("hotcold.repo", "../..")).resolve("flink/examples/enrich.sql");
  }

  private Process runner(Path script, Path out, Map<String, String> env) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String opt : System.getProperty("hotcold.jvm.opens", "").split(" ")) {
      if (!opt.isBlank()) {
        cmd.add(opt);
      }
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "sql", script.toString()));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
    pb.environment().putAll(env);
    return pb.start();
  }

  @Test
  void readmeExampleJobRunsToTheEndAndExitsZero() throws Exception {
    Path out = dir.resolve("enrich.out");
    Process p = runner(example(), out, Map.of("HOTCOLD_ADDRESS", "unix://" + sidecar.unix, "HOTCOLD_TOKEN_FILE", tokenFile.toString(), "ORDERS", "300"));
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the runner did not exit");
    String log = Files.readString(out);
    assertEquals(0, p.exitValue(), log);
    // print sink: +I[order_id, name, balance, nickname]
    Matcher m = Pattern.compile("\\+I\\[(\\d+), ([^,]+), ([^,]+), ([^\\]]+)\\]").matcher(log);
    Map<Long, String[]> rows = new TreeMap<>();
    while (m.find()) {
      rows.put(Long.parseLong(m.group(1)), new String[] {m.group(2), m.group(3), m.group(4)});
    }
    assertEquals(300, rows.size(), log);
    for (long id = 1; id <= 300; id++) {
      long uid = id % 130;
      String[] want = uid >= 1 && uid <= 100
          ? new String[] {"user-" + uid, new BigDecimal(uid + ".25").toPlainString(), uid % 2 == 0 ? "nick-" + uid : "null"}
          : new String[] {"null", "null", "null"};
      assertArrayEquals(want, rows.get(id), "order " + id);
    }
    assertTrue(log.contains("finished"), log);
  }

  @Test
  void unsetVariableFailsBeforeAnyJobNamingIt() throws Exception {
    Path out = dir.resolve("unset.out");
    Process p = runner(example(), out, Map.of("HOTCOLD_ADDRESS", sidecar.tcp, "HOTCOLD_TOKEN_FILE", tokenFile.toString()));
    assertTrue(p.waitFor(2, TimeUnit.MINUTES));
    String log = Files.readString(out);
    assertEquals(1, p.exitValue(), log);
    assertTrue(log.contains("enrich.sql:14:28: ${ORDERS} is not set in the environment"), log);
  }

  @Test
  void failingJobExitsOneWithTheCause() throws Exception {
    Path script = dir.resolve("bad.sql");
    Files.writeString(script, "CREATE TABLE p (id BIGINT, proc AS PROCTIME()) WITH ('connector' = 'datagen', 'number-of-rows' = '5');\n"
        + "CREATE TABLE u (user_id BIGINT, name INT) WITH ('connector' = 'hotcold', 'address' = '${A}', 'table' = 'users', 'token' = '${T}');\n"
        + "CREATE TABLE o (id BIGINT, name INT) WITH ('connector' = 'blackhole');\n"
        + "INSERT INTO o SELECT p.id, u.name FROM p JOIN u FOR SYSTEM_TIME AS OF p.proc AS u ON u.user_id = p.id;\n");
    Path out = dir.resolve("bad.out");
    Process p = runner(script, out, Map.of("A", sidecar.tcp, "T", Sidecar.TOKEN));
    assertTrue(p.waitFor(5, TimeUnit.MINUTES));
    String log = Files.readString(out);
    assertEquals(1, p.exitValue(), log);
    assertTrue(log.contains("bad.sql:4: job"), log);
    assertTrue(log.contains("column \"name\" is declared INT but the cold store's column is string"), log);
  }

  @Test
  void sigtermCancelsTheRunningJob() throws Exception {
    Path script = dir.resolve("forever.sql");
    Files.writeString(script, "CREATE TABLE p (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '20',"
        + " 'fields.id.min' = '1', 'fields.id.max' = '9');\n"
        + "CREATE TABLE o (id BIGINT) WITH ('connector' = 'print');\n"
        + "INSERT INTO o SELECT id FROM p;\n");
    Path out = dir.resolve("forever.out");
    Process p = runner(script, out, Map.of());
    Sidecar.await("the endless job printing rows", Duration.ofMinutes(3), () -> {
      try {
        return !p.isAlive() || Files.readString(out).contains("+I[");
      } catch (java.io.IOException e) {
        return false;
      }
    });
    assertTrue(p.isAlive(), Files.readString(out));
    p.destroy(); // SIGTERM
    assertTrue(p.waitFor(2, TimeUnit.MINUTES), "the runner did not exit after SIGTERM");
    String log = Files.readString(out);
    assertEquals(143, p.exitValue(), log); // 128 + SIGTERM
    assertTrue(log.contains("terminated: cancelling job"), log);
  }
}
