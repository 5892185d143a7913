package sidecar_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/redistest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// loadRedis loads n orders (version v) or the refunds into a Redis store.
func loadRedis(t *testing.T, r *coldstore.Redis, table, version string, n int) {
	t.Helper()
	var rows []row.Row
	s := ordersSchema
	if table == "orders" {
		for i := 0; i < n; i++ {
			rows = append(rows, orderRow(int64(i), version))
		}
	} else {
		s = refundsSchema
		rows = []row.Row{row.New(row.Int64Value(1), row.Int32Value(1), row.StringValue("damaged"))}
	}
	if _, err := r.Load(context.Background(), coldstore.LoadSpec{Table: table, Version: version, Key: s.KeyNames(), Source: coldstore.RowSource(s, rows)}); err != nil {
		t.Fatal(err)
	}
}

// wantDataLoss checks that err is a DataLoss status naming the table and
// version and saying what to do, that the client wraps ErrDataLoss, and
// never a miss.
func wantDataLoss(t *testing.T, what string, err error, table, version string) {
	t.Helper()
	if status.Code(err) != codes.DataLoss || !errors.Is(err, coldstore.ErrDataLoss) {
		t.Fatalf("%s: %v, want DataLoss wrapping coldstore.ErrDataLoss", what, err)
	}
	msg := status.Convert(err).Message()
	for _, want := range []string{"table \"" + table + "\"", "version \"" + version + "\"", "reload the table", "roll back"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("%s: message %q lacks %q", what, msg, want)
		}
	}
}

// TestDataLossRedis: the version's keys deleted, then FLUSHALL, under a
// running sidecar on a real redis-server: lookups answer DataLoss (never
// found:false), the table's health turns NOT_SERVING (the other table's
// stays SERVING until its keys go too), and a reload heals it.
func TestDataLossRedis(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	raw := srv.Client(t)
	r, err := coldstore.OpenRedis(ctx, &coldstore.RedisOptions{Addrs: []string{srv.Addr()}, Prefix: "dl:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	loadRedis(t, r, "orders", "v1", 200)
	loadRedis(t, r, "refunds", "r1", 0)
	sc := startSidecar(t, r, sidecar.Options{ReadinessInterval: time.Hour, CacheBytes: -1})
	c := dial(t, sc.tcp)
	hc := healthpb.NewHealthClient(rawConn(t, sc.tcp))
	overall := []string{"", sidecar.ServiceName}
	orders, refunds := sidecar.TableHealthService("orders"), sidecar.TableHealthService("refunds")
	wantHealth(t, hc, healthpb.HealthCheckResponse_SERVING, append(overall, orders, refunds)...)
	if res, err := c.Get(ctx, "orders", key(5000)); err != nil || res.Found {
		t.Fatalf("a missing key of a whole version: %+v, %v; want found:false", res, err)
	}

	// The version's keys deleted (evicted, or lost with a node).
	keys, err := raw.Keys(ctx, "dl:[dv]:orders:*").Result()
	if err != nil || len(keys) != 201 {
		t.Fatalf("keys of orders v1: %d, %v; want 200 rows and the marker", len(keys), err)
	}
	if err := raw.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctx, "orders", key(5000))
	wantDataLoss(t, "Get of a missing key", err, "orders", "v1")
	_, err = c.MultiGet(ctx, "orders", [][]row.Value{key(1), key(2)})
	wantDataLoss(t, "MultiGet", err, "orders", "v1")
	sidecar.CheckReadiness(sc.srv)
	wantHealth(t, hc, healthpb.HealthCheckResponse_NOT_SERVING, append(overall, orders)...)
	wantHealth(t, hc, healthpb.HealthCheckResponse_SERVING, refunds)

	// A reload heals it.
	loadRedis(t, r, "orders", "v2", 200)
	sidecar.CheckReadiness(sc.srv)
	wantHealth(t, hc, healthpb.HealthCheckResponse_SERVING, append(overall, orders, refunds)...)
	if res, err := c.Get(ctx, "orders", key(7)); err != nil || !res.Found || res.Version != "v2" {
		t.Fatalf("after the reload: %+v, %v", res, err)
	}

	// FLUSHALL: every table.
	if err := raw.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctx, "orders", key(8))
	wantDataLoss(t, "Get after FLUSHALL", err, "orders", "v2")
	_, err = c.Get(ctx, "refunds", []row.Value{row.Int64Value(1), row.Int32Value(9)})
	wantDataLoss(t, "Get of refunds after FLUSHALL", err, "refunds", "r1")
	sidecar.CheckReadiness(sc.srv)
	wantHealth(t, hc, healthpb.HealthCheckResponse_NOT_SERVING, append(overall, orders, refunds)...)
}
