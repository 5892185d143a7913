package dev.hotcold.client;

import java.util.Arrays;
import java.util.List;

/**
 * The values of a table's key columns, in key order: {@code Key.of(42L)} or,
 * for a composite key, {@code Key.of("eu", 42L)}. Batch calls take a list of
 * keys in which a plain value stands for a one-column key.
 *
 * <p>Accepted value classes: {@link Long} (int64), {@link Integer},
 * {@link Short}, {@link Byte} (int32; int32 and int64 are interchangeable
 * when the number fits), {@link String}, {@code byte[]}, {@link Boolean},
 * {@link Double}, {@link Float}, {@link java.time.LocalDate} (date32),
 * {@link java.time.Instant} (zoned timestamps), {@link java.time.LocalDateTime}
 * (wall-clock timestamps) and {@link java.math.BigDecimal} (decimal128). A key
 * value must not be null.
 */
public final class Key {
  private final Object[] values;

  private Key(Object[] values) {
    this.values = values;
  }

  /** A key of the given column values, in key order. */
  public static Key of(Object... values) {
    return new Key(values.clone());
  }

  /** A key of the given column values, in key order. */
  public static Key of(List<?> values) {
    return new Key(values.toArray());
  }

  /** The values (a copy). */
  public Object[] values() {
    return values.clone();
  }

  Object[] raw() {
    return values;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Key && Arrays.deepEquals(values, ((Key) o).values);
  }

  @Override
  public int hashCode() {
    return Arrays.deepHashCode(values);
  }

  @Override
  public String toString() {
    return Arrays.deepToString(values);
  }
}
