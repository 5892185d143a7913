package row

import (
	"fmt"
	"strings"
)

// TypeID identifies the logical type of a column. The set mirrors the Arrow
// types hotcold moves between Parquet, Kafka JSON, Pebble and gRPC.
type TypeID uint8

// The supported types. The numeric values are part of the on-disk format of
// manifests and must never change.
const (
	TypeNull TypeID = iota
	TypeBool
	TypeInt32
	TypeInt64
	TypeFloat32
	TypeFloat64
	TypeString
	TypeBinary
	TypeDate32    // days since the Unix epoch
	TypeTimestamp // Type.Unit since the Unix epoch, optionally with a zone
	TypeDecimal128
	numTypes
)

var typeNames = [numTypes]string{
	TypeNull: "null", TypeBool: "bool", TypeInt32: "int32", TypeInt64: "int64",
	TypeFloat32: "float32", TypeFloat64: "float64", TypeString: "string",
	TypeBinary: "binary", TypeDate32: "date32", TypeTimestamp: "timestamp",
	TypeDecimal128: "decimal128",
}

func (id TypeID) String() string {
	if id < numTypes {
		return typeNames[id]
	}
	return fmt.Sprintf("TypeID(%d)", uint8(id))
}

// TimeUnit is the resolution of a timestamp column.
type TimeUnit uint8

// Timestamp resolutions. Zero is milliseconds, Flink's default precision 3.
const (
	Millisecond TimeUnit = iota
	Microsecond
)

func (u TimeUnit) String() string {
	if u == Microsecond {
		return "us"
	}
	return "ms"
}

// Type is a column type: an ID plus the parameters some IDs take. The zero
// Type is TypeNull.
type Type struct {
	ID TypeID
	// Unit is the resolution of a TypeTimestamp. Zero means milliseconds.
	Unit TimeUnit
	// Zone is the time zone of a TypeTimestamp ("UTC", "Asia/Shanghai"); empty
	// means a timestamp without zone (Flink TIMESTAMP, not TIMESTAMP_LTZ).
	Zone string
	// Precision and Scale describe a TypeDecimal128 (1 <= Precision <= 38).
	Precision, Scale int32
}

// Convenience constructors for the parameterless types.
var (
	Null    = Type{ID: TypeNull}
	Bool    = Type{ID: TypeBool}
	Int32   = Type{ID: TypeInt32}
	Int64   = Type{ID: TypeInt64}
	Float32 = Type{ID: TypeFloat32}
	Float64 = Type{ID: TypeFloat64}
	String  = Type{ID: TypeString}
	Binary  = Type{ID: TypeBinary}
	Date32  = Type{ID: TypeDate32}
)

// Timestamp returns a timestamp type with the given unit and zone ("" for none).
func Timestamp(unit TimeUnit, zone string) Type {
	return Type{ID: TypeTimestamp, Unit: unit, Zone: zone}
}

// Decimal returns a decimal128 type.
func Decimal(precision, scale int32) Type {
	return Type{ID: TypeDecimal128, Precision: precision, Scale: scale}
}

// String renders the type the way ParseType reads it: "int64",
// "timestamp[ms]", "timestamp[us, UTC]", "decimal128(18, 2)".
func (t Type) String() string {
	switch t.ID {
	case TypeTimestamp:
		if t.Zone != "" {
			return fmt.Sprintf("timestamp[%s, %s]", t.Unit, t.Zone)
		}
		return fmt.Sprintf("timestamp[%s]", t.Unit)
	case TypeDecimal128:
		return fmt.Sprintf("decimal128(%d, %d)", t.Precision, t.Scale)
	}
	return t.ID.String()
}

