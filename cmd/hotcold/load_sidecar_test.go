package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
)

// TestMain lets a test run this binary's main in a child process (with
// HOTCOLD_TEST_MAIN=1), to hold a store from another process.
func TestMain(m *testing.M) {
	if os.Getenv("HOTCOLD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func writeAdminToken(t *testing.T, dir, token string) string {
	t.Helper()
	p := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// summaryFields decodes the JSON summary, the last line of stdout.
func summaryFields(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	return m
}

func TestLoadListRollbackThroughServeWhileItHoldsTheStore(t *testing.T) {
	dir := t.TempDir()
	cold := "pebble:" + filepath.Join(dir, "cold")
	v1 := writeOrders(t, dir, "v1.parquet", 0, 100, "same")
	v2 := writeOrders(t, dir, "v2.parquet", 0, 100, "same")
	localOut, _, err := runLoad(t, "load", "--store", cold, "--table", "orders", "--version", "v1", "--key", "order_id", v1)
	if err != nil {
		t.Fatal(err)
	}
	local := summaryFields(t, localOut)

	tokenFile := writeAdminToken(t, dir, "tok-admin")
	sock := filepath.Join(dir, "hotcold.sock")
	srv := startServe(t, "--store", cold, "--unix", sock, "--listen", "127.0.0.1:0", "--admin-token-file", tokenFile, "--admin-input-root", dir)
	addr := "unix://" + sock

	// The store is held: a direct load says how to go through the sidecar.
	_, _, err = runLoad(t, "load", "--store", cold, "--table", "orders", "--version", "v2", "--key", "order_id", v2)
	if err == nil || !strings.Contains(err.Error(), "is held by another process (e.g. hotcold serve); load through it with --sidecar ADDR --admin-token-file FILE") {
		t.Fatalf("load --store while serve holds it: %v", err)
	}

	// Through the sidecar, with a relative path: the same progress and
	// summary as a local load.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, v2)
	if err != nil || filepath.IsAbs(rel) {
		t.Fatalf("relative path of %s: %q %v", v2, rel, err)
	}
	out, errOut, err := runLoad(t, "load", "--sidecar", addr, "--admin-token-file", tokenFile, "--table", "orders", "--version", "v2",
		"--key", "order_id", "--covers-until", "2026-11-23T00:00:00Z", "--progress", "always", rel)
	if err != nil {
		t.Fatalf("load --sidecar: %v\nstderr: %s", err, errOut)
	}
	if !strings.Contains(errOut, "load orders v2: done, 100 rows") || !strings.Contains(errOut, ", input ") || !strings.Contains(errOut, " written, ") {
		t.Fatalf("progress output:\n%s", errOut)
	}
	remote := summaryFields(t, out)
	if len(remote) != len(local) {
		t.Fatalf("summary through the sidecar %v has other fields than a local one %v", remote, local)
	}
	for k, v := range local {
		switch k {
		case "seconds":
			if s, _ := remote[k].(float64); s <= 0 {
				t.Errorf("seconds %v", remote[k])
			}
		case "version":
			if remote[k] != "v2" {
				t.Errorf("version %v", remote[k])
			}
		default:
			if remote[k] != v {
				t.Errorf("%s: %v through the sidecar, %v locally", k, remote[k], v)
			}
		}
	}

	// Lookups answer from v2 right away.
	if lines := jsonLines(t, "lookup", "--addr", srv.tcp, "--table", "orders", "7"); lines[0]["version"] != "v2" {
		t.Fatalf("lookup after the load: %v", lines)
	}

	// list and rollback through the sidecar; the token from the environment.
	t.Setenv("HOTCOLD_ADMIN_TOKEN", "tok-admin")
	out, _, err = runLoad(t, "load", "list", "--sidecar", addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TABLE", "orders  v2       *     100", "orders  v1             100", "2026-11-23T00:00:00Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("load list --sidecar lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runLoad(t, "load", "rollback", "--sidecar", srv.tcp, "--table", "orders")
	if err != nil {
		t.Fatal(err)
	}
	var ti struct{ Name, Version string }
	if err := json.Unmarshal([]byte(out), &ti); err != nil || ti.Name != "orders" || ti.Version != "v1" {
		t.Fatalf("rollback printed %q (%v)", out, err)
	}
	if lines := jsonLines(t, "lookup", "--addr", addr, "--table", "orders", "7"); lines[0]["version"] != "v1" {
		t.Fatalf("lookup after the rollback: %v", lines)
	}
	out, _, err = runLoad(t, "load", "list", "--sidecar", addr, "--table", "orders", "--json")
	if err != nil || !strings.Contains(out, `"version":"v1","live":true`) || strings.Count(out, "\n") != 2 {
		t.Fatalf("list --json after the rollback: %v\n%s", err, out)
	}

	// Errors read as they would locally, or say what to do.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"load", "--sidecar", addr, "--table", "orders", "--version", "v2", "--key", "order_id", v2}, `version "v2" is already retained`},
		{[]string{"load", "--sidecar", addr, "--table", "orders", "--version", "v3", "--key", "id", v2}, "nothing was published: the live version of orders is unchanged"},
		{[]string{"load", "--sidecar", addr, "--table", "orders", "--version", "v3", "--key", "id", v2}, `key column "id" is not in ` + v2 + " (its columns: order_id, customer)"},
		{[]string{"load", "--sidecar", addr, "--table", "orders", "--version", "v3", "--key", "order_id", filepath.Join(dir, "missing.parquet")}, "no such file under the admin input roots"},
		{[]string{"load", "--sidecar", addr, "--store", cold, "--table", "orders", "--version", "v3", "--key", "order_id", v2}, "give --store (open the store here) or --sidecar"},
		{[]string{"load", "--sidecar", addr, "--keep", "5", "--table", "orders", "--version", "v3", "--key", "order_id", v2}, "--keep and --tmp-dir are the sidecar's settings"},
		{[]string{"load", "list", "--sidecar", addr, "--table", "nope"}, `table "nope" has no version in the store of sidecar ` + addr + ": load one first"},
		{[]string{"load", "rollback", "--sidecar", addr, "--table", "orders"}, "no version older"},
		{[]string{"load", "list", "--sidecar", addr, "--admin-token-file", writeAdminToken(t, t.TempDir(), "tok-wrong")}, "unknown token: admin calls need the sidecar's admin token"},
	} {
		_, _, err := runLoad(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("hotcold %s: %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	t.Setenv("HOTCOLD_ADMIN_TOKEN", "")
	if _, _, err := runLoad(t, "load", "list", "--sidecar", addr); err == nil || !strings.Contains(err.Error(), "no admin token: pass --admin-token-file FILE") {
		t.Errorf("without a token: %v", err)
	}

	// serve pinned the table at startup, in the background.
	eventually(t, "the warm-up log line", func() bool {
		return strings.Contains(srv.errs.String(), "sidecar warm-up: pinned tables in memory") && strings.Contains(srv.errs.String(), "pinned=1 tables=1")
	})
	if !strings.Contains(srv.errs.String(), "admin service on") {
		t.Errorf("serve did not log that the admin service is on:\n%s", srv.errs.String())
	}
	if err := srv.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestLoadThroughServeWithoutAnAdminTokenSaysHowToTurnItOn(t *testing.T) {
	dir := t.TempDir()
	cold := "pebble:" + filepath.Join(dir, "cold")
	loadOrders(t, cold, "v1", 3)
	sock := filepath.Join(dir, "s.sock")
	startServe(t, "--store", cold, "--unix", sock)
	_, _, err := runLoad(t, "load", "list", "--sidecar", "unix://"+sock, "--admin-token-file", writeAdminToken(t, dir, "tok"))
	if err == nil || !strings.Contains(err.Error(), "does not serve the admin API") || !strings.Contains(err.Error(), "start hotcold serve with --admin-token-file FILE") {
		t.Fatalf("load list --sidecar against a serve without admin: %v", err)
	}
}

// A store held by another process (a real second process, as in
// production) gives the same advice.
func TestLoadIntoAStoreHeldByAnotherProcessPointsAtTheSidecar(t *testing.T) {
	dir := t.TempDir()
	cold := "pebble:" + filepath.Join(dir, "cold")
	loadOrders(t, cold, "v1", 3)
	child := exec.Command(os.Args[0], "serve", "--store", cold, "--unix", filepath.Join(dir, "s.sock"))
	child.Env = append(os.Environ(), "HOTCOLD_TEST_MAIN=1")
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var waitErr error
	stop := func() error { // SIGINT: serve drains and exits 0
		once.Do(func() {
			child.Process.Signal(os.Interrupt)
			waitErr = child.Wait()
		})
		return waitErr
	}
	t.Cleanup(func() { stop() })
	serving := make(chan bool, 1)
	go func() { // ends when the child's stdout closes
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), "hotcold serve: serving") {
				found = true
				serving <- true
			}
		}
		if !found {
			serving <- false
		}
	}()
	if !<-serving {
		t.Fatal("the child hotcold serve did not start")
	}

	a := writeOrders(t, dir, "a.parquet", 0, 10, "x")
	_, _, err = runLoad(t, "load", "--store", cold, "--table", "orders", "--version", "v2", "--key", "order_id", a)
	if err == nil || !strings.Contains(err.Error(), "the store "+cold+" is held by another process (e.g. hotcold serve); load through it with --sidecar ADDR --admin-token-file FILE") {
		t.Fatalf("load --store while another process serves it: %v", err)
	}
	if !errors.Is(err, coldstore.ErrLocked) || (!errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES)) {
		t.Fatalf("the error does not wrap the lock failure: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("child serve: %v", err)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
