package progress_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/internal/progress"
)

// On a pipe or file a step gets a line when it starts, at each quarter of
// a known total, and when it is done.
func ExampleReporter_lines() {
	r := progress.New(os.Stdout, progress.Lines)
	for _, done := range []int64{0, 100_000, 300_000, 520_000, 700_000, 999_000} {
		r.Report(progress.Event{Op: "join: hot/cold", Done: done, Total: 1_000_000, Unit: "records", Elapsed: time.Duration(done) * time.Microsecond})
	}
	r.Report(progress.Event{Op: "join: hot/cold", Done: 1_000_000, Total: 1_000_000, Unit: "records", Elapsed: time.Second, Final: true})
	// Output:
	// join: hot/cold: 0 of 1,000,000 records, 0s
	// join: hot/cold: 300,000 of 1,000,000 records (1,000,000 records/s), ETA 700ms, 300ms
	// join: hot/cold: 520,000 of 1,000,000 records (1,000,000 records/s), ETA 480ms, 520ms
	// join: hot/cold: 999,000 of 1,000,000 records (1,000,000 records/s), ETA 1ms, 999ms
	// join: hot/cold: done, 1,000,000 of 1,000,000 records (1,000,000 records/s), 1s
}

// Without a total, a line every five seconds of the step; a step's last
// state is shown when the next one starts.
func ExampleReporter_linesWithoutTotal() {
	r := progress.New(os.Stdout, progress.Lines)
	for s := range 12 {
		r.Report(progress.Event{Op: "load orders v1", Step: "read", Done: int64(s) * 1000, Unit: "rows",
			Bytes: int64(s) << 20, BytesTotal: 0, Written: int64(s) << 19, Elapsed: time.Duration(s) * time.Second})
	}
	r.Report(progress.Event{Op: "load orders v1", Done: 12_000, Unit: "rows", Written: 6 << 20, Elapsed: 12 * time.Second, Final: true})
	// Output:
	// load orders v1: read: 0 rows, 0s
	// load orders v1: read: 5,000 rows (1,000 rows/s), input 5.0 MiB, 2.5 MiB written, 5s
	// load orders v1: read: 10,000 rows (1,000 rows/s), input 10 MiB, 5.0 MiB written, 10s
	// load orders v1: read: 11,000 rows (1,000 rows/s), input 11 MiB, 5.5 MiB written, 11s
	// load orders v1: done, 12,000 rows (1,000 rows/s), 6.0 MiB written, 12s
}

func TestBarIsRedrawnInPlaceWithRateAndETAOneLinePerStep(t *testing.T) {
	var b strings.Builder
	r := progress.New(&b, progress.Bar)
	r.Report(progress.Event{Op: "load cold store", Done: 0, Total: 200, Unit: "rows"})
	r.Report(progress.Event{Op: "load cold store", Done: 100, Total: 200, Unit: "rows", Elapsed: 1500 * time.Millisecond})
	r.Report(progress.Event{Op: "load cold store", Done: 110, Total: 200, Unit: "rows", Elapsed: 1550 * time.Millisecond}) // throttled
	r.Report(progress.Event{Op: "load cold store", Done: 200, Total: 200, Unit: "rows", Elapsed: 3 * time.Second, Final: true})
	r.Report(progress.Event{Op: "compare outputs", Done: 5, Unit: "records"})
	out := b.String()
	if n := strings.Count(out, "\r"); n != 4 {
		t.Errorf("%d redraws, want 4: %q", n, out)
	}
	for _, want := range []string{
		"[############............]  50%  100/200 rows  66 rows/s  ETA 1.5s  1.5s",
		"100%  200/200 rows  66 rows/s  3s\n",
		"compare outputs         5 records  0s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q: %q", want, out)
		}
	}
	if strings.HasSuffix(out, "\n") {
		t.Errorf("an unfinished bar ends the line: %q", out)
	}
	r.Done()
	if !strings.HasSuffix(b.String(), "\n") {
		t.Errorf("Done leaves the bar's line open: %q", b.String())
	}
}

func TestJSONEventsAreOneObjectALine(t *testing.T) {
	var b strings.Builder
	r := progress.New(&b, progress.JSON)
	r.Report(progress.Event{Op: "produce orders", Done: 10, Unit: "records", Elapsed: 10 * time.Millisecond})
	r.Report(progress.Event{Op: "produce orders", Done: 20, Unit: "records", Elapsed: 20 * time.Millisecond}) // throttled
	r.Report(progress.Event{Op: "produce orders", Done: 2000, Unit: "records", Elapsed: 2 * time.Second})
	r.Report(progress.Event{Op: "produce orders", Done: 2500, Total: 2500, Unit: "records", Elapsed: 2500 * time.Millisecond, Final: true})
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), b.String())
	}
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"op": "produce orders", "done": 2500.0, "total": 2500.0, "unit": "records", "elapsed_seconds": 2.5, "rate": 1000.0, "final": true}
	for k, v := range want {
		if last[k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, last[k], v, lines[2])
		}
	}
}

func TestETAComesFromInputBytesWhenTheCountHasNoTotal(t *testing.T) {
	e := progress.Event{Op: "load", Done: 500, Unit: "rows", Bytes: 1 << 20, BytesTotal: 4 << 20, Elapsed: time.Second}
	if eta, ok := e.ETA(); !ok || eta != 3*time.Second {
		t.Fatalf("ETA %v %v, want 3s", eta, ok)
	}
	if !strings.Contains(progress.Line(e), "input 1.0 MiB of 4.0 MiB, ETA 3s, 1s") {
		t.Fatal(progress.Line(e))
	}
}

func TestModeFor(t *testing.T) {
	var b strings.Builder // not a terminal
	for _, c := range []struct {
		flag   string
		asJSON bool
		want   progress.Mode
	}{
		{"auto", false, progress.Off}, {"always", false, progress.Lines}, {"never", false, progress.Off},
		{"auto", true, progress.JSON}, {"always", true, progress.JSON}, {"never", true, progress.Off},
	} {
		got, err := progress.ModeFor(c.flag, c.asJSON, &b)
		if err != nil || got != c.want {
			t.Errorf("ModeFor(%q, %v) = %v, %v; want %v", c.flag, c.asJSON, got, err, c.want)
		}
	}
	if _, err := progress.ModeFor("sometimes", false, &b); err == nil || !strings.Contains(err.Error(), "want auto, always or never") {
		t.Errorf("bad flag: %v", err)
	}
}

func TestANilReporterShowsNothing(t *testing.T) {
	var r *progress.Reporter
	r.Report(progress.Event{Op: "x"})
	r.Done()
	if r.Enabled() {
		t.Fatal("nil reporter enabled")
	}
}
