package row

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// RecordReader reads the rows of one Arrow record like RowFromRecord, but
// resolves each column's type and buffers once per record instead of once
// per value: bulk loads read millions of rows through it. Strings and
// binaries point into the record's buffers, as with RowFromRecord.
type RecordReader struct {
	s    *Schema
	rec  arrow.Record
	cols []colReader
}

type colKind uint8

const (
	colGeneric colKind = iota // through valueFromArray
	colInt64
	colInt32
	colFloat64
	colFloat32
	colString
	colDate32
	colTimestamp
)

type colReader struct {
	kind   colKind
	arr    arrow.Array
	nulls  []byte // validity bitmap, nil when there are no nulls
	offset int    // bit offset of element 0 in nulls
	n      int
	i64    []int64
	i32    []int32
	f64    []float64
	f32    []float32
	d32    []arrow.Date32
	ts     []arrow.Timestamp
	offs   []int32
	data   []byte
}

// NewRecordReader returns a reader of rec, whose columns must match s by
// position (see CheckArrow).
func (s *Schema) NewRecordReader(rec arrow.Record) (*RecordReader, error) {
	rr := &RecordReader{s: s}
	if err := rr.Reset(rec); err != nil {
		return nil, err
	}
	return rr, nil
}

// Reset makes rr read rec, reusing its memory.
func (rr *RecordReader) Reset(rec arrow.Record) error {
	s := rr.s
	if int(rec.NumCols()) != len(s.cols) {
		return fmt.Errorf("row: record has %d columns, want %d", rec.NumCols(), len(s.cols))
	}
	rr.rec = rec
	if cap(rr.cols) < len(s.cols) {
		rr.cols = make([]colReader, len(s.cols))
	}
	rr.cols = rr.cols[:len(s.cols)]
	for c := range rr.cols {
		a := rec.Column(c)
		cr := colReader{arr: a, n: a.Len()}
		if a.NullN() > 0 {
			cr.nulls = a.NullBitmapBytes()
			cr.offset = a.Data().Offset()
		}
		switch x := a.(type) {
		case *array.Int64:
			cr.kind, cr.i64 = colInt64, x.Int64Values()
		case *array.Int32:
			cr.kind, cr.i32 = colInt32, x.Int32Values()
		case *array.Float64:
			cr.kind, cr.f64 = colFloat64, x.Float64Values()
		case *array.Float32:
			cr.kind, cr.f32 = colFloat32, x.Float32Values()
		case *array.String:
			cr.kind, cr.offs, cr.data = colString, x.ValueOffsets(), x.ValueBytes()
		case *array.Date32:
			cr.kind, cr.d32 = colDate32, x.Date32Values()
		case *array.Timestamp:
			cr.kind, cr.ts = colTimestamp, x.TimestampValues()
		}
		if cr.kind != colGeneric && cr.nulls != nil && len(cr.nulls)*8 < cr.offset+cr.n {
			return fmt.Errorf("row: column %q: validity bitmap shorter than the column", s.cols[c].Name)
		}
		rr.cols[c] = cr
	}
	return nil
}

// Row reads row i into r.
func (rr *RecordReader) Row(i int, r *Row) error {
	s := rr.s
	if cap(r.Values) < len(s.cols) {
		r.Values = make([]Value, len(s.cols))
	}
	r.Values = r.Values[:len(s.cols)]
	r.Kind = Insert
	for c := range rr.cols {
		v, err := rr.value(c, i)
		if err != nil {
			return err
		}
		r.Values[c] = v
	}
	return nil
}

// isNull reports whether row i of cr is null; i is in range.
func (cr *colReader) isNull(i int) bool {
	if cr.nulls == nil {
		return false
	}
	b := cr.offset + i
	return cr.nulls[b>>3]&(1<<(b&7)) == 0
}

