package diag_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotcold/hotcold/diag"
)

// testdata/flink-2.2.1 holds what a real Flink 2.2.1 MiniCluster answered
// to the requests diag makes, recorded by flink/diag-it's DiagRealFlinkIT
// (-Dhotcold.diag.record=DIR) while its jobs showed their problem:
//
//   - dirty: a filesystem JSON source with 'json.ignore-parse-errors' =
//     'false' failing on one bad line, restarted every second by a
//     fixed-delay restart strategy;
//   - hotkey: a source sending 19 of 20 records with one key into a sink
//     of parallelism 4 that burns CPU per record (EnrichCost.enrich);
//   - gc: a MiniCluster in a JVM of its own (320 MiB heap, serial GC)
//     whose job keeps 96 MiB live and replaces it all the time.
//
// The same cases run live in DiagRealFlinkIT; these tests keep the Go side
// honest about the real JSON without a JVM.
const (
	realDirtyJob  = "b418e98f7b6e86937ed10e4d6e57b993"
	realHotKeyJob = "e2faadc65e86c4083e82637a968ec349"
	realGCJob     = "4e6d6b597b1002d832b57ae68ef7e380"
	// realWindow holds the recordings (2026-12-02 14:06 to 14:21 UTC).
	realDirtyRecord = `{"id": 4, "amount": 12.5x, "customer": "acme"}`
)

var realWindow = diag.Window{From: time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 2, 14, 30, 0, 0, time.UTC)}

func realFlink(t *testing.T, scenario string) *diag.FlinkClient {
	t.Helper()
	srv := httptest.NewServer(diag.ReplayHandler(filepath.Join("testdata", "flink-2.2.1", scenario, "flink")))
	t.Cleanup(srv.Close)
	return flinkClient(t, srv.URL)
}

func diagnoseReal(t *testing.T, scenario, job string) *diag.Report {
	t.Helper()
	d, err := diag.NewDiagnoser(diag.DiagnoserConfig{Jobs: realFlink(t, scenario)})
	if err != nil {
		t.Fatal(err)
	}
	return d.Diagnose(context.Background(), diag.Query{JobID: job, Window: realWindow})
}

func findingOf(r *diag.Report, rule string) *diag.Finding {
	for i := range r.Findings {
		if f := &r.Findings[i]; f.Rule == rule || strings.HasPrefix(f.Rule, rule+"/") {
			return f
		}
	}
	return nil
}

func TestRealFlinkDirtyRecordRestarts(t *testing.T) {
	je, err := realFlink(t, "dirty").CollectJob(context.Background(), realDirtyJob, realWindow)
	if err != nil {
		t.Fatal(err)
	}
	if je.Job.State != "RESTARTING" || je.Job.Restarts != 4 {
		t.Errorf("job %+v, want RESTARTING after 4 restarts (numRestarts)", je.Job)
	}
	if len(je.Exceptions) != 4 {
		t.Fatalf("%d exceptions, want the 4 entries of exceptionHistory", len(je.Exceptions))
	}
	for _, x := range je.Exceptions {
		if !strings.Contains(x.Stacktrace, "Failed to deserialize JSON '"+realDirtyRecord+"'") || x.Location != "localhost:-1" ||
			!strings.HasPrefix(x.Task, "Source: orders[1] -> sink[2]: Writer") || x.TaskManager == "" {
			t.Errorf("exception %+v", x)
		}
	}
	// A restarting vertex has no metrics: Flink answers the back-pressure
	// request with {"status": "deprecated"} and the subtask metrics with [].
	if len(je.Missing) != 1 || !strings.Contains(je.Missing[0].Reason, `status "deprecated"`) {
		t.Errorf("missing %+v, want the vertex's back-pressure, not yet known", je.Missing)
	}

	r := diagnoseReal(t, "dirty", realDirtyJob)
	f := findingOf(r, "restart")
	if f == nil || f.Rule != "restart/dirty-data" || f.Raw != realDirtyRecord {
		t.Fatalf("restart finding %+v, want dirty data with the raw record", f)
	}
	if len(r.Restarts) != 4 || !strings.Contains(strings.Join(f.Details, "\n"), "restarted 4 time(s)") {
		t.Errorf("restarts %v, details %q: want the 4 failures of the history, a second apart", r.Restarts, f.Details)
	}
}

