package sidecar_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// A sidecar holding a Pebble store, loaded through its admin service
// while it serves: the lookup answers from the new version right away.
func ExampleAdminClient() {
	dir, err := os.MkdirTemp("", "sidecar-admin-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	store, err := coldstore.OpenPebble(filepath.Join(dir, "cold"), nil)
	if err != nil {
		panic(err)
	}
	defer store.Close()

	srv, err := sidecar.NewServer(store, sidecar.Options{AdminToken: "s3cret-admin", AdminInputRoots: []string{os.TempDir()}})
	if err != nil {
		panic(err)
	}
	sock := filepath.Join(dir, "hotcold.sock")
	ctx, stop := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error)
	go func() {
		done <- srv.Run(ctx, sidecar.Listeners{Unix: sock, Ready: func(sidecar.Addrs) { close(ready) }})
	}()
	<-ready

	// The day's export, on the sidecar's host.
	schema := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "customer", Type: row.String},
	}, nil, 1)
	file := filepath.Join(dir, "orders-2026-11-22.parquet")
	rows := []row.Row{row.New(row.Int64Value(42), row.StringValue("alice")), row.New(row.Int64Value(43), row.StringValue("bob"))}
	if err := coldstore.WriteParquet(ctx, file, schema, rows, nil); err != nil {
		panic(err)
	}

	admin, err := sidecar.NewAdminClient(ctx, "unix://"+sock, "s3cret-admin")
	if err != nil {
		panic(err)
	}
	res, err := admin.Load(ctx, sidecar.AdminLoad{
		Table: "orders", Version: "dt=2026-11-22", Key: []string{"order_id"}, Files: []string{file},
	}, func(p coldstore.LoadProgress) { /* p.Phase, p.Rows, p.Elapsed... */ })
	if err != nil {
		panic(err)
	}
	fmt.Println("loaded", res.Rows, "rows as", res.Version)

	c, err := sidecar.Dial("unix://" + sock)
	if err != nil {
		panic(err)
	}
	got, err := c.Get(ctx, "orders", []row.Value{row.Int64Value(42)})
	if err != nil {
		panic(err)
	}
	fmt.Println(got.Found, got.Version, got.Row.Format(nil))

	_, err = admin.Load(ctx, sidecar.AdminLoad{
		Table: "orders", Version: "dt=2026-11-22", Key: []string{"order_id"}, Files: []string{file},
	}, nil)
	fmt.Println(err)

	c.Close()
	admin.Close()
	stop()
	fmt.Println("stopped:", <-done)
	// Output:
	// loaded 2 rows as dt=2026-11-22
	// true dt=2026-11-22 +I[42, alice]
	// coldstore: load orders: version "dt=2026-11-22" is already retained: pick a new version name, or roll back to it with hotcold load rollback
	// stopped: <nil>
}