// value returns row i of column c.
func (rr *RecordReader) value(c, i int) (Value, error) {
	cr := &rr.cols[c]
	if i < 0 || i >= cr.n {
		return Value{}, fmt.Errorf("row: column %q, row %d: index out of range [0, %d)", rr.s.cols[c].Name, i, cr.n)
	}
	if cr.kind == colGeneric {
		v, err := valueFromArray(cr.arr, i)
		if err != nil {
			return Value{}, fmt.Errorf("row: column %q, row %d: %w", rr.s.cols[c].Name, i, err)
		}
		return v, nil
	}
	if cr.isNull(i) {
		return Value{}, nil
	}
	switch cr.kind {
	case colInt64:
		return Value{id: TypeInt64, valid: true, num: uint64(cr.i64[i])}, nil
	case colInt32:
		return Value{id: TypeInt32, valid: true, num: uint64(int64(cr.i32[i]))}, nil
	case colDate32:
		return Value{id: TypeDate32, valid: true, num: uint64(int64(cr.d32[i]))}, nil
	case colTimestamp:
		return Value{id: TypeTimestamp, valid: true, num: uint64(cr.ts[i])}, nil
	case colFloat64:
		return Float64Value(cr.f64[i]), nil
	case colFloat32:
		return Float32Value(cr.f32[i]), nil
	case colString:
		b, err := cr.str(i)
		if err != nil {
			return Value{}, fmt.Errorf("row: column %q, row %d: %w", rr.s.cols[c].Name, i, err)
		}
		return Value{id: TypeString, valid: true, b: b}, nil
	}
	return Value{}, fmt.Errorf("row: column %q: unknown column kind %d", rr.s.cols[c].Name, cr.kind)
}

func (cr *colReader) str(i int) ([]byte, error) {
	o0 := cr.offs[0]
	lo, hi := cr.offs[i]-o0, cr.offs[i+1]-o0
	if lo < 0 || hi < lo || int(hi) > len(cr.data) {
		return nil, fmt.Errorf("string offsets [%d, %d) outside the data (%d bytes)", lo, hi, len(cr.data))
	}
	return cr.data[lo:hi:hi], nil
}

// AppendKey appends the key encoding of row i to dst, as Schema.AppendKey
// of the row would: a null key column is an error wrapping ErrKeyNull.
func (rr *RecordReader) AppendKey(dst []byte, i int) ([]byte, error) {
	s := rr.s
	for _, k := range s.key {
		v, err := rr.value(k, i)
		if err != nil {
			return dst, err
		}
		if !v.valid {
			return dst, fmt.Errorf("%w: %q", ErrKeyNull, s.cols[k].Name)
		}
		dst, err = appendKeyValue(dst, s.cols[k].Type.ID, v)
		if err != nil {
			return dst, fmt.Errorf("row: key column %q: %w", s.cols[k].Name, err)
		}
	}
	return dst, nil
}

// AppendValue appends the value encoding of row i to dst, byte for byte
// what Schema.AppendValue of the row writes, without building the row: a
// bulk load encodes straight from the decoded columns. A null in a
// non-nullable column is an error naming the column.
func (rr *RecordReader) AppendValue(dst []byte, i int) ([]byte, error) {
	s := rr.s
	n := len(s.cols)
	dst = binary.AppendUvarint(dst, uint64(s.version))
	dst = binary.AppendUvarint(dst, uint64(n))
	bm := len(dst)
	for j := 0; j < (n+7)/8; j++ {
		dst = append(dst, 0)
	}
	for c := range rr.cols {
		cr := &rr.cols[c]
		col := &s.cols[c]
		if i < 0 || i >= cr.n {
			return dst, fmt.Errorf("row: column %q, row %d: index out of range [0, %d)", col.Name, i, cr.n)
		}
		if cr.kind == colGeneric || cr.kind == colFloat32 {
			v, err := rr.value(c, i)
			if err != nil {
				return dst, err
			}
			if !v.valid {
				if !col.Nullable {
					return dst, fmt.Errorf("row: column %q is not nullable but the value is null", col.Name)
				}
				dst[bm+c/8] |= 1 << (c % 8)
				continue
			}
			if v.id != col.Type.ID {
				return dst, fmt.Errorf("row: column %q is %s but the value %s is %s", col.Name, col.Type, v, v.id)
			}
			dst = appendColumnValue(dst, v)
			continue
		}
		if cr.isNull(i) {
			if !col.Nullable {
				return dst, fmt.Errorf("row: column %q is not nullable but the value is null", col.Name)
			}
			dst[bm+c/8] |= 1 << (c % 8)
			continue
		}
		switch cr.kind {
		case colInt64:
			dst = binary.AppendVarint(dst, cr.i64[i])
		case colInt32:
			dst = binary.AppendVarint(dst, int64(cr.i32[i]))
		case colDate32:
			dst = binary.AppendVarint(dst, int64(cr.d32[i]))
		case colTimestamp:
			dst = binary.AppendVarint(dst, int64(cr.ts[i]))
		case colFloat64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(cr.f64[i]))
		case colString:
			b, err := cr.str(i)
			if err != nil {
				return dst, fmt.Errorf("row: column %q, row %d: %w", col.Name, i, err)
			}
			dst = binary.AppendUvarint(dst, uint64(len(b)))
			dst = append(dst, b...)
		}
	}
	return dst, nil
}
