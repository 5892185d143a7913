package dev.hotcold.flink;

import java.util.Objects;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.LookupTableSource;
import org.apache.flink.table.connector.source.lookup.AsyncLookupFunctionProvider;
import org.apache.flink.table.connector.source.lookup.LookupFunctionProvider;
import org.apache.flink.table.connector.source.lookup.PartialCachingAsyncLookupProvider;
import org.apache.flink.table.connector.source.lookup.PartialCachingLookupProvider;
import org.apache.flink.table.connector.source.lookup.cache.LookupCache;
import org.apache.flink.table.api.ValidationException;

/** A hotcold table in {@code JOIN t FOR SYSTEM_TIME AS OF ...}. */
final class HotcoldLookupTableSource implements LookupTableSource {
  private final LookupSpec spec;
  private final boolean async;
  private final LookupCache cache; // null: no Flink-side cache

  HotcoldLookupTableSource(LookupSpec spec, boolean async, LookupCache cache) {
    this.spec = spec;
    this.async = async;
    this.cache = cache;
  }

  @Override
  public LookupRuntimeProvider getLookupRuntimeProvider(LookupContext context) {
    int[][] keys = context.getKeys();
    int[] top = new int[keys.length];
    for (int i = 0; i < keys.length; i++) {
      if (keys[i].length != 1) {
        throw new ValidationException("hotcold table " + spec.table + ": the join key is a nested field; join on top-level columns");
      }
      top[i] = keys[i][0];
    }
    LookupSpec s = spec.withKeys(top);
    if (async) {
      HotcoldAsyncLookupFunction f = new HotcoldAsyncLookupFunction(s);
      return cache == null ? AsyncLookupFunctionProvider.of(f) : PartialCachingAsyncLookupProvider.of(f, cache);
    }
    HotcoldLookupFunction f = new HotcoldLookupFunction(s);
    return cache == null ? LookupFunctionProvider.of(f) : PartialCachingLookupProvider.of(f, cache);
  }

  @Override
  public DynamicTableSource copy() {
    return new HotcoldLookupTableSource(spec, async, cache);
  }

  @Override
  public String asSummaryString() {
    return "hotcold";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HotcoldLookupTableSource
        && ((HotcoldLookupTableSource) o).spec == spec
        && ((HotcoldLookupTableSource) o).async == async
        && Objects.equals(((HotcoldLookupTableSource) o).cache, cache);
  }

  @Override
  public int hashCode() {
    return Objects.hash(spec.table, async);
  }
}
