// Package coldstoretest is a conformance suite for coldstore.Store
// implementations, in the manner of testing/slogtest: a backend passes if
// Run passes with a Harness that can publish table versions into it.
//
//	func TestConformance(t *testing.T) {
//		coldstoretest.Run(t, func(t *testing.T) coldstoretest.Harness {
//			b := openMyBackend(t)
//			return coldstoretest.BackendHarness(b)
//		})
//	}
//
// The suite checks what every reader of a cold store relies on: lookups of
// every column type, MultiGet order and per-key misses, the ErrNoTable,
// KeyError and ErrClosed errors, table descriptions (schema, version, row
// count, covers-until), atomic replacement of a version (concurrent
// readers never see a mix of two versions), and caller-owned results.
package coldstoretest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

// Harness gives the suite a fresh, empty store and a way to publish a
// table version into it.
type Harness struct {
	// Store under test. The suite closes it in one test; Close must be
	// safe to call again (the harness's own cleanup may).
	Store coldstore.Store
	// Publish makes rows the live version of table, with the given schema
	// (key columns set) and covers-until watermark. The rows have distinct
	// keys. After it returns, the Store must answer from the new version.
	Publish func(ctx context.Context, table, version string, s *row.Schema, coversUntil time.Time, rows []row.Row) error
}

// BackendHarness returns a Harness that publishes through Backend.Load
// from a coldstore.RowSource, with LoadSpec.Force (the suite publishes
// empty and shrinking versions on purpose; the load guards have their own
// tests).
func BackendHarness(b coldstore.Backend) Harness {
	return Harness{
		Store: b,
		Publish: func(ctx context.Context, table, version string, s *row.Schema, coversUntil time.Time, rows []row.Row) error {
			_, err := b.Load(ctx, coldstore.LoadSpec{
				Table: table, Version: version, Key: s.KeyNames(), CoversUntil: coversUntil,
				Source: coldstore.RowSource(s, rows), AllowSchemaChange: true, Force: true,
			})
			return err
		},
	}
}

// MemoryHarness returns a Harness over a new coldstore.Memory.
func MemoryHarness() Harness {
	m := coldstore.NewMemory()
	return Harness{
		Store: m,
		Publish: func(ctx context.Context, table, version string, s *row.Schema, coversUntil time.Time, rows []row.Row) error {
			return m.Publish(table, version, s, coversUntil, rows)
		},
	}
}

// Run runs the suite. newHarness is called once per subtest and must
// return a harness over an empty store; it should register its cleanup
// with t.Cleanup.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			c.f(t, h)
		})
	}
}

var cases = []struct {
	name string
	f    func(*testing.T, Harness)
}{
	{"GetFindsPublishedRows", testGetFindsPublishedRows},
	{"GetReportsMissingKey", testGetReportsMissingKey},
	{"EveryColumnTypeRoundTrips", testEveryColumnTypeRoundTrips},
	{"CompositeKey", testCompositeKey},
	{"MultiGetKeepsRequestOrder", testMultiGetKeepsRequestOrder},
	{"MultiGetOfNoKeys", testMultiGetOfNoKeys},
	{"UnknownTableIsErrNoTable", testUnknownTable},
	{"BadKeysAreKeyErrors", testBadKeys},
	{"DescribeReportsLiveVersion", testDescribe},
	{"TablesListsEveryTableByName", testTables},
	{"NewVersionReplacesOldOne", testNewVersionReplaces},
	{"EmptyVersion", testEmptyVersion},
	{"TablesAreIndependent", testTablesIndependent},
	{"ResultsAreOwnedByTheCaller", testResultsOwned},
	{"ReadersNeverSeeAMixOfVersions", testNoMix},
	{"CanceledContext", testCanceledContext},
	{"ClosedStoreIsErrClosed", testClosed},
}

var ordersSchema = row.MustSchema([]row.Column{
	{Name: "order_id", Type: row.Int64},
	{Name: "customer", Type: row.String, Nullable: true},
	{Name: "amount", Type: row.Decimal(18, 2), Nullable: true},
	{Name: "ts", Type: row.Timestamp(row.Millisecond, ""), Nullable: true},
}, []string{"order_id"}, 1)

func order(id int64, customer string, cents int64) row.Row {
	return row.New(row.Int64Value(id), row.StringValue(customer), row.DecimalValue(decimal128.FromI64(cents)), row.TimestampValue(1_700_000_000_000+id))
}

func orders(n int, tag string) []row.Row {
	rows := make([]row.Row, n)
	for i := range rows {
		rows[i] = order(int64(i), fmt.Sprintf("%s-%d", tag, i), int64(i*100))
	}
	return rows
}

