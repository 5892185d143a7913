package join_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

type event struct {
	side   string // "orders" or "refunds"
	r      row.Row
	at     time.Time // event time
	arrive time.Time // event time plus a bounded delay
}

type workload struct {
	orders, refunds []event
	stream          []event // arrival order
}

var propertySeeds = flag.Int("seeds", 3, "number of random workloads per join type in TestJoinEqualsBruteForceReference")

var epoch = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// genWorkload makes orders over days days and refunds up to 30 days after
// their order (some orphaned), arriving up to maxDelay out of order.
func genWorkload(rng *rand.Rand, days, perDay int, maxDelay time.Duration) workload {
	var w workload
	id := int64(0)
	rid := int64(0)
	end := epoch.Add(time.Duration(days) * 24 * time.Hour)
	for d := 0; d < days; d++ {
		for i := 0; i < perDay; i++ {
			id++
			at := epoch.Add(time.Duration(d)*24*time.Hour + time.Duration(rng.Int64N(int64(24*time.Hour))))
			o := row.New(row.Int64Value(id), row.TimestampValue(at.UnixMilli()), row.StringValue(fmt.Sprintf("c%d", rng.IntN(50))), row.Int64Value(rng.Int64N(1000)))
			w.orders = append(w.orders, event{side: "orders", r: o, at: at})
			for rng.IntN(4) == 0 { // about a quarter refunded, some several times
				rat := at.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
				if rat.After(end) {
					break
				}
				rid++
				w.refunds = append(w.refunds, event{side: "refunds", at: rat,
					r: row.New(row.Int64Value(rid), row.Int64Value(id), row.TimestampValue(rat.UnixMilli()), row.Int64Value(rng.Int64N(100)))})
			}
			if rng.IntN(50) == 0 { // an orphan refund
				rid++
				w.refunds = append(w.refunds, event{side: "refunds", at: at,
					r: row.New(row.Int64Value(rid), row.Int64Value(-id), row.TimestampValue(at.UnixMilli()), row.Int64Value(1))})
			}
		}
	}
	w.stream = append(append([]event(nil), w.orders...), w.refunds...)
	for i := range w.stream {
		w.stream[i].arrive = w.stream[i].at.Add(time.Duration(rng.Int64N(int64(maxDelay))))
	}
	sort.SliceStable(w.stream, func(i, j int) bool { return w.stream[i].arrive.Before(w.stream[j].arrive) })
	return w
}

// reference joins everything in memory: the inner join of orders and
// refunds, or refunds LEFT JOIN orders.
func reference(w workload, typ join.Type) map[string]int {
	byID := map[int64]row.Row{}
	for _, o := range w.orders {
		byID[o.r.Values[0].Int64()] = o.r
	}
	out := map[string]int{}
	for _, r := range w.refunds {
		o, ok := byID[r.r.Values[1].Int64()]
		switch {
		case ok:
			out[fmt.Sprint(o.Values[0], o.Values[2], o.Values[3], r.r.Values[0], r.r.Values[3])]++
		case typ == join.LeftOuter:
			out[fmt.Sprint(row.NullValue(), row.NullValue(), row.NullValue(), r.r.Values[0], r.r.Values[3])]++
		}
	}
	return out
}

// merge applies a changelog to a multiset of rows.
func merge(out map[string]int, r row.Row) error {
	k := fmt.Sprint(r.Values[0], r.Values[1], r.Values[2], r.Values[3], r.Values[4])
	if r.Kind.IsAccumulate() {
		out[k]++
		return nil
	}
	if out[k] == 0 {
		return fmt.Errorf("retraction of a row that is not there: %s", r)
	}
	out[k]--
	if out[k] == 0 {
		delete(out, k)
	}
	return nil
}

