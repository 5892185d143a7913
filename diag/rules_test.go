package diag_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/diag"
)

func check(t *testing.T, r diag.Rule, ev *diag.Evidence) []diag.Finding {
	t.Helper()
	if ev.Window == (diag.Window{}) {
		ev.Window = scenarioWindow
	}
	return r.Check(context.Background(), ev)
}

func sub(i int, busy, bp, rate float64) diag.Subtask {
	return diag.Subtask{Index: i, Busy: busy, BackPressured: bp, Idle: 0, RecordsInPerSecond: rate, RecordsIn: -1, RecordsOut: -1}
}

func pipeline(aggBusy, srcBP float64, rates ...float64) []diag.Vertex {
	src := diag.Vertex{ID: "src", Name: "Source", Parallelism: 2, Inputs: []string{}, Subtasks: []diag.Subtask{sub(0, 0.1, srcBP, 100), sub(1, 0.1, srcBP, 100)}}
	agg := diag.Vertex{ID: "agg", Name: "Agg", Parallelism: len(rates), Inputs: []string{"src"}}
	for i, r := range rates {
		busy := 0.3
		if i == 0 {
			busy = aggBusy
		}
		agg.Subtasks = append(agg.Subtasks, sub(i, busy, 0, r))
	}
	return []diag.Vertex{src, agg}
}

const jsonStack = "java.io.IOException: Failed to deserialize consumer record due to\n\tat a.B.c(B.java:1)\n" +
	"Caused by: java.io.IOException: Failed to deserialize JSON '{\"id\": 1, oops}'.\n\tat a.B.d(B.java:2)\n\t... 1 more\n" +
	"Caused by: com.fasterxml.jackson.core.JsonParseException: Unexpected character ('o' (code 111))\n at [Source: UNKNOWN; line: 1, column: 12]\n\tat c.D.e(D.java:3)\n"

func TestRestartRuleClassifiesRootExceptions(t *testing.T) {
	at := t0.Add(5 * time.Minute)
	for _, tc := range []struct{ name, stack, rule, raw string }{
		{"dirty data", jsonStack, "restart/dirty-data", `{"id": 1, oops}`},
		{"out of memory", "java.lang.OutOfMemoryError: Java heap space\n\tat java.util.Arrays.copyOf(Arrays.java:3332)\n", "restart/out-of-memory", ""},
		{"checkpoint", "org.apache.flink.util.FlinkRuntimeException: Exceeded checkpoint tolerable failure threshold.\n\tat x.Y.z(Y.java:1)\n", "restart/checkpoint-failure", ""},
		{"kafka", "org.apache.flink.util.FlinkException: fetch failed\n\tat x.Y.z(Y.java:1)\nCaused by: org.apache.kafka.common.errors.TimeoutException: Timeout expired while fetching topic metadata\n", "restart/kafka-connectivity", ""},
		{"missing class", "org.apache.flink.streaming.runtime.tasks.StreamTaskException: Cannot load user class: com.example.MyUdf\nCaused by: java.lang.ClassNotFoundException: com.example.MyUdf\n\tat java.net.URLClassLoader.findClass(URLClassLoader.java:387)\n", "restart/missing-class-or-udf", ""},
		{"unknown", "java.lang.IllegalStateException: the moon is full\n\tat x.Y.z(Y.java:1)\n", "restart/unclassified", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &diag.Evidence{Exceptions: []diag.Exception{{Time: at, Name: "x", Stacktrace: tc.stack, Task: "Map (1/2)", Source: "flink-rest"}}}
			fs := check(t, &diag.RestartRule{Keywords: diag.DefaultKeywordRules()}, ev)
			if len(fs) != 1 {
				t.Fatalf("findings %+v, want 1", fs)
			}
			f := fs[0]
			if f.Rule != tc.rule || f.Raw != tc.raw || f.Suggestion == "" || !f.Time.Equal(at) || f.Severity != diag.SeverityError {
				t.Fatalf("finding %+v, want rule %s raw %q", f, tc.rule, tc.raw)
			}
		})
	}
}

