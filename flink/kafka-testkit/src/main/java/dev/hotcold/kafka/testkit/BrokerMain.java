package dev.hotcold.kafka.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.MetadataVersion;

/**
 * A single-node Apache Kafka broker in KRaft mode (controller and broker in
 * one process) on free loopback ports, for tests. Run by {@link KafkaBroker}
 * and by the Go tests' internal/kafkatest, each in a JVM of its own:
 *
 * <pre>
 *   java -cp CLASSPATH dev.hotcold.kafka.testkit.BrokerMain [--dir DIR] [name=value...]
 * </pre>
 *
 * <p>It formats a fresh log directory (DIR, or a temporary one that is
 * deleted at exit), starts the broker, and prints one line
 * {@code READY 127.0.0.1:PORT} on stdout (a start that fails prints
 * {@code FAILED message} and exits 1). Each {@code name=value} argument
 * overrides a broker setting. Then it reads commands from stdin, one a line,
 * answering {@code OK} or {@code ERROR message}:
 *
 * <pre>
 *   create-topic NAME PARTITIONS
 * </pre>
 *
 * <p>It stops the broker and exits 0 on end of stdin (so it dies with the
 * process that started it, however that one ends) and on SIGTERM/SIGINT.
 */
public final class BrokerMain {
  private static final String HOST = "127.0.0.1";
  private static final int ATTEMPTS = 5;

  private BrokerMain() {}

  /** The settings that make a one-node broker start in seconds and keep little. */
  static Map<String, String> defaults() {
    Map<String, String> c = new LinkedHashMap<>();
    c.put("process.roles", "broker,controller");
    c.put("node.id", "1");
    c.put("controller.listener.names", "CONTROLLER");
    c.put("inter.broker.listener.name", "PLAINTEXT");
    c.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    c.put("num.partitions", "1");
    c.put("default.replication.factor", "1");
    c.put("min.insync.replicas", "1");
    c.put("offsets.topic.replication.factor", "1");
    c.put("offsets.topic.num.partitions", "1");
    c.put("transaction.state.log.replication.factor", "1");
    c.put("transaction.state.log.min.isr", "1");
    c.put("transaction.state.log.num.partitions", "1");
    c.put("share.coordinator.state.topic.replication.factor", "1");
    c.put("share.coordinator.state.topic.min.isr", "1");
    c.put("group.initial.rebalance.delay.ms", "0");
    // No fsync (Kafka's default, stated): the page cache is durable enough for a test.
    c.put("log.flush.interval.messages", String.valueOf(Long.MAX_VALUE));
    c.put("num.network.threads", "2");
    c.put("num.io.threads", "2");
    c.put("background.threads", "2");
    c.put("num.recovery.threads.per.data.dir", "1");
    c.put("num.replica.fetchers", "1");
    c.put("log.cleaner.threads", "1");
    c.put("log.cleaner.dedupe.buffer.size", String.valueOf(2 << 20));
    c.put("log.segment.bytes", String.valueOf(16 << 20));
    c.put("auto.create.topics.enable", "true");
    c.put("controlled.shutdown.enable", "false");
    return c;
  }

