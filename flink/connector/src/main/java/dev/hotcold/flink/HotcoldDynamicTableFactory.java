package dev.hotcold.flink;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.lookup.LookupOptions;
import org.apache.flink.table.connector.source.lookup.cache.DefaultLookupCache;
import org.apache.flink.table.connector.source.lookup.cache.LookupCache;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;

/**
 * {@code 'connector' = 'hotcold'}: a lookup table over a cold-store table
 * served by the hotcold sidecar.
 *
 * <pre>{@code
 * CREATE TABLE users (user_id BIGINT, name STRING, score DOUBLE) WITH (
 *   'connector' = 'hotcold', 'address' = 'unix:///run/hotcold/hotcold.sock',
 *   'table' = 'users', 'token-file' = '/etc/hotcold/job.token');
 * SELECT o.order_id, u.name FROM orders AS o
 *   JOIN users FOR SYSTEM_TIME AS OF o.proc_time AS u ON o.user_id = u.user_id;
 * }</pre>
 */
public final class HotcoldDynamicTableFactory implements DynamicTableSourceFactory {
  public static final String IDENTIFIER = "hotcold";

  @Override
  public String factoryIdentifier() {
    return IDENTIFIER;
  }

  @Override
  public Set<ConfigOption<?>> requiredOptions() {
    return Set.of(HotcoldOptions.ADDRESS, HotcoldOptions.TABLE);
  }

  @Override
  public Set<ConfigOption<?>> optionalOptions() {
    return Set.of(
        HotcoldOptions.TOKEN,
        HotcoldOptions.TOKEN_FILE,
        HotcoldOptions.ASYNC,
        HotcoldOptions.BATCH_SIZE,
        HotcoldOptions.MAX_IN_FLIGHT,
        HotcoldOptions.MAX_RETRIES,
        HotcoldOptions.TIMEOUT,
        HotcoldOptions.TLS,
        HotcoldOptions.TLS_CA,
        HotcoldOptions.TLS_CERT,
        HotcoldOptions.TLS_KEY,
        HotcoldOptions.TLS_SERVER_NAME,
        LookupOptions.CACHE_TYPE,
        LookupOptions.PARTIAL_CACHE_EXPIRE_AFTER_ACCESS,
        LookupOptions.PARTIAL_CACHE_EXPIRE_AFTER_WRITE,
        LookupOptions.PARTIAL_CACHE_CACHE_MISSING_KEY,
        LookupOptions.PARTIAL_CACHE_MAX_ROWS);
  }

  @Override
  public DynamicTableSource createDynamicTableSource(Context context) {
    FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
    helper.validate();
    ReadableConfig o = helper.getOptions();
    String table = o.get(HotcoldOptions.TABLE);
    List<String> problems = new ArrayList<>();
    try {
      Address.parse(o.get(HotcoldOptions.ADDRESS));
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
    }
    if (o.getOptional(HotcoldOptions.TOKEN).isPresent() && o.getOptional(HotcoldOptions.TOKEN_FILE).isPresent()) {
      problems.add("set 'token' or 'token-file', not both");
    }
    if (o.get(HotcoldOptions.BATCH_SIZE) < 1) {
      problems.add("'lookup.batch-size' " + o.get(HotcoldOptions.BATCH_SIZE) + " must be at least 1");
    }
    if (o.get(HotcoldOptions.MAX_IN_FLIGHT) < 1) {
      problems.add("'lookup.max-in-flight' " + o.get(HotcoldOptions.MAX_IN_FLIGHT) + " must be at least 1");
    }
    if (o.get(HotcoldOptions.MAX_RETRIES) < 0) {
      problems.add("'lookup.max-retries' " + o.get(HotcoldOptions.MAX_RETRIES) + " must not be negative");
    }
    if (o.get(HotcoldOptions.TIMEOUT).isZero() || o.get(HotcoldOptions.TIMEOUT).isNegative()) {
      problems.add("'lookup.timeout' " + o.get(HotcoldOptions.TIMEOUT) + " must be positive");
    }
    LookupSpec.Tls tls = null;
    String ca = o.getOptional(HotcoldOptions.TLS_CA).orElse(null), cert = o.getOptional(HotcoldOptions.TLS_CERT).orElse(null),
        key = o.getOptional(HotcoldOptions.TLS_KEY).orElse(null), serverName = o.getOptional(HotcoldOptions.TLS_SERVER_NAME).orElse(null);
    if (o.get(HotcoldOptions.TLS) || ca != null || cert != null || key != null || serverName != null) {
      tls = new LookupSpec.Tls(ca, cert, key, serverName);
      if ((cert == null) != (key == null)) {
        problems.add("'tls.cert' and 'tls.key' go together (the client certificate and its PKCS#8 key): set both or neither");
      }
      if (o.get(HotcoldOptions.ADDRESS) != null && o.get(HotcoldOptions.ADDRESS).startsWith("unix:")) {
        problems.add("the tls options apply to a host:port 'address'; the unix socket is plaintext (its file permissions guard it)");
      }
    }
    LookupCache cache = null;
    switch (o.get(LookupOptions.CACHE_TYPE)) {
      case NONE:
        break;
      case PARTIAL:
        cache = DefaultLookupCache.fromConfig(o);
        break;
      default:
        problems.add("'lookup.cache' = '" + o.get(LookupOptions.CACHE_TYPE)
            + "' is not supported: use NONE (the default; the sidecar caches per version) or PARTIAL");
    }
    if (!problems.isEmpty()) {
      throw new ValidationException("hotcold table " + context.getObjectIdentifier().asSummaryString()
          + " ('table' = '" + table + "'): " + String.join("; ", problems));
    }
    DataType row = context.getPhysicalRowDataType();
    List<LogicalType> types = new ArrayList<>();
    for (DataType t : DataType.getFieldDataTypes(row)) {
      types.add(t.getLogicalType());
    }
    LookupSpec spec =
        new LookupSpec(
            o.get(HotcoldOptions.ADDRESS),
            table,
            o.getOptional(HotcoldOptions.TOKEN).orElse(null),
            o.getOptional(HotcoldOptions.TOKEN_FILE).orElse(null),
            o.get(HotcoldOptions.BATCH_SIZE),
            o.get(HotcoldOptions.MAX_IN_FLIGHT),
            o.get(HotcoldOptions.MAX_RETRIES),
            o.get(HotcoldOptions.TIMEOUT),
            DataType.getFieldNames(row),
            types,
            new int[0],
            tls);
    return new HotcoldLookupTableSource(spec, o.get(HotcoldOptions.ASYNC), cache);
  }
}
