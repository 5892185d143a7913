package row

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// FieldError is a value that does not fit its column. Column names the
// column, Value is the offending input rendered as text.
type FieldError struct {
	Column string
	Type   Type
	Value  string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("row: column %q (%s): value %s: %s", e.Column, e.Type, e.Value, e.Reason)
}

// RowFromJSON decodes one JSON object into r (as an insert). Fields are
// matched to columns by name; unknown fields are ignored; a missing or null
// field is null. A non-nullable column that is missing, or a value that does
// not fit its column's type, is a *FieldError naming the column and value.
//
// Accepted spellings follow Flink's JSON formats: numbers may be given as
// JSON numbers or numeric strings; bytes as base64; dates as "2006-01-02" or
// days since the epoch; timestamps as "2006-01-02 15:04:05.000",
// RFC 3339, or a number in the column's unit; decimals as numbers or strings.
func (s *Schema) RowFromJSON(data []byte, r *Row) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("row: not a JSON object: %w", err)
	}
	if obj == nil {
		return fmt.Errorf("row: not a JSON object: null")
	}
	return s.RowFromMap(obj, r)
}

// RowFromMap is RowFromJSON for an already-decoded object (decoded with
// json.Decoder.UseNumber, so that large integers keep their precision).
func (s *Schema) RowFromMap(obj map[string]any, r *Row) error {
	if cap(r.Values) < len(s.cols) {
		r.Values = make([]Value, len(s.cols))
	}
	r.Values = r.Values[:len(s.cols)]
	r.Kind = Insert
	for i, c := range s.cols {
		raw, ok := obj[c.Name]
		if !ok || raw == nil {
			if !c.Nullable {
				what := "missing"
				if ok {
					what = "null"
				}
				return &FieldError{Column: c.Name, Type: c.Type, Value: "null", Reason: what + " but the column is not nullable"}
			}
			r.Values[i] = Value{}
			continue
		}
		v, err := ValueFromJSON(c.Type, raw)
		if err != nil {
			return &FieldError{Column: c.Name, Type: c.Type, Value: jsonText(raw), Reason: err.Error()}
		}
		r.Values[i] = v
	}
	return nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// ValueFromJSON converts a decoded JSON value (from a decoder with
// UseNumber) to a Value of type t.
func ValueFromJSON(t Type, raw any) (Value, error) {
	if raw == nil {
		return Value{}, nil
	}
	switch t.ID {
	case TypeNull:
		return Value{}, fmt.Errorf("a null column only holds null")
	case TypeBool:
		switch x := raw.(type) {
		case bool:
			return BoolValue(x), nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return BoolValue(true), nil
			case "false":
				return BoolValue(false), nil
			}
		}
		return Value{}, fmt.Errorf("not a boolean")
	case TypeInt32, TypeInt64:
		n, err := jsonInt(raw)
		if err != nil {
			return Value{}, err
		}
		if t.ID == TypeInt32 {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return Value{}, fmt.Errorf("out of range for int32")
			}
			return Int32Value(int32(n)), nil
		}
		return Int64Value(n), nil
	case TypeFloat32, TypeFloat64:
		var f float64
		var err error
		switch x := raw.(type) {
		case json.Number:
			f, err = strconv.ParseFloat(string(x), 64)
		case float64:
			f = x
		case string:
			f, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
		default:
			err = fmt.Errorf("not a number")
		}
		if err != nil {
			return Value{}, fmt.Errorf("not a number")
		}
		if t.ID == TypeFloat32 {
			return Float32Value(float32(f)), nil
		}
		return Float64Value(f), nil
	case TypeString:
		switch x := raw.(type) {
		case string:
			return StringValue(x), nil
		case json.Number:
			return StringValue(string(x)), nil
		case bool:
			return StringValue(strconv.FormatBool(x)), nil
		case float64:
			return StringValue(strconv.FormatFloat(x, 'g', -1, 64)), nil
		}
		return Value{}, fmt.Errorf("not a string")
	case TypeBinary:
		x, ok := raw.(string)
		if !ok {
			return Value{}, fmt.Errorf("not a base64 string")
		}
		b, err := base64.StdEncoding.DecodeString(x)
		if err != nil {
			return Value{}, fmt.Errorf("not base64: %v", err)
		}
		return BinaryValue(b), nil
	case TypeDate32:
		switch x := raw.(type) {
		case string:
			tm, err := time.Parse(time.DateOnly, strings.TrimSpace(x))
			if err != nil {
				return Value{}, fmt.Errorf("not a date (want 2006-01-02)")
			}
			return Date32Value(int32(tm.Unix() / 86400)), nil
		default:
			n, err := jsonInt(raw)
			if err != nil {
				return Value{}, fmt.Errorf("not a date (want \"2006-01-02\" or days since 1970-01-01)")
			}
			if n < math.MinInt32 || n > math.MaxInt32 {
				return Value{}, fmt.Errorf("date out of range")
			}
			return Date32Value(int32(n)), nil
		}
	case TypeTimestamp:
		if x, ok := raw.(string); ok {
			x = strings.TrimSpace(x)
			if isDigits(strings.TrimPrefix(x, "-")) {
				raw = json.Number(x)
			} else {
				tm, err := parseTimestamp(x)
				if err != nil {
					return Value{}, err
				}
				if t.Unit == Microsecond {
					return TimestampValue(tm.UnixMicro()), nil
				}
				return TimestampValue(tm.UnixMilli()), nil
			}
		}
		n, err := jsonInt(raw)
		if err != nil {
			return Value{}, fmt.Errorf("not a timestamp (want \"2006-01-02 15:04:05.000\", RFC 3339 or epoch %s)", t.Unit)
		}
		return TimestampValue(n), nil
	case TypeDecimal128:
		var text string
		switch x := raw.(type) {
		case json.Number:
			text = string(x)
		case string:
			text = strings.TrimSpace(x)
		case float64:
			text = strconv.FormatFloat(x, 'f', -1, 64)
		default:
			return Value{}, fmt.Errorf("not a decimal")
		}
		n, err := ParseDecimal(text, t.Precision, t.Scale)
		if err != nil {
			return Value{}, fmt.Errorf("not a decimal(%d, %d): %v", t.Precision, t.Scale, err)
		}
		return DecimalValue(n), nil
	}
	return Value{}, fmt.Errorf("unsupported type")
}

