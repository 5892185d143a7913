package coldstore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
)

// The crash tests re-execute the test binary with crashEnv set: the child
// starts a load, prints crashLine at the chosen point and blocks; the
// parent kills it with SIGKILL and checks that reopening the store finds
// the old version live and no trace of the new one.
const (
	crashEnv  = "HOTCOLD_COLDSTORE_CRASH_CHILD"
	crashLine = "CRASHPOINT"
)

type crashSpec struct {
	Backend string   // "pebble" or "redis"
	Store   string   // Pebble directory
	Addrs   []string // Redis
	Prefix  string   // Redis
	Point   string   // "sst": after the 2nd sstable / pipeline batch; "publish": before publishing
	Files   []string
}

// runCrashHelper runs the child side when crashEnv is set; it never
// returns then.
func runCrashHelper() bool {
	raw := os.Getenv(crashEnv)
	if raw == "" {
		return false
	}
	var cs crashSpec
	if err := json.Unmarshal([]byte(raw), &cs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	signal := func() {
		fmt.Println(crashLine)
		select {} // wait for SIGKILL
	}
	switch cs.Point {
	case "sst":
		coldstore.SetTestHooks(func(n int) {
			if n == 2 {
				signal()
			}
		}, nil)
	case "publish":
		coldstore.SetTestHooks(nil, signal)
	}
	ctx := context.Background()
	var b coldstore.Backend
	var err error
	if cs.Backend == "pebble" {
		b, err = coldstore.OpenPebble(cs.Store, &coldstore.PebbleOptions{SSTableSize: 8 << 10, LoadWorkers: 2})
	} else {
		b, err = coldstore.OpenRedis(ctx, &coldstore.RedisOptions{Addrs: cs.Addrs, Prefix: cs.Prefix, LeaseTTL: time.Second, PipelineSize: 64, LoadWorkers: 2})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	src, err := coldstore.OpenParquet(ctx, cs.Files...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_, err = b.Load(ctx, coldstore.LoadSpec{Table: "orders", Version: "v2", Key: []string{"order_id"}, Source: src})
	fmt.Fprintln(os.Stderr, "the load finished instead of crashing:", err)
	os.Exit(3)
	return true
}

// crashChild runs a child load and kills it with SIGKILL at its crash
// point.
func crashChild(t *testing.T, cs crashSpec) {
	t.Helper()
	raw, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+string(raw))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	reached := false
	for sc.Scan() {
		if sc.Text() == crashLine {
			reached = true
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !reached {
		t.Fatalf("the child never reached the crash point %q; its stderr:\n%s", cs.Point, stderr.String())
	}
}

func TestPebbleCrashDuringLoadLeavesNoTrace(t *testing.T) {
	for _, point := range []string{"sst", "publish"} {
		t.Run(point, func(t *testing.T) {
			dir, store := t.TempDir(), t.TempDir()
			p, err := coldstore.OpenPebble(store, nil)
			if err != nil {
				t.Fatal(err)
			}
			mustLoad(t, p, "orders", "v1", []string{"order_id"}, writeParquet(t, dir, "v1.parquet", ordersSchema, ordersRows(0, 100, "one")))
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			v2 := writeParquet(t, dir, "v2.parquet", ordersSchema, ordersRows(0, 3000, "two"))
			crashChild(t, crashSpec{Backend: "pebble", Store: store, Point: point, Files: []string{v2}})
			if point == "sst" {
				ssts, _ := filepath.Glob(filepath.Join(store, ".hotcold-load", "*", "*.sst"))
				if len(ssts) < 2 {
					t.Fatalf("the crashed load left %d sstables, want at least 2 (the test would prove nothing)", len(ssts))
				}
			}

			p = openPebble(t, store, nil)
			names, live := versionNames(t, p, "orders")
			if fmt.Sprint(names) != "[v1]" || live != "v1" {
				t.Fatalf("after the crash: versions %v live %q", names, live)
			}
			wantCustomer(t, p, "orders", 42, "one-42")
			wantCustomer(t, p, "orders", 2000, "")
			for prefix, want := range map[string]int{"d/": 100, "s/": 0} {
				n, err := coldstore.CountKeys(p, prefix)
				if err != nil {
					t.Fatal(err)
				}
				if n != want {
					t.Errorf("%d keys under %q after reopen, want %d", n, prefix, want)
				}
			}
			if _, err := os.Stat(filepath.Join(store, ".hotcold-load")); !os.IsNotExist(err) {
				t.Errorf("load leftovers not removed: %v", err)
			}
			// the same version loads fine now
			res := mustLoad(t, p, "orders", "v2", []string{"order_id"}, v2)
			if res.Rows != 3000 {
				t.Fatalf("reload: %+v", res)
			}
			wantCustomer(t, p, "orders", 2000, "two-2000")
		})
	}
}