func TestRealFlinkHotKeyBehindASlowSink(t *testing.T) {
	je, err := realFlink(t, "hotkey").CollectJob(context.Background(), realHotKeyJob, realWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(je.Missing) != 0 {
		t.Errorf("missing %+v, want none", je.Missing)
	}
	if len(je.Vertices) != 2 || je.Vertices[0].Name != "Source: orders -> Map" || je.Vertices[1].Name != "slow-enrich: Writer" ||
		!slices.Equal(je.Vertices[1].Inputs, []string{je.Vertices[0].ID}) {
		t.Fatalf("vertices %+v, want source -> sink", je.Vertices)
	}
	src, sink := je.Vertices[0], je.Vertices[1]
	if src.BackPressureLevel != "high" || src.Subtasks[0].BackPressured < 0.9 {
		t.Errorf("source %+v, want back-pressure high", src)
	}
	hot := sink.Subtasks[3]
	if hot.Busy < 0.99 || hot.RecordsInPerSecond < 70 || hot.Host != "localhost:-1" || hot.TaskManager == "" || hot.RecordsIn <= 0 {
		t.Errorf("hot sink subtask %+v", hot)
	}
	if len(je.TaskManagers) != 1 || je.TaskManagers[0].GCTimeShare < 0.016 || je.TaskManagers[0].GCTimeShare > 0.017 || je.TaskManagers[0].HeapMax <= 0 {
		t.Errorf("task managers %+v, want GC share 1.7%% from All.TimeMsPerSecond", je.TaskManagers)
	}
	if je.Checkpoints == nil || je.Checkpoints.Completed < 1 || je.Checkpoints.LastCompleted.IsZero() {
		t.Errorf("checkpoints %+v", je.Checkpoints)
	}
	if len(je.FlameGraphs) != 1 || je.FlameGraphs[0].VertexID != sink.ID {
		t.Fatalf("flame graphs %+v, want the sink's", je.FlameGraphs)
	}

	r := diagnoseReal(t, "hotkey", realHotKeyJob)
	b := findingOf(r, "bottleneck")
	if b == nil || !strings.Contains(b.Cause, `"slow-enrich: Writer"`) || !strings.Contains(strings.Join(b.Details, "\n"), "upstream Source: orders -> Map: back-pressured 100% (level high)") ||
		!strings.HasPrefix(b.Suggestion, "One subtask carries the load: hot keys.") {
		t.Errorf("bottleneck %+v", b)
	}
	if s := findingOf(r, "skew"); s == nil || !strings.Contains(s.Cause, `"slow-enrich: Writer": subtask 3 receives`) {
		t.Errorf("skew %+v", s)
	}
	if h := findingOf(r, "hot-method"); h == nil || !strings.Contains(h.Cause, "dev.hotcold.flink.diagit.EnrichCost.enrich") {
		t.Errorf("hot method %+v", h)
	}
	for _, c := range r.Checks {
		if (c.Rule == "gc" || c.Rule == "restart" || c.Rule == "checkpoint") && c.Result != "passed" {
			t.Errorf("check %+v, want passed", c)
		}
	}
}

func TestRealFlinkGCPressure(t *testing.T) {
	je, err := realFlink(t, "gc").CollectJob(context.Background(), realGCJob, realWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(je.TaskManagers) != 1 {
		t.Fatalf("task managers %+v, want 1", je.TaskManagers)
	}
	tm := je.TaskManagers[0]
	// Status.JVM.GarbageCollector.All.TimeMsPerSecond was 369.2; the heap
	// 130.5 MiB used of 309.4 MiB.
	if tm.GCTimeShare < 0.369 || tm.GCTimeShare > 0.370 || tm.HeapMax != 324403200 || tm.HeapUsed <= 0 {
		t.Errorf("task manager %+v, want a GC share of 36.9%% from All.TimeMsPerSecond", tm)
	}
	r := diagnoseReal(t, "gc", realGCJob)
	f := findingOf(r, "gc")
	if f == nil || !strings.Contains(f.Cause, "TaskManager "+tm.ID+" spends 37% of its time in garbage collection") || f.Severity != diag.SeverityError {
		t.Errorf("gc finding %+v", f)
	}
}

// Flink 2.2.1 answers {"endTimestamp": -3} (VertexFlameGraph.waiting())
// until the first sampling is done, which with Flink's defaults (100
// samples 50 ms apart) outlasts three tries 2 s apart: the default number
// of tries waits for it.
func TestFlameGraphDefaultTriesOutlastFlinksFirstSampling(t *testing.T) {
	rec := diag.ReplayHandler(filepath.Join("testdata", "flink-2.2.1", "hotkey", "flink"))
	var mu sync.Mutex
	asked := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/flamegraph") {
			mu.Lock()
			asked++
			n := asked
			mu.Unlock()
			if n <= 5 {
				w.Write([]byte(`{"endTimestamp":-3}`))
				return
			}
		}
		rec.ServeHTTP(w, r)
	}))
	defer srv.Close()
	fc, err := diag.NewFlinkClient(srv.URL, diag.FlinkOptions{FlameGraphWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	je, err := fc.CollectJob(context.Background(), realHotKeyJob, realWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(je.FlameGraphs) != 1 || asked != 6 {
		t.Fatalf("%d flame graph(s) after %d request(s), missing %+v: want the sink's after 5 waiting answers", len(je.FlameGraphs), asked, je.Missing)
	}
}