func key(vals ...row.Value) []row.Value { return vals }

func publish(t *testing.T, h Harness, table, version string, s *row.Schema, rows []row.Row) {
	t.Helper()
	if err := h.Publish(context.Background(), table, version, s, time.Time{}, rows); err != nil {
		t.Fatalf("publish %s %s: %v", table, version, err)
	}
}

func mustGet(t *testing.T, h Harness, table string, k []row.Value) coldstore.Result {
	t.Helper()
	r, err := h.Store.Get(context.Background(), table, k)
	if err != nil {
		t.Fatalf("Get(%s, %v): %v", table, k, err)
	}
	return r
}

func wantRow(t *testing.T, s *row.Schema, got coldstore.Result, want row.Row) {
	t.Helper()
	if !got.Found {
		t.Fatalf("key of %s not found", want.Format(s))
	}
	if !got.Row.Equal(want) {
		t.Fatalf("got row %s, want %s", got.Row.Format(s), want.Format(s))
	}
	if got.Row.Kind != row.Insert {
		t.Fatalf("row kind %s, want +I", got.Row.Kind)
	}
}

func testGetFindsPublishedRows(t *testing.T, h Harness) {
	rows := orders(50, "a")
	publish(t, h, "orders", "v1", ordersSchema, rows)
	for _, r := range rows {
		got := mustGet(t, h, "orders", key(r.Values[0]))
		wantRow(t, ordersSchema, got, r)
		if got.Version != "v1" {
			t.Fatalf("Result.Version = %q, want v1", got.Version)
		}
	}
}

func testGetReportsMissingKey(t *testing.T, h Harness) {
	publish(t, h, "orders", "v1", ordersSchema, orders(10, "a"))
	got := mustGet(t, h, "orders", key(row.Int64Value(1000)))
	if got.Found {
		t.Fatalf("missing key found: %v", got.Row)
	}
	if got.Version != "v1" {
		t.Fatalf("a miss reports version %q, want v1", got.Version)
	}
}

var allTypes = row.MustSchema([]row.Column{
	{Name: "k", Type: row.String},
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
	{Name: "dec", Type: row.Decimal(38, 10), Nullable: true},
}, []string{"k"}, 1)

func testEveryColumnTypeRoundTrips(t *testing.T, h Harness) {
	rows := []row.Row{
		row.New(row.StringValue("full"), row.BoolValue(true), row.Int32Value(-7), row.Int64Value(1<<62), row.Float32Value(1.5),
			row.Float64Value(-2.25), row.StringValue("héllo, 世界"), row.BinaryValue([]byte{0, 1, 0, 255}), row.Date32Value(20000),
			row.TimestampValue(-1), row.TimestampValue(1_700_000_000_123_456), row.DecimalValue(decimal128.New(-5, 12345))),
		row.New(row.StringValue("nulls"), row.NullValue(), row.NullValue(), row.NullValue(), row.NullValue(), row.NullValue(),
			row.NullValue(), row.NullValue(), row.NullValue(), row.NullValue(), row.NullValue(), row.NullValue()),
		row.New(row.StringValue("a\x00b"), row.BoolValue(false), row.Int32Value(0), row.Int64Value(0), row.Float32Value(0),
			row.Float64Value(0), row.StringValue(""), row.BinaryValue([]byte{}), row.Date32Value(0),
			row.TimestampValue(0), row.TimestampValue(0), row.DecimalValue(decimal128.FromI64(0))),
		row.New(row.StringValue(""), row.BoolValue(true), row.Int32Value(1), row.Int64Value(-1), row.Float32Value(-0.5),
			row.Float64Value(1e300), row.StringValue("empty key"), row.NullValue(), row.Date32Value(-1),
			row.TimestampValue(1), row.TimestampValue(-1), row.DecimalValue(decimal128.FromI64(-1))),
	}
	publish(t, h, "types", "v1", allTypes, rows)
	for _, r := range rows {
		wantRow(t, allTypes, mustGet(t, h, "types", key(r.Values[0])), r)
	}
	if got := mustGet(t, h, "types", key(row.StringValue("a"))); got.Found {
		t.Fatalf(`key "a" found, only "a\x00b" exists`)
	}
}

