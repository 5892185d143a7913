package sidecar_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/fixture"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// ordersSchema is the test table: key order_id, a few typed columns.
var ordersSchema = row.MustSchema([]row.Column{
	{Name: "order_id", Type: row.Int64},
	{Name: "customer", Type: row.String},
	{Name: "amount", Type: row.Decimal(18, 2)},
	{Name: "created", Type: row.Timestamp(row.Millisecond, "")},
	{Name: "note", Type: row.String, Nullable: true},
}, []string{"order_id"}, 1)

// orderRow is order i of version v: the customer column names the
// version, so a test can tell which version a row came from.
func orderRow(i int64, version string) row.Row {
	note := row.NullValue()
	if i%2 == 0 {
		note = row.StringValue("even")
	}
	return row.New(
		row.Int64Value(i),
		row.StringValue(fmt.Sprintf("c%d@%s", i, version)),
		row.DecimalValue(decimal128.FromI64(i*100+5)),
		row.TimestampValue(1_763_800_000_000+i),
		note,
	)
}

func publishOrders(t testing.TB, m *coldstore.Memory, version string, n int) {
	t.Helper()
	rows := make([]row.Row, n)
	for i := range rows {
		rows[i] = orderRow(int64(i), version)
	}
	if err := m.Publish("orders", version, ordersSchema, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), rows); err != nil {
		t.Fatal(err)
	}
}

// refundsSchema is a second table with a composite key.
var refundsSchema = row.MustSchema([]row.Column{
	{Name: "order_id", Type: row.Int64},
	{Name: "seq", Type: row.Int32},
	{Name: "reason", Type: row.String},
}, []string{"order_id", "seq"}, 1)

func publishRefunds(t testing.TB, m *coldstore.Memory, version string) {
	t.Helper()
	rows := []row.Row{
		row.New(row.Int64Value(1), row.Int32Value(1), row.StringValue("damaged")),
		row.New(row.Int64Value(1), row.Int32Value(2), row.StringValue("late")),
	}
	if err := m.Publish("refunds", version, refundsSchema, time.Time{}, rows); err != nil {
		t.Fatal(err)
	}
}

func newMemory(t testing.TB) *coldstore.Memory {
	t.Helper()
	m := coldstore.NewMemory()
	publishOrders(t, m, "v1", 100)
	publishRefunds(t, m, "r1")
	t.Cleanup(func() { m.Close() })
	return m
}

// sidecarUnderTest is a running server with its addresses.
type sidecarUnderTest struct {
	srv  *sidecar.Server
	reg  *prometheus.Registry
	tcp  string // host:port
	unix string // unix:///path
	mets string // host:port of /metrics
	stop func() // cancels Run and waits for it
	err  func() error
}

// startSidecar runs a server over store on a free loopback port and a
// unix socket in t.TempDir(), stopped at cleanup.
func startSidecar(t testing.TB, store coldstore.Store, opts sidecar.Options) *sidecarUnderTest {
	t.Helper()
	return startSidecarFor(t, store, opts, t.Cleanup)
}

// stopBench stops the shared benchmark fixture, if one was started.
var stopBench = func() {}

func TestMain(m *testing.M) {
	code := m.Run()
	stopBench()
	os.Exit(code)
}

// startSidecarFor is startSidecar with the stop registered by cleanup.
func startSidecarFor(t testing.TB, store coldstore.Store, opts sidecar.Options, cleanup func(func())) *sidecarUnderTest {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	srv, err := sidecar.NewServer(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "sidecar-test-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "hotcold.sock")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan sidecar.Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- srv.Run(ctx, sidecar.Listeners{TCP: "127.0.0.1:0", Unix: sock, Metrics: "127.0.0.1:0", Gatherer: reg, Ready: func(a sidecar.Addrs) { ready <- a }})
	}()
	var addrs sidecar.Addrs
	select {
	case addrs = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("sidecar did not start: %v", err)
	}
	var once sync.Once
	var runErr error
	stop := func() {
		once.Do(func() {
			cancel()
			runErr = <-done
			os.RemoveAll(dir)
		})
	}
	cleanup(stop)
	return &sidecarUnderTest{srv: srv, reg: reg, tcp: addrs.TCP, unix: "unix://" + sock, mets: addrs.Metrics, stop: stop, err: func() error { stop(); return runErr }}
}

func dial(t testing.TB, addr string, opts ...sidecar.Option) *sidecar.Client {
	t.Helper()
	c, err := sidecar.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// hookStore wraps a real store to observe and steer calls: count them,
// block them, make them fail or panic.
type hookStore struct {
	coldstore.Store
	multiGets atomic.Int64
	describes atomic.Int64
	// before, if set, runs at the start of every MultiGet.
	before func(ctx context.Context, table string, keys [][]row.Value) error
}

func (h *hookStore) MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]coldstore.Result, error) {
	h.multiGets.Add(1)
	if h.before != nil {
		if err := h.before(ctx, table, keys); err != nil {
			return nil, err
		}
	}
	return h.Store.MultiGet(ctx, table, keys)
}

func (h *hookStore) Get(ctx context.Context, table string, key []row.Value) (coldstore.Result, error) {
	rs, err := h.MultiGet(ctx, table, [][]row.Value{key})
	if err != nil {
		return coldstore.Result{}, err
	}
	return rs[0], nil
}

func (h *hookStore) Describe(ctx context.Context, table string) (coldstore.TableInfo, error) {
	h.describes.Add(1)
	return h.Store.Describe(ctx, table)
}

// eventually polls cond until it holds or the deadline passes.
var eventually = fixture.Eventually

func key(i int64) []row.Value { return []row.Value{row.Int64Value(i)} }

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), nil
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
