package dev.hotcold.client;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One stored row: typed values by column position or name. Immutable and
 * safe to share between threads (a {@code byte[]} value is copied on the way
 * out).
 *
 * <p>Column types map to Java types as follows: bool {@link Boolean}, int32
 * {@link Integer}, int64 {@link Long}, float32 {@link Float}, float64
 * {@link Double}, string {@link String}, binary {@code byte[]}, date32
 * {@link LocalDate}, timestamp with a zone (e.g. {@code timestamp[us, UTC]})
 * {@link Instant}, timestamp without a zone {@link LocalDateTime}, decimal128
 * {@link BigDecimal}; SQL NULL is {@code null}. These are the classes Flink
 * uses for BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, STRING, BYTES, DATE,
 * TIMESTAMP_LTZ, TIMESTAMP and DECIMAL.
 */
public final class Row {
  private final Schema schema;
  private final String version;
  private final Object[] values;

  Row(Schema schema, String version, Object[] values) {
    this.schema = schema;
    this.version = version;
    this.values = values;
  }

  /** The table the row was read from. */
  public String table() {
    return schema.table();
  }

  /** The table version that answered, e.g. "2026-11-22". */
  public String version() {
    return version;
  }

  /** The schema of the row's table (column names and types). */
  public Schema schema() {
    return schema;
  }

  /** The number of values. */
  public int size() {
    return values.length;
  }

  /** The value at a column position (0-based), or null for SQL NULL. */
  public Object get(int i) {
    Object v = values[i];
    return v instanceof byte[] ? ((byte[]) v).clone() : v;
  }

  /**
   * The value of a column, or null for SQL NULL.
   *
   * @throws IllegalArgumentException when the table has no such column
   */
  public Object get(String column) {
    return get(position(column));
  }

  /**
   * The value of a column as the given class, e.g. {@code get("name",
   * String.class)}.
   *
   * @throws ClassCastException when the column holds another type
   */
  public <T> T get(String column, Class<T> type) {
    return type.cast(get(column));
  }

  /** A string column. */
  public String getString(String column) {
    return (String) get(column);
  }

  /** An int32 or int64 column as a Long. */
  public Long getLong(String column) {
    Object v = get(column);
    return v == null ? null : ((Number) v).longValue();
  }

  /** An int32 column. */
  public Integer getInt(String column) {
    return (Integer) get(column);
  }

  /** A float32 or float64 column as a Double. */
  public Double getDouble(String column) {
    Object v = get(column);
    return v == null ? null : ((Number) v).doubleValue();
  }

  /** A bool column. */
  public Boolean getBoolean(String column) {
    return (Boolean) get(column);
  }

  /** A binary column (a copy). */
  public byte[] getBytes(String column) {
    return (byte[]) get(column);
  }

  /** A decimal column. */
  public BigDecimal getDecimal(String column) {
    return (BigDecimal) get(column);
  }

  /** A date32 column. */
  public LocalDate getDate(String column) {
    return (LocalDate) get(column);
  }

  /** A timestamp column with a time zone. */
  public Instant getInstant(String column) {
    return (Instant) get(column);
  }

  /** A timestamp column without a time zone. */
  public LocalDateTime getLocalDateTime(String column) {
    return (LocalDateTime) get(column);
  }

  /** The values in column order (a copy), e.g. for Flink's {@code Row.of(...)}. */
  public Object[] toArray() {
    Object[] out = values.clone();
    for (int i = 0; i < out.length; i++) {
      if (out[i] instanceof byte[]) {
        out[i] = ((byte[]) out[i]).clone();
      }
    }
    return out;
  }

  /** The values by column name, in column order (an unmodifiable copy). */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < values.length; i++) {
      m.put(name(i), get(i));
    }
    return Collections.unmodifiableMap(m);
  }

  private String name(int i) {
    return i < schema.columns().size() ? schema.columns().get(i).name() : "_" + i;
  }

  private int position(String column) {
    int i = schema.indexOf(column);
    if (i < 0 || i >= values.length) {
      throw new IllegalArgumentException(
          "table " + schema.table() + " has no column \"" + column + "\"; its columns are " + schema.columns());
    }
    return i;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Row)) {
      return false;
    }
    Row r = (Row) o;
    return table().equals(r.table()) && version.equals(r.version) && Arrays.deepEquals(values, r.values);
  }

  @Override
  public int hashCode() {
    return Arrays.deepHashCode(values);
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder(table()).append('@').append(version).append('{');
    for (int i = 0; i < values.length; i++) {
      if (i > 0) {
        b.append(", ");
      }
      Object v = values[i];
      b.append(name(i)).append('=').append(v instanceof byte[] ? Arrays.toString((byte[]) v) : v);
    }
    return b.append('}').toString();
  }
}
