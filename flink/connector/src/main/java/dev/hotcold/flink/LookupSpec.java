package dev.hotcold.flink;

import java.io.Serializable;
import java.time.Duration;
import java.util.List;
import org.apache.flink.table.types.logical.LogicalType;

/**
 * What a hotcold lookup needs at run time: the sidecar, the table, the
 * declared columns and which of them the join looks up by. Serializable, as
 * it travels to the TaskManagers. The token is kept out of toString.
 */
final class LookupSpec implements Serializable {
  private static final long serialVersionUID = 1L;

  final String address;
  final String table;
  final String token; // null when none or from tokenFile
  final String tokenFile; // null when none
  final int batchSize;
  final int maxInFlight;
  final int maxRetries;
  final Duration timeout;
  final List<String> columns; // declared physical columns, in order
  final List<LogicalType> types; // their types
  final int[] keyColumns; // positions in columns of the lookup key fields, in key-row order
  final Tls tls; // null: plaintext

  /** The tls.* options: files read on the TaskManager at open(). */
  record Tls(String ca, String cert, String key, String serverName) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  LookupSpec(
      String address,
      String table,
      String token,
      String tokenFile,
      int batchSize,
      int maxInFlight,
      int maxRetries,
      Duration timeout,
      List<String> columns,
      List<LogicalType> types,
      int[] keyColumns) {
    this(address, table, token, tokenFile, batchSize, maxInFlight, maxRetries, timeout, columns, types, keyColumns, null);
  }

  LookupSpec(
      String address,
      String table,
      String token,
      String tokenFile,
      int batchSize,
      int maxInFlight,
      int maxRetries,
      Duration timeout,
      List<String> columns,
      List<LogicalType> types,
      int[] keyColumns,
      Tls tls) {
    this.tls = tls;
    this.address = address;
    this.table = table;
    this.token = token;
    this.tokenFile = tokenFile;
    this.batchSize = batchSize;
    this.maxInFlight = maxInFlight;
    this.maxRetries = maxRetries;
    this.timeout = timeout;
    this.columns = List.copyOf(columns);
    this.types = List.copyOf(types);
    this.keyColumns = keyColumns.clone();
  }

  LookupSpec withKeys(int[] keys) {
    return new LookupSpec(address, table, token, tokenFile, batchSize, maxInFlight, maxRetries, timeout, columns, types, keys, tls);
  }

  @Override
  public String toString() {
    return "hotcold(" + table + " at " + address + ")";
  }
}
