package dev.hotcold.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.BigIntType;
import org.apache.flink.table.types.logical.BooleanType;
import org.apache.flink.table.types.logical.DateType;
import org.apache.flink.table.types.logical.DecimalType;
import org.apache.flink.table.types.logical.DoubleType;
import org.apache.flink.table.types.logical.FloatType;
import org.apache.flink.table.types.logical.IntType;
import org.apache.flink.table.types.logical.LocalZonedTimestampType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.SmallIntType;
import org.apache.flink.table.types.logical.TimeType;
import org.apache.flink.table.types.logical.TimestampType;
import org.apache.flink.table.types.logical.TinyIntType;
import org.apache.flink.table.types.logical.VarBinaryType;
import org.apache.flink.table.types.logical.VarCharType;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;

/** HOTCOLD_JOIN's stored-row encoding: every value comes back as it went in. */
class EntryCodecTest {
  private static final LogicalType[] TYPES = {
    new BooleanType(), new TinyIntType(), new SmallIntType(), new IntType(), new BigIntType(), new FloatType(), new DoubleType(),
    new VarCharType(VarCharType.MAX_LENGTH), new LocalZonedTimestampType(3), new LocalZonedTimestampType(9), new TimestampType(3),
    new TimestampType(9), new DecimalType(10, 2), new DateType(), new TimeType(), new VarBinaryType(VarBinaryType.MAX_LENGTH),
    new ArrayType(new BigIntType()),
  };

  private static Object value(Random rnd, LogicalType t) {
    if (rnd.nextInt(5) == 0) {
      return null;
    }
    long ms = rnd.nextBoolean() ? rnd.nextLong() % 4_000_000_000_000L : -rnd.nextInt(100_000);
    switch (t.getTypeRoot()) {
      case BOOLEAN:
        return rnd.nextBoolean();
      case TINYINT:
        return (byte) rnd.nextInt();
      case SMALLINT:
        return (short) rnd.nextInt();
      case INTEGER:
        return rnd.nextBoolean() ? rnd.nextInt() : rnd.nextInt(200) - 100;
      case BIGINT:
        return rnd.nextBoolean() ? rnd.nextLong() : (long) (rnd.nextInt(200) - 100);
      case FLOAT:
        return rnd.nextFloat();
      case DOUBLE:
        return rnd.nextDouble() * 1e6;
      case VARCHAR:
        return "k" + rnd.nextInt() + (rnd.nextBoolean() ? "é漢" : "");
      case TIMESTAMP_WITH_LOCAL_TIME_ZONE: {
        Instant i = Instant.ofEpochMilli(ms);
        return ((LocalZonedTimestampType) t).getPrecision() == 9 ? i.plusNanos(rnd.nextInt(1_000_000)) : i;
      }
      case TIMESTAMP_WITHOUT_TIME_ZONE: {
        LocalDateTime d = LocalDateTime.ofInstant(Instant.ofEpochMilli(ms), java.time.ZoneOffset.UTC);
        return ((TimestampType) t).getPrecision() == 9 ? d.plusNanos(rnd.nextInt(1_000_000)) : d;
      }
      case DECIMAL:
        return BigDecimal.valueOf(rnd.nextInt(), 2);
      case DATE:
        return LocalDate.ofEpochDay(rnd.nextInt(40_000) - 20_000);
      case TIME_WITHOUT_TIME_ZONE:
        return LocalTime.ofSecondOfDay(rnd.nextInt(86_400));
      case VARBINARY: {
        byte[] b = new byte[rnd.nextInt(20)];
        rnd.nextBytes(b);
        return b;
      }
      case ARRAY:
        return new Long[] {rnd.nextLong(), null, 7L};
      default:
        throw new IllegalStateException(t.toString());
    }
  }

  @Test
  void roundTripsEveryTypeAndNull() {
    RowType rt = RowType.of(TYPES);
    EntryCodec codec = new EntryCodec(rt);
    Random rnd = new Random(1);
    for (int round = 0; round < 200; round++) {
      byte[] bytes = null;
      List<Row> rows = new ArrayList<>();
      List<Integer> days = new ArrayList<>();
      int n = 1 + rnd.nextInt(4);
      for (int e = 0; e < n; e++) {
        Row r = new Row(TYPES.length);
        for (int f = 0; f < TYPES.length; f++) {
          r.setField(f, value(rnd, TYPES[f]));
        }
        int day = rnd.nextInt(40_000) - 100;
        bytes = codec.append(bytes, day, e % 4, r);
        rows.add(r);
        days.add(day);
      }
      EntryCodec.Entry[] got = codec.decode(bytes);
      assertEquals(n, got.length);
      for (int e = 0; e < n; e++) {
        assertEquals((int) days.get(e), got[e].day);
        assertEquals(e % 4, got[e].flags);
        assertEquals(e % 4, bytes[got[e].flagsAt]);
        for (int f = 0; f < TYPES.length; f++) {
          Object want = rows.get(e).getField(f), have = got[e].row.getField(f);
          if (want instanceof byte[]) {
            assertArrayEquals((byte[]) want, (byte[]) have);
          } else if (want instanceof Object[]) {
            assertArrayEquals((Object[]) want, (Object[]) have);
          } else {
            assertEquals(want, have, "field " + f + " (" + TYPES[f] + ")");
          }
        }
        assertTrue(codec.hasDay(bytes, days.get(e)));
      }
    }
  }

  @Test
  void retainDropsEntriesWithoutDecodingThem() {
    EntryCodec codec = new EntryCodec(RowType.of(new BigIntType(), new VarCharType(VarCharType.MAX_LENGTH)));
    byte[] b = null;
    for (int day = 10; day < 15; day++) {
      b = codec.append(b, day, 0, Row.of((long) day, "row of day " + day));
    }
    EntryCodec timers = new EntryCodec(RowType.of());
    assertSame(b, timers.retain(b, d -> true));
    assertNull(timers.retain(b, d -> false));
    byte[] kept = timers.retain(b, d -> d % 2 == 0);
    EntryCodec.Entry[] es = codec.decode(kept);
    assertEquals(3, es.length);
    assertEquals(12, es[1].day);
    assertEquals("row of day 14", es[2].row.getField(1));
    assertFalse(codec.hasDay(kept, 11));
    assertFalse(codec.hasDay(null, 11));
    assertEquals(0, codec.decode(null).length);
  }

  @Test
  void stateValueRoundTrips() {
    EntryCodec.Hot h = EntryCodec.Hot.of(null);
    assertNull(h.floor);
    h.side[1] = new byte[] {1, 2, 3};
    EntryCodec.Hot back = EntryCodec.Hot.of(h.bytes());
    assertNull(back.floor);
    assertNull(back.side[0]);
    assertArrayEquals(new byte[] {1, 2, 3}, back.side[1]);
    h.floor = -5;
    h.side[0] = new byte[300];
    back = EntryCodec.Hot.of(h.bytes());
    assertEquals(-5, back.floor);
    assertEquals(300, back.side[0].length);
    h.side[1] = null;
    h.floor = 20_000;
    back = EntryCodec.Hot.of(h.bytes());
    assertEquals(20_000, back.floor);
    assertNull(back.side[1]);
  }
}