func testCompositeKey(t *testing.T, h Harness) {
	s := row.MustSchema([]row.Column{
		{Name: "region", Type: row.String},
		{Name: "day", Type: row.Date32},
		{Name: "n", Type: row.Int64, Nullable: true},
	}, []string{"region", "day"}, 1)
	var rows []row.Row
	for _, reg := range []string{"eu", "us", "e"} {
		for d := int32(0); d < 5; d++ {
			rows = append(rows, row.New(row.StringValue(reg), row.Date32Value(d), row.Int64Value(int64(len(reg))*100+int64(d))))
		}
	}
	publish(t, h, "sales", "v1", s, rows)
	for _, r := range rows {
		wantRow(t, s, mustGet(t, h, "sales", key(r.Values[0], r.Values[1])), r)
	}
	if got := mustGet(t, h, "sales", key(row.StringValue("eu"), row.Date32Value(9))); got.Found {
		t.Fatal("missing composite key found")
	}
	if got := mustGet(t, h, "sales", key(row.StringValue("eus"), row.Date32Value(0))); got.Found {
		t.Fatal("composite key with a longer first column found")
	}
}

func testMultiGetKeepsRequestOrder(t *testing.T, h Harness) {
	rows := orders(20, "m")
	publish(t, h, "orders", "v1", ordersSchema, rows)
	ids := []int64{19, 3, 500, 3, 0, -1, 7, 19, 1000}
	keys := make([][]row.Value, len(ids))
	for i, id := range ids {
		keys[i] = key(row.Int64Value(id))
	}
	res, err := h.Store.MultiGet(context.Background(), "orders", keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(ids) {
		t.Fatalf("%d results for %d keys", len(res), len(ids))
	}
	for i, id := range ids {
		if res[i].Version != "v1" {
			t.Errorf("result %d: version %q", i, res[i].Version)
		}
		if id < 0 || id >= 20 {
			if res[i].Found {
				t.Errorf("result %d (id %d): found, want missing", i, id)
			}
			continue
		}
		wantRow(t, ordersSchema, res[i], rows[id])
	}
	// a large batch
	keys = keys[:0]
	for i := 0; i < 1000; i++ {
		keys = append(keys, key(row.Int64Value(int64((i*7)%40))))
	}
	res, err = h.Store.MultiGet(context.Background(), "orders", keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		id := int64((i * 7) % 40)
		if (id < 20) != r.Found {
			t.Fatalf("key %d (id %d): found=%v", i, id, r.Found)
		}
		if r.Found && r.Row.Values[0].Int64() != id {
			t.Fatalf("key %d (id %d): got row %v", i, id, r.Row)
		}
	}
}

func testMultiGetOfNoKeys(t *testing.T, h Harness) {
	publish(t, h, "orders", "v1", ordersSchema, orders(3, "x"))
	res, err := h.Store.MultiGet(context.Background(), "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 0 {
		t.Fatalf("%d results for no keys", len(res))
	}
}

func testUnknownTable(t *testing.T, h Harness) {
	ctx := context.Background()
	publish(t, h, "orders", "v1", ordersSchema, orders(3, "x"))
	if _, err := h.Store.Get(ctx, "nope", key(row.Int64Value(1))); !errors.Is(err, coldstore.ErrNoTable) {
		t.Errorf("Get of unknown table: %v, want ErrNoTable", err)
	}
	if _, err := h.Store.MultiGet(ctx, "nope", [][]row.Value{key(row.Int64Value(1))}); !errors.Is(err, coldstore.ErrNoTable) {
		t.Errorf("MultiGet of unknown table: %v, want ErrNoTable", err)
	}
	if _, err := h.Store.Describe(ctx, "nope"); !errors.Is(err, coldstore.ErrNoTable) {
		t.Errorf("Describe of unknown table: %v, want ErrNoTable", err)
	}
}

func testBadKeys(t *testing.T, h Harness) {
	ctx := context.Background()
	publish(t, h, "orders", "v1", ordersSchema, orders(3, "x"))
	bad := map[string][]row.Value{
		"too few values":  {},
		"too many values": {row.Int64Value(1), row.Int64Value(2)},
		"wrong type":      {row.StringValue("1")},
		"null":            {row.NullValue()},
		"int32 for int64": {row.Int32Value(1)},
	}
	for name, k := range bad {
		_, err := h.Store.Get(ctx, "orders", k)
		var ke *coldstore.KeyError
		if !errors.As(err, &ke) {
			t.Errorf("Get with %s: %v, want *KeyError", name, err)
			continue
		}
		if ke.Table != "orders" || ke.Index != 0 {
			t.Errorf("Get with %s: KeyError %+v", name, ke)
		}
		_, err = h.Store.MultiGet(ctx, "orders", [][]row.Value{{row.Int64Value(1)}, {row.Int64Value(2)}, k})
		if !errors.As(err, &ke) || ke.Index != 2 {
			t.Errorf("MultiGet with %s as key 2: %v, want *KeyError with Index 2", name, err)
		}
	}
}

func sameSchema(a, b *row.Schema) bool {
	if a == nil || b == nil || a.Len() != b.Len() {
		return false
	}
	for i := 0; i < a.Len(); i++ {
		x, y := a.Column(i), b.Column(i)
		if x.Name != y.Name || x.Type != y.Type || x.Nullable != y.Nullable {
			return false
		}
	}
	return fmt.Sprint(a.KeyNames()) == fmt.Sprint(b.KeyNames())
}

func testDescribe(t *testing.T, h Harness) {
	ctx := context.Background()
	cu := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	before := time.Now().Add(-time.Minute)
	if err := h.Publish(ctx, "orders", "2026-11-22", ordersSchema, cu, orders(42, "d")); err != nil {
		t.Fatal(err)
	}
	ti, err := h.Store.Describe(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if ti.Name != "orders" || ti.Version != "2026-11-22" || ti.Rows != 42 {
		t.Errorf("Describe = name %q version %q rows %d, want orders 2026-11-22 42", ti.Name, ti.Version, ti.Rows)
	}
	if !ti.CoversUntil.Equal(cu) {
		t.Errorf("CoversUntil = %v, want %v", ti.CoversUntil, cu)
	}
	if ti.LoadedAt.Before(before) || ti.LoadedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("LoadedAt = %v, not around now", ti.LoadedAt)
	}
	if !sameSchema(ti.Schema, ordersSchema) {
		t.Errorf("Schema = %v, want %v", ti.Schema, ordersSchema)
	}
	// zero covers-until stays zero
	if err := h.Publish(ctx, "orders", "2026-11-23", ordersSchema, time.Time{}, orders(2, "d")); err != nil {
		t.Fatal(err)
	}
	ti, err = h.Store.Describe(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if !ti.CoversUntil.IsZero() || ti.Version != "2026-11-23" || ti.Rows != 2 {
		t.Errorf("after a second publish: version %q rows %d covers-until %v", ti.Version, ti.Rows, ti.CoversUntil)
	}
}

func testTables(t *testing.T, h Harness) {
	ctx := context.Background()
	ts, err := h.Store.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 0 {
		t.Fatalf("empty store lists %d tables", len(ts))
	}
	for _, name := range []string{"zeta", "alpha", "mid"} {
		publish(t, h, name, "v1", ordersSchema, orders(3, name))
	}
	ts, err = h.Store.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ti := range ts {
		names = append(names, ti.Name)
		if ti.Version != "v1" || ti.Rows != 3 || !sameSchema(ti.Schema, ordersSchema) {
			t.Errorf("table %s: %+v", ti.Name, ti)
		}
	}
	if fmt.Sprint(names) != "[alpha mid zeta]" {
		t.Fatalf("Tables = %v, want [alpha mid zeta]", names)
	}
}

func testNewVersionReplaces(t *testing.T, h Harness) {
	publish(t, h, "orders", "v1", ordersSchema, orders(10, "old"))
	next := []row.Row{order(5, "new-5", 1), order(100, "new-100", 2)}
	publish(t, h, "orders", "v2", ordersSchema, next)
	got := mustGet(t, h, "orders", key(row.Int64Value(5)))
	wantRow(t, ordersSchema, got, next[0])
	if got.Version != "v2" {
		t.Fatalf("version %q, want v2", got.Version)
	}
	wantRow(t, ordersSchema, mustGet(t, h, "orders", key(row.Int64Value(100))), next[1])
	if got := mustGet(t, h, "orders", key(row.Int64Value(1))); got.Found {
		t.Fatalf("key only in v1 still found after v2: %v", got.Row)
	}
}

func testEmptyVersion(t *testing.T, h Harness) {
	publish(t, h, "orders", "v1", ordersSchema, orders(5, "x"))
	publish(t, h, "orders", "v2", ordersSchema, nil)
	ti, err := h.Store.Describe(context.Background(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if ti.Rows != 0 || ti.Version != "v2" {
		t.Fatalf("Describe after an empty version: %+v", ti)
	}
	if got := mustGet(t, h, "orders", key(row.Int64Value(1))); got.Found || got.Version != "v2" {
		t.Fatalf("Get in an empty version: %+v", got)
	}
}

func testTablesIndependent(t *testing.T, h Harness) {
	s2 := row.MustSchema([]row.Column{{Name: "id", Type: row.Int64}, {Name: "v", Type: row.String, Nullable: true}}, []string{"id"}, 1)
	publish(t, h, "orders", "v1", ordersSchema, orders(5, "o"))
	publish(t, h, "orders_x", "w1", s2, []row.Row{row.New(row.Int64Value(1), row.StringValue("x"))})
	got := mustGet(t, h, "orders_x", key(row.Int64Value(1)))
	wantRow(t, s2, got, row.New(row.Int64Value(1), row.StringValue("x")))
	if got.Version != "w1" {
		t.Fatalf("version %q", got.Version)
	}
	wantRow(t, ordersSchema, mustGet(t, h, "orders", key(row.Int64Value(1))), orders(5, "o")[1])
	if got := mustGet(t, h, "orders_x", key(row.Int64Value(2))); got.Found {
		t.Fatal("key of another table found")
	}
}

func testResultsOwned(t *testing.T, h Harness) {
	rows := orders(3, "own")
	publish(t, h, "orders", "v1", ordersSchema, rows)
	a := mustGet(t, h, "orders", key(row.Int64Value(1)))
	b := mustGet(t, h, "orders", key(row.Int64Value(2)))
	// scribble over the first result
	a.Row.Values[1] = row.StringValue("scribbled")
	copy(b.Row.Values[1].Bytes(), "XXX")
	wantRow(t, ordersSchema, mustGet(t, h, "orders", key(row.Int64Value(1))), rows[1])
	wantRow(t, ordersSchema, mustGet(t, h, "orders", key(row.Int64Value(2))), rows[2])
	res, err := h.Store.MultiGet(context.Background(), "orders", [][]row.Value{key(row.Int64Value(0)), key(row.Int64Value(1))})
	if err != nil {
		t.Fatal(err)
	}
	wantRow(t, ordersSchema, res[0], rows[0])
	wantRow(t, ordersSchema, res[1], rows[1])
}

// testNoMix publishes versions whose rows carry the version name while
// readers MultiGet: every result must come from one version, and its rows
// must be that version's.
func testNoMix(t *testing.T, h Harness) {
	const n = 64
	mk := func(v string) []row.Row {
		rows := make([]row.Row, n)
		for i := range rows {
			rows[i] = order(int64(i), v, int64(i))
		}
		return rows
	}
	publish(t, h, "orders", "v0", ordersSchema, mk("v0"))
	keys := make([][]row.Value, n)
	for i := range keys {
		keys[i] = key(row.Int64Value(int64(i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				res, err := h.Store.MultiGet(ctx, "orders", keys)
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				v := res[0].Version
				for i, r := range res {
					if r.Version != v || !r.Found || r.Row.Values[1].Str() != v {
						errs <- fmt.Errorf("key %d: version %q found %v row %v; key 0 came from %q", i, r.Version, r.Found, r.Row, v)
						return
					}
				}
			}
		}()
	}
	for i := 1; i <= 5; i++ {
		v := fmt.Sprintf("v%d", i)
		if err := h.Publish(context.Background(), "orders", v, ordersSchema, time.Time{}, mk(v)); err != nil {
			cancel()
			wg.Wait()
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testCanceledContext(t *testing.T, h Harness) {
	publish(t, h, "orders", "v1", ordersSchema, orders(3, "c"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Store.Get(ctx, "orders", key(row.Int64Value(1))); err == nil {
		t.Error("Get with a canceled context succeeded")
	}
	if _, err := h.Store.MultiGet(ctx, "orders", [][]row.Value{key(row.Int64Value(1))}); err == nil {
		t.Error("MultiGet with a canceled context succeeded")
	}
}

func testClosed(t *testing.T, h Harness) {
	ctx := context.Background()
	publish(t, h, "orders", "v1", ordersSchema, orders(3, "c"))
	if err := h.Store.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.Get(ctx, "orders", key(row.Int64Value(1))); !errors.Is(err, coldstore.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := h.Store.MultiGet(ctx, "orders", [][]row.Value{key(row.Int64Value(1))}); !errors.Is(err, coldstore.ErrClosed) {
		t.Errorf("MultiGet after Close: %v, want ErrClosed", err)
	}
	if _, err := h.Store.Tables(ctx); !errors.Is(err, coldstore.ErrClosed) {
		t.Errorf("Tables after Close: %v, want ErrClosed", err)
	}
	if _, err := h.Store.Describe(ctx, "orders"); !errors.Is(err, coldstore.ErrClosed) {
		t.Errorf("Describe after Close: %v, want ErrClosed", err)
	}
}
