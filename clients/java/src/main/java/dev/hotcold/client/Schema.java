package dev.hotcold.client;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The columns of one version of a table, in row order, and its key columns.
 * Immutable and shared by every {@link Row} read from that version.
 */
public final class Schema {
  /**
   * One column: its name, its type in hotcold notation ({@code "int64"},
   * {@code "string"}, {@code "timestamp[us, UTC]"}, {@code "decimal128(18, 2)"}
   * ...) and whether it may hold null.
   */
  public record Column(String name, String type, boolean nullable) {
    /**
     * Whether values of this column are instants (a timestamp with a time
     * zone, read as {@link java.time.Instant}) rather than wall-clock times
     * (read as {@link java.time.LocalDateTime}).
     */
    public boolean isZonedTimestamp() {
      return type.startsWith("timestamp[") && type.contains(",");
    }
  }

  private final String table;
  private final String version;
  private final List<Column> columns;
  private final List<String> key;
  private final Map<String, Integer> index;

  Schema(String table, String version, List<Column> columns, List<String> key) {
    this.table = table;
    this.version = version;
    this.columns = Collections.unmodifiableList(new ArrayList<>(columns));
    this.key = Collections.unmodifiableList(new ArrayList<>(key));
    Map<String, Integer> idx = new HashMap<>();
    for (int i = 0; i < columns.size(); i++) {
      idx.put(columns.get(i).name(), i);
    }
    this.index = idx;
  }

  static Schema fromProto(dev.hotcold.lookup.v1.TableInfo t) {
    List<Column> cols = new ArrayList<>();
    for (dev.hotcold.lookup.v1.Column c : t.getSchema().getColumnsList()) {
      cols.add(new Column(c.getName(), c.getType(), c.getNullable()));
    }
    return new Schema(t.getName(), t.getVersion(), cols, t.getSchema().getKeyList());
  }

  /** The table name. */
  public String table() {
    return table;
  }

  /** The table version this schema was read from, e.g. "2026-11-22". */
  public String version() {
    return version;
  }

  /** The columns in row order (unmodifiable). */
  public List<Column> columns() {
    return columns;
  }

  /** The names of the key columns in key order (unmodifiable). */
  public List<String> key() {
    return key;
  }

  /** The position of a column, or -1 when there is no such column. */
  public int indexOf(String column) {
    Integer i = index.get(column);
    return i == null ? -1 : i;
  }

  @Override
  public String toString() {
    return table + "@" + version + columns + " key " + key;
  }
}
