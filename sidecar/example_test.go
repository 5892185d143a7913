package sidecar_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// A sidecar over an in-memory cold store, serving a unix socket, and a
// client reading one row through it.
func Example() {
	schema := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "customer", Type: row.String},
		{Name: "amount", Type: row.Float64, Nullable: true},
	}, []string{"order_id"}, 1)
	store := coldstore.NewMemory()
	defer store.Close()
	rows := []row.Row{row.New(row.Int64Value(42), row.StringValue("alice"), row.Float64Value(9.99))}
	if err := store.Publish("orders", "2026-11-22", schema, time.Time{}, rows); err != nil {
		panic(err)
	}

	srv, err := sidecar.NewServer(store, sidecar.Options{})
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "sidecar-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "hotcold.sock")
	ctx, stop := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error)
	go func() {
		done <- srv.Run(ctx, sidecar.Listeners{Unix: sock, Ready: func(sidecar.Addrs) { close(ready) }})
	}()
	<-ready

	c, err := sidecar.Dial("unix://" + sock)
	if err != nil {
		panic(err)
	}
	res, err := c.Get(ctx, "orders", []row.Value{row.Int64Value(42)})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Found, res.Version, res.Row.Format(schema))
	miss, _ := c.Get(ctx, "orders", []row.Value{row.Int64Value(7)})
	fmt.Println(miss.Found, miss.Version)

	c.Close()
	stop()
	fmt.Println("stopped:", <-done)
	// Output:
	// true 2026-11-22 +I[42, alice, 9.99]
	// false 2026-11-22
	// stopped: <nil>
}
