package join_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// gatedStore is a coldstore.Memory whose MultiGet calls wait for a gate and
// record how many run at once and how many keys each asks for.
type gatedStore struct {
	*coldstore.Memory
	gate chan struct{}
	fail error
	// failFirst, when set, fails only the first failFirst calls with fail.
	failFirst int

	mu                     sync.Mutex
	active, maxActive, max int
	calls                  int
}

func (g *gatedStore) MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]coldstore.Result, error) {
	g.mu.Lock()
	g.active++
	g.calls++
	g.maxActive = max(g.maxActive, g.active)
	g.max = max(g.max, len(keys))
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.active--; g.mu.Unlock() }()
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	g.mu.Lock()
	n := g.calls
	g.mu.Unlock()
	if g.fail != nil && (g.failFirst == 0 || n <= g.failFirst) {
		return nil, g.fail
	}
	return g.Memory.MultiGet(ctx, table, keys)
}

func (g *gatedStore) activeNow() int { g.mu.Lock(); defer g.mu.Unlock(); return g.active }

func newGatedOperator(t *testing.T, g *gatedStore, out *[]string) *join.Operator {
	return newGatedOperatorRetrying(t, g, out, 0)
}

func newGatedOperatorRetrying(t *testing.T, g *gatedStore, out *[]string, retry time.Duration) *join.Operator {
	t.Helper()
	db, err := state.Open(filepath.Join(t.TempDir(), "s"), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var orders []row.Row
	for i := int64(1); i <= 100; i++ {
		orders = append(orders, row.New(row.Int64Value(i), row.TimestampValue(ts("2026-11-01T10:00")), row.StringValue("cold"), row.Int64Value(i)))
	}
	if err := g.Memory.Publish("orders", "v1", ordersSchema, time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), orders); err != nil {
		t.Fatal(err)
	}
	var op *join.Operator
	op, err = join.New(context.Background(), db, join.Config{
		Name: "g", Left: ordersInput(true), Right: refundsInput(), Output: outputColumns(join.Left), Cold: g,
		ColdBatchSize: 5, MaxInFlight: 2, ColdRetryFor: retry,
		Emit: func(r row.Row) error { *out = append(*out, r.Format(op.OutputSchema())); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	op.Advance(time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)) // orders of 11-01 are cold
	return op
}

func TestColdLookupsAreBatchedAndBoundedInFlight(t *testing.T) {
	g := &gatedStore{Memory: coldstore.NewMemory(), gate: make(chan struct{})}
	var out []string
	op := newGatedOperator(t, g, &out)
	ctx := context.Background()
	released := make(chan struct{})
	go func() {
		defer close(released)
		deadline := time.Now().Add(20 * time.Second)
		for g.activeNow() < 2 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		close(g.gate)
	}()
	// 60 refunds of 30 orders, each order twice: the second refund of a key
	// queues behind the first.
	for i := 0; i < 60; i++ {
		r := row.New(row.Int64Value(int64(100+i)), row.Int64Value(int64(1+i%30)), row.TimestampValue(ts("2026-11-10T11:00")), row.Int64Value(int64(i)))
		if err := op.Push(ctx, join.Right, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := op.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	<-released
	if len(out) != 60 {
		t.Fatalf("%d outputs, want 60", len(out))
	}
	if g.maxActive > 2 || g.max > 5 {
		t.Fatalf("max in flight %d (want <= 2), max batch %d (want <= 5)", g.maxActive, g.max)
	}
	// Per key, outputs keep input order: refund 100+k before 130+k.
	first, second := -1, -1
	for i, o := range out {
		if strings.Contains(o, "[1, cold, 1, 100,") {
			first = i
		}
		if strings.Contains(o, "[1, cold, 1, 130,") {
			second = i
		}
	}
	if first < 0 || second < 0 || first > second {
		t.Fatalf("order of key 1: refund 100 at %d, refund 130 at %d\n%s", first, second, strings.Join(out, "\n"))
	}
	if st := op.Stats(); st.Left.ColdHits != 60 || st.ColdLookups > 12 {
		t.Fatalf("cold hits %d (want 60), lookups %d (want <= 12 batches of 5)", st.Left.ColdHits, st.ColdLookups)
	}
}

func TestColdStoreFailureStopsTheOperatorWithTheCause(t *testing.T) {
	g := &gatedStore{Memory: coldstore.NewMemory(), gate: make(chan struct{}), fail: errors.New("connection reset")}
	close(g.gate)
	var out []string
	op := newGatedOperatorRetrying(t, g, &out, 300*time.Millisecond)
	ctx := context.Background()
	r := row.New(row.Int64Value(100), row.Int64Value(1), row.TimestampValue(ts("2026-11-10T11:00")), row.Int64Value(1))
	if err := op.Push(ctx, join.Right, r); err != nil {
		t.Fatal(err)
	}
	err := op.Flush(ctx)
	if err == nil || !strings.Contains(err.Error(), "connection reset") || !strings.Contains(err.Error(), `"orders"`) {
		t.Fatalf("Flush error = %v", err)
	}
	if err := op.Push(ctx, join.Right, r); err == nil {
		t.Fatal("a failed operator accepted a record")
	}
	if g.calls < 2 || !strings.Contains(err.Error(), "attempts") {
		t.Fatalf("%d calls, error %v: want the lookup retried before failing", g.calls, err)
	}
	if st := op.Stats(); st.Left.Misses != 0 || len(out) != 0 {
		t.Fatalf("a failed lookup was taken as a miss: %+v, outputs %v", st.Left, out)
	}
}

func TestColdLookupFailuresAreRetriedUntilAnswered(t *testing.T) {
	g := &gatedStore{Memory: coldstore.NewMemory(), gate: make(chan struct{}), fail: errors.New("unavailable"), failFirst: 2}
	close(g.gate)
	var out []string
	op := newGatedOperator(t, g, &out)
	ctx := context.Background()
	if err := op.Push(ctx, join.Right, row.New(row.Int64Value(100), row.Int64Value(1), row.TimestampValue(ts("2026-11-10T11:00")), row.Int64Value(1))); err != nil {
		t.Fatal(err)
	}
	if err := op.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := op.Stats(); st.Left.ColdHits != 1 || len(out) != 1 || g.calls != 3 {
		t.Fatalf("cold hits %d, outputs %v, calls %d: want the third attempt to answer", st.Left.ColdHits, out, g.calls)
	}
}

// noTable answers every call with coldstore.ErrNoTable once gone is set.
type noTable struct {
	*coldstore.Memory
	gone bool
}

func (n *noTable) MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]coldstore.Result, error) {
	if n.gone {
		return nil, fmt.Errorf("%w: %q", coldstore.ErrNoTable, table)
	}
	return n.Memory.MultiGet(ctx, table, keys)
}

func TestAColdTableThatDisappearsFailsTheOperatorInsteadOfMissing(t *testing.T) {
	m := &noTable{Memory: coldstore.NewMemory()}
	if err := m.Publish("orders", "v1", ordersSchema, time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), nil); err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(filepath.Join(t.TempDir(), "s"), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	op, err := join.New(context.Background(), db, join.Config{Left: ordersInput(true), Right: refundsInput(), Output: outputColumns(join.Left), Cold: m,
		Emit: func(row.Row) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	op.Advance(time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC))
	m.gone = true
	ctx := context.Background()
	if err := op.Push(ctx, join.Right, row.New(row.Int64Value(100), row.Int64Value(1), row.TimestampValue(ts("2026-11-10T11:00")), row.Int64Value(1))); err != nil {
		t.Fatal(err)
	}
	err = op.Flush(ctx)
	if !errors.Is(err, coldstore.ErrNoTable) {
		t.Fatalf("Flush = %v, want the missing table", err)
	}
	if op.Stats().Left.Misses != 0 {
		t.Fatal("the lookup of a missing table was counted as a miss")
	}
}

// unreachable fails every call, like a sidecar with nothing behind it.
type unreachable struct{ *coldstore.Memory }

func (*unreachable) Describe(context.Context, string) (coldstore.TableInfo, error) {
	return coldstore.TableInfo{}, errors.New("dial unix /tmp/nothing.sock: connect: no such file or directory")
}

func TestTheColdSideFailsClosedAtStart(t *testing.T) {
	doubleAmount := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "order_ts", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "customer", Type: row.String, Nullable: true},
		{Name: "amount", Type: row.Float64, Nullable: true},
	}, []string{"order_id"}, 1)
	wrong := coldstore.NewMemory()
	if err := wrong.Publish("orders", "v1", doubleAmount, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cold join.Lookuper
		want []string
	}{
		{"unknown table", coldstore.NewMemory(), []string{`cold table "orders"`, "does not exist", "hotcold load"}},
		{"unreachable", &unreachable{coldstore.NewMemory()}, []string{`cold table "orders"`, "no such file", "reachable"}},
		{"schema mismatch", wrong, []string{`"amount"`, "float64", "int64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := join.Config{Left: ordersInput(true), Right: refundsInput(), Output: outputColumns(join.Left), Cold: tc.cold, Emit: func(row.Row) error { return nil }}
			err := join.CheckCold(context.Background(), cfg)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("CheckCold = %v, want it to contain %q", err, w)
				}
			}
			db, err := state.Open(filepath.Join(t.TempDir(), "s"), state.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := join.New(context.Background(), db, cfg); err == nil {
				t.Fatal("New started on a broken cold side")
			}
			if tc.name == "schema mismatch" {
				var se *join.ColdSchemaError
				if !errors.As(err, &se) && !errors.As(join.CheckCold(context.Background(), cfg), &se) {
					t.Fatal("no ColdSchemaError")
				}
				if se.Column != "amount" || se.Cold != "float64" || se.InputType != "int64" {
					t.Fatalf("ColdSchemaError %+v", se)
				}
			}
		})
	}
}

