package row

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The value encoding is compact and versioned:
//
//	uvarint  schema version of the writer
//	uvarint  number of columns n
//	[(n+7)/8]byte null bitmap, bit i set when column i is null
//	then each non-null column in order:
//	  bool                      1 byte
//	  int32, int64, date32, ts  zigzag varint
//	  float32 / float64         4 / 8 bytes little-endian IEEE
//	  string, binary            uvarint length, bytes
//	  decimal128                16 bytes little-endian (low, high)
//
// A reader whose schema appended columns to the writer's (Schema.AppendOnly)
// decodes old bytes and fills the missing trailing columns with their
// Column.Default. Bytes written by a newer version than the reader's schema,
// or with more columns, are an error telling the user to migrate.

// AppendValue appends the value encoding of r under s to dst. A value whose
// type differs from its column's, or a null in a non-nullable column, is an
// error naming the column.
func (s *Schema) AppendValue(dst []byte, r Row) ([]byte, error) {
	n := len(s.cols)
	if len(r.Values) != n {
		return dst, fmt.Errorf("row: row has %d values, schema has %d columns (%s)", len(r.Values), n, s)
	}
	dst = binary.AppendUvarint(dst, uint64(s.version))
	dst = binary.AppendUvarint(dst, uint64(n))
	bm := len(dst)
	for i := 0; i < (n+7)/8; i++ {
		dst = append(dst, 0)
	}
	for i, v := range r.Values {
		c := &s.cols[i]
		if !v.valid {
			if !c.Nullable {
				return dst, fmt.Errorf("row: column %q is not nullable but the value is null", c.Name)
			}
			dst[bm+i/8] |= 1 << (i % 8)
			continue
		}
		if v.id != c.Type.ID {
			return dst, fmt.Errorf("row: column %q is %s but the value %s is %s", c.Name, c.Type, v, v.id)
		}
		dst = appendColumnValue(dst, v)
	}
	return dst, nil
}

// appendColumnValue appends the encoding of one non-null value.
func appendColumnValue(dst []byte, v Value) []byte {
	switch v.id {
	case TypeNull:
	case TypeBool:
		dst = append(dst, byte(v.num&1))
	case TypeInt32, TypeInt64, TypeDate32, TypeTimestamp:
		dst = binary.AppendVarint(dst, int64(v.num))
	case TypeFloat32:
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v.Float64())))
	case TypeFloat64:
		dst = binary.LittleEndian.AppendUint64(dst, v.num)
	case TypeString, TypeBinary:
		dst = binary.AppendUvarint(dst, uint64(len(v.b)))
		dst = append(dst, v.b...)
	case TypeDecimal128:
		dst = binary.LittleEndian.AppendUint64(dst, v.num)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v.hi))
	}
	return dst
}

// ValueVersion returns the schema version that wrote data.
func ValueVersion(data []byte) (uint32, error) {
	v, n := binary.Uvarint(data)
	if n <= 0 || v > math.MaxUint32 {
		return 0, fmt.Errorf("row: encoded value: bad version header")
	}
	return uint32(v), nil
}

// DecodeValue decodes data, written by AppendValue under s or under an older
// version of s that lacked some trailing columns, into r. r.Kind is left as
// is. Once r has grown to fit, decoding allocates nothing: string and binary
// values point into r's private buffer and are valid until the next decode
// into r. Truncated or malformed input is an error naming the column; it
// never panics.
func (s *Schema) DecodeValue(data []byte, r *Row) error {
	return s.decodeValue(data, r, true)
}

// DecodeValueShared is DecodeValue without the copy: string and binary
// values alias data, so decoding allocates nothing once r.Values has room.
// The caller must keep data alive and unchanged for as long as the row's
// values are used; it suits data that is immutable, such as a loaded
// snapshot held in memory, or a buffer the caller owns.
func (s *Schema) DecodeValueShared(data []byte, r *Row) error {
	return s.decodeValue(data, r, false)
}

