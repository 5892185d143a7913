package coldstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

var everyType = row.MustSchema([]row.Column{
	{Name: "b", Type: row.Bool, Nullable: true},
	{Name: "i32", Type: row.Int32, Nullable: true},
	{Name: "i64", Type: row.Int64, Nullable: true},
	{Name: "f32", Type: row.Float32, Nullable: true},
	{Name: "f64", Type: row.Float64, Nullable: true},
	{Name: "s", Type: row.String, Nullable: true},
	{Name: "bin", Type: row.Binary, Nullable: true},
	{Name: "d", Type: row.Date32, Nullable: true},
	{Name: "ts_ms", Type: row.Timestamp(row.Millisecond, ""), Nullable: true},
	{Name: "ts_us", Type: row.Timestamp(row.Microsecond, "UTC"), Nullable: true},
	{Name: "dec", Type: row.Decimal(38, 6), Nullable: true},
}, nil, 1)

func everyTypeRows() []row.Row {
	var rows []row.Row
	for i := int64(0); i < 257; i++ {
		r := row.New(row.BoolValue(i%2 == 0), row.Int32Value(int32(-i)), row.Int64Value(i<<40), row.Float32Value(float32(i)/4),
			row.Float64Value(float64(i)/3), row.StringValue(strings.Repeat("x", int(i%7))), row.BinaryValue([]byte{byte(i), 0}),
			row.Date32Value(int32(i)), row.TimestampValue(-i), row.TimestampValue(i*1_000_001), row.DecimalValue(decimal128.New(-int64(i), uint64(i))))
		if i%5 == 0 {
			r.Values[int(i)%len(r.Values)] = row.NullValue()
		}
		rows = append(rows, r)
	}
	return rows
}

func readAll(t *testing.T, src coldstore.Source) []row.Row {
	t.Helper()
	var out []row.Row
	var r row.Row
	for {
		err := src.Next(context.Background(), &r)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Clone())
	}
}

func TestParquetRoundTripsEveryType(t *testing.T) {
	dir := t.TempDir()
	rows := everyTypeRows()
	p1 := filepath.Join(dir, "a.parquet")
	if err := coldstore.WriteParquet(context.Background(), p1, everyType, rows[:100], &coldstore.ParquetWriterOptions{RowGroupRows: 30}); err != nil {
		t.Fatal(err)
	}
	p2 := filepath.Join(dir, "b.parquet")
	if err := coldstore.WriteParquet(context.Background(), p2, everyType, rows[100:], &coldstore.ParquetWriterOptions{Uncompressed: true}); err != nil {
		t.Fatal(err)
	}
	src, err := coldstore.OpenParquet(context.Background(), p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Rows() != int64(len(rows)) {
		t.Fatalf("Rows() = %d", src.Rows())
	}
	got := src.Schema()
	for i := 0; i < everyType.Len(); i++ {
		if got.Column(i).Name != everyType.Column(i).Name || got.Column(i).Type != everyType.Column(i).Type {
			t.Fatalf("column %d: %+v, want %+v", i, got.Column(i), everyType.Column(i))
		}
	}
	read := readAll(t, src)
	if len(read) != len(rows) {
		t.Fatalf("read %d rows, want %d", len(read), len(rows))
	}
	for i := range rows {
		if !read[i].Equal(rows[i]) {
			t.Fatalf("row %d: %s, want %s", i, read[i].Format(everyType), rows[i].Format(everyType))
		}
	}
	if read, total := src.InputBytes(); read != total || total <= 0 {
		t.Fatalf("InputBytes = %d, %d at the end", read, total)
	}
	if err := src.Next(context.Background(), &row.Row{}); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after the end: %v", err)
	}
}

