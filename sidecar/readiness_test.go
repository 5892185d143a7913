package sidecar_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/sidecar"
)

func healthOf(t *testing.T, hc healthpb.HealthClient, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("health Check(%q): %v", service, err)
	}
	return resp.Status
}

func wantHealth(t *testing.T, hc healthpb.HealthClient, want healthpb.HealthCheckResponse_ServingStatus, services ...string) {
	t.Helper()
	for _, svc := range services {
		if got := healthOf(t, hc, svc); got != want {
			t.Errorf("health of %q: %v, want %v", svc, got, want)
		}
	}
}

// TestReadinessTransitions: a table granted to a job with no live version
// keeps the sidecar NOT_SERVING; a publish makes it SERVING; a store that
// is unreachable (closed) makes it NOT_SERVING again.
func TestReadinessTransitions(t *testing.T) {
	m := coldstore.NewMemory()
	publishRefunds(t, m, "r1")
	sc := startSidecar(t, m, sidecar.Options{
		Jobs:              []sidecar.Job{{Name: "enrich", Token: "tok-enrich", Tables: []string{"orders", "refunds"}}},
		ReadinessInterval: time.Hour, // recomputed by the test
	})
	hc := healthpb.NewHealthClient(rawConn(t, sc.tcp))
	overall := []string{"", sidecar.ServiceName}

	wantHealth(t, hc, healthpb.HealthCheckResponse_NOT_SERVING, append(overall, sidecar.TableHealthService("orders"))...)
	wantHealth(t, hc, healthpb.HealthCheckResponse_SERVING, sidecar.TableHealthService("refunds"))
	if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: sidecar.TableHealthService("nope")}); status.Code(err) != codes.NotFound {
		t.Errorf("health of a table never known: %v, want NotFound", err)
	}

	publishOrders(t, m, "v1", 10)
	sidecar.CheckReadiness(sc.srv)
	wantHealth(t, hc, healthpb.HealthCheckResponse_SERVING, append(overall, sidecar.TableHealthService("orders"), sidecar.TableHealthService("refunds"))...)

	m.Close()
	sidecar.CheckReadiness(sc.srv)
	wantHealth(t, hc, healthpb.HealthCheckResponse_NOT_SERVING, append(overall, sidecar.TableHealthService("orders"), sidecar.TableHealthService("refunds"))...)
}

// TestReadinessPeriodic: the server's own goroutine notices a publish;
// the health Watch stream delivers the change.
func TestReadinessPeriodic(t *testing.T) {
	m := coldstore.NewMemory()
	t.Cleanup(func() { m.Close() })
	sc := startSidecar(t, m, sidecar.Options{
		Jobs:              []sidecar.Job{{Name: "enrich", Token: "tok-enrich", Tables: []string{"orders"}}},
		ReadinessInterval: 10 * time.Millisecond,
	})
	hc := healthpb.NewHealthClient(rawConn(t, sc.tcp))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: sidecar.ServiceName})
	if err != nil {
		t.Fatal(err)
	}
	first, err := w.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("before the load: %v, want NOT_SERVING", first.Status)
	}
	publishOrders(t, m, "v1", 10)
	for {
		r, err := w.Recv()
		if err != nil {
			t.Fatalf("waiting for SERVING after a publish: %v", err)
		}
		if r.Status == healthpb.HealthCheckResponse_SERVING {
			break
		}
	}
}

// TestFreshnessGauges: publish time, covers-until and row count of each
// live version, gathered from the server's registry.
func TestFreshnessGauges(t *testing.T) {
	m := coldstore.NewMemory()
	t.Cleanup(func() { m.Close() })
	publishOrders(t, m, "v1", 7) // covers until 2026-11-22T00:00:00Z
	publishRefunds(t, m, "r1")   // covers-until unknown
	sc := startSidecar(t, m, sidecar.Options{ReadinessInterval: time.Hour})

	infos, err := m.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ordersAt, refundsAt float64
	for _, i := range infos {
		switch i.Name {
		case "orders":
			ordersAt = float64(i.LoadedAt.UnixNano()) / 1e9
		case "refunds":
			refundsAt = float64(i.LoadedAt.UnixNano()) / 1e9
		}
	}
	covers := float64(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).Unix())
	want := map[string]float64{
		"hotcold_sidecar_table_covers_until_seconds/orders": covers,
		"hotcold_sidecar_table_published_seconds/orders":    ordersAt,
		"hotcold_sidecar_table_published_seconds/refunds":   refundsAt,
		"hotcold_sidecar_table_rows/orders":                 7,
		"hotcold_sidecar_table_rows/refunds":                2,
	}
	if got := tableGauges(t, sc); !maps.Equal(got, want) {
		t.Fatalf("freshness gauges:\n got %v\nwant %v", got, want)
	}

	publishOrders(t, m, "v2", 3)
	sidecar.CheckReadiness(sc.srv)
	if got := tableGauges(t, sc)["hotcold_sidecar_table_rows/orders"]; got != 3 {
		t.Errorf("rows of orders after publishing v2 of 3 rows: %v, want 3", got)
	}
}

// tableGauges gathers the hotcold_sidecar_table_* gauges as
// "name/table" -> value.
func tableGauges(t *testing.T, sc *sidecarUnderTest) map[string]float64 {
	t.Helper()
	mfs, err := sc.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "hotcold_sidecar_table_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" {
					got[mf.GetName()+"/"+l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return got
}

// TestReadinessStopsOnShutdown: the periodic check ends with the server.
func TestReadinessStopsOnShutdown(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{ReadinessInterval: time.Millisecond})
	done := sidecar.ReadinessDone(sc.srv)
	select {
	case <-done:
		t.Fatal("the readiness goroutine ended before shutdown")
	default:
	}
	sc.stop() // Run returns after Shutdown
	select {
	case <-done:
	default:
		t.Fatal("the readiness goroutine still runs after Shutdown returned")
	}
}
