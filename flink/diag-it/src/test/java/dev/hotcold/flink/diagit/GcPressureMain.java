package dev.hotcold.flink.diagit;

import java.io.IOException;
import java.net.URI;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

/**
 * A MiniCluster in a JVM of its own, run by DiagRealFlinkIT with a small
 * heap and the serial collector, whose one job keeps {@link #LIVE_BYTES} of
 * its heap live and replaces it all the time: every collection copies or
 * marks that live set, so the JVM (the TaskManager) spends a large share of
 * its time in GC. Prints {@code READY <rest url> <job id>} and runs until
 * its standard input closes.
 */
public final class GcPressureMain {
  static final String OPERATOR = "churn";
  /** Bytes the job holds live; the JVM gets -Xmx of about 3 times that. */
  static final int LIVE_BYTES = 96 << 20;
  private static final int CHUNK = 4 << 10;
  /** Records (of CHUNK bytes each) per millisecond at most. */
  private static final int RECORDS_PER_MS = 256;

  private GcPressureMain() {}

  public static void main(String[] args) throws Exception {
    MiniCluster cluster = new MiniCluster(new MiniClusterConfiguration.Builder()
        .setConfiguration(Configuration.fromMap(Map.of(
            "rest.bind-address", "127.0.0.1",
            "rest.address", "127.0.0.1",
            "rest.bind-port", "0",
            "metrics.fetcher.update-interval", "1 s")))
        .setNumTaskManagers(1)
        .setNumSlotsPerTaskManager(1)
        .build());
    cluster.start();
    URI rest = cluster.getRestAddress().get(60, TimeUnit.SECONDS);
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createRemoteEnvironment("127.0.0.1", rest.getPort(), new Configuration());
    env.setParallelism(1);
    env.fromSequence(0, Long.MAX_VALUE).name("ticks")
        .map(new Churn()).name(OPERATOR)
        .sinkTo(new DiscardingSink<>()).name("discard");
    JobClient job = env.executeAsync("gc pressure");
    System.out.println("READY http://127.0.0.1:" + rest.getPort() + " " + job.getJobID().toHexString());
    System.out.flush();
    try {
      while (System.in.read() >= 0) {
        // until the test closes our standard input
      }
    } catch (IOException e) {
      // the test went away
    }
    Runtime.getRuntime().halt(0);
  }

  /** Holds LIVE_BYTES in chunks and replaces a random chunk per record. */
  static final class Churn extends RichMapFunction<Long, Long> {
    private static final long serialVersionUID = 1L;
    private transient byte[][] live;

    @Override
    public void open(org.apache.flink.api.common.functions.OpenContext ctx) {
      live = new byte[LIVE_BYTES / CHUNK][];
      for (int i = 0; i < live.length; i++) {
        live[i] = new byte[CHUNK];
      }
    }

    @Override
    public Long map(Long x) throws InterruptedException {
      if (x % RECORDS_PER_MS == 0) {
        // Pacing: unpaced, the JVM would be in GC nearly all the time and
        // its REST endpoint too slow to answer diag.
        Thread.sleep(1);
      }
      byte[] b = new byte[CHUNK];
      b[0] = (byte) (long) x;
      live[ThreadLocalRandom.current().nextInt(live.length)] = b;
      return x;
    }
  }
}
