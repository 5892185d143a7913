package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/internal/demo"
)

// runDemo runs `hotcold demo args...` with stdout and stderr apart.
func runDemo(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"demo"}, args...))
	err = root.Execute()
	return out.String(), errb.String(), err
}

func TestDemoSmallRunPrintsIdenticalOutputsAndSmallerHotColdState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kept")
	stdout, stderr, err := runDemo(t, "--days", "6", "--orders-per-day", "300", "--dir", dir, "--json")
	if err != nil {
		t.Fatalf("demo: %v\nstderr:\n%s", err, stderr)
	}
	var rep demo.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout)
	}
	if !rep.Identical || !rep.Comparison.JoinIdentical || !rep.Comparison.AggIdentical {
		t.Fatalf("outputs differ: %+v", rep.Comparison)
	}
	if rep.HotCold.StateBytes >= rep.Baseline.StateBytes {
		t.Fatalf("hot/cold state %d bytes is not smaller than the baseline's %d", rep.HotCold.StateBytes, rep.Baseline.StateBytes)
	}
	if rep.Days != 6 || rep.OrdersPerDay != 300 || rep.Orders != 1800 {
		t.Fatalf("flags not applied: %+v", rep)
	}
	// With --json the progress went to stderr as JSON events, one a line.
	if !strings.Contains(stderr, `{"op":"join: hot/cold","done":`) || !strings.Contains(stderr, `"final":true}`) || strings.Contains(stderr, "\r") {
		t.Errorf("stderr progress:\n%q", stderr)
	}
	// --dir is kept.
	if _, err := os.Stat(filepath.Join(dir, "warehouse", "orders", "dt=2026-11-01", "part-0.parquet")); err != nil {
		t.Errorf("the kept directory lacks the warehouse export: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cold")); err != nil {
		t.Errorf("the kept directory lacks the cold store: %v", err)
	}
}

func TestDemoPrintsATableAndRemovesItsTemporaryDirectory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	stdout, stderr, err := runDemo(t, "--days", "4", "--orders-per-day", "100", "--quiet")
	if err != nil {
		t.Fatalf("demo: %v\nstderr:\n%s", err, stderr)
	}
	for _, want := range []string{"hot/cold (2 days hot)", "baseline (4 days hot)", "state bytes", "bootstrap time", "hot hits", "cold hits",
		"misses", "sidecar p50 / p99", "outputs identical", "What this shows"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("--quiet still wrote to stderr: %q", stderr)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("the temporary directory was not removed: %v", ents)
	}
}

func TestDemoFlagMistakesSayWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--json", "--markdown"}, "pick one"},
		{[]string{"--days", "2"}, "must exceed HotDays"},
		{[]string{"--log-level", "loud"}, "want debug, info, warn or error"},
	} {
		_, _, err := runDemo(t, append(tc.args, "--quiet")...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("demo %v: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}
