package row

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// Column is one column of a Schema.
type Column struct {
	// Name is the column name, unique within its schema.
	Name string `yaml:"name" json:"name"`
	// Type is the column type.
	Type Type `yaml:"type" json:"type"`
	// Nullable reports whether the column may hold null. Key columns may not.
	Nullable bool `yaml:"nullable" json:"nullable"`
	// Default is the value a reader fills in when it decodes bytes written by
	// an older schema version that did not have this column yet. The zero
	// Value (null) is the default; a non-nullable appended column needs a
	// non-null Default.
	Default Value `yaml:"-" json:"-"`
}

// Schema is an ordered list of columns, the columns that form the key, and a
// version. A Schema is immutable after NewSchema and safe for concurrent use.
type Schema struct {
	cols    []Column
	key     []int
	version uint32
	byName  map[string]int
}

// NewSchema validates and returns a schema. key names the key columns in key
// order (empty: no key). version is the schema version written into every
// encoded value (see AppendValue); bump it when columns are appended.
//
// Every problem is reported in one error that names the column.
func NewSchema(cols []Column, key []string, version uint32) (*Schema, error) {
	s := &Schema{cols: append([]Column(nil), cols...), version: version, byName: make(map[string]int, len(cols))}
	var errs []error
	if len(cols) == 0 {
		errs = append(errs, errors.New("schema has no columns"))
	}
	for i, c := range cols {
		if c.Name == "" {
			errs = append(errs, fmt.Errorf("column %d has no name", i))
		} else if _, dup := s.byName[c.Name]; dup {
			errs = append(errs, fmt.Errorf("column %q appears twice", c.Name))
		} else {
			s.byName[c.Name] = i
		}
		if err := c.Type.validate(); err != nil {
			errs = append(errs, fmt.Errorf("column %q: %w", c.Name, err))
		}
		if c.Type.ID == TypeNull && !c.Nullable {
			errs = append(errs, fmt.Errorf("column %q: a null-typed column must be nullable", c.Name))
		}
		if !c.Default.IsNull() && c.Default.id != c.Type.ID {
			errs = append(errs, fmt.Errorf("column %q: default %s is a %s, column is %s", c.Name, c.Default, c.Default.id, c.Type))
		}
	}
	seen := map[string]bool{}
	for _, k := range key {
		i, ok := s.byName[k]
		if !ok {
			errs = append(errs, fmt.Errorf("key column %q is not a column of the schema (columns: %s)", k, strings.Join(s.Names(), ", ")))
			continue
		}
		if seen[k] {
			errs = append(errs, fmt.Errorf("key column %q is listed twice", k))
			continue
		}
		seen[k] = true
		if s.cols[i].Type.ID == TypeNull {
			errs = append(errs, fmt.Errorf("key column %q has type null", k))
		}
		s.cols[i].Nullable = false
		s.key = append(s.key, i)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("row: invalid schema: %w", errors.Join(errs...))
	}
	return s, nil
}

// MustSchema is NewSchema for schemas written in code; it panics on error.
func MustSchema(cols []Column, key []string, version uint32) *Schema {
	s, err := NewSchema(cols, key, version)
	if err != nil {
		panic(err)
	}
	return s
}

// Len returns the number of columns.
func (s *Schema) Len() int { return len(s.cols) }

// Column returns column i.
func (s *Schema) Column(i int) Column { return s.cols[i] }

// Columns returns a copy of the columns.
func (s *Schema) Columns() []Column { return append([]Column(nil), s.cols...) }

// Version returns the schema version.
func (s *Schema) Version() uint32 { return s.version }

// Key returns the indexes of the key columns, in key order. The caller must
// not modify the slice.
func (s *Schema) Key() []int { return s.key }

// KeyNames returns the names of the key columns.
func (s *Schema) KeyNames() []string {
	out := make([]string, len(s.key))
	for i, k := range s.key {
		out[i] = s.cols[k].Name
	}
	return out
}

// KeyTypes returns the types of the key columns, in key order.
func (s *Schema) KeyTypes() []Type {
	out := make([]Type, len(s.key))
	for i, k := range s.key {
		out[i] = s.cols[k].Type
	}
	return out
}

// Names returns the column names in order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.cols))
	for i, c := range s.cols {
		out[i] = c.Name
	}
	return out
}

// Index returns the position of the named column, or -1.
func (s *Schema) Index(name string) int {
	if i, ok := s.byName[name]; ok {
		return i
	}
	return -1
}

// WithKey returns a copy of s with another key.
func (s *Schema) WithKey(key []string) (*Schema, error) { return NewSchema(s.cols, key, s.version) }

// WithVersion returns a copy of s with another version.
func (s *Schema) WithVersion(v uint32) *Schema {
	c := *s
	c.version = v
	return &c
}

