package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/redistest"
	"github.com/hotcold/hotcold/internal/s3test"
	"github.com/hotcold/hotcold/row"
)

// runLoad runs hotcold with args and returns stdout and stderr apart.
func runLoad(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

var loadTestSchema = row.MustSchema([]row.Column{
	{Name: "order_id", Type: row.Int64, Nullable: true},
	{Name: "customer", Type: row.String, Nullable: true},
}, nil, 1)

func writeOrders(t *testing.T, dir, name string, from, to int64, tag string) string {
	t.Helper()
	var rows []row.Row
	for id := from; id < to; id++ {
		rows = append(rows, row.New(row.Int64Value(id), row.StringValue(tag)))
	}
	p := filepath.Join(dir, name)
	if err := coldstore.WriteParquet(context.Background(), p, loadTestSchema, rows, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

type loadSummary struct {
	Table, Version   string
	Rows, Duplicates int64
	Bytes            int64
	Seconds          float64
}

func mustLoadCLI(t *testing.T, args ...string) loadSummary {
	t.Helper()
	out, errOut, err := runLoad(t, append([]string{"load"}, args...)...)
	if err != nil {
		t.Fatalf("hotcold load %v: %v\nstderr: %s", args, err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var s loadSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	return s
}

func TestLoadListRollbackOnPebble(t *testing.T) {
	dir := t.TempDir()
	store := "pebble:" + filepath.Join(dir, "cold")
	a := writeOrders(t, dir, "a.parquet", 0, 100, "one")
	b := writeOrders(t, dir, "b.parquet", 50, 150, "one-b")
	s := mustLoadCLI(t, "--store", store, "--table", "orders", "--version", "dt=2026-11-21", "--key", "order_id",
		"--covers-until", "2026-11-21T00:00:00Z", a, b)
	if s.Table != "orders" || s.Version != "dt=2026-11-21" || s.Rows != 150 || s.Duplicates != 50 || s.Bytes <= 0 || s.Seconds <= 0 {
		t.Fatalf("summary %+v", s)
	}
	c := writeOrders(t, dir, "c.parquet", 0, 10, "two")
	mustLoadCLI(t, "--store", store, "--table", "orders", "--version", "dt=2026-11-22", "--key", "order_id", "--max-shrink", "1", c)

	out, _, err := runLoad(t, "load", "list", "--store", store)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TABLE", "orders  dt=2026-11-22  *     10", "orders  dt=2026-11-21        150   50", "2026-11-21T00:00:00Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("load list output lacks %q:\n%s", want, out)
		}
	}

	out, _, err = runLoad(t, "load", "rollback", "--store", store, "--table", "orders")
	if err != nil {
		t.Fatal(err)
	}
	var ti struct{ Name, Version string }
	if err := json.Unmarshal([]byte(out), &ti); err != nil || ti.Version != "dt=2026-11-21" {
		t.Fatalf("rollback printed %q (%v)", out, err)
	}
	out, _, err = runLoad(t, "load", "list", "--store", store, "--table", "orders", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"version":"dt=2026-11-21","live":true`) {
		t.Fatalf("after rollback, list --json:\n%s", out)
	}
}

func TestLoadErrorsSayWhatToDo(t *testing.T) {
	dir := t.TempDir()
	store := "pebble:" + filepath.Join(dir, "cold")
	a := writeOrders(t, dir, "a.parquet", 0, 10, "x")
	mustLoadCLI(t, "--store", store, "--table", "orders", "--version", "v1", "--key", "order_id", a)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"load", "--store", store, a}, "missing --table T, --version V"},
		{[]string{"load", "--store", store, "--table", "orders", "--version", "v2", "--key", "order_id"}, "no Parquet files"},
		{[]string{"load", "--table", "orders", "--version", "v2", "--key", "order_id", a}, "no store: pass --store"},
		{[]string{"load", "--store", store, "--table", "orders", "--version", "v2", "--key", "id", a}, `key column "id" is not in ` + a + " (its columns: order_id, customer)"},
		{[]string{"load", "--store", store, "--table", "orders", "--version", "v1", "--key", "order_id", a}, "already retained"},
		{[]string{"load", "--store", store, "--table", "orders", "--version", "v2", "--key", "order_id", "--covers-until", "yesterday", a}, "want a date (2026-11-22: every event of that day, UTC"},
		{[]string{"load", "--store", store, "--table", "orders", "--version", "v2", "--key", "order_id", filepath.Join(dir, "missing.parquet")}, "no such file"},
		{[]string{"load", "--store", "s3://bucket", "--table", "orders", "--version", "v2", "--key", "order_id", a}, "want pebble:DIR or redis://"},
		{[]string{"load", "rollback", "--store", store}, "missing --table"},
		{[]string{"load", "rollback", "--store", store, "--table", "orders"}, "no version older"},
		{[]string{"load", "list", "--store", store, "--table", "nope"}, "load one first"},
	} {
		_, _, err := runLoad(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("hotcold %s: %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	// the live version is untouched
	out, _, err := runLoad(t, "load", "list", "--store", store, "--json")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"version":"v1","live":true`) {
		t.Fatalf("after failed loads: %q %v", out, err)
	}
}

func TestLoadPrintsProgressLines(t *testing.T) {
	dir := t.TempDir()
	a := writeOrders(t, dir, "a.parquet", 0, 1000, "x")
	_, errOut, err := runLoad(t, "load", "--store", "pebble:"+filepath.Join(dir, "cold"), "--table", "orders", "--version", "v1", "--key", "order_id", "--progress", "always", a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "load orders v1: done, 1,000 rows") || !strings.Contains(errOut, ", input ") || !strings.Contains(errOut, " written, ") {
		t.Fatalf("progress output:\n%s", errOut)
	}
}

func TestLoadIntoRedis(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	store := "redis://" + srv.Addr() + "?prefix=clitest:"
	a := writeOrders(t, dir, "a.parquet", 0, 300, "r")
	s := mustLoadCLI(t, "--store", store, "--table", "orders", "--version", "v1", "--key", "order_id", a)
	if s.Rows != 300 {
		t.Fatalf("summary %+v", s)
	}
	out, _, err := runLoad(t, "load", "list", "--store", store)
	if err != nil || !strings.Contains(out, "orders  v1       *     300") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if n := srv.Client(t).Exists(context.Background(), "clitest:m:orders").Val(); n != 1 {
		t.Fatal("no table metadata under the prefix")
	}
}

func TestLoadSampleWritesALoadableFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "orders.parquet")
	out, _, err := runLoad(t, "load", "sample", "--rows", "5000", "--first", "100", p)
	if err != nil || !strings.Contains(out, "wrote 5000 rows") {
		t.Fatalf("sample: %v %q", err, out)
	}
	s := mustLoadCLI(t, "--store", "pebble:"+filepath.Join(dir, "cold"), "--table", "orders", "--version", "v1", "--key", "order_id", p)
	if s.Rows != 5000 || s.Duplicates != 0 {
		t.Fatalf("sample ids are not distinct: %+v", s)
	}
	if _, _, err := runLoad(t, "load", "sample", "--day", "today", p); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
		t.Fatalf("bad --day: %v", err)
	}
}

