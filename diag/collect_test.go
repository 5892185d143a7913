package diag_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotcold/hotcold/diag"
)

const (
	dirtyJob = "5d3f0b6c2a9e4f18b7c1d2e3f4a5b6c7"
	skewJob  = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
	gcJob    = "1f2e3d4c5b6a79881726354453627180"
)

var scenarioWindow = diag.Window{From: t0, To: t0.Add(30 * time.Minute)}

// recorded starts an HTTP server answering with a scenario's recorded API
// responses (testdata/scenarios/NAME/flink or .../prometheus).
func recorded(t *testing.T, scenario, api string) string {
	t.Helper()
	srv := httptest.NewServer(diag.ReplayHandler(filepath.Join("testdata", "scenarios", scenario, api)))
	t.Cleanup(srv.Close)
	return srv.URL
}

func flinkClient(t *testing.T, url string) *diag.FlinkClient {
	t.Helper()
	fc, err := diag.NewFlinkClient(url, diag.FlinkOptions{FlameGraphAttempts: 1, FlameGraphWait: time.Millisecond, GCReadGap: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

func TestFlinkCollectorReadsARestartWithADirtyMessage(t *testing.T) {
	je, err := flinkClient(t, recorded(t, "dirty", "flink")).CollectJob(context.Background(), dirtyJob, scenarioWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(je.Missing) != 0 {
		t.Errorf("missing evidence %+v, want none", je.Missing)
	}
	if je.Job.Name != "orders-enrich" || je.Job.State != "RUNNING" || je.Job.Restarts != 17 {
		t.Errorf("job %+v", je.Job)
	}
	if len(je.Exceptions) != 4 {
		t.Fatalf("%d exceptions, want the 4 of the exception history", len(je.Exceptions))
	}
	x := je.Exceptions[len(je.Exceptions)-1]
	if !x.Time.Equal(time.Date(2026, 11, 22, 10, 12, 4, 512e6, time.UTC)) || !strings.Contains(x.Stacktrace, "Failed to deserialize JSON") ||
		x.TaskManager != "10.0.3.18:41877-c0ffee" || !strings.HasPrefix(x.Task, "Source: orders[1]") {
		t.Errorf("oldest exception %+v", x)
	}
	if je.Checkpoints == nil || len(je.Checkpoints.History) != 14 || je.Checkpoints.Restored != 17 {
		t.Errorf("checkpoints %+v", je.Checkpoints)
	}
	if len(je.Vertices) != 2 || je.Vertices[1].Inputs[0] != je.Vertices[0].ID {
		t.Errorf("vertices %+v, want source -> sink", je.Vertices)
	}
	if len(je.TaskManagers) != 2 || je.TaskManagers[0].GCTimeShare < 0.013 || je.TaskManagers[0].GCTimeShare > 0.015 {
		t.Errorf("task managers %+v, want GC share 1.4%% from All.TimeMsPerSecond", je.TaskManagers)
	}
}

func TestFlinkCollectorReadsABackPressuredPipelineWithASkewedSubtask(t *testing.T) {
	je, err := flinkClient(t, recorded(t, "skew", "flink")).CollectJob(context.Background(), skewJob, scenarioWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(je.Vertices) != 3 {
		t.Fatalf("%d vertices, want 3", len(je.Vertices))
	}
	src, agg := je.Vertices[0], je.Vertices[1]
	if src.BackPressureLevel != "high" || src.MaxBackPressured() < 0.85 {
		t.Errorf("source %+v, want back-pressure high", src)
	}
	hot := agg.Subtasks[2]
	if hot.Busy != 0.97 || hot.BackPressured != 0 || hot.RecordsInPerSecond != 3920 || hot.RecordsIn != 1680000 || hot.TaskManager == "" {
		t.Errorf("hot subtask %+v", hot)
	}
	if len(je.FlameGraphs) != 1 || je.FlameGraphs[0].VertexID != agg.ID {
		t.Fatalf("flame graphs %+v, want one of the busy aggregate", je.FlameGraphs)
	}
	if h := je.FlameGraphs[0].HotMethods(1); len(h) != 1 || h[0].Frame != "java.util.regex.Pattern.compile:1069" || h[0].Share != 0.48 {
		t.Errorf("hot methods %+v", h)
	}
}

func TestPrometheusCollectorReadsHighGC(t *testing.T) {
	pc, err := diag.NewPrometheusClient(recorded(t, "gc", "prometheus"), nil)
	if err != nil {
		t.Fatal(err)
	}
	series, err := pc.QueryRange(context.Background(), diag.PromQueries{}.WithDefaults().GCTimeShare, scenarioWindow, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 2 {
		t.Fatalf("%d series, want one per TaskManager", len(series))
	}
	mean, ok := series[0].Mean(scenarioWindow)
	if !ok || mean < 0.28 || mean > 0.34 {
		t.Fatalf("GC share of %v is %v, want about 0.31", series[0].Labels, mean)
	}
	// A query nothing matches gives no series, as Prometheus does.
	none, err := pc.QueryRange(context.Background(), "up", scenarioWindow, time.Minute)
	if err != nil || len(none) != 0 {
		t.Fatalf("unmatched query: %v, %v", none, err)
	}
}

func TestDiagnoserMergesPrometheusHistoryIntoTheRESTTopology(t *testing.T) {
	d := newDiagnoser(t, "gc", true)
	ev := d.Collect(context.Background(), diag.Query{JobID: gcJob, Window: scenarioWindow})
	var join *diag.Vertex
	for i := range ev.Vertices {
		if strings.HasPrefix(ev.Vertices[i].Name, "Join") {
			join = &ev.Vertices[i]
		}
	}
	if join == nil || join.MetricsSource != "prometheus (window average)" || join.MaxBusy() < 0.85 || len(join.Inputs) != 1 {
		t.Fatalf("join vertex %+v, want window-average load from Prometheus and the REST topology", join)
	}
	gc := -1.0
	for _, tm := range ev.TaskManagers {
		if tm.ID == "10.0.5.31:35123-aa01" {
			gc = tm.GCTimeShare
		}
	}
	if gc < 0.28 {
		t.Fatalf("GC share of the first TaskManager is %v, want about 0.31 from Prometheus; TMs %+v", gc, ev.TaskManagers)
	}
	for _, m := range ev.Missing {
		if strings.Contains(m.What, "GC time") {
			t.Errorf("GC time reported missing although Prometheus gave it: %+v", m)
		}
	}
}

func newDiagnoser(t *testing.T, scenario string, withProm bool) *diag.Diagnoser {
	t.Helper()
	cfg := diag.DiagnoserConfig{Jobs: flinkClient(t, recorded(t, scenario, "flink"))}
	if withProm {
		pc, err := diag.NewPrometheusClient(recorded(t, scenario, "prometheus"), nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Metrics = pc
	}
	if dir := filepath.Join("testdata", "scenarios", scenario, "logs"); exists(dir) {
		cfg.Logs = &diag.LogFiles{Paths: []string{dir}}
	}
	d, err := diag.NewDiagnoser(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestUnreachableEndpointsBecomeMissingEvidence(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	pc, err := diag.NewPrometheusClient(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := diag.NewDiagnoser(diag.DiagnoserConfig{Jobs: flinkClient(t, url), Metrics: pc})
	if err != nil {
		t.Fatal(err)
	}
	r := d.Diagnose(context.Background(), diag.Query{JobID: skewJob, Window: scenarioWindow})
	sources := map[string]bool{}
	for _, m := range r.Missing {
		sources[m.Source] = true
		if m.Source == "flink" && !strings.Contains(m.Reason, "reachable") {
			t.Errorf("flink reason %q does not say what to check", m.Reason)
		}
	}
	if !sources["flink"] || !sources["prometheus"] || !sources["logs"] || !sources["lag"] {
		t.Fatalf("missing evidence %+v, want flink, prometheus, logs and lag", r.Missing)
	}
	if len(r.Timeline) != 1 {
		t.Fatalf("timeline %+v, want the one point of the window end", r.Timeline)
	}
}

func TestUnknownJobIsReportedAsMissing(t *testing.T) {
	fc := flinkClient(t, recorded(t, "skew", "flink"))
	_, err := fc.CollectJob(context.Background(), "00000000000000000000000000000000", scenarioWindow)
	if !errors.Is(err, diag.ErrUnknownJob) {
		t.Fatalf("error %v, want ErrUnknownJob", err)
	}
	d, err := diag.NewDiagnoser(diag.DiagnoserConfig{Jobs: fc})
	if err != nil {
		t.Fatal(err)
	}
	r := d.Diagnose(context.Background(), diag.Query{JobID: "00000000000000000000000000000000", Window: scenarioWindow})
	if len(r.Missing) == 0 || r.Missing[0].What != "job 00000000000000000000000000000000" || !strings.Contains(r.Missing[0].Reason, "jobs/overview") {
		t.Fatalf("missing %+v, want the unknown job with a hint", r.Missing)
	}
}

func TestFlinkCollectorReportsBrokenPartsAndKeepsTheRest(t *testing.T) {
	// A server that answers the job but fails its checkpoints and sends
	// malformed exceptions.
	rec := diag.ReplayHandler(filepath.Join("testdata", "scenarios", "skew", "flink"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/checkpoints"):
			http.Error(w, `{"errors":["Internal server error."]}`, http.StatusInternalServerError)
		case strings.HasSuffix(r.URL.Path, "/exceptions"):
			w.Write([]byte(`{"exceptionHistory": {"entries": [`))
		default:
			rec.ServeHTTP(w, r)
		}
	}))
	defer srv.Close()
	je, err := flinkClient(t, srv.URL).CollectJob(context.Background(), skewJob, scenarioWindow)
	if err != nil {
		t.Fatal(err)
	}
	what := map[string]string{}
	for _, m := range je.Missing {
		what[m.What] = m.Reason
	}
	if !strings.Contains(what["checkpoints"], "HTTP 500") || !strings.Contains(what["exception history"], "unexpected JSON") {
		t.Fatalf("missing %+v, want checkpoints (HTTP 500) and exception history (bad JSON)", je.Missing)
	}
	if len(je.Vertices) != 3 || je.Checkpoints != nil {
		t.Fatalf("vertices %d, checkpoints %+v: want the vertices kept and no checkpoints", len(je.Vertices), je.Checkpoints)
	}
}

// Flink answers a flame graph request with VertexFlameGraph.disabled()
// ({"endTimestamp":-2}, no data) when rest.flamegraph.enabled is false.
// That answer is final: asked once per vertex, reported as missing with
// the setting to change. waiting() (-3) is asked again.
func TestFlameGraphDisabledIsFinalAndMissingEvidence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []string
		want    int // requests per vertex
		reason  string
	}{
		{"disabled", []string{`{"endTimestamp":-2}`}, 1, "rest.flamegraph.enabled: true"},
		{"terminated", []string{`{"endTimestamp":-1}`}, 1, "not running"},
		{"waiting, then waiting", []string{`{"endTimestamp":-3}`, `{"endTimestamp":-3}`, `{"endTimestamp":-3}`}, 3, "sampling did not finish"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := diag.ReplayHandler(filepath.Join("testdata", "scenarios", "skew", "flink"))
			var mu sync.Mutex
			asked := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/flamegraph") {
					mu.Lock()
					n := asked[r.URL.Path]
					asked[r.URL.Path]++
					mu.Unlock()
					w.Write([]byte(tc.answers[min(n, len(tc.answers)-1)]))
					return
				}
				rec.ServeHTTP(w, r)
			}))
			defer srv.Close()
			fc, err := diag.NewFlinkClient(srv.URL, diag.FlinkOptions{FlameGraphAttempts: 3, FlameGraphWait: time.Millisecond, GCReadGap: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			je, err := fc.CollectJob(context.Background(), skewJob, scenarioWindow)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, m := range je.Missing {
				found = found || (strings.HasPrefix(m.What, "flame graph") && strings.Contains(m.Reason, tc.reason))
			}
			if !found || len(je.FlameGraphs) != 0 {
				t.Fatalf("missing %+v, flame graphs %d: want the flame graph reported missing saying %q", je.Missing, len(je.FlameGraphs), tc.reason)
			}
			if len(asked) == 0 {
				t.Fatal("no flame graph was asked for")
			}
			for p, n := range asked {
				if n != tc.want {
					t.Errorf("%s asked %d time(s), want %d", p, n, tc.want)
				}
			}
		})
	}
}

func TestLegacyExceptionFieldsAreRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/jobs/" + skewJob:
			w.Write([]byte(`{"jid":"` + skewJob + `","name":"old","state":"RUNNING","start-time":1,"now":2,"timestamps":{},"vertices":[],"plan":{"jid":"x","name":"old","nodes":[]}}`))
		case "/jobs/" + skewJob + "/exceptions":
			w.Write([]byte(`{"root-exception":"java.lang.OutOfMemoryError: Java heap space\n\tat a.b.C.d(C.java:1)\n","timestamp":1795340000000,"all-exceptions":[{"exception":"java.lang.OutOfMemoryError: Java heap space","task":"Map (1/2)","location":"tm-1:6121","timestamp":1795340000000}],"truncated":false}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	je, err := flinkClient(t, srv.URL).CollectJob(context.Background(), skewJob, scenarioWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(je.Exceptions) != 2 || je.Exceptions[0].Name != "java.lang.OutOfMemoryError: Java heap space" || !je.Exceptions[1].Concurrent || je.Exceptions[1].Task != "Map (1/2)" {
		t.Fatalf("exceptions %+v", je.Exceptions)
	}
}

func TestFileURLReplaysRecordedResponses(t *testing.T) {
	fc, err := diag.NewFlinkClient("file://"+filepath.Join("testdata", "scenarios", "skew", "flink"), diag.FlinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	je, err := fc.CollectJob(context.Background(), skewJob, scenarioWindow)
	if err != nil || je.Job.Name != "orders-agg" {
		t.Fatalf("job %+v, %v", je, err)
	}
	if _, err := diag.NewFlinkClient("file://does/not/exist", diag.FlinkOptions{}); err == nil {
		t.Fatal("a missing replay directory was accepted")
	}
	if _, err := diag.NewFlinkClient("jobmanager:8081", diag.FlinkOptions{}); err == nil {
		t.Fatal("a URL without scheme was accepted")
	}
}

// No evidence is never HEALTHY: a Flink that does not answer, an unknown
// job and a truncated job answer each give the verdict UNKNOWN, naming
// Flink as what could not be read, even with healthy lag samples.
func TestUnreadableFlinkIsUnknownNotHealthy(t *testing.T) {
	rec := diag.ReplayHandler(filepath.Join("testdata", "scenarios", "skew", "flink"))
	truncated := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jobs/"+skewJob {
			w.Write([]byte(`{"jid":"` + skewJob + `","name":"orders-agg","state":"RUNNING","vertices":[{"id":"a`))
			return
		}
		rec.ServeHTTP(w, r)
	}))
	defer truncated.Close()
	healthyLag := []diag.GroupStatus{{Group: "g", Time: t0.Add(time.Minute), Status: diag.StatusOK}}
	for _, tc := range []struct {
		name, url, job, reason string
	}{
		{"nothing listening", "http://127.0.0.1:1", skewJob, "reachable"},
		{"unknown job", recorded(t, "skew", "flink"), "00000000000000000000000000000000", "jobs/overview"},
		{"truncated job JSON", truncated.URL, skewJob, "unexpected JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := diag.NewDiagnoser(diag.DiagnoserConfig{Jobs: flinkClient(t, tc.url)})
			if err != nil {
				t.Fatal(err)
			}
			for _, lag := range [][]diag.GroupStatus{nil, healthyLag} {
				r := d.Diagnose(context.Background(), diag.Query{JobID: tc.job, Window: scenarioWindow, Lag: lag})
				if r.Verdict != diag.VerdictUnknown || r.Healthy {
					t.Fatalf("with %d lag point(s): verdict %s healthy=%t (%s), want UNKNOWN", len(lag), r.Verdict, r.Healthy, r.Summary)
				}
				if !strings.Contains(r.Summary, "could not read flink") {
					t.Errorf("summary %q does not name Flink", r.Summary)
				}
				blocking := 0
				for _, m := range r.Missing {
					if m.Blocking {
						blocking++
						if m.Source != "flink" || !strings.Contains(m.Reason, tc.reason) {
							t.Errorf("blocking %+v, want flink saying %q", m, tc.reason)
						}
					}
				}
				if blocking != 1 {
					t.Errorf("%d blocking missing pieces in %+v, want 1", blocking, r.Missing)
				}
			}
		})
	}
}

// An anomaly in the lag is still an anomaly when Flink cannot be read.
func TestUnreadableFlinkWithAnAnomalousLagIsAnAnomaly(t *testing.T) {
	d, err := diag.NewDiagnoser(diag.DiagnoserConfig{Jobs: flinkClient(t, "http://127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	r := d.Diagnose(context.Background(), diag.Query{JobID: skewJob, Window: scenarioWindow,
		Lag: []diag.GroupStatus{{Group: "g", Time: t0.Add(time.Minute), Status: diag.StatusStop}}})
	if r.Verdict != diag.VerdictAnomaly {
		t.Fatalf("verdict %s (%s), want ANOMALY", r.Verdict, r.Summary)
	}
}

// Flink 1.17 and 1.18 have no GC TimeMsPerSecond (it came in 1.19), only
// the cumulative Status.JVM.GarbageCollector.*.Time: the GC time share is
// its growth between two reads over the time between them.
func TestGCShareFromTwoReadsOfTheCumulativeTimeOnFlink117(t *testing.T) {
	rec := diag.ReplayHandler(filepath.Join("testdata", "scenarios", "skew", "flink"))
	var mu sync.Mutex
	reads := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/taskmanagers/") {
			rec.ServeHTTP(w, r)
			return
		}
		get := r.URL.Query().Get("get")
		if get == "" { // the list of metrics, as Flink 1.17 has them: ids only
			w.Write([]byte(`[{"id":"Status.JVM.Memory.Heap.Used"},{"id":"Status.JVM.Memory.Heap.Max"},` +
				`{"id":"Status.JVM.GarbageCollector.G1_Young_Generation.Count"},{"id":"Status.JVM.GarbageCollector.G1_Young_Generation.Time"},` +
				`{"id":"Status.JVM.GarbageCollector.G1_Old_Generation.Count"},{"id":"Status.JVM.GarbageCollector.G1_Old_Generation.Time"}]`))
			return
		}
		mu.Lock()
		reads++
		n := reads
		mu.Unlock()
		// Young GC grows 500 ms and old GC 100 ms from the first read of a
		// TaskManager to its second.
		young, old := 40000, 2000
		if n%2 == 0 {
			young, old = 40500, 2100
		}
		fmt.Fprintf(w, `[{"id":"Status.JVM.GarbageCollector.G1_Young_Generation.Time","value":"%d"},`+
			`{"id":"Status.JVM.GarbageCollector.G1_Old_Generation.Time","value":"%d"},`+
			`{"id":"Status.JVM.Memory.Heap.Used","value":"1000"},{"id":"Status.JVM.Memory.Heap.Max","value":"4000"}]`, young, old)
	}))
	defer srv.Close()
	var clockMu sync.Mutex
	clock := t0
	fc, err := diag.NewFlinkClient(srv.URL, diag.FlinkOptions{FlameGraphBusy: -1, Parallel: 1, GCReadGap: time.Millisecond,
		Clock: func() time.Time { // 2 s between the two reads of a TaskManager
			clockMu.Lock()
			defer clockMu.Unlock()
			clock = clock.Add(time.Second)
			return clock
		}})
	if err != nil {
		t.Fatal(err)
	}
	je, err := fc.CollectJob(context.Background(), skewJob, scenarioWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(je.TaskManagers) == 0 {
		t.Fatalf("no TaskManagers; missing %+v", je.Missing)
	}
	for _, tm := range je.TaskManagers {
		// With Parallel 1 the reads of one TaskManager follow each other
		// and the clock moves 1 s a read: 600 ms of GC in 1 s.
		if tm.GCTimeShare < 0.599 || tm.GCTimeShare > 0.601 || !strings.Contains(tm.Source, "cumulative GC time read twice") {
			t.Errorf("TaskManager %s: GC share %v from %q, want 0.6 from two reads", tm.ID, tm.GCTimeShare, tm.Source)
		}
	}
	for _, m := range je.Missing {
		if strings.HasPrefix(m.What, "GC time") {
			t.Errorf("GC time reported missing: %+v", m)
		}
	}
	fs := (&diag.GCRule{}).Check(context.Background(), &diag.Evidence{Window: scenarioWindow, TaskManagers: je.TaskManagers})
	if len(fs) == 0 || !strings.Contains(fs[0].Cause, "GC pressure") {
		t.Fatalf("findings %+v, want GC pressure", fs)
	}
}

