package dev.hotcold.client;

import com.google.protobuf.ByteString;
import dev.hotcold.lookup.v1.Value;
import io.grpc.Status;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.List;

/** Conversions between Java values and the API's typed values. */
final class Values {
  private Values() {}

  /** Converts the values of a key; problems are INVALID_ARGUMENT naming the value. */
  static dev.hotcold.lookup.v1.Key key(String table, Object[] values) {
    if (values.length == 0) {
      throw new HotcoldException(Status.Code.INVALID_ARGUMENT, "table " + table + ": a key needs at least one value");
    }
    dev.hotcold.lookup.v1.Key.Builder b = dev.hotcold.lookup.v1.Key.newBuilder();
    for (int i = 0; i < values.length; i++) {
      try {
        b.addValues(toProto(values[i]));
      } catch (IllegalArgumentException e) {
        throw new HotcoldException(
            Status.Code.INVALID_ARGUMENT, "table " + table + ": key value " + i + ": " + e.getMessage(), e);
      }
    }
    return b.build();
  }

  /** Converts a list element of a batch call: a {@link Key} or a one-column key value. */
  static dev.hotcold.lookup.v1.Key key(String table, Object keyOrValue, int index) {
    Object[] vals = keyOrValue instanceof Key ? ((Key) keyOrValue).raw() : new Object[] {keyOrValue};
    try {
      return key(table, vals);
    } catch (HotcoldException e) {
      throw new HotcoldException(e.code(), "keys[" + index + "]: " + e.getMessage().replaceFirst("^hotcold: [A-Z_]+: ", ""), e);
    }
  }

  static Value toProto(Object v) {
    Value.Builder b = Value.newBuilder();
    if (v == null) {
      throw new IllegalArgumentException("is null; a key value must not be null");
    } else if (v instanceof Value) {
      return (Value) v;
    } else if (v instanceof Long) {
      b.setInt64Value((Long) v);
    } else if (v instanceof Integer || v instanceof Short || v instanceof Byte) {
      b.setInt32Value(((Number) v).intValue());
    } else if (v instanceof String) {
      b.setStringValue((String) v);
    } else if (v instanceof byte[]) {
      b.setBytesValue(ByteString.copyFrom((byte[]) v));
    } else if (v instanceof Boolean) {
      b.setBoolValue((Boolean) v);
    } else if (v instanceof Double) {
      b.setDoubleValue((Double) v);
    } else if (v instanceof Float) {
      b.setFloatValue((Float) v);
    } else if (v instanceof LocalDate) {
      long day = ((LocalDate) v).toEpochDay();
      if (day != (int) day) {
        throw new IllegalArgumentException(v + " is out of the range of a date32");
      }
      b.setDateValue((int) day);
    } else if (v instanceof Instant) {
      Instant t = (Instant) v;
      b.setTimestampMicros(micros(t.getEpochSecond(), t.getNano(), v));
    } else if (v instanceof LocalDateTime) {
      LocalDateTime t = (LocalDateTime) v;
      b.setTimestampMicros(micros(t.toEpochSecond(ZoneOffset.UTC), t.getNano(), v));
    } else if (v instanceof BigDecimal) {
      b.setDecimalValue(((BigDecimal) v).toPlainString());
    } else {
      throw new IllegalArgumentException(
          "has unsupported class " + v.getClass().getName()
              + "; use Long, Integer, String, byte[], Boolean, Double, Float, LocalDate, Instant, LocalDateTime or BigDecimal");
    }
    return b.build();
  }

  private static long micros(long seconds, int nanos, Object v) {
    if (nanos % 1000 != 0) {
      throw new IllegalArgumentException(v + " has sub-microsecond precision, which no hotcold timestamp holds");
    }
    try {
      return Math.addExact(Math.multiplyExact(seconds, 1_000_000L), nanos / 1000);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(v + " is out of the range of a timestamp (int64 microseconds)");
    }
  }

  /** Builds a Row from the values of a response. */
  static Row row(Schema schema, String version, dev.hotcold.lookup.v1.Row r) {
    List<Value> vals = r.getValuesList();
    Object[] out = new Object[vals.size()];
    List<Schema.Column> cols = schema.columns();
    for (int i = 0; i < out.length; i++) {
      out[i] = fromProto(vals.get(i), i < cols.size() ? cols.get(i) : null);
    }
    return new Row(schema, version, out);
  }

  static Object fromProto(Value v, Schema.Column col) {
    boolean zoned = col != null && col.isZonedTimestamp();
    switch (v.getKindCase()) {
      case BOOL_VALUE:
        return v.getBoolValue();
      case INT32_VALUE:
        return v.getInt32Value();
      case INT64_VALUE:
        return v.getInt64Value();
      case FLOAT_VALUE:
        return v.getFloatValue();
      case DOUBLE_VALUE:
        return v.getDoubleValue();
      case STRING_VALUE:
        return v.getStringValue();
      case BYTES_VALUE:
        return v.getBytesValue().toByteArray();
      case DATE_VALUE:
        return LocalDate.ofEpochDay(v.getDateValue());
      case TIMESTAMP_MILLIS:
        return time(Math.floorDiv(v.getTimestampMillis(), 1000L), Math.floorMod(v.getTimestampMillis(), 1000L) * 1_000_000L, zoned);
      case TIMESTAMP_MICROS:
        return time(Math.floorDiv(v.getTimestampMicros(), 1_000_000L), Math.floorMod(v.getTimestampMicros(), 1_000_000L) * 1000L, zoned);
      case DECIMAL_VALUE:
        return new BigDecimal(v.getDecimalValue());
      case NULL_VALUE:
      case KIND_NOT_SET:
      default:
        return null;
    }
  }

  private static Object time(long seconds, long nanos, boolean zoned) {
    if (zoned) {
      return Instant.ofEpochSecond(seconds, nanos);
    }
    return LocalDateTime.ofEpochSecond(seconds, (int) nanos, ZoneOffset.UTC);
  }

}
