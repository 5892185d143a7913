// Command 04-load-cold-table loads a Parquet partition (a warehouse export)
// into an embedded Pebble cold store, the Go form of `hotcold load`, and
// looks rows up.
//
//	go run ./examples/go/04-load-cold-table
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "04-load-cold-table:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "load-cold-table-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// A warehouse export: one Parquet file of orders (order 2 appears twice;
	// the last one wins).
	s := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64, Nullable: true},
		{Name: "customer", Type: row.String, Nullable: true},
	}, nil, 1)
	part := filepath.Join(dir, "orders-2026-11-22.parquet")
	err = coldstore.WriteParquet(ctx, part, s, []row.Row{
		row.New(row.Int64Value(1), row.StringValue("ada")),
		row.New(row.Int64Value(2), row.StringValue("bob")),
		row.New(row.Int64Value(2), row.StringValue("bob, corrected")),
	}, nil)
	if err != nil {
		return err
	}

	st, err := coldstore.OpenPebble(filepath.Join(dir, "cold"), nil)
	if err != nil {
		return err
	}
	defer st.Close()
	src, err := coldstore.OpenParquet(ctx, part)
	if err != nil {
		return err
	}
	defer src.Close()
	res, err := st.Load(ctx, coldstore.LoadSpec{
		Table: "orders", Version: "dt=2026-11-22", Key: []string{"order_id"},
		CoversUntil: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), Source: src,
	})
	if err != nil {
		return err
	}
	fmt.Printf("loaded %d rows, %d duplicate\n", res.Rows, res.Duplicates)

	got, err := st.MultiGet(ctx, "orders", [][]row.Value{{row.Int64Value(2)}, {row.Int64Value(3)}})
	if err != nil {
		return err
	}
	for _, r := range got {
		fmt.Println(r.Found, r.Row, r.Version)
	}
	ti, err := st.Describe(ctx, "orders")
	if err != nil {
		return err
	}
	fmt.Println(ti.Version, ti.Rows, ti.CoversUntil.Format(time.DateOnly))
	return nil
}
