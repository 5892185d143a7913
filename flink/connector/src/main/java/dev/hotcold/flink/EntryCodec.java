package dev.hotcold.flink;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.table.data.conversion.DataStructureConverter;
import org.apache.flink.table.data.conversion.DataStructureConverters;
import org.apache.flink.table.runtime.typeutils.InternalSerializers;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.utils.TypeConversions;
import org.apache.flink.types.Row;

/**
 * HOTCOLD_JOIN's stored rows of one input, as compact bytes: one BYTES value
 * per key and input holds its entries back to back, each
 * {@code varint length, zigzag varint day, flags byte, row}; the row is a
 * null bitmap and then each non-NULL field (varints for integers, UTF-8 for
 * strings, epoch millis and nanos for timestamps; Flink's own serializer for
 * any other type). A timer reads only the lengths and days, and copies the
 * entries it keeps without decoding them; a record decodes the other input's
 * entries only.
 */
final class EntryCodec {
  static final int FLAG_COLD = 1, FLAG_PADDED = 2;
  /** A row whose cold lookup is in flight or whose pair with its cold row is not emitted yet (see HotcoldJoin). */
  static final int FLAG_PENDING = 4;

  private final LogicalType[] types;
  private final DataStructureConverter<Object, Object>[] converters; // fallback fields only
  private final TypeSerializer<Object>[] serializers;
  private final DataOutputSerializer out = new DataOutputSerializer(256);
  private final DataOutputSerializer row = new DataOutputSerializer(128);
  private final DataInputDeserializer in = new DataInputDeserializer();

  @SuppressWarnings("unchecked")
  EntryCodec(RowType rt) {
    List<LogicalType> ts = rt.getChildren();
    types = ts.toArray(new LogicalType[0]);
    converters = new DataStructureConverter[types.length];
    serializers = new TypeSerializer[types.length];
    for (int i = 0; i < types.length; i++) {
      if (!fast(types[i])) {
        DataType dt = TypeConversions.fromLogicalToDataType(types[i]);
        converters[i] = (DataStructureConverter<Object, Object>) DataStructureConverters.getConverter(dt);
        converters[i].open(EntryCodec.class.getClassLoader());
        serializers[i] = (TypeSerializer<Object>) InternalSerializers.create(types[i]);
      }
    }
  }

  private static boolean fast(LogicalType t) {
    switch (t.getTypeRoot()) {
      case BOOLEAN:
      case TINYINT:
      case SMALLINT:
      case INTEGER:
      case BIGINT:
      case FLOAT:
      case DOUBLE:
      case CHAR:
      case VARCHAR:
        return true;
      case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
      case TIMESTAMP_WITHOUT_TIME_ZONE:
        // Only with their default external classes (Instant, LocalDateTime).
        return t.getDefaultConversion() == Instant.class || t.getDefaultConversion() == LocalDateTime.class;
      default:
        return false;
    }
  }

  /**
   * A key's whole state, one BYTES value: {@code varint floor+1 (0: none),
   * varint length of the left entries, the left entries, the right entries};
   * an input without entries is null here.
   */
  static final class Hot {
    Integer floor;
    final byte[][] side = new byte[2][];