// A configured Prometheus that answers no query is blocking evidence (the
// window cannot be called healthy on it); one that answers is not.
func TestPrometheusThatAnswersNoQueryIsBlockingEvidence(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	for _, tc := range []struct {
		name, url string
		blocking  bool
	}{
		{"nothing listening", deadURL, true},
		{"recorded answers", recorded(t, "gc", "prometheus"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc, err := diag.NewPrometheusClient(tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			d, err := diag.NewDiagnoser(diag.DiagnoserConfig{Jobs: flinkClient(t, recorded(t, "gc", "flink")), Metrics: pc})
			if err != nil {
				t.Fatal(err)
			}
			r := d.Diagnose(context.Background(), diag.Query{JobID: gcJob, Window: scenarioWindow})
			got := false
			for _, m := range r.Missing {
				if m.Source == "prometheus" && m.Blocking {
					got = true
					if !strings.Contains(m.Reason, "queries failed") {
						t.Errorf("blocking prometheus reason %q does not say the queries failed", m.Reason)
					}
				}
			}
			if got != tc.blocking {
				t.Fatalf("blocking prometheus evidence = %t, want %t; missing %+v", got, tc.blocking, r.Missing)
			}
			if tc.blocking && r.Verdict == diag.VerdictHealthy {
				t.Fatalf("verdict HEALTHY without any Prometheus answer (%s)", r.Summary)
			}
		})
	}
}
