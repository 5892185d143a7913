package dev.hotcold.flink;

import dev.hotcold.client.Schema;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.DecimalType;
import org.apache.flink.table.types.logical.LocalZonedTimestampType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.TimestampType;

/**
 * Maps cold-store column types (hotcold notation, e.g. {@code "int64"},
 * {@code "timestamp[us, UTC]"}, {@code "decimal128(12, 2)"}) to Flink SQL
 * types, and values between the Java client's objects and Flink's internal
 * data structures.
 *
 * <table>
 *   <caption>cold type to Flink type</caption>
 *   <tr><th>cold store</th><th>Flink SQL</th></tr>
 *   <tr><td>bool</td><td>BOOLEAN</td></tr>
 *   <tr><td>int32</td><td>INT</td></tr>
 *   <tr><td>int64</td><td>BIGINT</td></tr>
 *   <tr><td>float32</td><td>FLOAT</td></tr>
 *   <tr><td>float64</td><td>DOUBLE</td></tr>
 *   <tr><td>string</td><td>STRING (any VARCHAR(n))</td></tr>
 *   <tr><td>binary</td><td>BYTES (any VARBINARY(n))</td></tr>
 *   <tr><td>date32</td><td>DATE</td></tr>
 *   <tr><td>timestamp[ms] / timestamp[us]</td><td>TIMESTAMP(3) / TIMESTAMP(6) (or a higher precision)</td></tr>
 *   <tr><td>timestamp[ms, TZ] / timestamp[us, TZ]</td><td>TIMESTAMP_LTZ(3) / TIMESTAMP_LTZ(6) (or higher)</td></tr>
 *   <tr><td>decimal128(p, s)</td><td>DECIMAL(p, s)</td></tr>
 *   <tr><td>null</td><td>any nullable type</td></tr>
 * </table>
 *
 * A column the cold store declares nullable must be nullable in Flink; a NOT
 * NULL cold column may be declared either way.
 */
final class TypeMapping {
  private TypeMapping() {}

  private static final Pattern DECIMAL = Pattern.compile("decimal128\\((\\d+),\\s*(\\d+)\\)");
  private static final Pattern TIMESTAMP = Pattern.compile("timestamp\\[(ms|us)(,\\s*[^\\]]+)?\\]");

  /** The Flink SQL type that holds a cold column, e.g. "DECIMAL(12, 2) NOT NULL". */
  static String flinkType(Schema.Column c) {
    String t = baseFlinkType(c.type());
    return c.nullable() || t.equals("any type") ? t : t + " NOT NULL";
  }

  private static String baseFlinkType(String cold) {
    switch (cold) {
      case "bool":
        return "BOOLEAN";
      case "int32":
        return "INT";
      case "int64":
        return "BIGINT";
      case "float32":
        return "FLOAT";
      case "float64":
        return "DOUBLE";
      case "string":
        return "STRING";
      case "binary":
        return "BYTES";
      case "date32":
        return "DATE";
      case "null":
        return "any type";
      default:
    }
    Matcher m = DECIMAL.matcher(cold);
    if (m.matches()) {
      return "DECIMAL(" + m.group(1) + ", " + m.group(2) + ")";
    }
    m = TIMESTAMP.matcher(cold);
    if (m.matches()) {
      int p = m.group(1).equals("ms") ? 3 : 6;
      return (m.group(2) != null ? "TIMESTAMP_LTZ(" : "TIMESTAMP(") + p + ")";
    }
    return "no Flink type (unknown cold type " + cold + ")";
  }

  /**
   * Checks that a declared Flink column can hold the cold column: returns
   * null when it can, else what is wrong, naming the column and both types.
   */
  static String mismatch(String column, LogicalType flink, Schema.Column cold) {
    boolean ok = holds(flink, cold.type());
    if (ok && cold.nullable() && !flink.isNullable() && !cold.type().equals("null")) {
      return "column \"" + column + "\" is declared " + flink.asSummaryString() + " but the cold store's column is "
          + cold.type() + " and nullable: drop NOT NULL (declare it " + flinkType(cold) + ")";
    }
    if (ok) {
      return null;
    }
    return "column \"" + column + "\" is declared " + flink.asSummaryString() + " but the cold store's column is "
        + cold.type() + (cold.nullable() ? " (nullable)" : " (not null)") + ": declare it " + flinkType(cold);
  }

  private static boolean holds(LogicalType f, String cold) {
    switch (cold) {
      case "null":
        return f.isNullable();
      case "bool":
        return is(f, "BOOLEAN");
      case "int32":
        return is(f, "INTEGER");
      case "int64":
        return is(f, "BIGINT");
      case "float32":
        return is(f, "FLOAT");
      case "float64":
        return is(f, "DOUBLE");
      case "string":
        return is(f, "VARCHAR");
      case "binary":
        return is(f, "VARBINARY");
      case "date32":
        return is(f, "DATE");
      default:
    }
    Matcher m = DECIMAL.matcher(cold);
    if (m.matches()) {
      return f instanceof DecimalType
          && ((DecimalType) f).getPrecision() == Integer.parseInt(m.group(1))
          && ((DecimalType) f).getScale() == Integer.parseInt(m.group(2));
    }
    m = TIMESTAMP.matcher(cold);
    if (m.matches()) {
      int p = m.group(1).equals("ms") ? 3 : 6;
      if (m.group(2) != null) {
        return f instanceof LocalZonedTimestampType && ((LocalZonedTimestampType) f).getPrecision() >= p;
      }
      return f instanceof TimestampType && ((TimestampType) f).getPrecision() >= p;
    }
    return false;
  }

  private static boolean is(LogicalType f, String root) {
    return f.getTypeRoot().name().equals(root);
  }

  /** A cold value (as the Java client returns it) as Flink's internal value of type f. */
  static Object toInternal(Object v, LogicalType f) {
    if (v == null) {
      return null;
    }
    if (v instanceof String) {
      return StringData.fromString((String) v);
    }
    if (v instanceof LocalDate) {
      return (int) ((LocalDate) v).toEpochDay();
    }
    if (v instanceof LocalDateTime) {
      return TimestampData.fromLocalDateTime((LocalDateTime) v);
    }
    if (v instanceof Instant) {
      return TimestampData.fromInstant((Instant) v);
    }
    if (v instanceof BigDecimal) {
      DecimalType d = (DecimalType) f;
      return DecimalData.fromBigDecimal((BigDecimal) v, d.getPrecision(), d.getScale());
    }
    return v; // Boolean, Integer, Long, Float, Double, byte[]
  }

  /** A Flink internal key value of type f as the Java object the client sends. */
  static Object toClient(Object v, LogicalType f) {
    if (v == null) {
      return null;
    }
    switch (f.getTypeRoot()) {
      case CHAR:
      case VARCHAR:
        return v.toString();
      case DATE:
        return LocalDate.ofEpochDay((Integer) v);
      case TIMESTAMP_WITHOUT_TIME_ZONE:
        return ((TimestampData) v).toLocalDateTime();
      case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
        return ((TimestampData) v).toInstant();
      case DECIMAL:
        return ((DecimalData) v).toBigDecimal();
      default:
        return v;
    }
  }
}
