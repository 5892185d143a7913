package diag_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotcold/hotcold/diag"
)

type memSink struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (m *memSink) Put(_ context.Context, name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files == nil {
		m.files = map[string][]byte{}
	}
	m.files[name] = data
	return nil
}

type fixedHistory []diag.GroupStatus

func (h fixedHistory) History(group string, w diag.Window) []diag.GroupStatus {
	var out []diag.GroupStatus
	for _, g := range h {
		if g.Group == group && w.Contains(g.Time) {
			out = append(out, g)
		}
	}
	return out
}

func TestWatcherWritesReportsForStartWorseningAndEnd(t *testing.T) {
	d := newDiagnoser(t, "dirty", false)
	sink := &memSink{}
	hist := fixedHistory(replayLag(t, "testdata/scenarios/dirty/lag.jsonl", diag.LagConfig{CommitInterval: time.Minute}))
	w, err := diag.NewWatcher(diag.WatcherConfig{Diagnoser: d, History: hist, Sink: sink, JobID: dirtyJob, Lookback: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	since := t0.Add(13 * time.Minute)
	events := make(chan diag.Event, 4)
	events <- diag.Event{Kind: diag.EventStart, Group: "orders-enrich", Time: since, Since: since, Status: diag.StatusWarn}
	events <- diag.Event{Kind: diag.EventUpdate, Group: "orders-enrich", Time: since.Add(time.Minute), Since: since, Status: diag.StatusWarn} // not worse: no report
	events <- diag.Event{Kind: diag.EventUpdate, Group: "orders-enrich", Time: since.Add(5 * time.Minute), Since: since, Status: diag.StatusStop}
	events <- diag.Event{Kind: diag.EventEnd, Group: "orders-enrich", Time: since.Add(15 * time.Minute), Since: since}
	close(events)
	if err := w.Run(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	var reports []string
	for name := range sink.files {
		if strings.HasSuffix(name, "/report.html") {
			reports = append(reports, name)
		}
	}
	if len(reports) != 3 || len(sink.files) != 9 {
		t.Fatalf("files %d, reports %v: want 3 reports of 3 files", len(sink.files), reports)
	}
	end := string(sink.files["orders-enrich/20261122T101300Z/003-end/report.txt"])
	if !strings.Contains(end, "Dirty data") || !strings.Contains(end, "2026-11-22T10:08:00Z .. 2026-11-22T10:28:00Z") {
		t.Fatalf("final report does not cover the anomaly or lacks the cause:\n%s", end)
	}
}

func TestWatcherKeepsRunningWhenASourceIsDown(t *testing.T) {
	d, err := diag.NewDiagnoser(diag.DiagnoserConfig{Jobs: flinkClient(t, "http://127.0.0.1:1")})
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	w, err := diag.NewWatcher(diag.WatcherConfig{Diagnoser: d, Sink: sink, JobID: skewJob})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		prefix, err := w.Handle(context.Background(), diag.Event{Kind: diag.EventStart, Group: "g", Time: t0.Add(time.Duration(i) * time.Hour), Status: diag.StatusStop})
		if err != nil || prefix == "" {
			t.Fatalf("event %d: prefix %q, %v", i, prefix, err)
		}
	}
	if len(sink.files) != 6 {
		t.Fatalf("%d files, want two reports", len(sink.files))
	}
}

func TestBlobSinkWritesReports(t *testing.T) {
	ctx := context.Background()
	sink, bucket, err := diag.OpenBlobSink(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	r := diag.BuildReport(&diag.Evidence{Window: scenarioWindow}, nil, t0)
	names, err := diag.WriteReport(ctx, sink, "g/x", r)
	if err != nil || len(names) != 3 {
		t.Fatalf("names %v, %v", names, err)
	}
	b, err := bucket.ReadAll(ctx, "g/x/report.json")
	if err != nil || !strings.Contains(string(b), `"verdict": "UNKNOWN"`) { // no evidence at all
		t.Fatalf("report.json %q, %v", b, err)
	}
	if _, _, err := diag.OpenBlobSink(ctx, "nosuch://x"); err == nil {
		t.Fatal("an unknown bucket scheme opened")
	}
}