    static Hot of(byte[] s) {
      Hot h = new Hot();
      if (s == null) {
        return h;
      }
      try {
        DataInputDeserializer i = new DataInputDeserializer(s);
        int f = readVarint(i);
        h.floor = f == 0 ? null : unzigzag(f - 1);
        int left = readVarint(i);
        int at = i.getPosition();
        h.side[0] = left == 0 ? null : Arrays.copyOfRange(s, at, at + left);
        h.side[1] = at + left == s.length ? null : Arrays.copyOfRange(s, at + left, s.length);
        return h;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    byte[] bytes() {
      try {
        DataOutputSerializer o = new DataOutputSerializer(16 + (side[0] == null ? 0 : side[0].length) + (side[1] == null ? 0 : side[1].length));
        writeVarint(o, floor == null ? 0 : zigzag(floor.intValue()) + 1);
        writeVarint(o, side[0] == null ? 0 : side[0].length);
        if (side[0] != null) {
          o.write(side[0]);
        }
        if (side[1] != null) {
          o.write(side[1]);
        }
        return o.getCopyOfBuffer();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** One stored entry, decoded. */
  static final class Entry {
    int day;
    int flags;
    Row row;
    int flagsAt; // the flags byte's offset in the side's bytes

    boolean cold() {
      return (flags & FLAG_COLD) != 0;
    }

    boolean padded() {
      return (flags & FLAG_PADDED) != 0;
    }
  }

  /** bytes (null: none) with one more entry at its end. */
  byte[] append(byte[] bytes, int day, int flags, Row r) {
    try {
      row.clear();
      writeRow(row, r);
      out.clear();
      if (bytes != null) {
        out.write(bytes);
      }
      writeVarint(out, row.length() + 1 + varintSize(zigzag(day)));
      writeVarint(out, zigzag(day));
      out.writeByte(flags);
      out.write(row.getSharedBuffer(), 0, row.length());
      return out.getCopyOfBuffer();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every entry of bytes (null: none), rows decoded. */
  Entry[] decode(byte[] bytes) {
    if (bytes == null) {
      return new Entry[0];
    }
    try {
      java.util.ArrayList<Entry> es = new java.util.ArrayList<>(2);
      in.setBuffer(bytes);
      while (in.available() > 0) {
        int len = readVarint(in);
        int end = in.getPosition() + len;
        Entry e = new Entry();
        e.day = unzigzag(readVarint(in));
        e.flagsAt = in.getPosition();
        e.flags = in.readUnsignedByte();
        e.row = readRow(in);
        if (in.getPosition() != end) {
          throw new IOException("HOTCOLD_JOIN: a stored entry's length does not match its row");
        }
        es.add(e);
      }
      return es.toArray(new Entry[0]);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Whether bytes holds an entry of day (reads lengths and days only). */
  boolean hasDay(byte[] bytes, int day) {
    if (bytes == null) {
      return false;
    }
    try {
      in.setBuffer(bytes);
      while (in.available() > 0) {
        int len = readVarint(in);
        int start = in.getPosition();
        if (unzigzag(readVarint(in)) == day) {
          return true;
        }
        in.skipBytesToRead(start + len - in.getPosition());
      }
      return false;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** What a timer decides for one entry's day. */
  interface Keep {
    /** Whether the entry of day stays. */
    boolean keep(int day);
  }

  /** The entries of bytes that keep keeps (null: none left); bytes itself when all stay. Rows are not decoded. */
  byte[] retain(byte[] bytes, Keep keep) {
    if (bytes == null) {
      return null;
    }
    try {
      in.setBuffer(bytes);
      out.clear();
      boolean dropped = false;
      while (in.available() > 0) {
        int at = in.getPosition();
        int len = readVarint(in);
        int start = in.getPosition();
        int day = unzigzag(readVarint(in));
        in.skipBytesToRead(start + len - in.getPosition());
        if (keep.keep(day)) {
          out.write(bytes, at, start + len - at);
        } else {
          dropped = true;
        }
      }
      if (!dropped) {
        return bytes;
      }
      return out.length() == 0 ? null : out.getCopyOfBuffer();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void writeRow(DataOutputSerializer o, Row r) throws IOException {
    int n = types.length;
    byte[] nulls = new byte[(n + 7) / 8];
    for (int i = 0; i < n; i++) {
      if (r.getField(i) == null) {
        nulls[i >> 3] |= (byte) (1 << (i & 7));
      }
    }
    o.write(nulls);
    for (int i = 0; i < n; i++) {
      Object v = r.getField(i);
      if (v == null) {
        continue;
      }
      if (converters[i] != null) {
        serializers[i].serialize(converters[i].toInternalOrNull(v), o);
        continue;
      }
      switch (types[i].getTypeRoot()) {
        case BOOLEAN:
          o.writeBoolean((Boolean) v);
          break;
        case TINYINT:
          o.writeByte((Byte) v);
          break;
        case SMALLINT:
          writeVarlong(o, zigzag((long) (Short) v));
          break;
        case INTEGER:
          writeVarlong(o, zigzag((long) (Integer) v));
          break;
        case BIGINT:
          writeVarlong(o, zigzag((Long) v));
          break;
        case FLOAT:
          o.writeFloat((Float) v);
          break;
        case DOUBLE:
          o.writeDouble((Double) v);
          break;
        case CHAR:
        case VARCHAR: {
          byte[] b = ((String) v).getBytes(StandardCharsets.UTF_8);
          writeVarint(o, b.length);
          o.write(b);
          break;
        }
        case TIMESTAMP_WITH_LOCAL_TIME_ZONE: {
          Instant t = (Instant) v;
          writeInstant(o, t.getEpochSecond(), t.getNano());
          break;
        }
        case TIMESTAMP_WITHOUT_TIME_ZONE: {
          LocalDateTime t = (LocalDateTime) v;
          writeInstant(o, t.toEpochSecond(ZoneOffset.UTC), t.getNano());
          break;
        }
        default:
          throw new IllegalStateException("unreachable: " + types[i]);
      }
    }
  }

  private Row readRow(DataInputDeserializer i) throws IOException {
    int n = types.length;
    byte[] nulls = new byte[(n + 7) / 8];
    i.readFully(nulls);
    Row r = new Row(n);
    for (int f = 0; f < n; f++) {
      if ((nulls[f >> 3] & (1 << (f & 7))) != 0) {
        continue;
      }
      if (converters[f] != null) {
        r.setField(f, converters[f].toExternalOrNull(serializers[f].deserialize(i)));
        continue;
      }
      switch (types[f].getTypeRoot()) {
        case BOOLEAN:
          r.setField(f, i.readBoolean());
          break;
        case TINYINT:
          r.setField(f, i.readByte());
          break;
        case SMALLINT:
          r.setField(f, (short) unzigzag(readVarlong(i)));
          break;
        case INTEGER:
          r.setField(f, (int) unzigzag(readVarlong(i)));
          break;
        case BIGINT:
          r.setField(f, unzigzag(readVarlong(i)));
          break;
        case FLOAT:
          r.setField(f, i.readFloat());
          break;
        case DOUBLE:
          r.setField(f, i.readDouble());
          break;
        case CHAR:
        case VARCHAR: {
          byte[] b = new byte[readVarint(i)];
          i.readFully(b);
          r.setField(f, new String(b, StandardCharsets.UTF_8));
          break;
        }
        case TIMESTAMP_WITH_LOCAL_TIME_ZONE: {
          long ms = unzigzag(readVarlong(i));
          int nanos = readVarint(i);
          r.setField(f, Instant.ofEpochMilli(ms).plusNanos(nanos));
          break;
        }
        case TIMESTAMP_WITHOUT_TIME_ZONE: {
          long ms = unzigzag(readVarlong(i));
          int nanos = readVarint(i);
          r.setField(f, LocalDateTime.ofInstant(Instant.ofEpochMilli(ms).plusNanos(nanos), ZoneOffset.UTC));
          break;
        }
        default:
          throw new IllegalStateException("unreachable: " + types[f]);
      }
    }
    return r;
  }

  /** A time as epoch millis (zigzag varint) and the nanos within the milli (varint, 0 for millisecond times). */
  private static void writeInstant(DataOutputSerializer o, long epochSecond, int nano) throws IOException {
    long ms = Math.addExact(Math.multiplyExact(epochSecond, 1000L), nano / 1_000_000);
    writeVarlong(o, zigzag(ms));
    writeVarint(o, nano % 1_000_000);
  }

  private static long zigzag(long v) {
    return (v << 1) ^ (v >> 63);
  }

  private static int zigzag(int v) {
    return (v << 1) ^ (v >> 31);
  }

  private static long unzigzag(long v) {
    return (v >>> 1) ^ -(v & 1);
  }

  private static int unzigzag(int v) {
    return (v >>> 1) ^ -(v & 1);
  }

  private static int varintSize(int v) {
    int n = 1;
    while ((v & ~0x7F) != 0) {
      v >>>= 7;
      n++;
    }
    return n;
  }

  private static void writeVarint(DataOutputSerializer o, int v) throws IOException {
    while ((v & ~0x7F) != 0) {
      o.writeByte((v & 0x7F) | 0x80);
      v >>>= 7;
    }
    o.writeByte(v);
  }

  private static void writeVarlong(DataOutputSerializer o, long v) throws IOException {
    while ((v & ~0x7FL) != 0) {
      o.writeByte((int) ((v & 0x7F) | 0x80));
      v >>>= 7;
    }
    o.writeByte((int) v);
  }

  private static int readVarint(DataInputDeserializer i) throws IOException {
    int v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      int b = i.readUnsignedByte();
      v |= (b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        return v;
      }
    }
    throw new IOException("HOTCOLD_JOIN: a stored entry has a malformed varint");
  }

  private static long readVarlong(DataInputDeserializer i) throws IOException {
    long v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      int b = i.readUnsignedByte();
      v |= (long) (b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        return v;
      }
    }
    throw new IOException("HOTCOLD_JOIN: a stored entry has a malformed varint");
  }
}