// TestJoinEqualsBruteForceReference runs 40 days of orders and refunds
// through the hot/cold join (2-day window, cold store published daily with
// a random lag, random flush points and restarts) and compares the merged
// output with a join that keeps everything in memory.
func TestJoinEqualsBruteForceReference(t *testing.T) {
	// Lookups answered by the in-memory mirror, by Pebble alone, and by a
	// mirror that is outgrown on the way.
	mirrors := map[string]int64{"mirror": 0, "pebble": -1, "outgrown": 100_000}
	for _, typ := range []join.Type{join.Inner, join.LeftOuter} {
		for seed := uint64(1); seed <= uint64(*propertySeeds); seed++ {
			mode := []string{"mirror", "pebble", "outgrown"}[seed%3]
			t.Run(fmt.Sprintf("%s/seed=%d/%s", typ, seed, mode), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, seed*7))
				w := genWorkload(rng, 40, 60, 3*time.Hour)
				got, st, coldHits := runWorkload(t, rng, w, typ, mirrors[mode])
				want := reference(w, typ)
				if len(want) == 0 {
					t.Fatal("empty reference")
				}
				for k, n := range want {
					if got[k] != n {
						t.Errorf("row %s: got %d, want %d", k, got[k], n)
					}
				}
				for k, n := range got {
					if want[k] == 0 {
						t.Errorf("unexpected row %s (x%d)", k, n)
					}
				}
				if coldHits == 0 {
					t.Errorf("the cold store was never used: %+v", st)
				}
				if maxBuckets := 2 + 4; st.Left.Buckets > maxBuckets || st.Right.Buckets > maxBuckets {
					t.Errorf("hot state kept too many buckets: %+v", st)
				}
			})
		}
	}
}

func runWorkload(t *testing.T, rng *rand.Rand, w workload, typ join.Type, mirror int64) (map[string]int, join.Stats, int64) {
	var coldHits int64
	ctx := context.Background()
	cold := emptyColdOrders(t)
	dir := filepath.Join(t.TempDir(), "state")
	got := map[string]int{}
	var mergeErr error
	cfg := join.Config{Name: "p", Type: typ, Cold: cold, RetentionDays: 2, CoverageRefresh: -1,
		ColdBatchSize: 1 + rng.IntN(20), MaxInFlight: 1 + rng.IntN(3)}
	ordersSide := join.Left
	if typ == join.LeftOuter {
		cfg.Left, cfg.Right, ordersSide = refundsInput(), ordersInput(true), join.Right
	} else {
		cfg.Left, cfg.Right = ordersInput(true), refundsInput()
	}
	cfg.Output = outputColumns(ordersSide)
	cfg.Emit = func(r row.Row) error {
		if err := merge(got, r); err != nil && mergeErr == nil {
			mergeErr = err
		}
		return nil
	}
	var db *state.DB
	var op *join.Operator
	// pending collects outputs since the last commit: a restart discards
	// them, as the runner's outbox would.
	var pending []row.Row
	emit := cfg.Emit
	cfg.Emit = func(r row.Row) error { pending = append(pending, r); return nil }
	open := func() {
		var err error
		db, err = state.Open(dir, state.Options{NoSync: true, MirrorBytes: mirror})
		if err != nil {
			t.Fatal(err)
		}
		op, err = join.New(ctx, db, cfg)
		if err != nil {
			t.Fatal(err)
		}
	}
	open()
	publishedFor := state.Day(-1)
	var covers time.Time
	publish := func(today state.Day) {
		// Coverage only moves forward, by a random lag behind today.
		lag := state.Day(1 + rng.IntN(3))
		if c := (today - lag).Start(nil); c.After(covers) {
			covers = c
		}
		var rows []row.Row
		for _, o := range w.orders {
			if o.at.Before(covers) {
				rows = append(rows, o.r)
			}
		}
		if err := cold.Publish("orders", today.String(), ordersSchema, covers, rows); err != nil {
			t.Fatal(err)
		}
	}
	next := 1 + rng.IntN(300)
	for i, e := range w.stream {
		today := state.DayOf(e.arrive, nil)
		if today > publishedFor && rng.IntN(5) != 0 {
			publish(today)
			publishedFor = today
		}
		side := ordersSide
		if e.side == "refunds" {
			side = ordersSide ^ 1
		}
		if err := op.Push(ctx, side, e.r); err != nil {
			t.Fatal(err)
		}
		if i+1 == next || i == len(w.stream)-1 {
			next = i + 1 + rng.IntN(300)
			if err := op.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			for _, r := range pending {
				emit(r)
			}
			pending = pending[:0]
			if rng.IntN(10) == 0 {
				coldHits += op.Stats().Left.ColdHits + op.Stats().Right.ColdHits
				op.Close()
				db.Close()
				open()
			}
		}
	}
	if mergeErr != nil {
		t.Fatal(mergeErr)
	}
	st := op.Stats()
	op.Close()
	db.Close()
	return got, st, coldHits + st.Left.ColdHits + st.Right.ColdHits
}
