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

func ordersQty(qty, price row.Type, version uint32, extra ...row.Column) *row.Schema {
	cols := []row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "city", Type: row.String},
		{Name: "order_ts", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "qty", Type: qty, Nullable: true},
		{Name: "price", Type: price, Nullable: true},
	}
	return row.MustSchema(append(cols, extra...), []string{"order_id"}, version)
}

func qtyJoin(orders *row.Schema, emit func(row.Row) error) join.Config {
	cfg := noteJoin(orders, emit)
	cfg.Output = append(cfg.Output, join.Column{Side: join.Left, Source: "qty"}, join.Column{Side: join.Left, Source: "price"})
	if orders.Index("channel") >= 0 {
		cfg.Output = append(cfg.Output, join.Column{Side: join.Left, Source: "channel"})
	}
	return cfg
}

// TestApplyWidensTypesAndFillsDefaults: int32 -> int64, float32 ->
// float64 and decimal(9, 2) -> decimal(18, 2) are a rewrite (not a
// rebuild), and a column added with a default reads the default in every
// saved row (issue #18 points 3 and 4): the new join, at version 2, matches
// refunds against the rewritten orders and emits the widened values and
// the default.
func TestApplyWidensTypesAndFillsDefaults(t *testing.T) {
	ctx := context.Background()
	src, out := t.TempDir()+"/old", t.TempDir()+"/new"
	old := ordersQty(row.Int32, row.Float32, 1)
	unknown := row.StringValue("unknown")
	widened := ordersQty(row.Int64, row.Float64, 2, row.Column{Name: "channel", Type: row.String, Default: unknown})
	if _, err := manifest.Ensure(src, noteManifest(old)); err != nil {
		t.Fatal(err)
	}
	db := mustOpen(t, src)
	j, err := join.New(ctx, db, qtyJoin(old, func(row.Row) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	ts := row.TimestampValue(day0.UnixMilli())
	for i := int64(1); i <= 20; i++ {
		if err := j.Push(ctx, join.Left, row.New(row.Int64Value(i), row.StringValue(fmt.Sprint("city", i%3)), ts, row.Int32Value(int32(i)), row.Float32Value(float32(i)+0.5))); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	j.Close()
	db.Close()

	plan := statemigrate.NewPlan(noteManifest(old), noteManifest(widened))
	if plan.Verdict != statemigrate.Migrate || !plan.Operators[0].Rewrite {
		t.Fatalf("plan:\n%s", plan)
	}
	if _, err := statemigrate.Apply(ctx, src, plan, out, statemigrate.ApplyOptions{SampleEvery: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.Ensure(out, noteManifest(widened)); err != nil {
		t.Fatal(err)
	}
	db = mustOpen(t, out)
	var joined []string
	j, err = join.New(ctx, db, qtyJoin(widened, func(r row.Row) error {
		joined = append(joined, r.String())
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rts := row.TimestampValue(day0.Add(time.Hour).UnixMilli())
	if err := j.Push(ctx, join.Right, row.New(row.Int64Value(107), row.Int64Value(7), rts, row.NullValue())); err != nil {
		t.Fatal(err)
	}
	if err := j.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(joined); got != "[+I[7, city1, 107, 7, 7.5, unknown]]" {
		t.Fatalf("joined after migration: %s", got)
	}

	// Narrowing, or a decimal's scale, is no widening: a rebuild.
	for _, to := range []*row.Schema{ordersQty(row.Int32, row.Float32, 2).WithVersion(2), ordersQty(row.Int64, row.Decimal(18, 3), 2)} {
		from := ordersQty(row.Int64, row.Decimal(9, 2), 1)
		if p := statemigrate.NewPlan(noteManifest(from), noteManifest(to)); p.Verdict != statemigrate.Rebuild {
			t.Errorf("%s -> %s: plan\n%s", from, to, p)
		}
	}
	if p := statemigrate.NewPlan(noteManifest(ordersQty(row.Int64, row.Decimal(9, 2), 1)), noteManifest(ordersQty(row.Int64, row.Decimal(18, 2), 2))); p.Verdict != statemigrate.Migrate {
		t.Errorf("decimal precision up: plan\n%s", p)
	}
}