func TestRestartRuleFindsTheExceptionInLogs(t *testing.T) {
	ev := &diag.Evidence{Logs: []diag.LogEntry{{
		Time: t0.Add(time.Minute), Level: "WARN", Message: "Source: orders (1/4)#0 switched from RUNNING to FAILED with failure cause:",
		More: strings.Split(strings.TrimSuffix(jsonStack, "\n"), "\n"), File: "tm.log", Line: 7,
	}}}
	fs := check(t, &diag.RestartRule{}, ev)
	if len(fs) != 1 || fs[0].Rule != "restart/dirty-data" || !strings.Contains(strings.Join(fs[0].Details, " "), "tm.log:7") {
		t.Fatalf("findings %+v, want dirty data seen in tm.log:7", fs)
	}
}

func TestRestartRuleIsSilentWithoutFailures(t *testing.T) {
	ev := &diag.Evidence{
		Exceptions: []diag.Exception{{Time: t0.Add(-time.Hour), Stacktrace: jsonStack}}, // before the window
		Job:        &diag.JobState{Transitions: map[string]time.Time{"RUNNING": t0.Add(-2 * time.Hour)}},
	}
	if fs := check(t, &diag.RestartRule{}, ev); len(fs) != 0 {
		t.Fatalf("findings %+v, want none", fs)
	}
}

func TestRestartRuleReportsARestartWithoutException(t *testing.T) {
	ev := &diag.Evidence{Job: &diag.JobState{Transitions: map[string]time.Time{"RESTARTING": t0.Add(time.Minute)}}}
	fs := check(t, &diag.RestartRule{}, ev)
	if len(fs) != 1 || fs[0].Rule != "restart/no-exception" {
		t.Fatalf("findings %+v, want restart/no-exception", fs)
	}
}

func TestCheckpointRule(t *testing.T) {
	failed := diag.Checkpoint{ID: 7, Status: "FAILED", Trigger: t0.Add(time.Minute), FailureTime: t0.Add(11 * time.Minute), FailureMessage: "Checkpoint expired before completing."}
	ok := diag.Checkpoint{ID: 8, Status: "COMPLETED", Trigger: t0.Add(12 * time.Minute)}
	fs := check(t, &diag.CheckpointRule{}, &diag.Evidence{Checkpoints: &diag.Checkpoints{History: []diag.Checkpoint{failed, ok}}})
	if len(fs) != 1 || !strings.Contains(strings.Join(fs[0].Details, " "), "expired") || !strings.Contains(fs[0].Suggestion, "commits Kafka offsets") {
		t.Fatalf("findings %+v, want the failed checkpoint", fs)
	}
	if fs := check(t, &diag.CheckpointRule{}, &diag.Evidence{Checkpoints: &diag.Checkpoints{History: []diag.Checkpoint{ok}}}); len(fs) != 0 {
		t.Fatalf("findings %+v for completed checkpoints, want none", fs)
	}
}

func TestBottleneckRule(t *testing.T) {
	r := &diag.BottleneckRule{}
	fs := check(t, r, &diag.Evidence{Vertices: pipeline(0.95, 0.8, 100, 100)})
	if len(fs) != 1 || !strings.Contains(fs[0].Cause, `"Agg"`) || !strings.Contains(fs[0].Suggestion, "parallelism") {
		t.Fatalf("findings %+v, want Agg as the bottleneck", fs)
	}
	// Busy but its upstream is not back-pressured: not a bottleneck.
	if fs := check(t, r, &diag.Evidence{Vertices: pipeline(0.95, 0.1, 100, 100)}); len(fs) != 0 {
		t.Fatalf("findings %+v without upstream back-pressure, want none", fs)
	}
	// A restart in the window silences the load rules.
	ev := &diag.Evidence{Vertices: pipeline(0.95, 0.8, 100, 100), Job: &diag.JobState{Transitions: map[string]time.Time{"RESTARTING": t0.Add(time.Minute)}}}
	if fs := check(t, r, ev); len(fs) != 0 {
		t.Fatalf("findings %+v after a restart, want none", fs)
	}
}

