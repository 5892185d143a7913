package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

const scenarios = "../../diag/testdata/scenarios"

func TestDiagRunWritesThreeReportsForEachFixture(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"dirty", []string{"--flink", "file://" + scenarios + "/dirty/flink", "--job", "5d3f0b6c2a9e4f18b7c1d2e3f4a5b6c7",
			"--logs", scenarios + "/dirty/logs", "--lag-file", scenarios + "/dirty/lag.jsonl"}, "Dirty data"},
		{"skew", []string{"--flink", "file://" + scenarios + "/skew/flink", "--job", "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
			"--lag-file", scenarios + "/skew/lag.jsonl"}, "Data skew"},
		{"gc", []string{"--flink", "file://" + scenarios + "/gc/flink", "--prometheus", "file://" + scenarios + "/gc/prometheus",
			"--job", "1f2e3d4c5b6a79881726354453627180", "--lag-file", scenarios + "/gc/lag.jsonl", "--commit-interval", "2m"}, "GC pressure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"diag", "run", "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T10:30:00Z", "--out", dir}, tc.args...)
			out, err := run(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(out, "TIMELINE") || !strings.Contains(out, tc.want) {
				t.Fatalf("terminal report lacks the timeline or %q:\n%s", tc.want, out)
			}
			for _, f := range []string{"report.json", "report.txt", "report.html"} {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), tc.want) {
					t.Errorf("%s lacks %q", f, tc.want)
				}
			}
		})
	}
}

func TestDiagRunPrintsJSON(t *testing.T) {
	out, err := run(t, "diag", "run", "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T10:30:00Z", "--format", "json",
		"--lag-file", scenarios+"/skew/lag.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"status": "WARN"`) || !strings.Contains(out, `"partition-lag/producer-skew"`) {
		t.Fatalf("JSON report:\n%s", out)
	}
}

func TestDiagRunErrorsSayWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diag", "run", "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T10:30:00Z"}, "give at least one of --flink"},
		{[]string{"diag", "run", "--from", "yesterday", "--to", "2026-11-22T10:30:00Z", "--logs", "."}, "RFC 3339"},
		{[]string{"diag", "run", "--from", "2026-11-22T11:00:00Z", "--to", "2026-11-22T10:30:00Z", "--logs", "."}, "--to must be after --from"},
		{[]string{"diag", "run", "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T10:30:00Z", "--flink", "http://localhost:8081"}, "--flink needs --job"},
		{[]string{"diag", "run", "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T10:30:00Z", "--flink", "jobmanager:8081", "--job", "x"}, "give --flink http://"},
		{[]string{"diag", "watch", "--group", "g"}, "--brokers"},
		{[]string{"diag", "watch", "--brokers", "localhost:9092"}, "--group"},
	} {
		_, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}

func TestDiagRunReportsAnUnknownJobAndStillReports(t *testing.T) {
	out, err := run(t, "diag", "run", "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T10:30:00Z",
		"--flink", "file://"+scenarios+"/skew/flink", "--job", "00000000000000000000000000000000", "--lag-file", scenarios+"/skew/lag.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "flink: job 00000000000000000000000000000000") || !strings.Contains(out, "producer") {
		t.Fatalf("report does not name the unknown job or lost the lag findings:\n%s", out)
	}
}

func TestDiagRulesPrintsTheBuiltInRuleFile(t *testing.T) {
	out, err := run(t, "diag", "rules")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(out, "name: dirty-data", "name: bad-records", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "diag", "run", "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T10:30:00Z", "--rules", path,
		"--flink", "file://"+scenarios+"/dirty/flink", "--job", "5d3f0b6c2a9e4f18b7c1d2e3f4a5b6c7")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "restart/bad-records") {
		t.Fatalf("the custom rule file was not used:\n%s", out)
	}
}

func TestDiagWatchStopsWithItsContext(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the watch returns at its first check of the context
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"diag", "watch", "--brokers", c.ListenAddrs()[0], "--group", "orders-enrich",
		"--reports", "file://" + filepath.ToSlash(dir) + "/reports?create_dir=1", "--samples", filepath.Join(dir, "lag.jsonl")})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, p := range []string{"reports", "lag.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("watch did not create %s: %v", p, err)
		}
	}
}

// diag run against a Flink it cannot read prints a report whose verdict is
// UNKNOWN and exits with the UNKNOWN code, never HEALTHY.
func TestDiagRunWithoutEvidenceIsUnknown(t *testing.T) {
	truncated := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"jid":"5d3f0b6c2a9e4f18b7c1d2e3f4a5b6c7","state":"RUNN`))
	}))
	defer truncated.Close()
	for _, tc := range []struct{ name, flink, job string }{
		{"nothing listening", "http://127.0.0.1:1", "5d3f0b6c2a9e4f18b7c1d2e3f4a5b6c7"},
		{"unknown job", "file://" + scenarios + "/dirty/flink", "00000000000000000000000000000000"},
		{"truncated job JSON", truncated.URL, "5d3f0b6c2a9e4f18b7c1d2e3f4a5b6c7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, "diag", "run", "--from", "2026-11-22T10:00:00Z", "--to", "2026-11-22T10:30:00Z",
				"--flink", tc.flink, "--job", tc.job)
			if code := exitCode(err); code != diagExitUnknown {
				t.Fatalf("exit code %d (%v), want %d:\n%s", code, err, diagExitUnknown, out)
			}
			if !strings.Contains(out, "verdict:   UNKNOWN") || !strings.Contains(out, "could not read flink") || strings.Contains(out, "HEALTHY") {
				t.Fatalf("report does not say UNKNOWN naming Flink:\n%s", out)
			}
		})
	}
}
