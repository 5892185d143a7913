// Command 01-embedded-join joins refunds to orders in process, with no
// Kafka: today's orders come from the stream (hot state), older ones from a
// cold table loaded into an embedded Pebble cold store in a temporary
// directory.
//
//	go run ./examples/go/01-embedded-join
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "01-embedded-join:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "join-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	ms := func(s string) row.Value { return row.TimestampValue(day(s).UnixMilli()) }

	orders := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "order_ts", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "customer", Type: row.String},
	}, []string{"order_id"}, 1)
	refunds := row.MustSchema([]row.Column{
		{Name: "refund_id", Type: row.Int64},
		{Name: "order_id", Type: row.Int64},
		{Name: "refund_ts", Type: row.Timestamp(row.Millisecond, "")},
	}, []string{"refund_id"}, 1)

	// The cold store holds the orders up to 2026-11-05 (a daily bulk load).
	cold, err := coldstore.OpenPebble(filepath.Join(dir, "cold"), nil)
	if err != nil {
		return err
	}
	defer cold.Close()
	_, err = cold.Load(ctx, coldstore.LoadSpec{
		Table: "orders", Version: "dt=2026-11-05", Key: []string{"order_id"},
		CoversUntil: day("2026-11-06"),
		Source:      coldstore.RowSource(orders, []row.Row{row.New(row.Int64Value(1), ms("2026-11-01"), row.StringValue("ada"))}),
	})
	if err != nil {
		return err
	}

	db, err := state.Open(filepath.Join(dir, "state"), state.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	var op *join.Operator
	op, err = join.New(ctx, db, join.Config{
		Name:   "orders_refunds",
		Left:   join.Input{Name: "orders", Schema: orders, Key: []string{"order_id"}, EventTime: "order_ts", ColdTable: "orders"},
		Right:  join.Input{Name: "refunds", Schema: refunds, Key: []string{"order_id"}, EventTime: "refund_ts"},
		Output: []join.Column{{Side: join.Left, Source: "order_id"}, {Side: join.Left, Source: "customer"}, {Side: join.Right, Source: "refund_id"}},
		Cold:   cold,
		Emit: func(r row.Row) error {
			fmt.Println(r.Format(op.OutputSchema()))
			return nil
		},
	})
	if err != nil {
		return err
	}
	defer op.Close()
	op.Advance(day("2026-11-10")) // the hot window: 11-09 and 11-10

	// Order 2 arrives today and is stored in hot state.
	if err := op.Push(ctx, join.Left, row.New(row.Int64Value(2), ms("2026-11-10"), row.StringValue("bob"))); err != nil {
		return err
	}
	// A refund of order 2 joins it from hot state at once.
	if err := op.Push(ctx, join.Right, row.New(row.Int64Value(20), row.Int64Value(2), ms("2026-11-10"))); err != nil {
		return err
	}
	// A refund of order 1 misses hot state and looks order 1 up in the cold
	// store; Flush waits for the lookup.
	if err := op.Push(ctx, join.Right, row.New(row.Int64Value(10), row.Int64Value(1), ms("2026-11-10"))); err != nil {
		return err
	}
	if err := op.Flush(ctx); err != nil {
		return err
	}
	if err := op.Commit(ctx); err != nil {
		return err
	}
	st := op.Stats()
	fmt.Printf("orders: hot hits %d, cold hits %d; outputs %d\n", st.Left.HotHits, st.Left.ColdHits, st.Outputs)
	return nil
}
