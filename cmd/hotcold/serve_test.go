package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/redistest"
	"github.com/hotcold/hotcold/row"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// servingCmd is a `hotcold serve` running in the test process.
type servingCmd struct {
	out, errs *syncBuffer
	tcp       string // bound host:port, when --listen was given
	stop      func() error
}

// startServe runs `hotcold serve args...` until the test ends (or stop)
// and waits until it is serving.
func startServe(t *testing.T, args ...string) *servingCmd {
	t.Helper()
	root := newRootCmd()
	sc := &servingCmd{out: &syncBuffer{}, errs: &syncBuffer{}}
	root.SetOut(sc.out)
	root.SetErr(sc.errs)
	root.SetArgs(append([]string{"serve"}, args...))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var once sync.Once
	var runErr error
	sc.stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { sc.stop() })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(sc.out.String(), "hotcold serve: serving") {
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\nstderr: %s", err, sc.errs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start; stderr: %s", sc.errs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if m := regexp.MustCompile(`tcp (\S+?)[ ,\n]`).FindStringSubmatch(sc.out.String()); m != nil {
		sc.tcp = m[1]
	}
	return sc
}

var ordersSchema = row.MustSchema([]row.Column{
	{Name: "order_id", Type: row.Int64},
	{Name: "customer", Type: row.String},
	{Name: "amount", Type: row.Float64, Nullable: true},
}, nil, 1)