func jsonInt(raw any) (int64, error) {
	switch x := raw.(type) {
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("not an integer")
		}
		return n, nil
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return 0, fmt.Errorf("not an integer")
		}
		return int64(x), nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("not an integer")
		}
		return n, nil
	}
	return 0, fmt.Errorf("not an integer")
}

var timestampLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z",
	"2006-01-02 15:04:05.999999999",
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z",
}

func parseTimestamp(s string) (time.Time, error) {
	for _, l := range timestampLayouts {
		if tm, err := time.Parse(l, s); err == nil {
			return tm, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a timestamp (want \"2006-01-02 15:04:05.000\" or RFC 3339)")
}

// AppendJSON appends r as one JSON object (columns in schema order) to dst.
// Timestamps use Flink's SQL format ("2006-01-02 15:04:05.000", with a
// trailing Z for zoned columns), dates "2006-01-02", bytes base64, decimals
// plain numbers; NaN and infinite floats are written as strings, as Flink does.
func (s *Schema) AppendJSON(dst []byte, r Row) []byte {
	dst = append(dst, '{')
	for i, c := range s.cols {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, c.Name)
		dst = append(dst, ':')
		var v Value
		if i < len(r.Values) {
			v = r.Values[i]
		}
		dst = AppendJSONValue(dst, c.Type, v)
	}
	return append(dst, '}')
}

// AppendJSONValue appends the JSON form of one value of type t.
func AppendJSONValue(dst []byte, t Type, v Value) []byte {
	if !v.valid {
		return append(dst, "null"...)
	}
	switch v.id {
	case TypeBool:
		return strconv.AppendBool(dst, v.Bool())
	case TypeInt32, TypeInt64:
		return strconv.AppendInt(dst, v.Int64(), 10)
	case TypeFloat32, TypeFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendJSONString(dst, strconv.FormatFloat(f, 'g', -1, 64))
		}
		bits := 64
		if v.id == TypeFloat32 {
			bits = 32
		}
		return strconv.AppendFloat(dst, f, 'g', -1, bits)
	case TypeString:
		return appendJSONBytes(dst, v.b)
	case TypeBinary:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v.b)
		return append(dst, '"')
	case TypeDate32, TypeTimestamp:
		return appendJSONString(dst, v.Format(t))
	case TypeDecimal128:
		return append(dst, FormatDecimal(v.Decimal(), t.Scale)...)
	}
	return append(dst, "null"...)
}

func appendJSONString(dst []byte, s string) []byte {
	return appendJSONBytes(dst, []byte(s))
}

const hexDigits = "0123456789abcdef"

func appendJSONBytes(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