func TestGCRule(t *testing.T) {
	r := &diag.GCRule{}
	fs := check(t, r, &diag.Evidence{TaskManagers: []diag.TaskManager{{ID: "tm-1", GCTimeShare: 0.25, HeapUsed: 3 << 30, HeapMax: 4 << 30, Source: "flink-rest"}, {ID: "tm-2", GCTimeShare: 0.02}}})
	if len(fs) != 1 || !strings.Contains(fs[0].Cause, "tm-1") || fs[0].Severity != diag.SeverityError || !strings.Contains(strings.Join(fs[0].Details, " "), "3.0 GiB of 4.0 GiB") {
		t.Fatalf("findings %+v, want GC pressure on tm-1", fs)
	}
	if fs := check(t, r, &diag.Evidence{TaskManagers: []diag.TaskManager{{ID: "tm-1", GCTimeShare: 0.05}, {ID: "tm-2", GCTimeShare: -1}}}); len(fs) != 0 {
		t.Fatalf("findings %+v, want none", fs)
	}
}

func TestSkewRule(t *testing.T) {
	r := &diag.SkewRule{}
	fs := check(t, r, &diag.Evidence{Vertices: pipeline(0.95, 0.8, 4000, 400, 380, 420)})
	if len(fs) != 1 || !strings.Contains(fs[0].Cause, "subtask 0") || !strings.Contains(fs[0].Suggestion, "mini-batch") {
		t.Fatalf("findings %+v, want skew on subtask 0", fs)
	}
	if fs := check(t, r, &diag.Evidence{Vertices: pipeline(0.95, 0.8, 410, 400, 380, 420)}); len(fs) != 0 {
		t.Fatalf("findings %+v for balanced input, want none", fs)
	}
}

func TestHotMethodRule(t *testing.T) {
	fg := diag.FlameGraph{VertexID: "agg", VertexName: "Agg", Root: diag.FlameNode{Name: "root", Value: 100, Children: []diag.FlameNode{
		{Name: "Task.run", Value: 100, Children: []diag.FlameNode{
			{Name: "com.esotericsoftware.kryo.Kryo.readClassAndObject", Value: 60},
			{Name: "Agg.process", Value: 30},
		}},
	}}}
	fs := check(t, &diag.HotMethodRule{}, &diag.Evidence{FlameGraphs: []diag.FlameGraph{fg}})
	if len(fs) != 1 || !strings.Contains(fs[0].Cause, "kryo") || !strings.Contains(fs[0].Suggestion, "Kryo") {
		t.Fatalf("findings %+v, want Kryo as the hot method", fs)
	}
	flat := diag.FlameGraph{VertexName: "Agg", Root: diag.FlameNode{Name: "root", Value: 100, Children: []diag.FlameNode{
		{Name: "a", Value: 10}, {Name: "b", Value: 10}, {Name: "c", Value: 10}, {Name: "d", Value: 10}, {Name: "e", Value: 10},
		{Name: "f", Value: 10}, {Name: "g", Value: 10}, {Name: "h", Value: 10}, {Name: "i", Value: 10}, {Name: "j", Value: 10},
	}}}
	if fs := check(t, &diag.HotMethodRule{}, &diag.Evidence{FlameGraphs: []diag.FlameGraph{flat}}); len(fs) != 0 {
		t.Fatalf("findings %+v for a flat profile, want none", fs)
	}
}

func lagEvidence(statuses ...diag.Status) *diag.Evidence {
	first := diag.GroupStatus{Group: "g", Time: t0}
	last := diag.GroupStatus{Group: "g", Time: t0.Add(10 * time.Minute)}
	for i, s := range statuses {
		rate := int64(600) // messages per 10 minutes
		if s == diag.StatusWarn {
			rate = 6000
		}
		first.Partitions = append(first.Partitions, diag.PartitionStatus{Topic: "orders", Partition: int32(i), End: 1000})
		last.Partitions = append(last.Partitions, diag.PartitionStatus{Topic: "orders", Partition: int32(i), Status: s, End: 1000 + rate, Lag: 50})
	}
	return &diag.Evidence{Lag: []diag.GroupStatus{first, last}}
}

func TestPartitionLagRule(t *testing.T) {
	r := &diag.PartitionLagRule{}
	fs := check(t, r, lagEvidence(diag.StatusOK, diag.StatusStop, diag.StatusOK, diag.StatusOK))
	if len(fs) != 1 || fs[0].Rule != "partition-lag/stuck" || !strings.Contains(fs[0].Details[1], "1 (STOP") {
		t.Fatalf("findings %+v, want partition 1 stuck", fs)
	}
	fs = check(t, r, lagEvidence(diag.StatusOK, diag.StatusOK, diag.StatusWarn, diag.StatusOK))
	if len(fs) != 1 || fs[0].Rule != "partition-lag/producer-skew" {
		t.Fatalf("findings %+v, want producer skew on partition 2", fs)
	}
	// Every partition lags: the job is slow, not the source side.
	if fs := check(t, r, lagEvidence(diag.StatusWarn, diag.StatusWarn, diag.StatusWarn, diag.StatusWarn)); len(fs) != 0 {
		t.Fatalf("findings %+v when all partitions lag, want none", fs)
	}
}

