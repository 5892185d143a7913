package statemigrate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// The demo job: orders left-joined with refunds, then the refund amount
// summed per city per day. Logic 2 adds two metrics.

var (
	ordersSchema = row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "city", Type: row.String},
		{Name: "order_day", Type: row.Date32},
		{Name: "order_ts", Type: row.Timestamp(row.Millisecond, "")},
	}, []string{"order_id"}, 1)
	refundsSchema = row.MustSchema([]row.Column{
		{Name: "refund_id", Type: row.Int64},
		{Name: "order_id", Type: row.Int64},
		{Name: "refund_ts", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "refund_amount", Type: row.Decimal(18, 2), Nullable: true},
	}, []string{"refund_id"}, 1)
)

func joinConfig(emit func(row.Row) error) join.Config {
	return join.Config{
		Name: "orders_refunds", Type: join.LeftOuter, RetentionDays: 30,
		Left:  join.Input{Name: "orders", Schema: ordersSchema, Key: []string{"order_id"}, EventTime: "order_ts"},
		Right: join.Input{Name: "refunds", Schema: refundsSchema, Key: []string{"order_id"}, EventTime: "refund_ts"},
		Output: []join.Column{
			{Side: join.Left, Source: "order_id"},
			{Side: join.Left, Source: "city"},
			{Side: join.Left, Source: "order_day"},
			{Side: join.Right, Source: "refund_id"},
			{Side: join.Right, Source: "refund_amount"},
		},
		Emit: emit,
	}
}

// joinManifest is the join's manifest entry: one state table per side
// holding the side's rows.
func joinManifest() manifest.Operator {
	return manifest.Operator{
		ID: "orders_refunds", Kind: manifest.KindJoin, JoinType: "left",
		Inputs: []string{"orders", "refunds"}, Output: "orders_refunds_joined", Version: 1,
		Tables: []manifest.Table{
			{Namespace: "orders_refunds/orders", Input: "orders", Key: []string{"order_id"}, Columns: manifest.ColumnsOf(ordersSchema)},
			{Namespace: "orders_refunds/refunds", Input: "refunds", Key: []string{"order_id"}, Columns: manifest.ColumnsOf(refundsSchema)},
		},
	}
}

func aggConfig(logic int, input *row.Schema) agg.Config {
	c := agg.Config{
		ID: "refunds_by_city", Input: input, InputName: "orders_refunds_joined", OutputName: "refunds_by_city",
		GroupBy:    []string{"city", "order_day"},
		Aggregates: []agg.Aggregate{{Name: "refund_total", Func: agg.Sum, Arg: "refund_amount"}},
	}
	if logic == 2 {
		c.Version = 2
		c.Aggregates = append(c.Aggregates,
			agg.Aggregate{Name: "refund_count", Func: agg.Count, Arg: "refund_id"},
			agg.Aggregate{Name: "refund_max", Func: agg.Max, Arg: "refund_amount"})
	}
	return c
}

// demoJob runs the demo job in process on one state DB.
type demoJob struct {
	t      *testing.T
	db     *state.DB
	join   *join.Operator
	agg    *agg.Operator
	joined []row.Row // the agg's input, in order
	out    []row.Row // the agg's output changelog
}

func demoManifest(t *testing.T, logic int) *manifest.Manifest {
	t.Helper()
	j, err := join.New(context.Background(), mustOpen(t, t.TempDir()), joinConfig(func(row.Row) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	a := aggConfig(logic, j.OutputSchema())
	am, err := manifest.FromAgg(a)
	if err != nil {
		t.Fatal(err)
	}
	return &manifest.Manifest{Job: "orders_refunds", Operators: []manifest.Operator{joinManifest(), am}}
}

func mustOpen(t *testing.T, dir string) *state.DB {
	t.Helper()
	db, err := state.Open(dir, state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openDemo(t *testing.T, dir string, logic int) *demoJob {
	t.Helper()
	if _, err := manifest.Ensure(dir, demoManifest(t, logic)); err != nil {
		t.Fatal(err)
	}
	j := &demoJob{t: t, db: mustOpen(t, dir)}
	var err error
	j.join, err = join.New(context.Background(), j.db, joinConfig(func(r row.Row) error {
		j.joined = append(j.joined, r)
		var err error
		j.out, err = j.agg.Process(j.out, r)
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	if j.agg, err = agg.New(j.db, aggConfig(logic, j.join.OutputSchema())); err != nil {
		t.Fatal(err)
	}
	return j
}

// event is one input record of the workload.
type event struct {
	side join.Side
	r    row.Row
}

func (j *demoJob) push(evs []event) {
	j.t.Helper()
	ctx := context.Background()
	for i, e := range evs {
		if err := j.join.Push(ctx, e.side, e.r); err != nil {
			j.t.Fatal(err)
		}
		if i%200 == 199 {
			if err := j.join.Commit(ctx); err != nil {
				j.t.Fatal(err)
			}
		}
	}
	if err := j.join.Commit(ctx); err != nil {
		j.t.Fatal(err)
	}
}

func (j *demoJob) close() {
	j.t.Helper()
	if err := j.join.Close(); err != nil {
		j.t.Fatal(err)
	}
	if err := j.db.Close(); err != nil {
		j.t.Fatal(err)
	}
}

var day0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// workload returns orders over three days and refunds of about half of
// them (some orders refunded twice, some refunds before their order).
func workload(seed uint64, orders int) []event {
	rng := rand.New(rand.NewPCG(seed, 1))
	cities := []string{"beijing", "shanghai", "guangzhou", "shenzhen", "hangzhou"}
	var evs []event
	refundID := int64(1)
	for i := 0; i < orders; i++ {
		ts := day0.Add(time.Duration(i) * 72 * time.Hour / time.Duration(orders))
		o := row.New(row.Int64Value(int64(i+1)), row.StringValue(cities[rng.IntN(len(cities))]),
			row.Date32Value(int32(ts.Unix()/86400)), row.TimestampValue(ts.UnixMilli()))
		evs = append(evs, event{join.Left, o})
		for n := rng.IntN(3); n > 0; n-- {
			amount := row.DecimalValue(decimal128.FromI64(int64(100 + rng.IntN(10000))))
			if rng.IntN(10) == 0 {
				amount = row.NullValue()
			}
			r := row.New(row.Int64Value(refundID), row.Int64Value(int64(i+1)),
				row.TimestampValue(ts.Add(time.Hour).UnixMilli()), amount)
			refundID++
			evs = append(evs, event{join.Right, r})
		}
	}
	// Delay some records a little: refunds may arrive before their order.
	for i := range evs {
		j := min(len(evs)-1, i+rng.IntN(4))
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// table merges a changelog keyed by the schema key into formatted rows.
func table(s *row.Schema, log []row.Row) map[string]row.Row {
	m := map[string]row.Row{}
	for _, r := range log {
		k := fmt.Sprint(r.KeyValues(s))
		if r.Kind.IsAccumulate() {
			m[k] = r
		} else {
			delete(m, k)
		}
	}
	return m
}
