package dev.hotcold.flink;

import java.util.Collection;
import java.util.concurrent.CompletableFuture;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.functions.AsyncLookupFunction;
import org.apache.flink.table.functions.FunctionContext;

/**
 * The asynchronous hotcold lookup (the default): the in-flight lookups of a
 * subtask (up to table.exec.async-lookup.buffer-capacity) are coalesced by
 * the client into BatchLookup calls of up to 'lookup.batch-size' keys.
 */
public final class HotcoldAsyncLookupFunction extends AsyncLookupFunction {
  private static final long serialVersionUID = 1L;

  private final LookupSpec spec;
  private transient LookupCore core;

  HotcoldAsyncLookupFunction(LookupSpec spec) {
    this.spec = spec;
  }

  @Override
  public void open(FunctionContext context) throws Exception {
    core = LookupCore.open(spec, context.getMetricGroup());
  }

  @Override
  public CompletableFuture<Collection<RowData>> asyncLookup(RowData keyRow) {
    return core.lookup(keyRow);
  }

  @Override
  public void close() {
    if (core != null) {
      core.close();
      core = null;
    }
  }
}