func TestDiagnoserSurvivesAPanickingRule(t *testing.T) {
	d, err := diag.NewDiagnoser(diag.DiagnoserConfig{Rules: []diag.Rule{panicRule{}, &diag.GCRule{}}})
	if err != nil {
		t.Fatal(err)
	}
	r := d.Diagnose(context.Background(), diag.Query{Window: scenarioWindow})
	found := false
	for _, m := range r.Missing {
		found = found || (m.Source == "rules" && strings.Contains(m.Reason, "panicked"))
	}
	if !found {
		t.Fatalf("missing %+v, want the panicking rule listed", r.Missing)
	}
}

type panicRule struct{}

func (panicRule) Name() string                                         { return "panic" }
func (panicRule) Check(context.Context, *diag.Evidence) []diag.Finding { panic("boom") }

// The same failure seen in the exception history and in a TaskManager log
// is one failure, not two: 3 restarts give 3 occurrences.
func TestFailuresSeenInRESTAndLogsCountOnce(t *testing.T) {
	trace := func(msg string) string {
		return "java.io.IOException: Failed to deserialize JSON\n\tat a.B.c(B.java:1)\nCaused by: com.fasterxml.jackson.core.JsonParseException: " + msg + "\n\tat d.E.f(E.java:2)"
	}
	ev := &diag.Evidence{Window: scenarioWindow}
	for i, at := range []time.Duration{2 * time.Minute, 7 * time.Minute, 12 * time.Minute} {
		x := diag.Exception{Time: t0.Add(at), Name: "java.io.IOException: Failed to deserialize JSON", Stacktrace: trace("Unexpected character"), Source: "flink-rest"}
		ev.Exceptions = append(ev.Exceptions, x)
		l := strings.Split(trace("Unexpected character"), "\n")
		// The TaskManager logs it 400 ms before the JobManager records it.
		ev.Logs = append(ev.Logs, diag.LogEntry{Time: t0.Add(at - 400*time.Millisecond), Level: "WARN", Message: "Source: orders switched from RUNNING to FAILED",
			More: l, File: "tm.log", Line: 10 * (i + 1)})
	}
	// Another failure with another root cause, 2 s after the first: its own.
	ev.Logs = append(ev.Logs, diag.LogEntry{Time: t0.Add(2*time.Minute + 2*time.Second), Level: "ERROR", Message: "sink failed",
		More: []string{"java.lang.IllegalStateException: sink closed", "\tat g.H.i(H.java:3)"}, File: "tm.log", Line: 99})
	fs := ev.Failures()
	if len(fs) != 4 {
		t.Fatalf("%d failures %+v, want 3 deserialisation failures and 1 sink failure", len(fs), fs)
	}
	for _, x := range fs {
		if x.Source == "flink-rest" && (len(x.Also) != 1 || !strings.HasPrefix(x.Also[0], "log tm.log:")) {
			t.Errorf("%s at %s: also seen in %v, want its log line", x.Name, x.Time, x.Also)
		}
	}
	if r := ev.Restarts(); len(r) != 3 {
		t.Fatalf("restarts %v, want 3", r)
	}
	got := (&diag.RestartRule{}).Check(context.Background(), ev)
	var text string
	for _, f := range got {
		text += f.Cause + "\n" + strings.Join(f.Details, "\n") + "\n"
	}
	if !strings.Contains(text, "(3 occurrence(s))") || !strings.Contains(text, "restarted 3 time(s)") || !strings.Contains(text, "flink-rest, log tm.log:10") {
		t.Fatalf("findings do not count 3 failures seen in REST and the log:\n%s", text)
	}
}