// A cold-backed key that is in the cold store and also arrives late on the
// stream joins once, as in Flink, where the order was seen once.
func TestALateRecordOfAColdRowDoesNotJoinTwice(t *testing.T) {
	g := &gatedStore{Memory: coldstore.NewMemory(), gate: make(chan struct{})}
	close(g.gate)
	var out []string
	op := newGatedOperator(t, g, &out) // orders 1..100 of 11-01 are cold; watermark 11-10
	ctx := context.Background()
	push := func(side join.Side, r row.Row) {
		t.Helper()
		if err := op.Push(ctx, side, r); err != nil {
			t.Fatal(err)
		}
		if err := op.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	refund := func(id, order int64) row.Row {
		return row.New(row.Int64Value(id), row.Int64Value(order), row.TimestampValue(ts("2026-11-10T11:00")), row.Int64Value(1))
	}
	order := func(id int64) row.Row {
		return row.New(row.Int64Value(id), row.TimestampValue(ts("2026-11-01T10:00")), row.StringValue("cold"), row.Int64Value(id))
	}
	push(join.Right, refund(500, 5)) // joins the cold order 5
	push(join.Left, order(5))        // order 5 again, late: already joined
	if len(out) != 1 {
		t.Fatalf("outputs %v: want the pair of refund 500 once", out)
	}
	push(join.Right, refund(501, 200)) // order 200 is nowhere yet: a miss
	push(join.Left, order(200))        // late, not in the cold store: joins the stored refund
	if len(out) != 2 || !strings.Contains(out[1], "501") {
		t.Fatalf("outputs %v: want the late order 200 to join refund 501", out)
	}
	if st := op.Stats(); st.Left.ColdHits != 1 || st.Left.Late != 2 {
		t.Fatalf("stats %+v", st.Left)
	}
}

// A new cold version whose schema no longer fits the input fails the
// operator at the next refresh instead of being read with the old mapping.
func TestARefreshedColdSchemaThatDoesNotFitFailsTheOperator(t *testing.T) {
	g := &gatedStore{Memory: coldstore.NewMemory(), gate: make(chan struct{})}
	close(g.gate)
	var out []string
	op := newGatedOperator(t, g, &out)
	stringAmount := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "order_ts", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "customer", Type: row.String, Nullable: true},
		{Name: "amount", Type: row.String, Nullable: true},
	}, []string{"order_id"}, 1)
	if err := g.Memory.Publish("orders", "v2", stringAmount, time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC), nil); err != nil {
		t.Fatal(err)
	}
	err := op.RefreshCoverage(context.Background())
	var se *join.ColdSchemaError
	if !errors.As(err, &se) || se.Column != "amount" {
		t.Fatalf("RefreshCoverage = %v, want a ColdSchemaError on amount", err)
	}
	if err := op.Flush(context.Background()); err == nil {
		t.Fatal("the operator went on after its cold table stopped fitting")
	}
}
