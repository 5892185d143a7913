package row

import (
	"fmt"

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
		cr := &rr.cols[c]
		if i < 0 || i >= cr.n {
			return fmt.Errorf("row: column %q, row %d: index out of range [0, %d)", s.cols[c].Name, i, cr.n)
		}
		if cr.kind == colGeneric {
			v, err := valueFromArray(cr.arr, i)
			if err != nil {
				return fmt.Errorf("row: column %q, row %d: %w", s.cols[c].Name, i, err)
			}
			r.Values[c] = v
			continue
		}
		if cr.nulls != nil {
			if b := cr.offset + i; cr.nulls[b>>3]&(1<<(b&7)) == 0 {
				r.Values[c] = Value{}
				continue
			}
		}
		switch cr.kind {
		case colInt64:
			r.Values[c] = Value{id: TypeInt64, valid: true, num: uint64(cr.i64[i])}
		case colInt32:
			r.Values[c] = Value{id: TypeInt32, valid: true, num: uint64(int64(cr.i32[i]))}
		case colDate32:
			r.Values[c] = Value{id: TypeDate32, valid: true, num: uint64(int64(cr.d32[i]))}
		case colTimestamp:
			r.Values[c] = Value{id: TypeTimestamp, valid: true, num: uint64(cr.ts[i])}
		case colFloat64:
			r.Values[c] = Float64Value(cr.f64[i])
		case colFloat32:
			r.Values[c] = Float32Value(cr.f32[i])
		case colString:
			o0 := cr.offs[0]
			lo, hi := cr.offs[i]-o0, cr.offs[i+1]-o0
			if lo < 0 || hi < lo || int(hi) > len(cr.data) {
				return fmt.Errorf("row: column %q, row %d: string offsets [%d, %d) outside the data (%d bytes)", s.cols[c].Name, i, lo, hi, len(cr.data))
			}
			r.Values[c] = Value{id: TypeString, valid: true, b: cr.data[lo:hi:hi]}
		}
	}
	return nil
}