// A restart whose exception history could not be read does not claim "no
// exception was found" or ask for --flink and --job, which were given: it
// says what could not be read.
func TestRestartWithUnreadableExceptionHistorySaysSo(t *testing.T) {
	ev := &diag.Evidence{Window: scenarioWindow, Sources: map[string]string{"job": "flink-rest"},
		Job: &diag.JobState{ID: skewJob, State: "RUNNING", Transitions: map[string]time.Time{"RESTARTING": t0.Add(5 * time.Minute)}}}
	ev.AddMissing("flink", "exception history", "GET http://jm/jobs/x/exceptions: HTTP 500")
	ev.AddMissing("logs", "log files", "no logs configured (give --logs PATH)")
	fs := (&diag.RestartRule{}).Check(context.Background(), ev)
	if len(fs) != 1 {
		t.Fatalf("findings %+v, want one", fs)
	}
	f := fs[0]
	all := f.Cause + "\n" + strings.Join(f.Details, "\n") + "\n" + f.Suggestion
	if !strings.Contains(f.Cause, "could not be read") || !strings.Contains(all, "HTTP 500") {
		t.Errorf("finding does not say the exception history could not be read:\n%s", all)
	}
	if strings.Contains(all, "no exception was found") || strings.Contains(all, "--flink") {
		t.Errorf("finding claims nothing was found or asks for flags that were given:\n%s", all)
	}
	if !strings.Contains(f.Suggestion, "--logs") {
		t.Errorf("suggestion %q does not ask for the logs, which were not given", f.Suggestion)
	}
}

// A skewed bottleneck is fixed by spreading the hot key, not by more
// subtasks: its suggestion leads with salting, two-phase aggregation,
// mini-batch and distinct split, and mentions parallelism only after them.
func TestSkewedBottleneckLeadsWithHotKeyFixes(t *testing.T) {
	r := newDiagnoser(t, "skew", false).Diagnose(context.Background(), diag.Query{JobID: skewJob, Window: scenarioWindow})
	var f *diag.Finding
	for i := range r.Findings {
		if r.Findings[i].Rule == "bottleneck" {
			f = &r.Findings[i]
		}
	}
	if f == nil {
		t.Fatalf("no bottleneck finding in %+v", r.Findings)
	}
	s := f.Suggestion
	at := func(sub string) int {
		i := strings.Index(s, sub)
		if i < 0 {
			t.Fatalf("suggestion %q does not mention %q", s, sub)
		}
		return i
	}
	salt, twoPhase, mini, distinct, par := at("Salt the hot keys"), at("'table.optimizer.agg-phase-strategy' = 'TWO_PHASE'"),
		at("'table.exec.mini-batch.enabled' = 'true'"), at("'table.optimizer.distinct-agg.split.enabled' = 'true'"), at("parallelism")
	if par < salt || par < twoPhase || par < mini || par < distinct {
		t.Fatalf("suggestion mentions the parallelism before the hot-key fixes: %q", s)
	}
	if !strings.Contains(strings.Join(f.Details, "\n"), "skewed:") {
		t.Errorf("details %q do not say why the vertex is taken as skewed", f.Details)
	}
}

// A fixed-delay restart strategy on a dirty record fails every second:
// each entry of the exception history is a restart of its own, however
// close, as a real Flink 2.2.1 showed (flink/diag-it); the RESTARTING
// transition and the log line of the last one are not extra restarts.
func TestFailuresASecondApartAreEachARestart(t *testing.T) {
	ev := &diag.Evidence{Window: scenarioWindow, Job: &diag.JobState{State: "RESTARTING", Restarts: 4,
		Transitions: map[string]time.Time{"RESTARTING": t0.Add(time.Minute + 3*time.Second)}}}
	for i := range 4 {
		ev.Exceptions = append(ev.Exceptions, diag.Exception{Time: t0.Add(time.Minute + time.Duration(i)*time.Second), Name: "java.io.IOException: Failed to deserialize JSON", Source: "flink-rest"})
	}
	ev.Logs = append(ev.Logs, diag.LogEntry{Time: t0.Add(time.Minute + 3*time.Second - 300*time.Millisecond), Message: "Job orders (x) switched from state RUNNING to RESTARTING."})
	// A restart the history does not hold (it keeps only the last N).
	ev.Logs = append(ev.Logs, diag.LogEntry{Time: t0.Add(20 * time.Second), Message: "Restarting job."})
	if r := ev.Restarts(); len(r) != 5 {
		t.Fatalf("restarts %v, want the 4 failures of the history and the one only the log saw", r)
	}
}