  public static void main(String[] args) throws Exception {
    // Kafka's INFO lines are many; warnings and errors go to stderr.
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    Path dir = null;
    boolean temporary = true;
    Map<String, String> overrides = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--dir") && i + 1 < args.length) {
        dir = Path.of(args[++i]);
        temporary = false;
      } else if (args[i].indexOf('=') > 0) {
        int eq = args[i].indexOf('=');
        overrides.put(args[i].substring(0, eq), args[i].substring(eq + 1));
      } else {
        out.println("FAILED unknown argument " + args[i] + " (usage: BrokerMain [--dir DIR] [name=value...])");
        System.exit(2);
      }
    }
    if (dir == null) {
      dir = Files.createTempDirectory("hotcold-kafka-");
    }
    Started s;
    try {
      s = start(dir, overrides);
    } catch (Exception e) {
      out.println("FAILED " + oneLine(e));
      e.printStackTrace();
      if (temporary) {
        deleteTree(dir);
      }
      System.exit(1);
      return;
    }
    final Path logDir = dir;
    final boolean delete = temporary;
    Thread hook = new Thread(() -> stop(s.server, logDir, delete), "hotcold-kafka-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    out.println("READY " + s.bootstrap);

    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, s.bootstrap))) {
      String line;
      while ((line = in.readLine()) != null) {
        out.println(command(admin, line.trim()));
      }
    }
    // End of stdin: the parent is gone or done. The hook stops the broker.
    System.exit(0);
  }

  private record Started(KafkaRaftServer server, String bootstrap) {}

  /** Formats dir and starts the broker, retrying on fresh ports if one was taken meanwhile. */
  private static Started start(Path dir, Map<String, String> overrides) throws Exception {
    Exception last = null;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      int[] ports = freePorts(2);
      Path logs = dir.resolve("attempt-" + attempt);
      Files.createDirectories(logs);
      Map<String, String> c = defaults();
      c.put("listeners", "PLAINTEXT://" + HOST + ":" + ports[0] + ",CONTROLLER://" + HOST + ":" + ports[1]);
      c.put("advertised.listeners", "PLAINTEXT://" + HOST + ":" + ports[0]);
      c.put("controller.quorum.voters", "1@" + HOST + ":" + ports[1]);
      c.put("log.dirs", logs.toString());
      c.putAll(overrides);
      Properties props = new Properties();
      props.putAll(c);
      KafkaConfig config = KafkaConfig.fromProps(props, false);
      new Formatter()
          .setPrintStream(System.err)
          .setNodeId(config.nodeId())
          .setClusterId(Uuid.randomUuid().toString())
          .setControllerListenerName("CONTROLLER")
          .setMetadataLogDirectory(config.metadataLogDir())
          .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
          .addDirectory(logs.toString())
          .run();
      KafkaRaftServer server = new KafkaRaftServer(config, Time.SYSTEM);
      try {
        server.startup();
      } catch (Exception e) {
        last = e;
        shutdownQuietly(server);
        deleteTree(logs);
        continue; // most likely a port was taken between freePorts and bind
      }
      String bootstrap = HOST + ":" + ports[0];
      awaitReady(bootstrap);
      return new Started(server, bootstrap);
    }
    throw new IllegalStateException("the broker did not start after " + ATTEMPTS + " attempts", last);
  }

  /** Waits until the broker answers metadata requests and has registered itself. */
  private static void awaitReady(String bootstrap) throws Exception {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (true) {
        try {
          if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
            return;
          }
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException("the broker did not answer within 60s", e);
          }
        }
        Thread.sleep(50); // poll again

      }
    }
  }

  static String command(Admin admin, String line) {
    if (line.isEmpty()) {
      return "ERROR empty command";
    }
    List<String> f = List.of(line.split("\\s+"));
    try {
      switch (f.get(0)) {
        case "create-topic" -> {
          if (f.size() != 3) {
            return "ERROR usage: create-topic NAME PARTITIONS";
          }
          int partitions = Integer.parseInt(f.get(2));
          admin.createTopics(List.of(new NewTopic(f.get(1), partitions, (short) 1))).all().get(60, TimeUnit.SECONDS);
          return "OK";
        }
        default -> {
          return "ERROR unknown command " + f.get(0) + " (known: create-topic NAME PARTITIONS)";
        }
      }
    } catch (ExecutionException e) {
      return "ERROR " + oneLine(e.getCause());
    } catch (Exception e) {
      return "ERROR " + oneLine(e);
    }
  }

  private static void stop(KafkaRaftServer server, Path dir, boolean delete) {
    shutdownQuietly(server);
    if (delete) {
      deleteTree(dir);
    }
  }

  private static void shutdownQuietly(KafkaRaftServer server) {
    try {
      server.shutdown();
      server.awaitShutdown();
    } catch (RuntimeException e) {
      System.err.println("hotcold-kafka: shutdown: " + e);
    }
  }

  private static int[] freePorts(int n) throws IOException {
    ServerSocket[] sockets = new ServerSocket[n];
    int[] ports = new int[n];
    try {
      for (int i = 0; i < n; i++) {
        sockets[i] = new ServerSocket(0, 1, InetAddress.getByName(HOST));
        ports[i] = sockets[i].getLocalPort();
      }
    } finally {
      for (ServerSocket s : sockets) {
        if (s != null) {
          s.close();
        }
      }
    }
    return ports;
  }

  static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (IOException | UncheckedIOException e) {
      System.err.println("hotcold-kafka: could not delete " + dir + ": " + e);
    }
  }

  private static String oneLine(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + e.getMessage();
    return m.replace('\n', ' ');
  }
}