func TestParquetPositionNamesFileRowGroupAndRow(t *testing.T) {
	dir := t.TempDir()
	p := writeParquet(t, dir, "o.parquet", ordersSchema, ordersRows(0, 250, "p"))
	src, err := coldstore.OpenParquet(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var r row.Row
	for i := 0; i <= 123; i++ {
		if err := src.Next(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
	}
	if want := p + ": row group 1, row 23 (row 123 of the file)"; src.Position() != want {
		t.Fatalf("Position() = %q, want %q", src.Position(), want)
	}
}

// TestParquetWidensHiveTypes reads a file written straight with pqarrow
// with types hotcold widens: int8, int16, uint32, timestamp[s], timestamp[ns].
func TestParquetWidensHiveTypes(t *testing.T) {
	mem := memory.DefaultAllocator
	as := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int16},
		{Name: "tiny", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "u", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
		{Name: "ts_s", Type: &arrow.TimestampType{Unit: arrow.Second}, Nullable: true},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, as)
	defer b.Release()
	b.Field(0).(*array.Int16Builder).AppendValues([]int16{-3, 7}, nil)
	b.Field(1).(*array.Int8Builder).AppendValues([]int8{-128, 0}, []bool{true, false})
	b.Field(2).(*array.Uint32Builder).AppendValues([]uint32{4_000_000_000, 1}, nil)
	b.Field(3).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1_700_000_000, -1}, nil)
	b.Field(4).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1_700_000_000_123_456_789, -1}, nil)
	rec := b.NewRecord()
	defer rec.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(as, &buf, nil, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	// (the stored Arrow schema is ignored by the reader: the Parquet types
	// say int8, int16, uint32 and timestamps in s and ns as well)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "hive.parquet")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := coldstore.OpenParquet(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := src.Schema()
	want := []row.Type{row.Int32, row.Int32, row.Int64, row.Timestamp(row.Millisecond, ""), row.Timestamp(row.Microsecond, "UTC")}
	for i, w := range want {
		if s.Column(i).Type != w {
			t.Errorf("column %q is %s, want %s", s.Column(i).Name, s.Column(i).Type, w)
		}
	}
	rows := readAll(t, src)
	wantRows := []row.Row{
		row.New(row.Int32Value(-3), row.Int32Value(-128), row.Int64Value(4_000_000_000), row.TimestampValue(1_700_000_000_000), row.TimestampValue(1_700_000_000_123_456)),
		row.New(row.Int32Value(7), row.NullValue(), row.Int64Value(1), row.TimestampValue(-1000), row.TimestampValue(-1)),
	}
	for i := range wantRows {
		if !rows[i].Equal(wantRows[i]) {
			t.Errorf("row %d: %s, want %s", i, rows[i].Format(s), wantRows[i].Format(s))
		}
	}
}

func TestOpenParquetRejectsBadInputs(t *testing.T) {
	dir := t.TempDir()
	a := writeParquet(t, dir, "a.parquet", ordersSchema, ordersRows(0, 3, "a"))
	other := writeParquet(t, dir, "other.parquet", wideSchema, []row.Row{wideRow(1, "c")})
	for _, tc := range []struct {
		name  string
		paths []string
		want  string
	}{
		{"no files", nil, "no Parquet files"},
		{"missing file", []string{filepath.Join(dir, "nope.parquet")}, "no such file"},
		{"directory", []string{dir}, "is a directory"},
		{"different columns", []string{a, other}, "other.parquet: has 5 columns, want 4 (the first file is " + a + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := coldstore.OpenParquet(context.Background(), tc.paths...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParquetWriterRejectsRowsOfAnotherSchema(t *testing.T) {
	var buf bytes.Buffer
	w, err := coldstore.NewParquetWriter(&buf, ordersSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(row.New(row.StringValue("not an id"), row.NullValue(), row.NullValue(), row.NullValue())); err == nil || !strings.Contains(err.Error(), `"order_id"`) {
		t.Fatalf("Write of a mistyped row: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed Write succeeded")
	}
	// WriteParquet leaves no file behind on error
	p := filepath.Join(t.TempDir(), "x.parquet")
	if err := coldstore.WriteParquet(context.Background(), p, ordersSchema, []row.Row{row.New(row.Int64Value(1))}, nil); err == nil {
		t.Fatal("WriteParquet of a short row succeeded")
	}
	if ents, _ := os.ReadDir(filepath.Dir(p)); len(ents) != 0 {
		t.Fatalf("WriteParquet left %d files behind", len(ents))
	}
}

// FuzzParquetSource feeds damaged Parquet files to the reader: every
// outcome must be rows or an error, never a panic or a hang.
func FuzzParquetSource(f *testing.F) {
	dir := f.TempDir()
	for i, rows := range [][]row.Row{ordersRows(0, 5, "f"), ordersRows(0, 300, "g")} {
		p := writeParquet(f, dir, "seed"+itoa(int64(i))+".parquet", ordersSchema, rows)
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	p := filepath.Join(dir, "every.parquet")
	if err := coldstore.WriteParquet(context.Background(), p, everyType, everyTypeRows()[:20], nil); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	f.Add(b)
	f.Add([]byte("PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "fuzz.parquet")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			src, err := coldstore.OpenParquet(context.Background(), p)
			if err != nil {
				return
			}
			defer src.Close()
			var r row.Row
			for i := 0; i < 100000; i++ {
				if err := src.Next(context.Background(), &r); err != nil {
					return
				}
			}
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("reading the file hangs")
		}
	})
}
