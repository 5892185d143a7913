package coldstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

func openPebble(t testing.TB, dir string, o *coldstore.PebbleOptions) *coldstore.Pebble {
	t.Helper()
	if o == nil {
		o = &coldstore.PebbleOptions{}
	}
	if o.CacheSize == 0 {
		o.CacheSize = 8 << 20
	}
	p, err := coldstore.OpenPebble(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestPebbleLoadPublishesParquetVersion(t *testing.T) {
	dir := t.TempDir()
	f1 := writeParquet(t, dir, "part-0.parquet", ordersSchema, ordersRows(0, 500, "a"))
	f2 := writeParquet(t, dir, "part-1.parquet", ordersSchema, ordersRows(500, 1000, "a"))
	p := openPebble(t, t.TempDir(), nil)
	var phases []string
	src, err := coldstore.OpenParquet(context.Background(), f1, f2)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cu := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	res, err := p.Load(context.Background(), coldstore.LoadSpec{
		Table: "orders", Version: "dt=2026-11-22", Key: []string{"order_id"}, CoversUntil: cu, Source: src,
		Progress: func(lp coldstore.LoadProgress) { phases = append(phases, lp.Phase) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 1000 || res.Duplicates != 0 || res.Version != "dt=2026-11-22" || res.Bytes <= 0 || res.InputBytes <= 0 || res.SchemaVersion != 1 {
		t.Fatalf("LoadResult = %+v", res)
	}
	if len(phases) == 0 || phases[len(phases)-1] != "done" {
		t.Fatalf("progress phases %v, want a final done", phases)
	}
	for _, id := range []int64{0, 499, 500, 999} {
		wantCustomer(t, p, "orders", id, "a-"+itoa(id))
	}
	wantCustomer(t, p, "orders", 1000, "")
	ti, err := p.Describe(context.Background(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if !ti.CoversUntil.Equal(cu) || ti.Rows != 1000 || fmt.Sprint(ti.Schema.KeyNames()) != "[order_id]" {
		t.Fatalf("Describe = %+v", ti)
	}
	vs, err := p.Versions(context.Background(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || !vs[0].Live || fmt.Sprint(vs[0].Sources) != fmt.Sprint([]string{f1, f2}) {
		t.Fatalf("Versions = %+v", vs)
	}
}

func TestPebbleReopenServesTheLiveVersion(t *testing.T) {
	dir, store := t.TempDir(), t.TempDir()
	f := writeParquet(t, dir, "o.parquet", ordersSchema, ordersRows(0, 50, "x"))
	p, err := coldstore.OpenPebble(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustLoad(t, p, "orders", "v1", []string{"order_id"}, f)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPebble(t, store, nil)
	wantCustomer(t, p, "orders", 7, "x-7")
	if _, live := versionNames(t, p, "orders"); live != "v1" {
		t.Fatalf("live %q after reopen", live)
	}
}

// TestPebbleLoadMatchesAModel loads random rows with many duplicate keys
// (string keys sharing long prefixes, so that abbreviated keys tie),
// through the in-memory path and through spilled runs, and checks every
// key against a map that applied the rows in input order.
func TestPebbleLoadMatchesAModel(t *testing.T) {
	s := row.MustSchema([]row.Column{
		{Name: "k", Type: row.String},
		{Name: "seq", Type: row.Int64},
	}, []string{"k"}, 1)
	rng := rand.New(rand.NewPCG(7, 7))
	var rows []row.Row
	model := map[string]int64{}
	for i := 0; i < 30000; i++ {
		k := fmt.Sprintf("customer-%04d", rng.IntN(9000))
		if i%10 == 0 {
			k = fmt.Sprintf("c%d", rng.IntN(50)) // short keys
		}
		rows = append(rows, row.New(row.StringValue(k), row.Int64Value(int64(i))))
		model[k] = int64(i)
	}
	for _, tc := range []struct {
		name   string
		budget int64
		spill  bool
	}{{"in memory", 0, false}, {"spilled", 64 << 10, true}} {
		t.Run(tc.name, func(t *testing.T) {
			p := openPebble(t, t.TempDir(), &coldstore.PebbleOptions{LoadWorkers: 3, SSTableSize: 32 << 10})
			res, err := p.Load(context.Background(), coldstore.LoadSpec{
				Table: "m", Version: "v1", Key: []string{"k"}, Source: coldstore.RowSource(s, rows), MemoryBudget: tc.budget,
			})
			if err != nil {
				t.Fatal(err)
			}
			if (res.SpilledRuns > 0) != tc.spill {
				t.Fatalf("spilled %d runs", res.SpilledRuns)
			}
			if res.Rows != int64(len(model)) || res.Rows+res.Duplicates != int64(len(rows)) {
				t.Fatalf("rows %d duplicates %d, want %d distinct of %d", res.Rows, res.Duplicates, len(model), len(rows))
			}
			keys := make([]string, 0, len(model))
			for k := range model {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			lookups := make([][]row.Value, len(keys))
			for i, k := range keys {
				lookups[i] = []row.Value{row.StringValue(k)}
			}
			got, err := p.MultiGet(context.Background(), "m", lookups)
			if err != nil {
				t.Fatal(err)
			}
			for i, k := range keys {
				if !got[i].Found || got[i].Row.Values[1].Int64() != model[k] {
					t.Fatalf("key %q: found %v row %v, want seq %d", k, got[i].Found, got[i].Row, model[k])
				}
			}
			n, err := coldstore.CountKeys(p, "d/m/")
			if err != nil {
				t.Fatal(err)
			}
			if n != len(model) {
				t.Fatalf("%d data keys, want %d", n, len(model))
			}
		})
	}
}

func TestPebbleDuplicateKeysLastOneWinsAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	f1 := writeParquet(t, dir, "a.parquet", ordersSchema, append(ordersRows(0, 10, "first"), orderRow(3, "first-again")))
	f2 := writeParquet(t, dir, "b.parquet", ordersSchema, []row.Row{orderRow(5, "second"), orderRow(3, "last")})
	p := openPebble(t, t.TempDir(), nil)
	res := mustLoad(t, p, "orders", "v1", []string{"order_id"}, f1, f2)
	if res.Rows != 10 || res.Duplicates != 3 {
		t.Fatalf("rows %d duplicates %d, want 10 and 3", res.Rows, res.Duplicates)
	}
	wantCustomer(t, p, "orders", 3, "last")
	wantCustomer(t, p, "orders", 5, "second")
	wantCustomer(t, p, "orders", 4, "first-4")
}

func TestPebbleRetentionKeepsTheLastNVersions(t *testing.T) {
	dir := t.TempDir()
	p := openPebble(t, t.TempDir(), &coldstore.PebbleOptions{KeepVersions: 2})
	var res coldstore.LoadResult
	for i := 1; i <= 4; i++ {
		f := writeParquet(t, dir, fmt.Sprintf("v%d.parquet", i), ordersSchema, ordersRows(0, int64(10*i), fmt.Sprintf("v%d", i)))
		res = mustLoad(t, p, "orders", fmt.Sprintf("v%d", i), []string{"order_id"}, f)
	}
	if fmt.Sprint(res.Dropped) != "[v2]" {
		t.Fatalf("last load dropped %v, want [v2]", res.Dropped)
	}
	names, live := versionNames(t, p, "orders")
	if fmt.Sprint(names) != "[v4 v3]" || live != "v4" {
		t.Fatalf("versions %v live %q, want [v4 v3] live v4", names, live)
	}
	n, err := coldstore.CountKeys(p, "d/orders/")
	if err != nil {
		t.Fatal(err)
	}
	if n != 40+30 {
		t.Fatalf("%d data keys after retention, want 70 (v4 and v3 only)", n)
	}
}

func TestPebbleRollback(t *testing.T) {
	dir, store := t.TempDir(), t.TempDir()
	p, err := coldstore.OpenPebble(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustLoad(t, p, "orders", "v1", []string{"order_id"}, writeParquet(t, dir, "1.parquet", ordersSchema, ordersRows(0, 5, "one")))
	mustLoad(t, p, "orders", "v2", []string{"order_id"}, writeParquet(t, dir, "2.parquet", ordersSchema, ordersRows(0, 5, "two")))
	ti, err := p.Rollback(ctx, "orders", "")
	if err != nil {
		t.Fatal(err)
	}
	if ti.Version != "v1" {
		t.Fatalf("rolled back to %q, want v1", ti.Version)
	}
	wantCustomer(t, p, "orders", 1, "one-1")
	if _, err := p.Rollback(ctx, "orders", ""); err == nil || !strings.Contains(err.Error(), "no version older") {
		t.Fatalf("rollback past the oldest version: %v", err)
	}
	if _, err := p.Rollback(ctx, "orders", "v9"); err == nil || !strings.Contains(err.Error(), "not retained (retained: v2, v1)") {
		t.Fatalf("rollback to an unknown version: %v", err)
	}
	if _, err := p.Rollback(ctx, "nope", ""); !errors.Is(err, coldstore.ErrNoTable) {
		t.Fatalf("rollback of an unknown table: %v", err)
	}
	// survives a restart, and can roll forward
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPebble(t, store, nil)
	wantCustomer(t, p, "orders", 1, "one-1")
	if _, err := p.Rollback(ctx, "orders", "v2"); err != nil {
		t.Fatal(err)
	}
	wantCustomer(t, p, "orders", 1, "two-1")
	// a load after a rollback publishes on top
	mustLoad(t, p, "orders", "v3", []string{"order_id"}, writeParquet(t, dir, "3.parquet", ordersSchema, ordersRows(0, 5, "three")))
	names, live := versionNames(t, p, "orders")
	if fmt.Sprint(names) != "[v3 v2 v1]" || live != "v3" {
		t.Fatalf("versions %v live %q", names, live)
	}
}

func TestPebbleLoadOfAnExistingVersionFails(t *testing.T) {
	dir := t.TempDir()
	p := openPebble(t, t.TempDir(), nil)
	f := writeParquet(t, dir, "o.parquet", ordersSchema, ordersRows(0, 5, "x"))
	mustLoad(t, p, "orders", "v1", []string{"order_id"}, f)
	_, err := loadFiles(t, p, "orders", "v1", []string{"order_id"}, f)
	wantErr(t, err, coldstore.ErrVersionExists)
}

// badInputCase is a load that must fail with a message naming where, and
// leave the live version and the data untouched.
type badInputCase struct {
	name  string
	key   []string
	allow bool
	files func(t *testing.T, dir string) []string
	want  []string // substrings of the error
	is    error
}

var badInputCases = []badInputCase{
	{
		name: "missing key column", key: []string{"order_idd"},
		files: func(t *testing.T, dir string) []string {
			return []string{writeParquet(t, dir, "o.parquet", ordersSchema, ordersRows(0, 5, "y"))}
		},
		want: []string{`key column "order_idd"`, "o.parquet", "order_id, customer, amount, ts"},
	},
	{
		name: "changed column type", key: []string{"order_id"},
		files: func(t *testing.T, dir string) []string {
			s := row.MustSchema([]row.Column{
				{Name: "order_id", Type: row.Int64, Nullable: true}, {Name: "customer", Type: row.Int64, Nullable: true},
				{Name: "amount", Type: row.Decimal(18, 2), Nullable: true}, {Name: "ts", Type: row.Timestamp(row.Millisecond, ""), Nullable: true},
			}, nil, 1)
			return []string{writeParquet(t, dir, "typed.parquet", s, []row.Row{row.New(row.Int64Value(1), row.Int64Value(2), row.NullValue(), row.NullValue())})}
		},
		want: []string{"typed.parquet", `column "customer" is int64 instead of string`},
		is:   coldstore.ErrSchemaChanged,
	},
	{
		name: "appended column without --allow-schema-change", key: []string{"order_id"},
		files: func(t *testing.T, dir string) []string {
			return []string{writeParquet(t, dir, "wide.parquet", wideSchema, []row.Row{wideRow(1, "z")})}
		},
		want: []string{"wide.parquet", "1 more column(s) (coupon)", "--allow-schema-change"},
		is:   coldstore.ErrSchemaChanged,
	},
	{
		name: "dropped column even with --allow-schema-change", key: []string{"order_id"}, allow: true,
		files: func(t *testing.T, dir string) []string {
			s := row.MustSchema([]row.Column{{Name: "order_id", Type: row.Int64, Nullable: true}, {Name: "customer", Type: row.String, Nullable: true}}, nil, 1)
			return []string{writeParquet(t, dir, "narrow.parquet", s, []row.Row{row.New(row.Int64Value(1), row.StringValue("n"))})}
		},
		want: []string{"narrow.parquet", "fewer column(s) (missing amount, ts)"},
		is:   coldstore.ErrSchemaChanged,
	},
	{
		name: "null key in the second file", key: []string{"order_id"},
		files: func(t *testing.T, dir string) []string {
			rows := ordersRows(0, 250, "n")
			rows[234] = row.New(row.NullValue(), row.StringValue("no id"), row.NullValue(), row.NullValue())
			return []string{
				writeParquet(t, dir, "good.parquet", ordersSchema, ordersRows(1000, 1100, "g")),
				writeParquet(t, dir, "nullkey.parquet", ordersSchema, rows),
			}
		},
		want: []string{"nullkey.parquet: row group 2, row 34 (row 234 of the file)", `column "order_id"`, "key column is null"},
	},
	{
		name: "corrupt file", key: []string{"order_id"},
		files: func(t *testing.T, dir string) []string {
			p := writeParquet(t, dir, "corrupt.parquet", ordersSchema, ordersRows(0, 300, "c"))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for i := 200; i < len(b)/2; i += 7 { // damage data pages, keep the footer
				b[i] ^= 0x5a
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{p}
		},
		want: []string{"corrupt.parquet"},
	},
	{
		name: "truncated file", key: []string{"order_id"},
		files: func(t *testing.T, dir string) []string {
			p := writeParquet(t, dir, "cut.parquet", ordersSchema, ordersRows(0, 300, "c"))
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, b[:len(b)-20], 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{p}
		},
		want: []string{"cut.parquet", "not a Parquet file or corrupt footer"},
	},
	{
		name: "not a Parquet file", key: []string{"order_id"},
		files: func(t *testing.T, dir string) []string {
			p := filepath.Join(dir, "orders.csv")
			if err := os.WriteFile(p, []byte("order_id,customer\n1,a\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{p}
		},
		want: []string{"orders.csv", "not a Parquet file"},
	},
}

var wideSchema = row.MustSchema(append(ordersSchema.Columns(), row.Column{Name: "coupon", Type: row.String, Nullable: true}), nil, 1)

func wideRow(id int64, coupon string) row.Row {
	r := orderRow(id, "wide-"+itoa(id))
	r.Values = append(r.Values, row.StringValue(coupon))
	return r
}

func testBadInput(t *testing.T, b coldstore.Backend, countData func() int) {
	dir := t.TempDir()
	good := writeParquet(t, dir, "good-v1.parquet", ordersSchema, ordersRows(0, 20, "live"))
	mustLoad(t, b, "orders", "v1", []string{"order_id"}, good)
	before := countData()
	for _, tc := range badInputCases {
		t.Run(tc.name, func(t *testing.T) {
			files := tc.files(t, t.TempDir())
			ctx := context.Background()
			var err error
			src, oerr := coldstore.OpenParquet(ctx, files...)
			if oerr != nil {
				err = oerr
			} else {
				_, err = b.Load(ctx, coldstore.LoadSpec{Table: "orders", Version: "bad", Key: tc.key, Source: src, AllowSchemaChange: tc.allow})
				src.Close()
			}
			if err == nil {
				t.Fatal("load succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			names, live := versionNames(t, b, "orders")
			if fmt.Sprint(names) != "[v1]" || live != "v1" {
				t.Fatalf("after a failed load: versions %v live %q", names, live)
			}
			wantCustomer(t, b, "orders", 3, "live-3")
			if n := countData(); n != before {
				t.Fatalf("%d data keys after a failed load, want %d", n, before)
			}
		})
	}
}

func TestPebbleBadInputLeavesTheLiveVersion(t *testing.T) {
	p := openPebble(t, t.TempDir(), nil)
	testBadInput(t, p, func() int {
		n, err := coldstore.CountKeys(p, "d/")
		if err != nil {
			t.Fatal(err)
		}
		return n
	})
}

func TestPebbleAllowedSchemaChangeAppendsNullableColumns(t *testing.T) {
	dir := t.TempDir()
	p := openPebble(t, t.TempDir(), nil)
	mustLoad(t, p, "orders", "v1", []string{"order_id"}, writeParquet(t, dir, "1.parquet", ordersSchema, ordersRows(0, 5, "old")))
	src, err := coldstore.OpenParquet(context.Background(), writeParquet(t, dir, "2.parquet", wideSchema, []row.Row{wideRow(1, "SAVE10")}))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	res, err := p.Load(context.Background(), coldstore.LoadSpec{Table: "orders", Version: "v2", Key: []string{"order_id"}, Source: src, AllowSchemaChange: true, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.SchemaVersion != 2 {
		t.Fatalf("schema version %d, want 2", res.SchemaVersion)
	}
	r := mustGetOrder(t, p, "orders", 1)
	if !r.Found || r.Row.Values[4].Str() != "SAVE10" {
		t.Fatalf("row %v", r.Row)
	}
	// rolling back serves the old schema again
	ti, err := p.Rollback(context.Background(), "orders", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if ti.Schema.Len() != 4 {
		t.Fatalf("schema after rollback: %v", ti.Schema)
	}
	wantCustomer(t, p, "orders", 1, "old-1")
}

func TestOpenPebbleRejectsBadOptionsLockedAndForeignDirectories(t *testing.T) {
	dir := t.TempDir()
	if _, err := coldstore.OpenPebble(dir, &coldstore.PebbleOptions{CacheSize: -1, KeepVersions: -2}); err == nil ||
		!strings.Contains(err.Error(), "CacheSize") || !strings.Contains(err.Error(), "KeepVersions") {
		t.Fatalf("invalid options: %v", err)
	}
	openPebble(t, dir, nil)
	if _, err := coldstore.OpenPebble(dir, nil); !errors.Is(err, coldstore.ErrLocked) || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second open of a locked store: %v", err)
	}
	// a Pebble database that is not a cold store (e.g. job state)
	foreign := t.TempDir()
	db, err := pebble.Open(foreign, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("state/key"), []byte("v"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := coldstore.OpenPebble(foreign, nil); err == nil || !strings.Contains(err.Error(), "not a hotcold cold store") {
		t.Fatalf("open of a foreign Pebble database: %v", err)
	}
}

func TestPebbleCloseStopsALoadAndReopenIsClean(t *testing.T) {
	store := t.TempDir()
	p, err := coldstore.OpenPebble(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := row.MustSchema([]row.Column{{Name: "id", Type: row.Int64}}, []string{"id"}, 1)
	started := make(chan struct{})
	src := &blockingSource{s: s, started: started}
	done := make(chan error, 1)
	go func() {
		_, err := p.Load(context.Background(), coldstore.LoadSpec{Table: "t", Version: "v1", Key: []string{"id"}, Source: src})
		done <- err
	}()
	<-started
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("load survived Close")
	}
	p = openPebble(t, store, nil)
	if ts, err := p.Tables(context.Background()); err != nil || len(ts) != 0 {
		t.Fatalf("tables after an interrupted first load: %v %v", ts, err)
	}
}

// blockingSource yields rows until its context ends.
type blockingSource struct {
	s       *row.Schema
	n       int64
	started chan struct{}
	once    sync.Once
}

func (b *blockingSource) Schema() *row.Schema { return b.s }
func (b *blockingSource) Next(ctx context.Context, r *row.Row) error {
	b.once.Do(func() { close(b.started) })
	if b.n > 1000 {
		<-ctx.Done()
		return ctx.Err()
	}
	b.n++
	r.Values = append(r.Values[:0], row.Int64Value(b.n))
	return nil
}
func (b *blockingSource) Position() string { return fmt.Sprintf("row %d", b.n) }
func (b *blockingSource) Close() error     { return nil }

func TestPebbleMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	p := openPebble(t, t.TempDir(), &coldstore.PebbleOptions{Registerer: reg})
	mustLoad(t, p, "orders", "v1", []string{"order_id"}, writeParquet(t, dir, "o.parquet", ordersSchema, append(ordersRows(0, 10, "m"), orderRow(1, "dup"))))
	wantCustomer(t, p, "orders", 1, "dup")
	wantCustomer(t, p, "orders", 99, "")
	if _, err := p.MultiGet(context.Background(), "orders", [][]row.Value{{row.Int64Value(2)}, {row.Int64Value(77)}}); err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	for k, want := range map[string]float64{
		`hotcold_coldstore_load_duplicates_total{backend="pebble"}`:              1,
		`hotcold_coldstore_load_rows_total{backend="pebble"}`:                    10,
		`hotcold_coldstore_loads_total{backend="pebble",result="ok"}`:            1,
		`hotcold_coldstore_lookup_misses_total{backend="pebble",table="orders"}`: 2,
		`hotcold_coldstore_lookups_total{backend="pebble",table="orders"}`:       4,
		`hotcold_coldstore_load_seconds_count{backend="pebble"}`:                 1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	// a second store on the same registry shares the collectors
	openPebble(t, t.TempDir(), &coldstore.PebbleOptions{Registerer: reg})
}

// gather returns every sample of reg as "name{label="v",...}" -> value
// (histograms as name_count).
func gather(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var b bytes.Buffer
			for i, l := range m.GetLabel() {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%s=%q", l.GetName(), l.GetValue())
			}
			name := mf.GetName()
			v := 0.0
			switch {
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Histogram != nil:
				name += "_count"
				v = float64(m.GetHistogram().GetSampleCount())
			}
			out[name+"{"+b.String()+"}"] = v
		}
	}
	return out
}

func TestPebbleLoadChecksAnExpectedSchema(t *testing.T) {
	dir := t.TempDir()
	p := openPebble(t, t.TempDir(), nil)
	f := writeParquet(t, dir, "o.parquet", ordersSchema, append(ordersRows(0, 3, "s"), row.New(row.Int64Value(9), row.NullValue(), row.NullValue(), row.NullValue())))
	load := func(s *row.Schema) error {
		src, err := coldstore.OpenParquet(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		_, err = p.Load(context.Background(), coldstore.LoadSpec{Table: "orders", Version: "v1", Key: []string{"order_id"}, Source: src, Schema: s})
		return err
	}
	wrongType := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64}, {Name: "customer", Type: row.Binary, Nullable: true},
		{Name: "amount", Type: row.Decimal(18, 2), Nullable: true}, {Name: "ts", Type: row.Timestamp(row.Millisecond, ""), Nullable: true},
	}, nil, 1)
	if err := load(wrongType); !errors.Is(err, coldstore.ErrSchemaChanged) || !strings.Contains(err.Error(), "column 1 is customer string, want customer binary") {
		t.Fatalf("load with a mistyped expected schema: %v", err)
	}
	notNull := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64}, {Name: "customer", Type: row.String},
		{Name: "amount", Type: row.Decimal(18, 2), Nullable: true}, {Name: "ts", Type: row.Timestamp(row.Millisecond, ""), Nullable: true},
	}, nil, 1)
	err := load(notNull)
	var ie *coldstore.InputError
	if !errors.As(err, &ie) || ie.Column != "customer" || !strings.Contains(ie.Position, "row 3") {
		t.Fatalf("a null in a column the expected schema declares not null: %v", err)
	}
	nullable := row.MustSchema(ordersSchema.Columns(), nil, 1)
	if err := load(nullable); err != nil {
		t.Fatal(err)
	}
	ti, _ := p.Describe(context.Background(), "orders")
	if ti.Schema.Column(1).Nullable != true {
		t.Fatalf("schema %v", ti.Schema)
	}
}

// TestPebbleCompressionOptions loads and reads back with every sstable
// compression, and rejects an unknown one.
func TestPebbleCompressionOptions(t *testing.T) {
	rows := pinRows(2000, "c")
	for _, c := range []string{"", "fastest", "snappy", "zstd", "none"} {
		p := openPebble(t, t.TempDir(), &coldstore.PebbleOptions{Compression: c, PinMemory: -1})
		loadRows(t, p, "t", "v1", rows)
		for _, i := range []int{0, 999, 1999} {
			got, err := p.Get(context.Background(), "t", pinKey(i))
			if err != nil || !got.Found || !got.Row.Equal(rows[i]) {
				t.Fatalf("compression %q key %d: %v %v %v", c, i, got.Found, got.Row, err)
			}
		}
	}
	if _, err := coldstore.OpenPebble(t.TempDir(), &coldstore.PebbleOptions{Compression: "lz5"}); err == nil || !strings.Contains(err.Error(), "zstd") {
		t.Fatalf("Compression lz5: %v, want an error listing the choices", err)
	}
}
