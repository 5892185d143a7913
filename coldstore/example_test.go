package coldstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

// Load a Parquet partition into an embedded store and look rows up.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "coldstore-example-")
	defer os.RemoveAll(dir)

	// A warehouse export: one Parquet file of orders (order 2 appears twice;
	// the last one wins).
	s := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64, Nullable: true},
		{Name: "customer", Type: row.String, Nullable: true},
	}, nil, 1)
	part := filepath.Join(dir, "orders-2026-11-22.parquet")
	_ = coldstore.WriteParquet(ctx, part, s, []row.Row{
		row.New(row.Int64Value(1), row.StringValue("ada")),
		row.New(row.Int64Value(2), row.StringValue("bob")),
		row.New(row.Int64Value(2), row.StringValue("bob, corrected")),
	}, nil)

	st, err := coldstore.OpenPebble(filepath.Join(dir, "cold"), nil)
	if err != nil {
		panic(err)
	}
	defer st.Close()
	src, err := coldstore.OpenParquet(ctx, part)
	if err != nil {
		panic(err)
	}
	defer src.Close()
	res, err := st.Load(ctx, coldstore.LoadSpec{
		Table: "orders", Version: "dt=2026-11-22", Key: []string{"order_id"},
		CoversUntil: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), Source: src,
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("loaded %d rows, %d duplicate\n", res.Rows, res.Duplicates)

	got, _ := st.MultiGet(ctx, "orders", [][]row.Value{{row.Int64Value(2)}, {row.Int64Value(3)}})
	for _, r := range got {
		fmt.Println(r.Found, r.Row, r.Version)
	}
	ti, _ := st.Describe(ctx, "orders")
	fmt.Println(ti.Version, ti.Rows, ti.CoversUntil.Format(time.DateOnly))
	// Output:
	// loaded 2 rows, 1 duplicate
	// true +I[2, bob, corrected] dt=2026-11-22
	// false +I[] dt=2026-11-22
	// dt=2026-11-22 2 2026-11-22
}
