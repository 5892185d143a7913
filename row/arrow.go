package row

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// CheckArrow reports whether an Arrow schema carries the columns of s, in
// order, with convertible types; the error names the first field that
// differs. Extra trailing Arrow fields are an error too.
func (s *Schema) CheckArrow(as *arrow.Schema) error {
	fs := as.Fields()
	if len(fs) != len(s.cols) {
		return fmt.Errorf("row: arrow schema has %d fields, want %d (%s)", len(fs), len(s.cols), s)
	}
	for i, f := range fs {
		c := s.cols[i]
		if f.Name != c.Name {
			return fmt.Errorf("row: arrow field %d is %q, want %q", i, f.Name, c.Name)
		}
		t, err := typeFromArrow(f.Type)
		if err != nil {
			return fmt.Errorf("row: arrow field %q: %w", f.Name, err)
		}
		if t != c.Type {
			return fmt.Errorf("row: arrow field %q has type %s, want %s", f.Name, t, c.Type)
		}
	}
	return nil
}

// RowFromRecord reads row i of rec into r. The record's columns must match
// s by position (see CheckArrow). Strings and binaries point into the
// record's buffers: they stay valid while rec is retained; Clone the row to
// keep it longer.
func (s *Schema) RowFromRecord(rec arrow.Record, i int, r *Row) error {
	if int(rec.NumCols()) != len(s.cols) {
		return fmt.Errorf("row: record has %d columns, want %d", rec.NumCols(), len(s.cols))
	}
	if cap(r.Values) < len(s.cols) {
		r.Values = make([]Value, len(s.cols))
	}
	r.Values = r.Values[:len(s.cols)]
	r.Kind = Insert
	for c := range s.cols {
		v, err := valueFromArray(rec.Column(c), i)
		if err != nil {
			return fmt.Errorf("row: column %q, row %d: %w", s.cols[c].Name, i, err)
		}
		r.Values[c] = v
	}
	return nil
}

// ValueFromArray returns element i of an Arrow array as a Value.
func ValueFromArray(a arrow.Array, i int) (Value, error) { return valueFromArray(a, i) }

func valueFromArray(a arrow.Array, i int) (Value, error) {
	if i < 0 || i >= a.Len() {
		return Value{}, fmt.Errorf("index %d out of range [0, %d)", i, a.Len())
	}
	if a.IsNull(i) {
		return Value{}, nil
	}
	switch x := a.(type) {
	case *array.Null:
		return Value{}, nil
	case *array.Boolean:
		return BoolValue(x.Value(i)), nil
	case *array.Int32:
		return Int32Value(x.Value(i)), nil
	case *array.Int64:
		return Int64Value(x.Value(i)), nil
	case *array.Float32:
		return Float32Value(x.Value(i)), nil
	case *array.Float64:
		return Float64Value(x.Value(i)), nil
	case *array.String:
		offs := x.ValueOffsets()
		vb := x.ValueBytes()
		return Value{id: TypeString, valid: true, b: vb[offs[i]-offs[0] : offs[i+1]-offs[0]]}, nil
	case *array.LargeString:
		return Value{id: TypeString, valid: true, b: []byte(x.Value(i))}, nil
	case *array.Binary:
		return BinaryValue(x.Value(i)), nil
	case *array.LargeBinary:
		return BinaryValue(x.Value(i)), nil
	case *array.Date32:
		return Date32Value(int32(x.Value(i))), nil
	case *array.Timestamp:
		return TimestampValue(int64(x.Value(i))), nil
	case *array.Decimal128:
		return DecimalValue(x.Value(i)), nil
	}
	return Value{}, fmt.Errorf("arrow array type %s is not supported", a.DataType())
}

// AppendToBuilder appends r to a record builder made for s.Arrow().
func (s *Schema) AppendToBuilder(b *array.RecordBuilder, r Row) error {
	if len(r.Values) != len(s.cols) {
		return fmt.Errorf("row: row has %d values, schema has %d columns", len(r.Values), len(s.cols))
	}
	for i, v := range r.Values {
		fb := b.Field(i)
		if !v.valid {
			fb.AppendNull()
			continue
		}
		c := s.cols[i]
		if v.id != c.Type.ID {
			return fmt.Errorf("row: column %q is %s but the value %s is %s", c.Name, c.Type, v, v.id)
		}
		switch x := fb.(type) {
		case *array.BooleanBuilder:
			x.Append(v.Bool())
		case *array.Int32Builder:
			x.Append(int32(v.Int64()))
		case *array.Int64Builder:
			x.Append(v.Int64())
		case *array.Float32Builder:
			x.Append(float32(v.Float64()))
		case *array.Float64Builder:
			x.Append(v.Float64())
		case *array.StringBuilder:
			x.BinaryBuilder.Append(v.b)
		case *array.BinaryBuilder:
			x.Append(v.b)
		case *array.Date32Builder:
			x.Append(arrow.Date32(v.Int64()))
		case *array.TimestampBuilder:
			x.Append(arrow.Timestamp(v.Int64()))
		case *array.Decimal128Builder:
			x.Append(v.Decimal())
		case *array.NullBuilder:
			x.AppendNull()
		default:
			return fmt.Errorf("row: column %q: unsupported builder %T", c.Name, fb)
		}
	}
	return nil
}

// RowsToRecord builds one Arrow record of rows. The caller must Release it.
func (s *Schema) RowsToRecord(mem memory.Allocator, rows []Row) (arrow.Record, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := array.NewRecordBuilder(mem, s.Arrow())
	defer b.Release()
	for _, r := range rows {
		if err := s.AppendToBuilder(b, r); err != nil {
			return nil, err
		}
	}
	return b.NewRecord(), nil
}

// RecordToRows converts every row of rec into owned rows.
func (s *Schema) RecordToRows(rec arrow.Record) ([]Row, error) {
	out := make([]Row, 0, rec.NumRows())
	var r Row
	for i := 0; i < int(rec.NumRows()); i++ {
		if err := s.RowFromRecord(rec, i, &r); err != nil {
			return nil, err
		}
		out = append(out, r.Clone())
	}
	return out, nil
}
