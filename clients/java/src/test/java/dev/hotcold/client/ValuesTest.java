package dev.hotcold.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.NullValue;
import dev.hotcold.lookup.v1.Value;
import io.grpc.Status;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Conversions between Java values and the API's typed values. */
public class ValuesTest {
  private static final Schema.Column ZONED = new Schema.Column("t", "timestamp[us, UTC]", false);
  private static final Schema.Column WALL = new Schema.Column("t", "timestamp[ms]", false);

  @Test
  public void keyValuesMapToTheirProtoKinds() {
    assertEquals(Value.newBuilder().setInt64Value(42).build(), Values.toProto(42L));
    assertEquals(Value.newBuilder().setInt32Value(7).build(), Values.toProto(7));
    assertEquals(Value.newBuilder().setInt32Value(7).build(), Values.toProto((short) 7));
    assertEquals(Value.newBuilder().setStringValue("eu").build(), Values.toProto("eu"));
    assertEquals(Value.newBuilder().setBytesValue(ByteString.copyFrom(new byte[] {1, 2})).build(), Values.toProto(new byte[] {1, 2}));
    assertEquals(Value.newBuilder().setBoolValue(true).build(), Values.toProto(true));
    assertEquals(Value.newBuilder().setDoubleValue(1.5).build(), Values.toProto(1.5));
    assertEquals(Value.newBuilder().setFloatValue(1.5f).build(), Values.toProto(1.5f));
    assertEquals(Value.newBuilder().setDateValue(1).build(), Values.toProto(LocalDate.of(1970, 1, 2)));
    assertEquals(Value.newBuilder().setTimestampMicros(-1).build(), Values.toProto(Instant.ofEpochSecond(0, -1000)));
    assertEquals(Value.newBuilder().setTimestampMicros(1_000_001).build(), Values.toProto(LocalDateTime.of(1970, 1, 1, 0, 0, 1, 1000)));
    assertEquals(Value.newBuilder().setDecimalValue("-1234.50").build(), Values.toProto(new BigDecimal("-1234.50")));
    assertEquals(Value.newBuilder().setDecimalValue("1000").build(), Values.toProto(new BigDecimal("1E+3")));
  }

  @Test
  public void badKeyValuesAreInvalidArgumentNamingTheValue() {
    HotcoldException e = assertThrows(HotcoldException.class, () -> Values.key("t", new Object[] {1L, Instant.ofEpochSecond(0, 1)}));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
    assertTrue(e.getMessage().contains("key value 1") && e.getMessage().contains("sub-microsecond"), e.getMessage());
    e = assertThrows(HotcoldException.class, () -> Values.key("t", List.of(1L, 2L), 3));
    assertTrue(e.getMessage().contains("keys[3]") && e.getMessage().contains("unsupported class"), e.getMessage());
    e = assertThrows(HotcoldException.class, () -> Values.key("t", new Object[] {}));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
    e = assertThrows(HotcoldException.class, () -> Values.key("t", new Object[] {Instant.ofEpochSecond(10_000_000_000_000L)}));
    assertTrue(e.getMessage().contains("out of the range"), e.getMessage());
    e = assertThrows(HotcoldException.class, () -> Values.key("t", new Object[] {LocalDate.MAX}));
    assertTrue(e.getMessage().contains("out of the range of a date32"), e.getMessage());
  }

  @Test
  public void timestampsAreInstantsOnlyForZonedColumns() {
    Value micros = Value.newBuilder().setTimestampMicros(-1).build();
    assertEquals(Instant.ofEpochSecond(-1, 999_999_000), Values.fromProto(micros, ZONED));
    assertEquals(LocalDateTime.of(1969, 12, 31, 23, 59, 59, 999_999_000), Values.fromProto(micros, WALL));
    Value millis = Value.newBuilder().setTimestampMillis(1500).build();
    assertEquals(LocalDateTime.of(1970, 1, 1, 0, 0, 1, 500_000_000), Values.fromProto(millis, WALL));
    assertEquals(LocalDateTime.of(1970, 1, 1, 0, 0, 1, 500_000_000), Values.fromProto(millis, null));
  }

  @Test
  public void responseValuesMapToJavaTypes() {
    assertNull(Values.fromProto(Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build(), null));
    assertNull(Values.fromProto(Value.getDefaultInstance(), null));
    assertEquals(new BigDecimal("-0.50"), Values.fromProto(Value.newBuilder().setDecimalValue("-0.50").build(), null));
    assertEquals(LocalDate.of(1969, 12, 31), Values.fromProto(Value.newBuilder().setDateValue(-1).build(), null));
    assertArrayEquals(new byte[] {9}, (byte[]) Values.fromProto(Value.newBuilder().setBytesValue(ByteString.copyFrom(new byte[] {9})).build(), null));
    assertEquals(3, Values.fromProto(Value.newBuilder().setInt32Value(3).build(), null));
    assertEquals(3L, Values.fromProto(Value.newBuilder().setInt64Value(3).build(), null));
  }
}