// loadOrders loads orders 1..n into the cold store at url (pebble:DIR or
// redis://...) through the coldstore API.
func loadOrders(t *testing.T, url, version string, n int) {
	t.Helper()
	ctx := context.Background()
	be, err := coldstore.Open(ctx, url, &coldstore.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	rows := make([]row.Row, n)
	for i := range rows {
		amount := row.Float64Value(float64(i+1) * 1.5)
		if i%2 == 1 {
			amount = row.NullValue()
		}
		rows[i] = row.New(row.Int64Value(int64(i+1)), row.StringValue("c"+version), amount)
	}
	_, err = be.Load(ctx, coldstore.LoadSpec{Table: "orders", Version: version, Key: []string{"order_id"}, Source: coldstore.RowSource(ordersSchema, rows)})
	if err != nil {
		t.Fatal(err)
	}
}

// jsonLines runs a command and decodes its JSON lines output.
func jsonLines(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("hotcold %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestServeAnswersLookupOverUnixSocketAndTCP(t *testing.T) {
	dir := t.TempDir()
	loadOrders(t, "pebble:"+filepath.Join(dir, "cold"), "2026-11-22", 10)
	sock := filepath.Join(dir, "hotcold.sock")
	srv := startServe(t, "--store", "pebble:"+filepath.Join(dir, "cold"), "--unix", sock, "--unix-mode", "0660", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	if srv.tcp == "" {
		t.Fatalf("serve did not print its TCP address: %s", srv.out.String())
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode: %v %v, want 0660", fi.Mode(), err)
	}

	lines := jsonLines(t, "lookup", "--addr", "unix://"+sock, "--table", "orders", "1", "2", "99")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3: %v", len(lines), lines)
	}
	first := lines[0]
	rowObj, _ := first["row"].(map[string]any)
	if first["found"] != true || first["version"] != "2026-11-22" || rowObj["order_id"] != float64(1) || rowObj["customer"] != "c2026-11-22" || rowObj["amount"] != 1.5 {
		t.Errorf("line 1: %v", first)
	}
	if r2, _ := lines[1]["row"].(map[string]any); r2["amount"] != nil {
		t.Errorf("line 2: amount %v, want null", r2["amount"])
	}
	if lines[2]["found"] != false || lines[2]["row"] != nil || lines[2]["key"].([]any)[0] != float64(99) {
		t.Errorf("line 3 (missing key): %v", lines[2])
	}

	tcpLines := jsonLines(t, "lookup", "--addr", srv.tcp, "--table", "orders", "7")
	if tcpLines[0]["found"] != true {
		t.Errorf("over TCP: %v", tcpLines)
	}
	list := jsonLines(t, "lookup", "--addr", srv.tcp, "--list")
	if len(list) != 1 || list[0]["name"] != "orders" || list[0]["rows"] != float64(10) {
		t.Errorf("--list: %v", list)
	}

	if out, err := run(t, "lookup", "--addr", srv.tcp, "--table", "orders", "x"); err == nil || !strings.Contains(err.Error(), `key column "order_id" (int64)`) {
		t.Errorf("a bad key: %v %s", err, out)
	}
	if _, err := run(t, "lookup", "--addr", srv.tcp, "--table", "nope", "1"); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("an unknown table: %v", err)
	}
	if err := srv.stop(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

func TestServeWithAConfigFileChecksTokens(t *testing.T) {
	dir := t.TempDir()
	cold := filepath.Join(dir, "cold")
	loadOrders(t, "pebble:"+cold, "v1", 3)
	sock := filepath.Join(dir, "s.sock")
	cfg := filepath.Join(dir, "sidecar.yaml")
	yaml := "unix: " + sock + "\nstore: pebble:" + cold + "\ncache:\n  size: 8MiB\njobs:\n  - name: enrich\n    token_env: TEST_HOTCOLD_ENRICH_TOKEN\n    tables: [orders]\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_HOTCOLD_ENRICH_TOKEN", "tok-1")
	startServe(t, "--config", cfg)

	if _, err := run(t, "lookup", "--addr", "unix://"+sock, "--table", "orders", "1"); err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
		t.Fatalf("without a token: %v", err)
	}
	if lines := jsonLines(t, "lookup", "--addr", "unix://"+sock, "--token", "tok-1", "--table", "orders", "1"); lines[0]["found"] != true {
		t.Fatalf("with --token: %v", lines)
	}
	t.Setenv("HOTCOLD_TOKEN", "tok-1")
	if lines := jsonLines(t, "lookup", "--addr", "unix://"+sock, "--table", "orders", "2"); lines[0]["found"] != true {
		t.Fatalf("with $HOTCOLD_TOKEN: %v", lines)
	}
}

func TestServeOverARedisStore(t *testing.T) {
	srv := redistest.Start(t)
	url := "redis://" + srv.Addr()
	loadOrders(t, url, "2026-11-23", 5)
	sock := filepath.Join(t.TempDir(), "r.sock")
	startServe(t, "--store", url, "--unix", sock, "--version-check-interval", "1s")
	lines := jsonLines(t, "lookup", "--addr", "unix://"+sock, "--table", "orders", "5", "6")
	if lines[0]["found"] != true || lines[0]["version"] != "2026-11-23" || lines[1]["found"] != false {
		t.Fatalf("lookup over a Redis store: %v", lines)
	}
}

func TestServeRejectsABadConfigNamingTheLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(cfg, []byte("store: pebble:/x\nlisten: :7070\njobs:\n  - name: a\n    tokn: t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "serve", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:5:5: jobs[0].tokn: unknown field; did you mean token?") {
		t.Fatalf("bad config: %v", err)
	}
	if err := os.WriteFile(cfg, []byte("store: pebble:/x\njobs:\n  - name: a\n    token: t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = run(t, "serve", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:3:5: jobs[0].tables") {
		t.Fatalf("a job without tables: %v", err)
	}
}

func TestLookupNeedsAnAddressAndKeys(t *testing.T) {
	if _, err := run(t, "lookup", "--table", "orders", "1"); err == nil || !strings.Contains(err.Error(), "--addr is required") {
		t.Fatalf("no --addr: %v", err)
	}
	if _, err := run(t, "lookup", "--addr", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "--table") {
		t.Fatalf("no keys: %v", err)
	}
}

func TestParseKey(t *testing.T) {
	names := []string{"order_id", "day", "tag"}
	types := []row.Type{row.Int64, row.Date32, row.String}
	k, err := parseKey("42, 2026-11-22, a", names, types)
	if err != nil || k[0].Int64() != 42 || k[1].Int64() != time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).Unix()/86400 || k[2].Str() != "a" {
		t.Fatalf("comma key: %v %v", k, err)
	}
	k, err = parseKey(`[42, "2026-11-22", "a,b"]`, names, types)
	if err != nil || k[2].Str() != "a,b" {
		t.Fatalf("JSON key: %v %v", k, err)
	}
	for arg, want := range map[string]string{
		"42":                      "has 3 columns, got 1 values",
		"x,2026-11-22,a":          `key column "order_id" (int64)`,
		`[1, "2026-11-22"`:        "not a JSON array",
		`[1, "2026-11-22", null]`: `key column "tag": a key value must not be null`,
	} {
		if _, err := parseKey(arg, names, types); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseKey(%q): %v, want %q", arg, err, want)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"42", "42,2026-11-22,a", `[1, "2026-11-22", "a,b"]`, "", ",,", "[", `[null]`, "1e9,x,y"} {
		f.Add(s)
	}
	names := []string{"id", "day", "tag"}
	types := []row.Type{row.Int64, row.Date32, row.String}
	f.Fuzz(func(t *testing.T, arg string) {
		k, err := parseKey(arg, names, types)
		if err != nil {
			return
		}
		if len(k) != len(types) {
			t.Fatalf("parseKey(%q) = %d values", arg, len(k))
		}
		for i, v := range k {
			if v.IsNull() || v.Type() != types[i].ID {
				t.Fatalf("parseKey(%q) value %d = %v (%s), want a %s", arg, i, v, v.Type(), types[i])
			}
		}
	})
}

func TestServeNeverPrintsTheRedisPassword(t *testing.T) {
	srv := redistest.Start(t)
	if err := srv.Client(t).ConfigSet(context.Background(), "requirepass", "s3cret-pw").Err(); err != nil {
		t.Fatal(err)
	}
	url := "redis://:s3cret-pw@" + srv.Addr()
	for _, logJSON := range []bool{false, true} {
		args := []string{"--store", url, "--listen", "127.0.0.1:0"}
		if logJSON {
			args = append(args, "--log-json")
		}
		sc := startServe(t, args...) // the store has no tables yet: WARN with store= and hint=
		if err := sc.stop(); err != nil {
			t.Fatalf("serve: %v", err)
		}
		out, errs := sc.out.String(), sc.errs.String()
		if strings.Contains(out+errs, "s3cret-pw") {
			t.Fatalf("log-json=%v: the password is printed:\nstdout: %s\nstderr: %s", logJSON, out, errs)
		}
		if !strings.Contains(out, "serving redis://:***@"+srv.Addr()) {
			t.Errorf("log-json=%v: the start line does not show the redacted URL: %s", logJSON, out)
		}
		if !strings.Contains(errs, "no tables yet") || strings.Count(errs, ":***@"+srv.Addr()) < 2 {
			t.Errorf("log-json=%v: the WARN does not show the redacted URL in store= and hint=: %s", logJSON, errs)
		}
	}
	// An error opening the store does not show it either.
	_, err := run(t, "serve", "--store", "redis://:s3cret-pw@"+srv.Addr()+"?bogus=1", "--listen", "127.0.0.1:0")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("bad store URL: %v", err)
	}
	_, err = run(t, "load", "list", "--store", "redis://:wrong-pw@"+srv.Addr())
	if err == nil || strings.Contains(err.Error(), "wrong-pw") {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestServeOpenErrorsGiveTheHintThatFits(t *testing.T) {
	for msg, want := range map[string]string{
		"CLUSTERDOWN Hash slot not served":                  "redis-cli --cluster check",
		"WRONGPASS invalid username-password pair":          "refused the credentials",
		"dial tcp 127.0.0.1:1: connect: connection refused": "not reachable",
	} {
		if got := openHint(errors.New(msg), "redis://h:1"); !strings.Contains(got, want) || strings.Contains(got, "load a table") {
			t.Errorf("openHint(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestServeOnAMissingStoreDirectoryRefusesWithOneHint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	out, err := run(t, "serve", "--store", "pebble:"+dir, "--unix", filepath.Join(t.TempDir(), "s.sock"))
	if err == nil {
		t.Fatal("serve on a missing store directory started")
	}
	msg := err.Error() + out
	if !strings.Contains(msg, "no store at "+dir) || strings.Count(msg, "hotcold load --store") != 1 {
		t.Fatalf("serve on a missing store: %q, want \"no store at %s\" and one hint", msg, dir)
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		t.Fatalf("serve created %s: %v", dir, serr)
	}
}