// Equal reports whether two schemas have the same columns (names, types,
// nullability), the same key and the same version.
func (s *Schema) Equal(o *Schema) bool {
	if s.version != o.version || len(s.cols) != len(o.cols) || len(s.key) != len(o.key) {
		return false
	}
	for i := range s.cols {
		a, b := s.cols[i], o.cols[i]
		if a.Name != b.Name || a.Type != b.Type || a.Nullable != b.Nullable {
			return false
		}
	}
	for i := range s.key {
		if s.key[i] != o.key[i] {
			return false
		}
	}
	return true
}

// AppendOnly reports whether newer only appends nullable-or-defaulted
// columns to s (same names and types for the common prefix), which is the
// change a reader can absorb without rewriting data. If not, the error says
// which column differs.
func (s *Schema) AppendOnly(newer *Schema) error {
	if len(newer.cols) < len(s.cols) {
		return fmt.Errorf("row: newer schema has %d columns, fewer than %d", len(newer.cols), len(s.cols))
	}
	for i, c := range s.cols {
		n := newer.cols[i]
		if n.Name != c.Name || n.Type != c.Type {
			return fmt.Errorf("row: column %d changed from %s %s to %s %s", i, c.Name, c.Type, n.Name, n.Type)
		}
	}
	for _, n := range newer.cols[len(s.cols):] {
		if !n.Nullable && n.Default.IsNull() {
			return fmt.Errorf("row: appended column %q is not nullable and has no default", n.Name)
		}
	}
	return nil
}

func (s *Schema) String() string {
	var b strings.Builder
	b.WriteString("schema v")
	fmt.Fprint(&b, s.version)
	b.WriteString(" (")
	for i, c := range s.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
		b.WriteByte(' ')
		b.WriteString(c.Type.String())
		if !c.Nullable {
			b.WriteString(" not null")
		}
	}
	b.WriteString(")")
	if len(s.key) > 0 {
		b.WriteString(" key (")
		b.WriteString(strings.Join(s.KeyNames(), ", "))
		b.WriteString(")")
	}
	return b.String()
}

// FromArrow converts an Arrow schema. key names the key columns; version is
// the schema version. An Arrow type hotcold does not support is an error
// naming the field.
func FromArrow(as *arrow.Schema, key []string, version uint32) (*Schema, error) {
	cols := make([]Column, 0, len(as.Fields()))
	for _, f := range as.Fields() {
		t, err := typeFromArrow(f.Type)
		if err != nil {
			return nil, fmt.Errorf("row: arrow field %q: %w", f.Name, err)
		}
		cols = append(cols, Column{Name: f.Name, Type: t, Nullable: f.Nullable})
	}
	return NewSchema(cols, key, version)
}

func typeFromArrow(dt arrow.DataType) (Type, error) {
	switch t := dt.(type) {
	case *arrow.NullType:
		return Null, nil
	case *arrow.BooleanType:
		return Bool, nil
	case *arrow.Int32Type:
		return Int32, nil
	case *arrow.Int64Type:
		return Int64, nil
	case *arrow.Float32Type:
		return Float32, nil
	case *arrow.Float64Type:
		return Float64, nil
	case *arrow.StringType, *arrow.LargeStringType:
		return String, nil
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return Binary, nil
	case *arrow.Date32Type:
		return Date32, nil
	case *arrow.TimestampType:
		switch t.Unit {
		case arrow.Millisecond:
			return Timestamp(Millisecond, t.TimeZone), nil
		case arrow.Microsecond:
			return Timestamp(Microsecond, t.TimeZone), nil
		}
		return Type{}, fmt.Errorf("timestamp unit %s is not supported (want ms or us)", t.Unit)
	case *arrow.Decimal128Type:
		return Decimal(t.Precision, t.Scale), nil
	}
	return Type{}, fmt.Errorf("arrow type %s is not supported", dt)
}

// ArrowType returns the Arrow type of t.
func (t Type) ArrowType() arrow.DataType {
	switch t.ID {
	case TypeBool:
		return arrow.FixedWidthTypes.Boolean
	case TypeInt32:
		return arrow.PrimitiveTypes.Int32
	case TypeInt64:
		return arrow.PrimitiveTypes.Int64
	case TypeFloat32:
		return arrow.PrimitiveTypes.Float32
	case TypeFloat64:
		return arrow.PrimitiveTypes.Float64
	case TypeString:
		return arrow.BinaryTypes.String
	case TypeBinary:
		return arrow.BinaryTypes.Binary
	case TypeDate32:
		return arrow.FixedWidthTypes.Date32
	case TypeTimestamp:
		u := arrow.Millisecond
		if t.Unit == Microsecond {
			u = arrow.Microsecond
		}
		return &arrow.TimestampType{Unit: u, TimeZone: t.Zone}
	case TypeDecimal128:
		return &arrow.Decimal128Type{Precision: t.Precision, Scale: t.Scale}
	}
	return arrow.Null
}

// Arrow returns the Arrow schema of s.
func (s *Schema) Arrow() *arrow.Schema {
	fs := make([]arrow.Field, len(s.cols))
	for i, c := range s.cols {
		fs[i] = arrow.Field{Name: c.Name, Type: c.Type.ArrowType(), Nullable: c.Nullable}
	}
	return arrow.NewSchema(fs, nil)
}
