package dev.hotcold.flink.diagit;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * A job whose slow sink back-pressures its source, with one hot key: the
 * source (parallelism 1) sends 19 of every 20 records with the key "hot",
 * keyed by that key into a sink of parallelism 4 whose writer spends
 * {@link #COST_NANOS} of CPU per record. The sink subtask that owns "hot"
 * is saturated, the others idle, and the source waits for buffers.
 */
final class HotKeyJob {
  static final String SOURCE = "orders";
  static final String SINK = "slow-enrich";
  static final int SINK_PARALLELISM = 4;
  /** CPU time the sink burns per record. */
  static final long COST_NANOS = 300_000;

  private HotKeyJob() {}

  static void define(StreamExecutionEnvironment env) {
    env.enableCheckpointing(2_000);
    // Aligned barriers would queue behind the back-pressured buffers.
    env.getCheckpointConfig().enableUnalignedCheckpoints();
    env.fromSequence(0, Long.MAX_VALUE)
        .name(SOURCE)
        .setParallelism(1)
        .map(i -> Tuple2.of(i % 20 == 0 ? "k" + (i / 20) % 40 : "hot", i))
        .returns(Types.TUPLE(Types.STRING, Types.LONG))
        .setParallelism(1)
        .keyBy(t -> t.f0)
        .sinkTo(new SlowSink())
        .name(SINK)
        .setParallelism(SINK_PARALLELISM);
  }

  /** The sink: a writer that burns CPU for every record. */
  static final class SlowSink implements Sink<Tuple2<String, Long>> {
    private static final long serialVersionUID = 1L;

    @Override
    public SinkWriter<Tuple2<String, Long>> createWriter(WriterInitContext context) {
      return new SlowWriter();
    }
  }

  static final class SlowWriter implements SinkWriter<Tuple2<String, Long>> {
    private long checksum;

    @Override
    public void write(Tuple2<String, Long> element, Context context) {
      checksum += EnrichCost.enrich(element.f1);
    }

    @Override
    public void flush(boolean endOfInput) {}

    @Override
    public void close() {}
  }
}
