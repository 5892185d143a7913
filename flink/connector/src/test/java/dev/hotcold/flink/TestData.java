package dev.hotcold.flink;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.Base64;

/**
 * The cold tables of the tests.
 *
 * <p>users (key user_id int64): ids 1..100, a column of every cold type. Row
 * id holds: name "user-ID", score id*1.5, active id even, born day 10000+id,
 * signup 1700000000s + id µs (UTC), last_login 1700000000s + id ms (wall
 * clock), balance ID.25, avatar bytes {id, id+1}, nickname "nick-ID" for
 * even ids else null, level id%7, ratio id*0.25.
 *
 * <p>orders (key region string, order_no int32): eu/us x 1..5, total
 * order_no*10 (eu) or order_no*100 (us).
 */
final class TestData {
  private TestData() {}

  static final String USERS_DDL_COLUMNS =
      "user_id BIGINT, name STRING, score DOUBLE, active BOOLEAN, born DATE, signup TIMESTAMP_LTZ(6),"
          + " last_login TIMESTAMP(3), balance DECIMAL(12, 2), avatar BYTES, nickname STRING, level INT, ratio FLOAT";

  static Sidecar.Table users() {
    StringBuilder rows = new StringBuilder();
    for (long id = 1; id <= 100; id++) {
      if (id > 1) {
        rows.append(",\n");
      }
      rows.append(String.format(
          "{\"user_id\": %d, \"name\": \"user-%d\", \"score\": %s, \"active\": %b, \"born\": %d, \"signup\": %d,"
              + " \"last_login\": %d, \"balance\": \"%d.25\", \"avatar\": \"%s\", \"nickname\": %s, \"level\": %d, \"ratio\": %s}",
          id, id, Double.toString(id * 1.5), id % 2 == 0, 10000 + id, 1_700_000_000_000_000L + id, 1_700_000_000_000L + id, id,
          Base64.getEncoder().encodeToString(new byte[] {(byte) id, (byte) (id + 1)}),
          id % 2 == 0 ? "\"nick-" + id + "\"" : "null", id % 7, Float.toString(id * 0.25f)));
    }
    String spec = "{\"columns\": ["
        + "{\"name\": \"user_id\", \"type\": \"int64\"}, {\"name\": \"name\", \"type\": \"string\"},"
        + "{\"name\": \"score\", \"type\": \"float64\"}, {\"name\": \"active\", \"type\": \"bool\"},"
        + "{\"name\": \"born\", \"type\": \"date32\"}, {\"name\": \"signup\", \"type\": \"timestamp[us, UTC]\"},"
        + "{\"name\": \"last_login\", \"type\": \"timestamp[ms]\"}, {\"name\": \"balance\", \"type\": \"decimal128(12, 2)\"},"
        + "{\"name\": \"avatar\", \"type\": \"binary\"}, {\"name\": \"nickname\", \"type\": \"string\", \"nullable\": true},"
        + "{\"name\": \"level\", \"type\": \"int32\"}, {\"name\": \"ratio\", \"type\": \"float32\"}],"
        + " \"key\": [\"user_id\"], \"rows\": [\n" + rows + "]}";
    return new Sidecar.Table("users", spec, "user_id");
  }

  /** The users row of id as Flink's external values, in USERS_DDL_COLUMNS order. */
  static Object[] userRow(long id) {
    return new Object[] {
      id,
      "user-" + id,
      id * 1.5,
      id % 2 == 0,
      LocalDate.ofEpochDay(10000 + id),
      Instant.ofEpochSecond(1_700_000_000L, id * 1000),
      LocalDateTime.ofEpochSecond(1_700_000_000L, (int) id * 1_000_000, ZoneOffset.UTC),
      new BigDecimal(id + ".25"),
      new byte[] {(byte) id, (byte) (id + 1)},
      id % 2 == 0 ? "nick-" + id : null,
      (int) (id % 7),
      id * 0.25f,
    };
  }

  static Sidecar.Table orders() {
    StringBuilder rows = new StringBuilder();
    for (String region : new String[] {"eu", "us"}) {
      for (int n = 1; n <= 5; n++) {
        if (rows.length() > 0) {
          rows.append(",\n");
        }
        rows.append(String.format("{\"region\": \"%s\", \"order_no\": %d, \"total\": %d}", region, n, n * (region.equals("eu") ? 10 : 100)));
      }
    }
    String spec = "{\"columns\": [{\"name\": \"region\", \"type\": \"string\"}, {\"name\": \"order_no\", \"type\": \"int32\"},"
        + " {\"name\": \"total\", \"type\": \"float64\"}], \"key\": [\"region\", \"order_no\"], \"rows\": [\n" + rows + "]}";
    return new Sidecar.Table("orders", spec, "region,order_no");
  }
}