func TestLoadRefusesEmptyAndShrunkenVersionsUnlessForced(t *testing.T) {
	dir := t.TempDir()
	store := "pebble:" + filepath.Join(dir, "cold")
	full := writeOrders(t, dir, "full.parquet", 0, 100, "a")
	empty := writeOrders(t, dir, "empty.parquet", 0, 0, "b")
	small := writeOrders(t, dir, "small.parquet", 0, 40, "c")
	args := func(version string, extra ...string) []string {
		return append([]string{"load", "--store", store, "--table", "orders", "--version", version, "--key", "order_id"}, extra...)
	}
	if _, _, err := runLoad(t, args("v0", empty)...); err == nil || !strings.Contains(err.Error(), "the input has no rows") || !strings.Contains(err.Error(), "nothing was published") {
		t.Fatalf("an empty first load: %v", err)
	}
	mustLoadCLI(t, "--store", store, "--table", "orders", "--version", "v1", "--key", "order_id", full)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{args("v2", empty), "the input has no rows"},
		{args("v2", small), "40 rows, 60% fewer than the 100 of the live version v1 (--max-shrink 0.5 allows at least 50)"},
		{args("v2", "--min-rows", "200", full), "100 rows, fewer than --min-rows 200"},
		{args("v2", "--max-shrink", "2", full), "--max-shrink (MaxShrink) is 2"},
	} {
		if _, _, err := runLoad(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("hotcold %s: %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	out, _, err := runLoad(t, "load", "list", "--store", store, "--table", "orders")
	if err != nil || !strings.Contains(out, "v1") || strings.Contains(out, "v2") {
		t.Fatalf("after refused loads: %v\n%s", err, out)
	}
	if s := mustLoadCLI(t, "--store", store, "--table", "orders", "--version", "v2", "--key", "order_id", "--force", empty); s.Rows != 0 {
		t.Fatalf("a forced empty load: %+v", s)
	}
}

func TestLoadKeepZeroIsAnError(t *testing.T) {
	dir := t.TempDir()
	a := writeOrders(t, dir, "a.parquet", 0, 10, "a")
	_, _, err := runLoad(t, "load", "--store", "pebble:"+filepath.Join(dir, "cold"), "--table", "orders", "--version", "v1", "--key", "order_id", "--keep", "0", a)
	if err == nil || !strings.Contains(err.Error(), "--keep 0: keep at least 1 version") {
		t.Fatalf("--keep 0: %v", err)
	}
}

func TestServeHelpShowsEachDefaultOnce(t *testing.T) {
	out, err := run(t, "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Count(line, "(default") > 1 {
			t.Errorf("two defaults on one line: %s", line)
		}
	}
	if !strings.Contains(out, "--cache-size") {
		t.Fatalf("no --cache-size in:\n%s", out)
	}
}

func TestSidecarLoadErrorSaysWhetherAnythingWasPublished(t *testing.T) {
	for code, want := range map[codes.Code]string{
		codes.InvalidArgument:    "nothing was published",
		codes.FailedPrecondition: "nothing was published",
		codes.Unavailable:        "whether version v2 of orders was published is unknown",
		codes.DeadlineExceeded:   "whether version v2 of orders was published is unknown",
	} {
		err := sidecarLoadError(status.Error(code, "boom"), "127.0.0.1:7070", "orders", "v2")
		if !strings.Contains(err.Error(), want) || status.Code(err) != code {
			t.Errorf("%v: %v, want %q and the code kept", code, err, want)
		}
	}
}

func TestCoversUntilAcceptsADateMeaningTheWholeDay(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-22":                "2026-11-23T00:00:00Z",
		"2026-12-31":                "2027-01-01T00:00:00Z",
		"2026-11-23T06:00:00+02:00": "2026-11-23T04:00:00Z",
	} {
		got, err := parseCoversUntil(in)
		if err != nil || got.UTC().Format(time.RFC3339) != want {
			t.Errorf("parseCoversUntil(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if got, err := parseCoversUntil(""); err != nil || !got.IsZero() {
		t.Errorf("empty: %v, %v", got, err)
	}
	if _, err := parseCoversUntil("22/11/2026"); err == nil || !strings.Contains(err.Error(), "want a date") {
		t.Errorf("a bad date: %v", err)
	}
}

// TestLoadFromS3Objects: load reads s3:// inputs (an in-process S3
// server), shows the download's progress, and refuses them with --sidecar.
func TestLoadFromS3Objects(t *testing.T) {
	dir := t.TempDir()
	s3 := s3test.Start(t, "warehouse")
	s3.PutFile(t, "orders/dt=2026-11-22/part-0.parquet", writeOrders(t, dir, "a.parquet", 0, 700, "s3"))
	s3.PutFile(t, "orders/dt=2026-11-22/part-1.parquet", writeOrders(t, dir, "b.parquet", 700, 1000, "s3"))
	store := "pebble:" + filepath.Join(dir, "cold")
	out, errOut, err := runLoad(t, "load", "--store", store, "--table", "orders", "--version", "v1", "--key", "order_id",
		"--progress", "always", "--tmp-dir", filepath.Join(dir, "tmp"), s3.URL("orders/dt=2026-11-22/*.parquet"))
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "load orders v1: download: 2 of 2 objects") || !strings.Contains(errOut, "load orders v1: done, 1,000 rows") {
		t.Fatalf("progress output:\n%s", errOut)
	}
	if !strings.Contains(out, `"rows":1000`) {
		t.Fatalf("summary: %s", out)
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "tmp")); err != nil || len(ents) != 0 {
		t.Fatalf("--tmp-dir after the load: %v, %v; want the downloads removed", ents, err)
	}
	_, _, err = runLoad(t, "load", "--sidecar", "127.0.0.1:1", "--admin-token-file", "x", "--table", "orders", "--version", "v2", "--key", "order_id", s3.URL("orders/dt=2026-11-22/*.parquet"))
	if err == nil || !strings.Contains(err.Error(), "the sidecar reads local files only") {
		t.Fatalf("s3:// with --sidecar: %v", err)
	}
}

// TestLoadSortMemorySpills: --sort-memory bounds the sort; a small one
// spills sorted runs and the load is still exact.
func TestLoadSortMemorySpills(t *testing.T) {
	dir := t.TempDir()
	a := writeOrders(t, dir, "a.parquet", 0, 50_000, "x")
	store := "pebble:" + filepath.Join(dir, "cold")
	out, errOut, err := runLoad(t, "load", "--store", store, "--table", "orders", "--version", "v1", "--key", "order_id", "--sort-memory", "64KiB", "--progress", "never", a)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var res struct {
		Rows        int64 `json:"rows"`
		SpilledRuns int   `json:"spilled_runs"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Rows != 50_000 || res.SpilledRuns == 0 {
		t.Fatalf("summary %s (%v): want 50000 rows and spilled runs", out, err)
	}
	_, _, err = runLoad(t, "load", "--store", store, "--table", "orders", "--version", "v2", "--key", "order_id", "--sort-memory", "1MiB", "--memory", "5", a)
	if err == nil || !strings.Contains(err.Error(), "not also --memory") {
		t.Fatalf("--sort-memory with --memory: %v", err)
	}
	_, _, err = runLoad(t, "load", "--store", store, "--table", "orders", "--version", "v2", "--key", "order_id", "--sort-memory", "lots", a)
	if err == nil || !strings.Contains(err.Error(), "sort-memory") {
		t.Fatalf("--sort-memory lots: %v", err)
	}
}
