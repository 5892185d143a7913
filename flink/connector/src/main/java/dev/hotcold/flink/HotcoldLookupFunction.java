package dev.hotcold.flink;

import java.io.IOException;
import java.util.Collection;
import java.util.concurrent.CompletionException;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.LookupFunction;

/** The synchronous hotcold lookup ('lookup.async' = 'false'): one key per call. */
public final class HotcoldLookupFunction extends LookupFunction {
  private static final long serialVersionUID = 1L;

  private final LookupSpec spec;
  private transient LookupCore core;

  HotcoldLookupFunction(LookupSpec spec) {
    this.spec = spec;
  }

  @Override
  public void open(FunctionContext context) throws Exception {
    core = LookupCore.open(spec, context.getMetricGroup());
  }

  @Override
  public Collection<RowData> lookup(RowData keyRow) throws IOException {
    try {
      return core.lookup(keyRow).join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof IOException) {
        throw (IOException) e.getCause();
      }
      throw e;
    }
  }

  @Override
  public void close() {
    if (core != null) {
      core.close();
      core = null;
    }
  }
}
