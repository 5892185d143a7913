package statemigrate_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/statemigrate"
)

// ordersWithNote is the orders side before the change: a note column the
// new logic drops.
var ordersWithNote = row.MustSchema([]row.Column{
	{Name: "order_id", Type: row.Int64},
	{Name: "note", Type: row.String, Nullable: true},
	{Name: "city", Type: row.String},
	{Name: "order_ts", Type: row.Timestamp(row.Millisecond, "")},
}, []string{"order_id"}, 1)

var ordersNoNote = row.MustSchema([]row.Column{
	{Name: "order_id", Type: row.Int64},
	{Name: "city", Type: row.String},
	{Name: "order_ts", Type: row.Timestamp(row.Millisecond, "")},
}, []string{"order_id"}, 2)

func noteJoin(orders *row.Schema, emit func(row.Row) error) join.Config {
	return join.Config{
		Name: "j", Type: join.Inner, RetentionDays: 30,
		Left:  join.Input{Name: "orders", Schema: orders, Key: []string{"order_id"}, EventTime: "order_ts"},
		Right: join.Input{Name: "refunds", Schema: refundsSchema, Key: []string{"order_id"}, EventTime: "refund_ts"},
		Output: []join.Column{
			{Side: join.Left, Source: "order_id"}, {Side: join.Left, Source: "city"}, {Side: join.Right, Source: "refund_id"},
		},
		Emit: emit,
	}
}

func noteManifest(orders *row.Schema) *manifest.Manifest {
	return &manifest.Manifest{Job: "j", Operators: []manifest.Operator{{
		ID: "j", Kind: manifest.KindJoin, JoinType: "inner", Inputs: []string{"orders", "refunds"}, Output: "out", Version: orders.Version(),
		Tables: []manifest.Table{
			{Namespace: "j/orders", Input: "orders", Key: []string{"order_id"}, Columns: manifest.ColumnsOf(orders)},
			{Namespace: "j/refunds", Input: "refunds", Key: []string{"order_id"}, Columns: manifest.ColumnsOf(refundsSchema)},
		},
	}}}
}

// TestApplyRewritesJoinStateTheNewJoinReads drops a column from a join
// side: the stored orders are rewritten, and the new join matches refunds
// against them.
func TestApplyRewritesJoinStateTheNewJoinReads(t *testing.T) {
	ctx := context.Background()
	src, out := t.TempDir()+"/old", t.TempDir()+"/new"
	if _, err := manifest.Ensure(src, noteManifest(ordersWithNote)); err != nil {
		t.Fatal(err)
	}
	db := mustOpen(t, src)
	j, err := join.New(ctx, db, noteJoin(ordersWithNote, func(row.Row) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	ts := row.TimestampValue(day0.UnixMilli())
	for i := int64(1); i <= 50; i++ {
		note := row.StringValue(fmt.Sprint("note ", i))
		if err := j.Push(ctx, join.Left, row.New(row.Int64Value(i), note, row.StringValue(fmt.Sprint("city", i%3)), ts)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	j.Close()
	db.Close()

	plan := statemigrate.NewPlan(noteManifest(ordersWithNote), noteManifest(ordersNoNote))
	if plan.Verdict != statemigrate.Migrate || !plan.Operators[0].Rewrite {
		t.Fatalf("plan:\n%s", plan)
	}
	res, err := statemigrate.Apply(ctx, src, plan, out, statemigrate.ApplyOptions{SampleEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Operators[0]; r.Rows != 50 || r.Rewritten != 50 {
		t.Fatalf("result %+v", r)
	}

	if _, err := manifest.Ensure(out, noteManifest(ordersNoNote)); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, out)
	var joined []string
	j, err = join.New(ctx, db, noteJoin(ordersNoNote, func(r row.Row) error {
		joined = append(joined, r.String())
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rts := row.TimestampValue(day0.Add(time.Hour).UnixMilli())
	for _, id := range []int64{7, 42} {
		if err := j.Push(ctx, join.Right, row.New(row.Int64Value(100+id), row.Int64Value(id), rts, row.NullValue())); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(joined); got != "[+I[7, city1, 107] +I[42, city0, 142]]" {
		t.Fatalf("joined after migration: %s", got)
	}
}
