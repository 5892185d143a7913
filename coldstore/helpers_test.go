package coldstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

// ordersSchema is the schema of the orders fixtures (no key: loads name it).
var ordersSchema = row.MustSchema([]row.Column{
	{Name: "order_id", Type: row.Int64, Nullable: true},
	{Name: "customer", Type: row.String, Nullable: true},
	{Name: "amount", Type: row.Decimal(18, 2), Nullable: true},
	{Name: "ts", Type: row.Timestamp(row.Millisecond, ""), Nullable: true},
}, nil, 1)

func orderRow(id int64, customer string) row.Row {
	return row.New(row.Int64Value(id), row.StringValue(customer), row.DecimalValue(decimal128.FromI64(id*100+7)), row.TimestampValue(1_763_000_000_000+id))
}

// ordersRows returns rows with ids [from, to) whose customer is tag-id.
func ordersRows(from, to int64, tag string) []row.Row {
	var rows []row.Row
	for id := from; id < to; id++ {
		rows = append(rows, orderRow(id, tag+"-"+itoa(id)))
	}
	return rows
}

func itoa(n int64) string { return string(row.Int64Value(n).Format(row.Int64)) }

// writeParquet writes rows to dir/name with small row groups and returns
// the path.
func writeParquet(t testing.TB, dir, name string, s *row.Schema, rows []row.Row) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := coldstore.WriteParquet(context.Background(), p, s, rows, &coldstore.ParquetWriterOptions{RowGroupRows: 100}); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadFiles loads Parquet files as a version of table.
func loadFiles(t testing.TB, b coldstore.Backend, table, version string, key []string, files ...string) (coldstore.LoadResult, error) {
	t.Helper()
	ctx := context.Background()
	src, err := coldstore.OpenParquet(ctx, files...)
	if err != nil {
		return coldstore.LoadResult{}, err
	}
	defer src.Close()
	return b.Load(ctx, coldstore.LoadSpec{Table: table, Version: version, Key: key, Source: src, CoversUntil: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)})
}

func mustLoad(t testing.TB, b coldstore.Backend, table, version string, key []string, files ...string) coldstore.LoadResult {
	t.Helper()
	res, err := loadFiles(t, b, table, version, key, files...)
	if err != nil {
		t.Fatalf("load %s %s: %v", table, version, err)
	}
	return res
}

func mustGetOrder(t testing.TB, s coldstore.Store, table string, id int64) coldstore.Result {
	t.Helper()
	r, err := s.Get(context.Background(), table, []row.Value{row.Int64Value(id)})
	if err != nil {
		t.Fatalf("Get(%s, %d): %v", table, id, err)
	}
	return r
}

func wantCustomer(t testing.TB, s coldstore.Store, table string, id int64, want string) {
	t.Helper()
	r := mustGetOrder(t, s, table, id)
	if want == "" {
		if r.Found {
			t.Fatalf("%s[%d] = %v, want missing", table, id, r.Row)
		}
		return
	}
	if !r.Found {
		t.Fatalf("%s[%d] missing, want customer %q", table, id, want)
	}
	if got := r.Row.Values[1].Str(); got != want {
		t.Fatalf("%s[%d].customer = %q, want %q", table, id, got, want)
	}
}

func versionNames(t testing.TB, b coldstore.Backend, table string) (names []string, live string) {
	t.Helper()
	vs, err := b.Versions(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		names = append(names, v.Version)
		if v.Live {
			live = v.Version
		}
	}
	return names, live
}

func wantErr(t testing.TB, err error, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}