func (s *Schema) decodeValue(data []byte, r *Row, copyBytes bool) error {
	ver, k := binary.Uvarint(data)
	if k <= 0 {
		return fmt.Errorf("row: encoded value: truncated header")
	}
	if ver > uint64(s.version) {
		return fmt.Errorf("row: encoded value has schema version %d, newer than the reader's %d: open it with the newer schema or migrate the state (hotcold migrate)", ver, s.version)
	}
	data = data[k:]
	n64, k := binary.Uvarint(data)
	if k <= 0 {
		return fmt.Errorf("row: encoded value: truncated column count")
	}
	data = data[k:]
	if n64 > uint64(len(s.cols)) {
		return fmt.Errorf("row: encoded value has %d columns, the schema (version %d) has %d: migrate the state to the new schema (hotcold migrate)", n64, s.version, len(s.cols))
	}
	n := int(n64)
	bmLen := (n + 7) / 8
	if len(data) < bmLen {
		return fmt.Errorf("row: encoded value: truncated null bitmap")
	}
	bm := data[:bmLen]
	data = data[bmLen:]
	if cap(r.Values) < len(s.cols) {
		r.Values = make([]Value, len(s.cols))
	}
	r.Values = r.Values[:len(s.cols)]
	// One copy of the column bytes into the row's own buffer; string and
	// binary values then slice it.
	if copyBytes {
		if cap(r.buf) < len(data) {
			r.buf = make([]byte, 0, 2*len(data))
		}
		r.buf = append(r.buf[:0], data...)
		data = r.buf
	}
	for i := 0; i < n; i++ {
		c := &s.cols[i]
		if bm[i/8]&(1<<(i%8)) != 0 {
			r.Values[i] = Value{}
			continue
		}
		v := Value{id: c.Type.ID, valid: true}
		switch c.Type.ID {
		case TypeNull:
			v = Value{}
		case TypeBool:
			if len(data) < 1 {
				return truncated(c)
			}
			v.num = uint64(data[0] & 1)
			data = data[1:]
		case TypeInt32, TypeInt64, TypeDate32, TypeTimestamp:
			x, k := binary.Varint(data)
			if k <= 0 {
				return truncated(c)
			}
			if (c.Type.ID == TypeInt32 || c.Type.ID == TypeDate32) && (x < math.MinInt32 || x > math.MaxInt32) {
				return fmt.Errorf("row: encoded value: column %q: %d overflows %s", c.Name, x, c.Type)
			}
			v.num = uint64(x)
			data = data[k:]
		case TypeFloat32:
			if len(data) < 4 {
				return truncated(c)
			}
			v.num = math.Float64bits(float64(math.Float32frombits(binary.LittleEndian.Uint32(data))))
			data = data[4:]
		case TypeFloat64:
			if len(data) < 8 {
				return truncated(c)
			}
			v.num = binary.LittleEndian.Uint64(data)
			data = data[8:]
		case TypeString, TypeBinary:
			l, k := binary.Uvarint(data)
			if k <= 0 || l > uint64(len(data)-k) {
				return truncated(c)
			}
			end := k + int(l)
			v.b = data[k:end:end]
			data = data[end:]
		case TypeDecimal128:
			if len(data) < 16 {
				return truncated(c)
			}
			v.num = binary.LittleEndian.Uint64(data)
			v.hi = int64(binary.LittleEndian.Uint64(data[8:]))
			data = data[16:]
		}
		r.Values[i] = v
	}
	if len(data) != 0 {
		return fmt.Errorf("row: encoded value: %d trailing bytes after %d columns", len(data), n)
	}
	for i := n; i < len(s.cols); i++ {
		r.Values[i] = s.cols[i].Default
	}
	return nil
}

func truncated(c *Column) error {
	return fmt.Errorf("row: encoded value: column %q (%s): truncated", c.Name, c.Type)
}
