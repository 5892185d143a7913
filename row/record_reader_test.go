package row_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/hotcold/hotcold/row"
)

// TestRecordReaderMatchesRowFromRecord reads random rows of every column
// type, with nulls, from whole and sliced records both ways.
func TestRecordReaderMatchesRowFromRecord(t *testing.T) {
	s := row.MustSchema([]row.Column{
		{Name: "i64", Type: row.Int64},
		{Name: "i32", Type: row.Int32, Nullable: true},
		{Name: "f64", Type: row.Float64, Nullable: true},
		{Name: "f32", Type: row.Float32, Nullable: true},
		{Name: "str", Type: row.String, Nullable: true},
		{Name: "bin", Type: row.Binary, Nullable: true},
		{Name: "b", Type: row.Bool, Nullable: true},
		{Name: "d", Type: row.Date32, Nullable: true},
		{Name: "ts", Type: row.Timestamp(row.Microsecond, ""), Nullable: true},
		{Name: "dec", Type: row.Decimal(20, 4), Nullable: true},
	}, []string{"i64"}, 1)
	rng := rand.New(rand.NewPCG(7, 8))
	rows := make([]row.Row, 500)
	for i := range rows {
		maybe := func(v row.Value) row.Value {
			if rng.IntN(5) == 0 {
				return row.NullValue()
			}
			return v
		}
		str := make([]byte, rng.IntN(20))
		for j := range str {
			str[j] = byte(rng.IntN(256))
		}
		rows[i] = row.New(
			row.Int64Value(rng.Int64()),
			maybe(row.Int32Value(rng.Int32())),
			maybe(row.Float64Value(rng.NormFloat64())),
			maybe(row.Float32Value(float32(rng.NormFloat64()))),
			maybe(row.StringValue(string(str))),
			maybe(row.BinaryValue(str)),
			maybe(row.BoolValue(rng.IntN(2) == 0)),
			maybe(row.Date32Value(rng.Int32N(40000))),
			maybe(row.TimestampValue(rng.Int64())),
			maybe(row.DecimalValue(decimal128.FromI64(rng.Int64()))),
		)
	}
	rec, err := s.RowsToRecord(memory.DefaultAllocator, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	for _, sl := range [][2]int64{{0, 500}, {37, 400}, {499, 500}, {3, 3}} {
		sub := rec.NewSlice(sl[0], sl[1])
		rr, err := s.NewRecordReader(sub)
		if err != nil {
			t.Fatal(err)
		}
		var a, b row.Row
		for i := 0; i < int(sub.NumRows()); i++ {
			if err := rr.Row(i, &a); err != nil {
				t.Fatal(err)
			}
			if err := s.RowFromRecord(sub, i, &b); err != nil {
				t.Fatal(err)
			}
			if !a.Equal(b) || !a.Equal(rows[int(sl[0])+i]) {
				t.Fatalf("slice %v row %d: reader %v, RowFromRecord %v, want %v", sl, i, a, b, rows[int(sl[0])+i])
			}
			// encoding straight from the columns writes the same bytes
			wantV, err := s.AppendValue(nil, b)
			if err != nil {
				t.Fatal(err)
			}
			gotV, err := rr.AppendValue([]byte("pre"), i)
			if err != nil || !bytes.Equal(gotV, append([]byte("pre"), wantV...)) {
				t.Fatalf("slice %v row %d: AppendValue %x, %v; want %x", sl, i, gotV, err, wantV)
			}
			wantK, err := s.AppendKey(nil, b)
			if err != nil {
				t.Fatal(err)
			}
			gotK, err := rr.AppendKey(nil, i)
			if err != nil || !bytes.Equal(gotK, wantK) {
				t.Fatalf("slice %v row %d: AppendKey %x, %v; want %x", sl, i, gotK, err, wantK)
			}
		}
		if err := rr.Row(int(sub.NumRows()), &a); err == nil {
			t.Fatalf("slice %v: row past the end read without error", sl)
		}
		sub.Release()
	}
	// A schema that declares a column with nulls not nullable, or keys a
	// nullable column, fails like Schema.AppendValue / AppendKey.
	cols := s.Columns()
	cols[4].Nullable = false // str
	strict := row.MustSchema(cols, []string{"i32"}, 1)
	srr, err := strict.NewRecordReader(rec)
	if err != nil {
		t.Fatal(err)
	}
	var sawValueErr, sawKeyErr bool
	for i := range rows {
		_, errR := srr.AppendValue(nil, i)
		_, errS := strict.AppendValue(nil, rows[i])
		if (errR == nil) != (errS == nil) || (errR != nil && errR.Error() != errS.Error()) {
			t.Fatalf("row %d: reader %v, schema %v", i, errR, errS)
		}
		sawValueErr = sawValueErr || errR != nil
		_, errR = srr.AppendKey(nil, i)
		_, errS = strict.AppendKey(nil, rows[i])
		if (errR == nil) != (errS == nil) || (errR != nil && !errors.Is(errR, row.ErrKeyNull)) {
			t.Fatalf("row %d key: reader %v, schema %v", i, errR, errS)
		}
		sawKeyErr = sawKeyErr || errR != nil
	}
	if !sawValueErr || !sawKeyErr {
		t.Fatalf("no null-in-non-nullable error (%v) or null key error (%v) seen", sawValueErr, sawKeyErr)
	}
	other := row.MustSchema([]row.Column{{Name: "x", Type: row.Int64}}, nil, 1)
	if _, err := other.NewRecordReader(rec); err == nil {
		t.Fatal("a record with the wrong number of columns was accepted")
	}
}

func BenchmarkRecordReader(b *testing.B) {
	s, r := tenColumnSchema()
	rows := make([]row.Row, 4096)
	for i := range rows {
		rows[i] = r
	}
	rec, err := s.RowsToRecord(memory.DefaultAllocator, rows)
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Release()
	var out row.Row
	b.Run("RecordReader", func(b *testing.B) {
		rr, err := s.NewRecordReader(rec)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; b.Loop(); i++ {
			if err := rr.Row(i%len(rows), &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RowFromRecord", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := s.RowFromRecord(rec, i%len(rows), &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
