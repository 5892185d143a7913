package join_test

import (
	"context"
	"errors"
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
	if g.fail != nil {
		return nil, g.fail
	}
	return g.Memory.MultiGet(ctx, table, keys)
}

func (g *gatedStore) activeNow() int { g.mu.Lock(); defer g.mu.Unlock(); return g.active }

func newGatedOperator(t *testing.T, g *gatedStore, out *[]string) *join.Operator {
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
		ColdBatchSize: 5, MaxInFlight: 2,
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
	op := newGatedOperator(t, g, &out)
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
}
