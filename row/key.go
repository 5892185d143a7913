package row

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The key encoding is memcomparable: for two keys of the same types,
// bytes.Compare of their encodings equals the lexicographic order of their
// values under Compare. Each column is a tag byte (0x00 null, 0x01 value,
// so nulls sort first) followed by:
//
//	bool                  1 byte
//	int32, date32         4 bytes big-endian, sign bit flipped
//	int64, timestamp      8 bytes big-endian, sign bit flipped
//	float32, float64      IEEE bits, sign bit flipped for positives and all
//	                      bits flipped for negatives; -0 is written as +0 and
//	                      every NaN as one NaN that sorts above +Inf
//	string, binary        bytes with 0x00 escaped as 0x00 0xFF, ended by 0x00 0x01
//	decimal128            16 bytes: high word sign-flipped, low word, big-endian
//
// The encoding of a composite key is the concatenation of its columns, so a
// prefix of key columns encodes to a byte prefix (useful for range scans).

const (
	keyNull  = 0x00
	keyValue = 0x01
)

// ErrKeyNull is returned when a key column of a row is null.
var ErrKeyNull = errors.New("row: key column is null")

// AppendKey appends the encoding of vals, typed by types, to dst. A value
// whose type differs from its column's is an error naming the position.
func AppendKey(dst []byte, types []Type, vals []Value) ([]byte, error) {
	if len(types) != len(vals) {
		return dst, fmt.Errorf("row: key has %d values, want %d", len(vals), len(types))
	}
	for i, v := range vals {
		var err error
		dst, err = appendKeyValue(dst, types[i].ID, v)
		if err != nil {
			return dst, fmt.Errorf("row: key column %d: %w", i, err)
		}
	}
	return dst, nil
}

// AppendKey appends the encoding of r's key columns to dst. A null key
// column is an error wrapping ErrKeyNull and naming the column.
func (s *Schema) AppendKey(dst []byte, r Row) ([]byte, error) {
	if len(r.Values) < len(s.cols) {
		return dst, fmt.Errorf("row: row has %d values, schema %d columns", len(r.Values), len(s.cols))
	}
	for _, k := range s.key {
		v := r.Values[k]
		if !v.valid {
			return dst, fmt.Errorf("%w: %q", ErrKeyNull, s.cols[k].Name)
		}
		var err error
		dst, err = appendKeyValue(dst, s.cols[k].Type.ID, v)
		if err != nil {
			return dst, fmt.Errorf("row: key column %q: %w", s.cols[k].Name, err)
		}
	}
	return dst, nil
}

func appendKeyValue(dst []byte, id TypeID, v Value) ([]byte, error) {
	if !v.valid {
		return append(dst, keyNull), nil
	}
	if v.id != id {
		return dst, fmt.Errorf("value %s is a %s, want %s", v, v.id, id)
	}
	dst = append(dst, keyValue)
	switch id {
	case TypeBool:
		return append(dst, byte(v.num&1)), nil
	case TypeInt32, TypeDate32:
		return binary.BigEndian.AppendUint32(dst, uint32(int32(v.num))^(1<<31)), nil
	case TypeInt64, TypeTimestamp:
		return binary.BigEndian.AppendUint64(dst, v.num^(1<<63)), nil
	case TypeFloat32:
		f := float32(v.Float64())
		var bits uint32
		switch {
		case f != f:
			bits = 0x7fc00000
		case f == 0:
			bits = 0
		default:
			bits = math.Float32bits(f)
		}
		if bits&(1<<31) != 0 {
			bits = ^bits
		} else {
			bits |= 1 << 31
		}
		return binary.BigEndian.AppendUint32(dst, bits), nil
	case TypeFloat64:
		f := v.Float64()
		var bits uint64
		switch {
		case f != f:
			bits = 0x7ff8000000000000
		case f == 0:
			bits = 0
		default:
			bits = v.num
		}
		if bits&(1<<63) != 0 {
			bits = ^bits
		} else {
			bits |= 1 << 63
		}
		return binary.BigEndian.AppendUint64(dst, bits), nil
	case TypeString, TypeBinary:
		for _, c := range v.b {
			if c == 0 {
				dst = append(dst, 0x00, 0xff)
			} else {
				dst = append(dst, c)
			}
		}
		return append(dst, 0x00, 0x01), nil
	case TypeDecimal128:
		dst = binary.BigEndian.AppendUint64(dst, uint64(v.hi)^(1<<63))
		return binary.BigEndian.AppendUint64(dst, v.num), nil
	}
	return dst, fmt.Errorf("type %s cannot be a key", id)
}

