package row

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// Value is one column value with an explicit null. The zero Value is null.
//
// A Value is small and passed by value. String and binary values reference a
// byte slice: a Value decoded into a reused Row points into that Row's
// buffer and is valid until the Row is decoded into again; call Clone to keep
// it longer.
type Value struct {
	id    TypeID
	valid bool
	num   uint64 // bool, ints, date, timestamp, float bits, decimal low 64 bits
	hi    int64  // decimal high 64 bits
	b     []byte // string, binary
}

// NullValue returns a null Value.
func NullValue() Value { return Value{} }

// BoolValue returns a bool Value.
func BoolValue(v bool) Value {
	var n uint64
	if v {
		n = 1
	}
	return Value{id: TypeBool, valid: true, num: n}
}

// Int32Value returns an int32 Value.
func Int32Value(v int32) Value { return Value{id: TypeInt32, valid: true, num: uint64(int64(v))} }

// Int64Value returns an int64 Value.
func Int64Value(v int64) Value { return Value{id: TypeInt64, valid: true, num: uint64(v)} }

// Float32Value returns a float32 Value.
func Float32Value(v float32) Value {
	return Value{id: TypeFloat32, valid: true, num: math.Float64bits(float64(v))}
}

// Float64Value returns a float64 Value.
func Float64Value(v float64) Value {
	return Value{id: TypeFloat64, valid: true, num: math.Float64bits(v)}
}

// StringValue returns a string Value. It copies s.
func StringValue(s string) Value { return Value{id: TypeString, valid: true, b: []byte(s)} }

// StringBytesValue returns a string Value referencing b (not copied, as
// BinaryValue does): for decoders that hand out strings from a buffer
// they own. b must not be modified afterwards.
func StringBytesValue(b []byte) Value { return Value{id: TypeString, valid: true, b: b} }

// BinaryValue returns a binary Value referencing b (not copied).
func BinaryValue(b []byte) Value { return Value{id: TypeBinary, valid: true, b: b} }

// Date32Value returns a date Value: days since 1970-01-01.
func Date32Value(days int32) Value {
	return Value{id: TypeDate32, valid: true, num: uint64(int64(days))}
}

// TimestampValue returns a timestamp Value in the unit of its column.
func TimestampValue(v int64) Value { return Value{id: TypeTimestamp, valid: true, num: uint64(v)} }

// DecimalValue returns a decimal128 Value (unscaled; the scale is the column's).
func DecimalValue(n decimal128.Num) Value {
	return Value{id: TypeDecimal128, valid: true, num: n.LowBits(), hi: n.HighBits()}
}

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return !v.valid }

// Type returns the TypeID of a non-null value, and TypeNull for null.
func (v Value) Type() TypeID {
	if !v.valid {
		return TypeNull
	}
	return v.id
}

// Bool returns the value of a bool Value.
func (v Value) Bool() bool { return v.num != 0 }

// Int64 returns the integer of an int32, int64, date32 or timestamp Value.
func (v Value) Int64() int64 { return int64(v.num) }

// Float64 returns the number of a float32 or float64 Value.
func (v Value) Float64() float64 { return math.Float64frombits(v.num) }

// Str returns the text of a string Value (it allocates; see Bytes).
func (v Value) Str() string { return string(v.b) }

// Bytes returns the bytes of a string or binary Value. The caller must not
// modify them.
func (v Value) Bytes() []byte { return v.b }

// Decimal returns the unscaled number of a decimal128 Value.
func (v Value) Decimal() decimal128.Num { return decimal128.New(v.hi, v.num) }

// Clone returns a copy of v that owns its bytes.
func (v Value) Clone() Value {
	if v.b != nil {
		v.b = bytes.Clone(v.b)
	}
	return v
}

// Compare orders two values of the same column type the way the key
// encoding does: null first; floats with -0 == +0 and every NaN equal and
// above +Inf; strings and binaries bytewise.
func Compare(a, b Value) int {
	if !a.valid || !b.valid {
		switch {
		case a.valid == b.valid:
			return 0
		case !a.valid:
			return -1
		default:
			return 1
		}
	}
	switch a.id {
	case TypeBool, TypeInt32, TypeInt64, TypeDate32, TypeTimestamp:
		return cmp.Compare(int64(a.num), int64(b.num))
	case TypeFloat32, TypeFloat64:
		x, y := a.Float64(), b.Float64()
		xn, yn := math.IsNaN(x), math.IsNaN(y)
		switch {
		case xn && yn:
			return 0
		case xn:
			return 1
		case yn:
			return -1
		}
		return cmp.Compare(x, y)
	case TypeString, TypeBinary:
		return bytes.Compare(a.b, b.b)
	case TypeDecimal128:
		return a.Decimal().Cmp(b.Decimal())
	}
	return 0
}

// Equal reports whether a and b are the same value (Compare == 0 and the
// same type for non-null values).
func Equal(a, b Value) bool {
	if a.valid && b.valid && a.id != b.id {
		return false
	}
	return Compare(a, b) == 0
}

// Format renders v as text for logs and tables, using t for decimals and
// timestamps.
func (v Value) Format(t Type) string {
	if !v.valid {
		return "null"
	}
	switch v.id {
	case TypeBool:
		return strconv.FormatBool(v.Bool())
	case TypeInt32, TypeInt64:
		return strconv.FormatInt(v.Int64(), 10)
	case TypeFloat32:
		return strconv.FormatFloat(v.Float64(), 'g', -1, 32)
	case TypeFloat64:
		return strconv.FormatFloat(v.Float64(), 'g', -1, 64)
	case TypeString:
		return string(v.b)
	case TypeBinary:
		return fmt.Sprintf("%x", v.b)
	case TypeDate32:
		return time.Unix(v.Int64()*86400, 0).UTC().Format(time.DateOnly)
	case TypeTimestamp:
		return formatTimestamp(v.Int64(), t)
	case TypeDecimal128:
		return FormatDecimal(v.Decimal(), t.Scale)
	}
	return "?"
}

// String renders v without column information (decimals unscaled).
func (v Value) String() string {
	t := Type{ID: v.id}
	if v.id == TypeTimestamp {
		t.Unit = Millisecond
	}
	return v.Format(t)
}

// TimeOf converts a timestamp or date Value to a time.Time in UTC.
func TimeOf(v Value, t Type) time.Time {
	switch t.ID {
	case TypeDate32:
		return time.Unix(v.Int64()*86400, 0).UTC()
	case TypeTimestamp:
		if t.Unit == Microsecond {
			return time.UnixMicro(v.Int64()).UTC()
		}
		return time.UnixMilli(v.Int64()).UTC()
	case TypeInt64, TypeInt32:
		// event-time columns given as epoch milliseconds
		return time.UnixMilli(v.Int64()).UTC()
	}
	return time.Time{}
}

func formatTimestamp(n int64, t Type) string {
	var tm time.Time
	layout := "2006-01-02 15:04:05.000"
	if t.Unit == Microsecond {
		tm = time.UnixMicro(n).UTC()
		layout = "2006-01-02 15:04:05.000000"
	} else {
		tm = time.UnixMilli(n).UTC()
	}
	if t.Zone != "" {
		return tm.Format(layout) + "Z"
	}
	return tm.Format(layout)
}
