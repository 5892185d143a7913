package row

import (
	"strings"
)

// Row is one row of a schema: a changelog kind and one Value per column.
//
// Rows are plain values; a Row decoded with DecodeValue owns a private
// buffer that the next decode into the same Row reuses, so a caller that
// keeps a decoded row across decodes must Clone it.
type Row struct {
	Kind   Kind
	Values []Value
	buf    []byte // backing store for string/binary values of decoded rows
}

// New returns an insert row holding vals.
func New(vals ...Value) Row { return Row{Values: vals} }

// Clone returns a deep copy of r that owns all its bytes.
func (r Row) Clone() Row {
	n := 0
	for _, v := range r.Values {
		n += len(v.b)
	}
	c := Row{Kind: r.Kind, Values: make([]Value, len(r.Values))}
	buf := make([]byte, 0, n)
	for i, v := range r.Values {
		if v.b != nil {
			start := len(buf)
			buf = append(buf, v.b...)
			v.b = buf[start:len(buf):len(buf)]
		}
		c.Values[i] = v
	}
	return c
}

// Equal reports whether two rows hold equal values (the kind is ignored).
func (r Row) Equal(o Row) bool {
	if len(r.Values) != len(o.Values) {
		return false
	}
	for i := range r.Values {
		if !Equal(r.Values[i], o.Values[i]) {
			return false
		}
	}
	return true
}

// Format renders a row as "+I[1, abc, null]" in Flink's toString style.
func (r Row) Format(s *Schema) string {
	var b strings.Builder
	b.WriteString(r.Kind.String())
	b.WriteByte('[')
	for i, v := range r.Values {
		if i > 0 {
			b.WriteString(", ")
		}
		if s != nil && i < s.Len() {
			b.WriteString(v.Format(s.Column(i).Type))
		} else {
			b.WriteString(v.String())
		}
	}
	b.WriteByte(']')
	return b.String()
}

func (r Row) String() string { return r.Format(nil) }

// Project returns a row of the values at idx.
func (r Row) Project(idx []int) Row {
	out := Row{Kind: r.Kind, Values: make([]Value, len(idx))}
	for i, j := range idx {
		out.Values[i] = r.Values[j]
	}
	return out
}

// KeyValues returns the key values of r under s (a new slice).
func (r Row) KeyValues(s *Schema) []Value {
	out := make([]Value, len(s.key))
	for i, k := range s.key {
		out[i] = r.Values[k]
	}
	return out
}
