package dev.hotcold.kafka.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real single-node Apache Kafka broker (KRaft) for a JUnit 5 test class,
 * started once before its tests and stopped after them. It runs {@link
 * BrokerMain} in a JVM of its own, so the broker's jars never meet the
 * test's classpath; that JVM ends with the test JVM however that ends.
 *
 * <pre>{@code
 * class PipelineIT {
 *   @RegisterExtension
 *   static final KafkaBroker kafka = new KafkaBroker();
 *
 *   @Test
 *   void roundTrip() throws Exception {
 *     kafka.createTopic("orders", 2);
 *     String brokers = kafka.bootstrapServers(); // "127.0.0.1:PORT"
 *     ...
 *   }
 * }
 * }</pre>
 *
 * <p>Outside JUnit: {@code try (KafkaBroker k = new KafkaBroker().start()) {...}}.
 * {@link #withConfig} overrides a broker setting before the start. The
 * broker's stderr (warnings, errors) is in {@link #logFile()} while it runs. Topics are
 * created on first use too ({@code auto.create.topics.enable}, one
 * partition).
 */
public final class KafkaBroker implements BeforeAllCallback, AfterAllCallback, AutoCloseable {
  /** How long the broker may take to print READY. */
  public static final long START_TIMEOUT_SECONDS = 120;

  private final Map<String, String> config = new LinkedHashMap<>();
  private Process process;
  private Writer commands;
  private BufferedReader answers;
  private String bootstrap;
  private Path log;

  /** A broker with BrokerMain's defaults; started by JUnit or {@link #start()}. */
  public KafkaBroker() {}

  /** Overrides a broker setting (e.g. "group.max.session.timeout.ms"). Call before the start. */
  public KafkaBroker withConfig(String name, String value) {
    if (process != null) {
      throw new IllegalStateException("withConfig after the broker started");
    }
    config.put(name, value);
    return this;
  }

  /** Starts the broker and waits until it serves. */
  public synchronized KafkaBroker start() throws IOException {
    if (process != null) {
      return this;
    }
    log = Files.createTempFile("hotcold-kafka-", ".log");
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m",
        "-cp", classpath(), BrokerMain.class.getName()));
    config.forEach((k, v) -> cmd.add(k + "=" + v));
    process = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
    commands = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    answers = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    String line = readLine(START_TIMEOUT_SECONDS);
    if (line == null || !line.startsWith("READY ")) {
      String why = line == null ? "it exited or printed nothing" : line;
      String tail = tail(log);
      close();
      throw new IOException("Kafka broker did not start (" + why + "); the end of its log:\n" + tail);
    }
    bootstrap = line.substring("READY ".length()).trim();
    return this;
  }

  /** The bootstrap servers, "127.0.0.1:PORT". */
  public String bootstrapServers() {
    if (bootstrap == null) {
      throw new IllegalStateException("the broker is not started");
    }
    return bootstrap;
  }

  /** Creates a topic with the given partitions (replication factor 1). */
  public synchronized void createTopic(String name, int partitions) throws IOException {
    if (process == null) {
      throw new IllegalStateException("the broker is not started");
    }
    if (name.isBlank() || name.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException("topic name " + '"' + name + '"' + " is empty or has whitespace");
    }
    commands.write("create-topic " + name + " " + partitions + "\n");
    commands.flush();
    String answer = readLine(90);
    if (!"OK".equals(answer)) {
      throw new IOException("create topic " + name + ": " + (answer == null ? "the broker exited; its log: " + log : answer));
    }
  }

  /** The broker's stderr. */
  public Path logFile() {
    return log;
  }

  /** Stops the broker (closing its stdin) and waits for it to exit. */
  @Override
  public synchronized void close() {
    if (process == null) {
      return;
    }
    try {
      commands.close();
    } catch (IOException e) {
      // it is gone already
    }
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    process = null;
    bootstrap = null;
    try {
      Files.deleteIfExists(log);
    } catch (IOException e) {
      // a leftover log file in the temporary directory
    }
  }

  @Override
  public void beforeAll(ExtensionContext context) throws IOException {
    start();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    close();
  }

  private String readLine(long timeoutSeconds) throws IOException {
    CompletableFuture<String> f = CompletableFuture.supplyAsync(() -> {
      try {
        return answers.readLine();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
    try {
      return f.get(timeoutSeconds, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new IOException("Kafka broker did not answer within " + timeoutSeconds + "s; its log: " + log);
    } catch (ExecutionException e) {
      throw new IOException("reading the Kafka broker's answer", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** This module's classes and the broker's jars (classpath.txt, written by the build). */
  static String classpath() throws IOException {
    String deps;
    try (InputStream in = KafkaBroker.class.getResourceAsStream("classpath.txt")) {
      if (in == null) {
        throw new IOException("classpath.txt is missing next to " + KafkaBroker.class.getName()
            + ": build hotcold-kafka-testkit with Maven (mvn -f flink/kafka-testkit package)");
      }
      deps = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
    }
    for (String jar : deps.split(java.io.File.pathSeparator)) {
      if (!Files.exists(Path.of(jar))) {
        throw new IOException("the broker's jar " + jar + " is missing: rebuild hotcold-kafka-testkit (mvn -f flink/kafka-testkit package)");
      }
    }
    try {
      Path self = Path.of(KafkaBroker.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return self + java.io.File.pathSeparator + deps;
    } catch (URISyntaxException e) {
      throw new IOException(e);
    }
  }

  private static String tail(Path file) {
    try {
      List<String> lines = Files.readAllLines(file);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }
}
