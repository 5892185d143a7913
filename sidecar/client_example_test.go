package sidecar_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// A client of a sidecar on a loopback TCP port, with a job token: it
// describes the table and reads two keys in one call.
func ExampleDial() {
	schema := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "customer", Type: row.String},
	}, []string{"order_id"}, 1)
	store := coldstore.NewMemory()
	defer store.Close()
	if err := store.Publish("orders", "dt=2026-11-22", schema, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
		[]row.Row{row.New(row.Int64Value(42), row.StringValue("alice"))}); err != nil {
		panic(err)
	}
	srv, err := sidecar.NewServer(store, sidecar.Options{
		Jobs: []sidecar.Job{{Name: "orders-enrich", Token: "s3cret", Tables: []string{"orders"}}},
	})
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	addr, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- srv.Run(ctx, sidecar.Listeners{TCP: "127.0.0.1:0", Ready: func(a sidecar.Addrs) { addr <- a.TCP }})
	}()

	c, err := sidecar.Dial(<-addr, sidecar.WithToken("s3cret"))
	if err != nil {
		panic(err)
	}
	ti, err := c.Describe(ctx, "orders")
	if err != nil {
		panic(err)
	}
	fmt.Println(ti.Name, ti.Version, ti.CoversUntil.Format(time.DateOnly))
	res, err := c.MultiGet(ctx, "orders", [][]row.Value{{row.Int64Value(42)}, {row.Int64Value(7)}})
	if err != nil {
		panic(err)
	}
	for _, r := range res {
		fmt.Println(r.Found, r.Row.Format(schema))
	}

	c.Close()
	stop()
	fmt.Println("stopped:", <-done)
	// Output:
	// orders dt=2026-11-22 2026-11-23
	// true +I[42, alice]
	// false +I[]
	// stopped: <nil>
}