// ParseType reads the notation of Type.String. It also accepts the common
// SQL spellings (BIGINT, INT, VARCHAR, DOUBLE, BOOLEAN, DATE, TIMESTAMP(3),
// TIMESTAMP_LTZ(6), DECIMAL(p, s), BYTES).
func ParseType(s string) (Type, error) {
	orig := s
	s = strings.TrimSpace(strings.ToLower(s))
	args := ""
	if i := strings.IndexAny(s, "[("); i >= 0 {
		if !strings.HasSuffix(s, "]") && !strings.HasSuffix(s, ")") {
			return Type{}, fmt.Errorf("row: type %q: unbalanced brackets", orig)
		}
		args = strings.TrimSpace(s[i+1 : len(s)-1])
		s = strings.TrimSpace(s[:i])
	}
	parts := []string{}
	if args != "" {
		for _, p := range strings.Split(args, ",") {
			parts = append(parts, strings.TrimSpace(p))
		}
	}
	noArgs := func(t Type) (Type, error) {
		if len(parts) != 0 && !(len(parts) == 1 && isDigits(parts[0])) {
			return Type{}, fmt.Errorf("row: type %q takes no parameters", orig)
		}
		return t, nil
	}
	switch s {
	case "null":
		return noArgs(Null)
	case "bool", "boolean":
		return noArgs(Bool)
	case "int32", "int", "integer":
		return noArgs(Int32)
	case "int64", "bigint", "long":
		return noArgs(Int64)
	case "float32", "float", "real":
		return noArgs(Float32)
	case "float64", "double":
		return noArgs(Float64)
	case "string", "varchar", "char", "utf8", "text":
		return noArgs(String)
	case "binary", "bytes", "varbinary":
		return noArgs(Binary)
	case "date32", "date":
		return noArgs(Date32)
	case "timestamp", "timestamp_ltz":
		t := Timestamp(Millisecond, "")
		if s == "timestamp_ltz" {
			t.Zone = "UTC"
		}
		for i, p := range parts {
			switch {
			case i == 0 && (p == "ms" || p == "3" || p == "0" || p == "1" || p == "2"):
				t.Unit = Millisecond
			case i == 0 && (p == "us" || p == "6" || p == "4" || p == "5"):
				t.Unit = Microsecond
			case i == 1:
				t.Zone = strings.TrimSpace(args[strings.Index(args, ",")+1:])
				// keep the zone's original case
				o := strings.TrimSpace(orig)
				if j := strings.LastIndex(o, ","); j >= 0 {
					t.Zone = strings.TrimSpace(strings.TrimRight(o[j+1:], "])"))
				}
			default:
				return Type{}, fmt.Errorf("row: type %q: unsupported timestamp parameter %q (want ms or us, and a zone)", orig, p)
			}
		}
		return t, nil
	case "decimal128", "decimal", "numeric":
		if len(parts) != 2 {
			return Type{}, fmt.Errorf("row: type %q: want decimal(precision, scale)", orig)
		}
		var p, sc int32
		if _, err := fmt.Sscan(parts[0], &p); err != nil {
			return Type{}, fmt.Errorf("row: type %q: precision: %v", orig, err)
		}
		if _, err := fmt.Sscan(parts[1], &sc); err != nil {
			return Type{}, fmt.Errorf("row: type %q: scale: %v", orig, err)
		}
		t := Decimal(p, sc)
		return t, t.validate()
	}
	return Type{}, fmt.Errorf("row: unknown type %q (want one of bool, int32, int64, float32, float64, string, binary, date32, timestamp[ms|us, zone], decimal128(p, s), null)", orig)
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func (t Type) validate() error {
	if t.ID >= numTypes {
		return fmt.Errorf("unknown type id %d", t.ID)
	}
	if t.ID == TypeDecimal128 && (t.Precision < 1 || t.Precision > 38 || t.Scale < 0 || t.Scale > t.Precision) {
		return fmt.Errorf("decimal128(%d, %d): want 1 <= precision <= 38 and 0 <= scale <= precision", t.Precision, t.Scale)
	}
	if t.ID == TypeTimestamp && t.Unit > Microsecond {
		return fmt.Errorf("timestamp unit %d: want ms or us", t.Unit)
	}
	return nil
}

// MarshalText implements encoding.TextMarshaler (used by YAML and JSON manifests).
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := ParseType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}