// DecodeKey decodes a key of the given types from data into vals (which is
// resized and returned). String and binary values are copied. It returns the
// bytes after the key. Truncated or malformed input is an error naming the
// column; it never panics.
func DecodeKey(types []Type, data []byte, vals []Value) ([]Value, []byte, error) {
	vals = vals[:0]
	for i, t := range types {
		if len(data) == 0 {
			return vals, data, fmt.Errorf("row: key column %d (%s): truncated", i, t)
		}
		tag := data[0]
		data = data[1:]
		if tag == keyNull {
			vals = append(vals, Value{})
			continue
		}
		if tag != keyValue {
			return vals, data, fmt.Errorf("row: key column %d (%s): bad tag 0x%02x", i, t, tag)
		}
		need := 0
		switch t.ID {
		case TypeBool:
			need = 1
		case TypeInt32, TypeDate32, TypeFloat32:
			need = 4
		case TypeInt64, TypeTimestamp, TypeFloat64:
			need = 8
		case TypeDecimal128:
			need = 16
		}
		if len(data) < need {
			return vals, data, fmt.Errorf("row: key column %d (%s): truncated", i, t)
		}
		v := Value{id: t.ID, valid: true}
		switch t.ID {
		case TypeBool:
			v.num = uint64(data[0] & 1)
		case TypeInt32, TypeDate32:
			v.num = uint64(int64(int32(binary.BigEndian.Uint32(data) ^ (1 << 31))))
		case TypeInt64, TypeTimestamp:
			v.num = binary.BigEndian.Uint64(data) ^ (1 << 63)
		case TypeFloat32:
			bits := binary.BigEndian.Uint32(data)
			if bits&(1<<31) != 0 {
				bits &^= 1 << 31
			} else {
				bits = ^bits
			}
			v.num = math.Float64bits(float64(math.Float32frombits(bits)))
		case TypeFloat64:
			bits := binary.BigEndian.Uint64(data)
			if bits&(1<<63) != 0 {
				bits &^= 1 << 63
			} else {
				bits = ^bits
			}
			v.num = bits
		case TypeDecimal128:
			v.hi = int64(binary.BigEndian.Uint64(data) ^ (1 << 63))
			v.num = binary.BigEndian.Uint64(data[8:])
		case TypeString, TypeBinary:
			var out []byte
			j := 0
			for {
				if j >= len(data) {
					return vals, nil, fmt.Errorf("row: key column %d (%s): unterminated bytes", i, t)
				}
				c := data[j]
				if c != 0 {
					out = append(out, c)
					j++
					continue
				}
				if j+1 >= len(data) {
					return vals, nil, fmt.Errorf("row: key column %d (%s): truncated escape", i, t)
				}
				switch data[j+1] {
				case 0xff:
					out = append(out, 0)
					j += 2
					continue
				case 0x01:
					j += 2
				default:
					return vals, nil, fmt.Errorf("row: key column %d (%s): bad escape 0x00 0x%02x", i, t, data[j+1])
				}
				break
			}
			if out == nil {
				out = []byte{}
			}
			v.b = out
			need = j
		default:
			return vals, data, fmt.Errorf("row: key column %d: type %s cannot be a key", i, t)
		}
		data = data[need:]
		vals = append(vals, v)
	}
	return vals, data, nil
}

// PrefixEnd returns the smallest key greater than every key with the given
// prefix, for use as an exclusive range-scan bound; nil if there is none.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
