package sidecar_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
	"github.com/hotcold/hotcold/sidecar/adminpb"
)

const (
	adminToken = "tok-admin"
	jobToken   = "tok-reader"
)

// readerJob is a lookup job that may read every table.
var readerJob = sidecar.Job{Name: "reader", Token: jobToken, Tables: []string{"*"}}

// newPebble opens a Pebble cold store in t.TempDir(), closed at cleanup
// (after a sidecar started later has stopped).
func newPebble(t testing.TB) *coldstore.Pebble {
	t.Helper()
	p, err := coldstore.OpenPebble(filepath.Join(t.TempDir(), "cold"), &coldstore.PebbleOptions{CacheSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// writeOrdersParquet writes orders [from, to) of version v (see orderRow)
// as a Parquet file in dir and returns its absolute path.
func writeOrdersParquet(t testing.TB, dir, name string, from, to int64, v string) string {
	t.Helper()
	rows := make([]row.Row, 0, to-from)
	for i := from; i < to; i++ {
		rows = append(rows, orderRow(i, v))
	}
	p := filepath.Join(dir, name)
	if err := coldstore.WriteParquet(context.Background(), p, ordersSchema, rows, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadLocally loads orders [0, n) of version v into the store directly.
func loadLocally(t testing.TB, b coldstore.Backend, v string, n int64) {
	t.Helper()
	src, err := coldstore.OpenParquet(context.Background(), writeOrdersParquet(t, t.TempDir(), v+".parquet", 0, n, v))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := b.Load(context.Background(), coldstore.LoadSpec{Table: "orders", Version: v, Key: []string{"order_id"}, Source: src}); err != nil {
		t.Fatal(err)
	}
}

func adminClient(t testing.TB, addr, token string, opts ...grpc.DialOption) *sidecar.AdminClient {
	t.Helper()
	c, err := sidecar.NewAdminClient(context.Background(), addr, token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// adminCalls is hotcold_sidecar_admin_calls_total{method, code}.
func adminCalls(t testing.TB, reg *prometheus.Registry, method string, code codes.Code) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hotcold_sidecar_admin_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["code"] == code.String() {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func liveVersions(t testing.TB, b coldstore.Backend) []string {
	t.Helper()
	vs, err := b.Versions(context.Background(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vs {
		s := v.Version
		if v.Live {
			s += "*"
		}
		out = append(out, s)
	}
	return out
}

func TestAdminLoadPublishesANewVersionWhileLookupsRun(t *testing.T) {
	store := newPebble(t)
	loadLocally(t, store, "v1", 200)
	// A long version check interval: only the admin load's own refresh can
	// make lookups see v2 right after it returns.
	sc := startSidecar(t, store, sidecar.Options{
		AdminToken: adminToken, AdminInputRoots: testRoots, Jobs: []sidecar.Job{readerJob},
		VersionCheckInterval: time.Hour, AdminProgressInterval: time.Millisecond,
	})
	reader := dial(t, sc.unix, sidecar.WithToken(jobToken))
	ctx := context.Background()

	// Readers check every answer: the row must come from the version the
	// answer names, and versions never go backwards once v2 was seen.
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		lookups  atomic.Int64
		failures = make(chan error, 4)
	)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sawV2 := false
			for i := int64(g); ; i = (i + 7) % 200 {
				select {
				case <-stop:
					return
				default:
				}
				res, err := reader.Get(ctx, "orders", key(i))
				lookups.Add(1)
				switch {
				case err != nil:
					failures <- err
					return
				case !res.Found || !res.Row.Equal(orderRow(i, res.Version)):
					failures <- fmt.Errorf("key %d: found %v, row %v, from version %s", i, res.Found, res.Row, res.Version)
					return
				case res.Version == "v2":
					sawV2 = true
				case sawV2:
					failures <- fmt.Errorf("key %d answered from %s after v2", i, res.Version)
					return
				}
			}
		}()
	}
	eventually(t, "lookups to run", func() bool { return lookups.Load() > 50 })

	admin := adminClient(t, sc.tcp, adminToken)
	file := writeOrdersParquet(t, t.TempDir(), "v2.parquet", 0, 300, "v2")
	var progress []coldstore.LoadProgress
	res, err := admin.Load(ctx, sidecar.AdminLoad{
		Table: "orders", Version: "v2", Key: []string{"order_id"}, Files: []string{file},
		CoversUntil: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
	}, func(p coldstore.LoadProgress) { progress = append(progress, p) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Table != "orders" || res.Version != "v2" || res.Rows != 300 || res.Duplicates != 0 || res.Bytes <= 0 ||
		res.Seconds <= 0 || res.SchemaVersion != 1 || res.Schema == nil || !slicesEqual(res.Schema.KeyNames(), []string{"order_id"}) {
		t.Fatalf("result %+v", res)
	}
	if len(progress) == 0 {
		t.Fatal("no progress events")
	}
	if last := progress[len(progress)-1]; last.Phase != "done" || last.Rows != 300 || last.Written != 300 {
		t.Fatalf("last progress event %+v, want phase done with 300 rows", last)
	}

	// Every lookup from now on answers from v2, rows 200..299 included
	// (which v1 and its cached misses did not have).
	for i := int64(0); i < 300; i += 13 {
		r, err := reader.Get(ctx, "orders", key(i))
		if err != nil || !r.Found || r.Version != "v2" || !r.Row.Equal(orderRow(i, "v2")) {
			t.Fatalf("after the load, Get(%d) = %+v, %v; want the v2 row", i, r, err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-failures:
		t.Fatal(err)
	default:
	}

	if got := liveVersions(t, store); !slicesEqual(got, []string{"v2*", "v1"}) {
		t.Fatalf("versions %v, want v2 live and v1 retained", got)
	}
	ti, err := store.Describe(ctx, "orders")
	if err != nil || !ti.CoversUntil.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("covers-until %v, %v", ti.CoversUntil, err)
	}
	if n := adminCalls(t, sc.reg, "Load", codes.OK); n != 1 {
		t.Fatalf("admin_calls_total{Load,OK} = %v, want 1", n)
	}
}

func slicesEqual(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

func TestAdminServiceNeedsItsOwnToken(t *testing.T) {
	store := newPebble(t)
	loadLocally(t, store, "v1", 10)
	sc := startSidecar(t, store, sidecar.Options{AdminToken: adminToken, AdminInputRoots: testRoots, Jobs: []sidecar.Job{readerJob}})
	ctx := context.Background()
	for _, tc := range []struct {
		name, token string
		want        codes.Code
		msg         string
	}{
		{"a job token", jobToken, codes.PermissionDenied, `the token of job "reader" may only look up`},
		{"an unknown token", "tok-guess", codes.Unauthenticated, "unknown token"},
		{"the admin token", adminToken, codes.OK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := adminClient(t, sc.unix, tc.token)
			vs, err := c.Versions(ctx, "")
			if status.Code(err) != tc.want || (err != nil && !strings.Contains(err.Error(), tc.msg)) {
				t.Fatalf("Versions: %v (code %v), want %v with %q", err, status.Code(err), tc.want, tc.msg)
			}
			if tc.want == codes.OK && (len(vs) != 1 || vs[0].Version != "v1" || !vs[0].Live) {
				t.Fatalf("versions %+v", vs)
			}
			_, err = c.Load(ctx, sidecar.AdminLoad{Table: "orders", Version: "v9", Key: []string{"order_id"}, Files: []string{"/nonexistent.parquet"}}, nil)
			if tc.want != codes.OK && status.Code(err) != tc.want {
				t.Fatalf("Load: %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("no token", func(t *testing.T) {
		rpc := adminpb.NewAdminServiceClient(rawConn(t, sc.tcp))
		_, err := rpc.ListVersions(ctx, &adminpb.ListVersionsRequest{})
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "authorization: Bearer <admin token>") {
			t.Fatalf("without a token: %v", err)
		}
	})
	t.Run("lookups keep their own auth", func(t *testing.T) {
		if _, err := dial(t, sc.tcp, sidecar.WithToken(adminToken)).Get(ctx, "orders", key(1)); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("a lookup with the admin token: %v, want Unauthenticated", err)
		}
		if r, err := dial(t, sc.tcp, sidecar.WithToken(jobToken)).Get(ctx, "orders", key(1)); err != nil || !r.Found {
			t.Fatalf("a lookup with the job token: %+v %v", r, err)
		}
	})
	if n := adminCalls(t, sc.reg, "ListVersions", codes.OK); n != 1 {
		t.Fatalf("admin_calls_total{ListVersions,OK} = %v, want 1 (refused calls never reach the service)", n)
	}
}

func TestAdminServiceIsOffWithoutATokenOrALoadableStore(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	for _, tc := range []struct {
		name  string
		store coldstore.Store
		opts  sidecar.Options
		log   string
	}{
		{"no admin token", newPebble(t), sidecar.Options{Logger: logger}, "admin service off: no admin token configured"},
		{"a store that cannot be loaded", newMemory(t), sidecar.Options{Logger: logger, AdminToken: adminToken, AdminInputRoots: testRoots}, "admin service off: the store cannot be loaded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := startSidecar(t, tc.store, tc.opts)
			_, err := adminClient(t, sc.tcp, adminToken).Versions(ctx, "")
			if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), "--admin-token-file") {
				t.Fatalf("Versions: %v, want Unimplemented saying how to turn it on", err)
			}
			if !strings.Contains(logs.String(), tc.log) {
				t.Fatalf("log lacks %q:\n%s", tc.log, logs.String())
			}
		})
	}
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestAdminLoadErrorsNameTheFieldOrFile(t *testing.T) {
	store := newPebble(t)
	loadLocally(t, store, "v1", 10)
	sc := startSidecar(t, store, sidecar.Options{AdminToken: adminToken, AdminInputRoots: testRoots})
	c := adminClient(t, sc.tcp, adminToken)
	ctx := context.Background()
	dir := t.TempDir()
	good := writeOrdersParquet(t, dir, "good.parquet", 0, 10, "v2")
	corrupt := filepath.Join(dir, "corrupt.parquet")
	if err := os.WriteFile(corrupt, []byte("PAR1 this is not a parquet file PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	nullKeySchema := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64, Nullable: true},
		{Name: "customer", Type: row.String},
	}, nil, 1)
	nullKey := filepath.Join(dir, "nullkey.parquet")
	if err := coldstore.WriteParquet(ctx, nullKey, nullKeySchema, []row.Row{
		row.New(row.Int64Value(1), row.StringValue("a")), row.New(row.NullValue(), row.StringValue("b")),
	}, nil); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.parquet")
	if err := coldstore.WriteParquet(ctx, other, nullKeySchema, []row.Row{row.New(row.Int64Value(1), row.StringValue("a"))}, nil); err != nil {
		t.Fatal(err)
	}
	load := func(version string, files ...string) sidecar.AdminLoad {
		return sidecar.AdminLoad{Table: "orders", Version: version, Key: []string{"order_id"}, Files: files}
	}
	for _, tc := range []struct {
		name string
		req  sidecar.AdminLoad
		code codes.Code
		want []string
		is   error
	}{
		{"missing fields", sidecar.AdminLoad{}, codes.InvalidArgument, []string{"table: must not be empty", "version: must not be empty", "key: must name the key columns", "files: must list the Parquet files"}, nil},
		{"a bad table name", sidecar.AdminLoad{Table: "a b", Version: "v2", Key: []string{"order_id"}, Files: []string{good}}, codes.InvalidArgument, []string{`table: "a b": character ' ' is not allowed`}, nil},
		{"a relative path", load("v2", good, "orders/part-1.parquet"), codes.InvalidArgument, []string{`files[1]: "orders/part-1.parquet" is not an absolute path`}, nil},
		{"a missing file", load("v2", filepath.Join(dir, "missing.parquet")), codes.InvalidArgument, []string{"files[0]: " + filepath.Join(dir, "missing.parquet") + ": no such file under the admin input roots"}, nil},
		{"a corrupt file", load("v2", good, corrupt), codes.InvalidArgument, []string{corrupt}, nil},
		{"a key column not in the file", sidecar.AdminLoad{Table: "orders", Version: "v2", Key: []string{"id"}, Files: []string{good}}, codes.InvalidArgument, []string{`key[0]: key column "id" is not in ` + good + " (its columns: order_id, customer, amount, created, note)"}, nil},
		{"a null key", sidecar.AdminLoad{Table: "fresh", Version: "f1", Key: []string{"order_id"}, Files: []string{nullKey}}, codes.InvalidArgument, []string{nullKey, "row group 0", "order_id", "key column is null"}, nil},
		{"an existing version", load("v1", good), codes.AlreadyExists, []string{`version "v1" is already retained`}, coldstore.ErrVersionExists},
		{"a changed schema", load("v2", other), codes.FailedPrecondition, []string{other, "differs from the live version"}, coldstore.ErrSchemaChanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Load(ctx, tc.req, nil)
			t.Logf("%v: %v", status.Code(err), err)
			if status.Code(err) != tc.code {
				t.Fatalf("Load: %v (code %v), want %v", err, status.Code(err), tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if strings.HasPrefix(err.Error(), "rpc error") {
				t.Errorf("error %q is not the sidecar's message alone", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
		})
	}
	if got := liveVersions(t, store); !slicesEqual(got, []string{"v1*"}) {
		t.Fatalf("after failed loads the versions are %v, want only v1 live", got)
	}
	if n := adminCalls(t, sc.reg, "Load", codes.InvalidArgument); n != 7 {
		t.Fatalf("admin_calls_total{Load,InvalidArgument} = %v, want 7", n)
	}
}

func TestAdminListAndRollbackThroughTheSidecar(t *testing.T) {
	store := newPebble(t)
	loadLocally(t, store, "v1", 50)
	// With a long version check interval and key 3 in the read cache, only
	// the admin calls' refresh of the live version makes the next lookup
	// leave the cached row of the previous version.
	sc := startSidecar(t, store, sidecar.Options{AdminToken: adminToken, AdminInputRoots: testRoots, VersionCheckInterval: time.Hour})
	c := adminClient(t, sc.unix, adminToken)
	reader := dial(t, sc.unix)
	ctx := context.Background()
	for range 2 {
		if r, err := reader.Get(ctx, "orders", key(3)); err != nil || r.Version != "v1" {
			t.Fatalf("before: %+v %v", r, err)
		}
	}
	if _, err := c.Load(ctx, sidecar.AdminLoad{Table: "orders", Version: "v2", Key: []string{"order_id"},
		Files: []string{writeOrdersParquet(t, t.TempDir(), "v2.parquet", 0, 60, "v2")}}, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := reader.Get(ctx, "orders", key(3)); err != nil || r.Version != "v2" || !r.Row.Equal(orderRow(3, "v2")) {
		t.Fatalf("right after the load: %+v %v, want the v2 row", r, err)
	}

	vs, err := c.Versions(ctx, "")
	if err != nil || len(vs) != 2 || vs[0].Version != "v2" || !vs[0].Live || vs[0].Rows != 60 || vs[1].Version != "v1" || vs[1].Live || vs[1].Rows != 50 {
		t.Fatalf("Versions: %+v %v", vs, err)
	}
	if vs[0].Schema == nil || vs[0].Schema.Len() != ordersSchema.Len() || vs[0].LoadedAt.IsZero() || len(vs[0].Sources) != 1 {
		t.Fatalf("version details %+v", vs[0])
	}

	ti, err := c.Rollback(ctx, "orders", "")
	if err != nil || ti.Name != "orders" || ti.Version != "v1" || ti.Rows != 50 || ti.Schema == nil {
		t.Fatalf("Rollback: %+v %v", ti, err)
	}
	if r, err := reader.Get(ctx, "orders", key(3)); err != nil || r.Version != "v1" || !r.Row.Equal(orderRow(3, "v1")) {
		t.Fatalf("right after the rollback: %+v %v, want the v1 row", r, err)
	}
	if ti, err := c.Rollback(ctx, "orders", "v2"); err != nil || ti.Version != "v2" {
		t.Fatalf("Rollback --to v2: %+v %v", ti, err)
	}

	for _, tc := range []struct {
		name string
		call func() error
		code codes.Code
		want string
		is   error
	}{
		{"rollback to a version not retained", func() error { _, err := c.Rollback(ctx, "orders", "v7"); return err }, codes.FailedPrecondition, `version "v7" is not retained`, nil},
		{"rollback of an unknown table", func() error { _, err := c.Rollback(ctx, "nope", ""); return err }, codes.NotFound, "", coldstore.ErrNoTable},
		{"rollback without a table", func() error { _, err := c.Rollback(ctx, "", ""); return err }, codes.InvalidArgument, "table: must not be empty", nil},
		{"versions of an unknown table", func() error { _, err := c.Versions(ctx, "nope"); return err }, codes.NotFound, `table "nope" has no version`, coldstore.ErrNoTable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if status.Code(err) != tc.code || !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Fatalf("%v (code %v), want %v with %q", err, status.Code(err), tc.code, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("errors.Is(%v, %v) = false", err, tc.is)
			}
		})
	}
	if n := adminCalls(t, sc.reg, "Rollback", codes.OK); n != 2 {
		t.Fatalf("admin_calls_total{Rollback,OK} = %v, want 2", n)
	}
}

// gatedPebble is a real Pebble store whose loads stop after a few rows
// until their context ends, so a test can act on a load mid-way.
type gatedPebble struct {
	*coldstore.Pebble
	reached chan struct{} // closed when a load reaches the gate
	once    sync.Once
	ended   chan error // the error of each gated load
}

func newGatedPebble(t testing.TB) *gatedPebble {
	return &gatedPebble{Pebble: newPebble(t), reached: make(chan struct{}), ended: make(chan error, 1)}
}

func (g *gatedPebble) Load(ctx context.Context, spec coldstore.LoadSpec) (coldstore.LoadResult, error) {
	spec.Source = &gatedSource{Source: spec.Source, g: g}
	res, err := g.Pebble.Load(ctx, spec)
	g.ended <- err
	return res, err
}

type gatedSource struct {
	coldstore.Source
	g    *gatedPebble
	rows int
}

func (s *gatedSource) Next(ctx context.Context, r *row.Row) error {
	if s.rows++; s.rows > 5 {
		s.g.once.Do(func() { close(s.g.reached) })
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Source.Next(ctx, r)
}

func TestCancellingAnAdminLoadLeavesTheLiveVersion(t *testing.T) {
	store := newGatedPebble(t)
	loadLocally(t, store.Pebble, "v1", 20)
	sc := startSidecar(t, store, sidecar.Options{AdminToken: adminToken, AdminInputRoots: testRoots, AdminProgressInterval: time.Millisecond})
	c := adminClient(t, sc.tcp, adminToken)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var events atomic.Int64
	_, err := c.Load(ctx, sidecar.AdminLoad{Table: "orders", Version: "v2", Key: []string{"order_id"},
		Files: []string{writeOrdersParquet(t, t.TempDir(), "v2.parquet", 0, 100, "v2")}},
		func(coldstore.LoadProgress) {
			if events.Add(1) == 1 {
				cancel()
			}
		})
	if status.Code(err) != codes.Canceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("Load: %v, want Canceled", err)
	}
	if err := <-store.ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("the load on the sidecar ended with %v, want it cancelled", err)
	}
	eventually(t, "the cancelled call to be counted", func() bool { return adminCalls(t, sc.reg, "Load", codes.Canceled) == 1 })
	if got := liveVersions(t, store); !slicesEqual(got, []string{"v1*"}) {
		t.Fatalf("after a cancelled load the versions are %v, want only v1 live", got)
	}
	if r, err := dial(t, sc.unix).Get(context.Background(), "orders", key(1)); err != nil || r.Version != "v1" {
		t.Fatalf("lookup: %+v %v", r, err)
	}
}

func TestShutdownCancelsALoadAfterTheDrainTimeout(t *testing.T) {
	store := newGatedPebble(t)
	loadLocally(t, store.Pebble, "v1", 20)
	sc := startSidecar(t, store, sidecar.Options{AdminToken: adminToken, AdminInputRoots: testRoots, DrainTimeout: 50 * time.Millisecond})
	c := adminClient(t, sc.tcp, adminToken)
	loadErr := make(chan error, 1)
	go func() {
		_, err := c.Load(context.Background(), sidecar.AdminLoad{Table: "orders", Version: "v2", Key: []string{"order_id"},
			Files: []string{writeOrdersParquet(t, t.TempDir(), "v2.parquet", 0, 100, "v2")}}, nil)
		loadErr <- err
	}()
	<-store.reached
	// Run returns only once the load has stopped.
	if err := sc.err(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	select {
	case err := <-store.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the load ended with %v, want it cancelled", err)
		}
	default:
		t.Fatal("Run returned while the load was still running")
	}
	if err := <-loadErr; status.Code(err) != codes.Unavailable {
		t.Fatalf("the client saw %v, want Unavailable", err)
	}
	if got := liveVersions(t, store); !slicesEqual(got, []string{"v1*"}) {
		t.Fatalf("after the shutdown the versions are %v, want only v1 live", got)
	}
}

func TestAdminCallsAreNotBoundByTheCallTimeout(t *testing.T) {
	store := newPebble(t)
	loadLocally(t, store, "v1", 10)
	// Every lookup-service call would be cut at once; admin calls are not.
	sc := startSidecar(t, store, sidecar.Options{AdminToken: adminToken, AdminInputRoots: testRoots, CallTimeout: time.Nanosecond})
	c := adminClient(t, sc.tcp, adminToken)
	ctx := context.Background()
	if _, err := c.Load(ctx, sidecar.AdminLoad{Table: "orders", Version: "v2", Key: []string{"order_id"},
		Files: []string{writeOrdersParquet(t, t.TempDir(), "v2.parquet", 0, 1000, "v2")}}, nil); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, err := c.Versions(ctx, "orders"); err != nil {
		t.Fatalf("ListVersions: %v", err)
	}
	if _, err := c.Rollback(ctx, "orders", ""); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
}

func TestAdminMessagesArePlainProtobuf(t *testing.T) {
	store := newPebble(t)
	loadLocally(t, store, "v1", 10)
	sc := startSidecar(t, store, sidecar.Options{AdminToken: adminToken, AdminInputRoots: testRoots})
	// A generated client with the default codec, as any language would use.
	rpc := adminpb.NewAdminServiceClient(rawConn(t, sc.unix))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminToken)
	resp, err := rpc.ListVersions(ctx, &adminpb.ListVersionsRequest{Table: "orders"})
	if err != nil || len(resp.GetVersions()) != 1 || resp.GetVersions()[0].GetVersion() != "v1" || resp.GetVersions()[0].GetSchema().GetKey()[0] != "order_id" {
		t.Fatalf("ListVersions: %v %v", resp, err)
	}
	stream, err := rpc.Load(ctx, &adminpb.LoadRequest{Table: "orders", Version: "v2", Key: []string{"order_id"},
		Files: []string{writeOrdersParquet(t, t.TempDir(), "v2.parquet", 0, 10, "v2")}})
	if err != nil {
		t.Fatal(err)
	}
	var last *adminpb.LoadEvent
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		last = ev
	}
	if last.GetResult().GetRows() != 10 || last.GetResult().GetVersion() != "v2" {
		t.Fatalf("last event %v, want the result", last)
	}
}

func TestNewServerRejectsAnAdminTokenSharedWithAJob(t *testing.T) {
	_, err := sidecar.NewServer(newMemory(t), sidecar.Options{AdminToken: jobToken, Jobs: []sidecar.Job{readerJob}, AdminProgressInterval: -time.Second})
	for _, w := range []string{`Jobs[0] ("reader"): Token is also the AdminToken`, "AdminProgressInterval -1s"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("NewServer: %v, want an error containing %q", err, w)
		}
	}
}

func TestNewAdminClientChecksItsArguments(t *testing.T) {
	_, err := sidecar.NewAdminClient(context.Background(), "", "")
	for _, w := range []string{"target is empty", "admin token is empty"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("NewAdminClient: %v, want an error containing %q", err, w)
		}
	}
	c, err := sidecar.NewAdminClient(context.Background(), "127.0.0.1:1", adminToken)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Versions(context.Background(), ""); !errors.Is(err, coldstore.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestWarmUpPinsEveryTable(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		pin        int64
		wantPinned int
		log        string
	}{
		{"within the pin memory", 0, 2, "pinned=2 tables=2"},
		{"with pinning off", -1, 0, "not_pinned="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := coldstore.OpenPebble(t.TempDir(), &coldstore.PebbleOptions{CacheSize: 8 << 20, PinMemory: tc.pin})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			loadLocally(t, p, "v1", 10)
			if _, err := p.Load(ctx, coldstore.LoadSpec{Table: "refunds", Version: "r1", Key: []string{"order_id", "seq"},
				Source: coldstore.RowSource(refundsSchema, []row.Row{row.New(row.Int64Value(1), row.Int32Value(1), row.StringValue("late"))})}); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			pinned, tables, err := sidecar.WarmUp(ctx, p, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil || pinned != tc.wantPinned || tables != 2 {
				t.Fatalf("WarmUp = %d of %d, %v; want %d of 2", pinned, tables, err, tc.wantPinned)
			}
			if !strings.Contains(logs.String(), "sidecar warm-up: pinned tables in memory") || !strings.Contains(logs.String(), tc.log) {
				t.Fatalf("log:\n%s", logs.String())
			}
			if r, err := p.Get(ctx, "orders", key(3)); err != nil || !r.Found {
				t.Fatalf("lookup after warm-up: %+v %v", r, err)
			}
		})
	}
}

// testRoots are the admin input roots of the tests: their files are in
// t.TempDir().
var testRoots = []string{os.TempDir()}

func TestAdminLoadReadsOnlyUnderTheInputRootsAndDoesNotTellWhatExistsOutside(t *testing.T) {
	store := newPebble(t)
	loadLocally(t, store, "v1", 10)
	root, outside := t.TempDir(), t.TempDir()
	sc := startSidecar(t, store, sidecar.Options{AdminToken: adminToken, AdminInputRoots: []string{root}})
	c := adminClient(t, sc.tcp, adminToken)
	ctx := context.Background()
	load := func(version, file string) error {
		_, err := c.Load(ctx, sidecar.AdminLoad{Table: "orders", Version: version, Key: []string{"order_id"}, Files: []string{file}}, nil)
		return err
	}

	inside := writeOrdersParquet(t, root, "day.parquet", 0, 10, "v2")
	if err := load("v2", inside); err != nil {
		t.Fatalf("a file under the root: %v", err)
	}
	exists := writeOrdersParquet(t, outside, "exists.parquet", 0, 10, "v3")
	missing := filepath.Join(outside, "missing.parquet")
	errExists, errMissing := load("v3", exists), load("v3", missing)
	for _, err := range []error{errExists, errMissing} {
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "is not under the sidecar's admin input roots") {
			t.Fatalf("a file outside the roots: %v, want InvalidArgument naming the roots", err)
		}
	}
	if a, b := strings.ReplaceAll(errExists.Error(), exists, "F"), strings.ReplaceAll(errMissing.Error(), missing, "F"); a != b {
		t.Fatalf("the answers tell an existing file outside the roots from a missing one:\n%s\n%s", a, b)
	}
	// Climbing out with .. is outside too, and so is a link inside the root
	// to a file outside; a link to nothing gets the same answer.
	if err := load("v3", filepath.Join(root, "..", filepath.Base(outside), "exists.parquet")); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "not under") {
		t.Fatalf("a path climbing out with ..: %v", err)
	}
	link, dangling := filepath.Join(root, "link.parquet"), filepath.Join(root, "dangling.parquet")
	if err := os.Symlink(exists, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(missing, dangling); err != nil {
		t.Fatal(err)
	}
	errLink, errDangling := load("v3", link), load("v3", dangling)
	if status.Code(errLink) != codes.InvalidArgument || !strings.Contains(errLink.Error(), "or it links outside them") {
		t.Fatalf("a link out of the root: %v", errLink)
	}
	if a, b := strings.ReplaceAll(errLink.Error(), link, "F"), strings.ReplaceAll(errDangling.Error(), dangling, "F"); a != b {
		t.Fatalf("the answers tell a link to an existing file from a dangling one:\n%s\n%s", a, b)
	}
	if vs, err := c.Versions(ctx, "orders"); err != nil || len(vs) != 2 {
		t.Fatalf("versions after the refused loads: %v, %v; want v1 and v2 only", vs, err)
	}

	// Without roots, admin Load reads nothing.
	noRoots := startSidecar(t, newPebble(t), sidecar.Options{AdminToken: adminToken})
	_, err := adminClient(t, noRoots.tcp, adminToken).Load(ctx, sidecar.AdminLoad{Table: "orders", Version: "v1", Key: []string{"order_id"}, Files: []string{inside}}, nil)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "--admin-input-root DIR") {
		t.Fatalf("Load on a sidecar without input roots: %v, want FailedPrecondition telling how to set one", err)
	}
}

func TestNewServerRejectsAnInputRootThatIsNoDirectory(t *testing.T) {
	_, err := sidecar.NewServer(newMemory(t), sidecar.Options{AdminToken: adminToken, AdminInputRoots: []string{"relative/dir", "/nonexistent/exports"}})
	for _, w := range []string{`AdminInputRoots[0] "relative/dir": must be an absolute directory`, `AdminInputRoots[1] "/nonexistent/exports"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("NewServer: %v, want %q", err, w)
		}
	}
}

func TestAdminLoadGuardsRefuseAShrunkenVersionUnlessForced(t *testing.T) {
	store := newPebble(t)
	loadLocally(t, store, "v1", 100)
	sc := startSidecar(t, store, sidecar.Options{AdminToken: adminToken, AdminInputRoots: testRoots})
	c := adminClient(t, sc.tcp, adminToken)
	ctx := context.Background()
	small := writeOrdersParquet(t, t.TempDir(), "small.parquet", 0, 10, "v2")
	req := sidecar.AdminLoad{Table: "orders", Version: "v2", Key: []string{"order_id"}, Files: []string{small}}
	_, err := c.Load(ctx, req, nil)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "10 rows, 90% fewer than the 100 of the live version v1") || !strings.Contains(err.Error(), "nothing was published") {
		t.Fatalf("a shrunken version through the sidecar: %v, want FailedPrecondition", err)
	}
	if info, err := store.Describe(ctx, "orders"); err != nil || info.Version != "v1" {
		t.Fatalf("live after the refused load: %+v, %v; want v1", info, err)
	}
	req.MaxShrink = 2
	if _, err := c.Load(ctx, req, nil); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "max_shrink") {
		t.Fatalf("max_shrink 2: %v, want InvalidArgument naming max_shrink", err)
	}
	req.MaxShrink, req.Force = 0, true
	if res, err := c.Load(ctx, req, nil); err != nil || res.Rows != 10 {
		t.Fatalf("forced: %+v, %v", res, err)
	}
}
