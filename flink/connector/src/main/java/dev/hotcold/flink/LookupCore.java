package dev.hotcold.flink;

import dev.hotcold.client.HotcoldException;
import dev.hotcold.client.HotcoldLookupClient;
import dev.hotcold.client.Key;
import dev.hotcold.client.Row;
import dev.hotcold.client.Schema;
import dev.hotcold.client.TableInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.ThreadSafeSimpleCounter;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.LogicalType;

/**
 * The run-time half of a hotcold lookup, shared by the async and the sync
 * function: opens the client, checks the declared columns against the
 * sidecar's DescribeTable, converts keys and rows, and keeps the metrics.
 */
final class LookupCore implements AutoCloseable {
  /** Metric names, in the group "hotcold" of the lookup operator. */
  static final String HITS = "hits", MISSES = "misses", ERRORS = "errors";

  static final String LATENCY = "lookupLatencyMicros", BATCH_SIZE = "batchSize";

  private final LookupSpec spec;
  private final HotcoldLookupClient client;
  private final int[] keyPositionInRow; // for each cold key column, its field in the key row
  private final RowData.FieldGetter[] keyGetters;
  private final LogicalType[] keyTypes;
  private final Counter hits, misses, errors;
  private final Histogram latency;

  private LookupCore(LookupSpec spec, HotcoldLookupClient client, int[] keyPositionInRow, MetricGroup metrics, Histogram batches) {
    this.spec = spec;
    this.client = client;
    this.keyPositionInRow = keyPositionInRow;
    this.keyGetters = new RowData.FieldGetter[spec.keyColumns.length];
    this.keyTypes = new LogicalType[spec.keyColumns.length];
    for (int i = 0; i < spec.keyColumns.length; i++) {
      keyTypes[i] = spec.types.get(spec.keyColumns[i]);
      keyGetters[i] = RowData.createFieldGetter(keyTypes[i], i);
    }
    // Updated from gRPC threads concurrently: thread-safe counters.
    this.hits = metrics.counter(HITS, new ThreadSafeSimpleCounter());
    this.misses = metrics.counter(MISSES, new ThreadSafeSimpleCounter());
    this.errors = metrics.counter(ERRORS, new ThreadSafeSimpleCounter());
    this.latency = metrics.histogram(LATENCY, new DescriptiveStatisticsHistogram(10_000));
  }

  /** Connects, checks the schema and registers the metrics; fails naming what is wrong. */
  static LookupCore open(LookupSpec spec, MetricGroup operatorMetrics) throws IOException {
    MetricGroup metrics = operatorMetrics.addGroup("hotcold");
    Histogram batches = metrics.histogram(BATCH_SIZE, new DescriptiveStatisticsHistogram(10_000));
    HotcoldLookupClient.Builder b =
        HotcoldLookupClient.newBuilder()
            .deadline(spec.timeout)
            .retries(spec.maxRetries, Duration.ofMillis(25), Duration.ofSeconds(1))
            .maxBatch(spec.batchSize)
            .maxInFlightBatches(spec.maxInFlight)
            .batchListener(n -> batches.update(n));
    Address.parse(spec.address).configure(b);
    // Checked here, on the TaskManager that reads the files, naming the option.
    SidecarTls.Names names = SidecarTls.connector(spec.table);
    SidecarTls.configure(b, spec.tls, names);
    String token = spec.token;
    if (spec.tokenFile != null) {
      try {
        token = Files.readString(Path.of(spec.tokenFile), StandardCharsets.UTF_8).strip();
      } catch (IOException e) {
        throw new IOException("hotcold table " + spec.table + ": cannot read 'token-file' " + spec.tokenFile + ": " + e, e);
      }
      if (token.isEmpty()) {
        throw new IOException("hotcold table " + spec.table + ": 'token-file' " + spec.tokenFile + " is empty");
      }
    }
    if (token != null) {
      b.token(token);
    }
    HotcoldLookupClient client = SidecarTls.build(b, spec.tls, names);
    try {
      TableInfo info;
      try {
        info = client.describeTable(spec.table);
      } catch (HotcoldException e) {
        throw new IOException("hotcold table " + spec.table + " at " + spec.address + ": DescribeTable failed: " + e.getMessage()
            + SidecarTls.plaintextHint(spec.address, spec.tls, names), e);
      }
      int[] keyPos = check(spec, info.schema());
      return new LookupCore(spec, client, keyPos, metrics, batches);
    } catch (IOException | RuntimeException e) {
      client.close();
      throw e;
    }
  }

  /**
   * Checks every declared column against the cold schema and the join keys
   * against its key; returns for each cold key column its field in the key
   * row.
   */
  static int[] check(LookupSpec spec, Schema cold) throws IOException {
    List<String> problems = new ArrayList<>();
    for (int i = 0; i < spec.columns.size(); i++) {
      String name = spec.columns.get(i);
      int c = cold.indexOf(name);
      if (c < 0) {
        List<String> names = new ArrayList<>();
        for (Schema.Column col : cold.columns()) {
          names.add(col.name());
        }
        problems.add("column \"" + name + "\" is not in the cold table; its columns are " + names);
        continue;
      }
      String why = TypeMapping.mismatch(name, spec.types.get(i), cold.columns().get(c));
      if (why != null) {
        problems.add(why);
      }
    }
    List<String> joinKeys = new ArrayList<>();
    for (int k : spec.keyColumns) {
      joinKeys.add(spec.columns.get(k));
    }
    Set<String> want = new HashSet<>(cold.key());
    if (!want.equals(new HashSet<>(joinKeys))) {
      problems.add("the join looks up by " + joinKeys + " but the cold table's key is " + cold.key()
          + ": join with `=` on every key column (FOR SYSTEM_TIME AS OF ... ON ... = ...)");
    }
    if (!problems.isEmpty()) {
      throw new IOException("hotcold table " + spec.table + " (version " + cold.version() + ") does not match its Flink declaration: "
          + String.join("; ", problems));
    }
    int[] pos = new int[cold.key().size()];
    for (int i = 0; i < pos.length; i++) {
      pos[i] = joinKeys.indexOf(cold.key().get(i));
    }
    return pos;
  }

  /** Looks up one key row; completes with zero or one row. */
  CompletableFuture<Collection<RowData>> lookup(RowData keyRow) {
    long start = System.nanoTime();
    Object[] key = new Object[keyPositionInRow.length];
    for (int i = 0; i < key.length; i++) {
      int f = keyPositionInRow[i];
      Object v = keyGetters[f].getFieldOrNull(keyRow);
      if (v == null) {
        // SQL: a null key equals nothing.
        misses.inc();
        return CompletableFuture.completedFuture(List.of());
      }
      key[i] = TypeMapping.toClient(v, keyTypes[f]);
    }
    return client.lookupResultAsync(spec.table, Key.of(key))
        .handle((r, err) -> {
          latency.update((System.nanoTime() - start) / 1000);
          if (err != null) {
            errors.inc();
            Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
            throw new CompletionException(
                new IOException("hotcold lookup of " + spec.table + " key " + Arrays.toString(key) + ": " + cause.getMessage(), cause));
          }
          if (!r.found()) {
            misses.inc();
            return List.of();
          }
          hits.inc();
          return List.of(toRowData(r.row()));
        });
  }

  private RowData toRowData(Row r) {
    GenericRowData out = new GenericRowData(spec.columns.size());
    for (int i = 0; i < spec.columns.size(); i++) {
      out.setField(i, TypeMapping.toInternal(r.get(spec.columns.get(i)), spec.types.get(i)));
    }
    return out;
  }

  @Override
  public void close() {
    client.close();
  }
}
