package mock_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/mock"
)

// quietCase is a case whose sinks expect nothing unless extra says so:
// source "in" on topic in, sink "quiet" on topic quiet (rows: []), and
// whatever extra adds (another sink, a ready section).
func quietCase(t *testing.T, sinks, extra string) *mock.Case {
	t.Helper()
	c, err := mock.LoadCaseFS(caseFS(`name: quiet
sources:
  - {name: in, topic: in, format: json, columns: {id: BIGINT NOT NULL}, key: [id], messages: [{row: {id: 1}}]}
`+sinks+`
expect: {timeout: 10m, quiet: 200ms}
`+extra), "c")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const oneQuietSink = `sink: {topic: quiet, format: json, columns: {id: BIGINT NOT NULL}, key: [id], expect: {rows: []}}`

func TestAnEmptySinkWithoutEvidenceIsUnknownNotAPass(t *testing.T) {
	kopts := newCluster(t)
	c := quietCase(t, oneQuietSink, "") // no job runs at all
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != mock.Unknown || res.Passed() || !strings.Contains(res.Reason, "nothing shows that the job read the inputs: declare a ready check") {
		t.Fatalf("verdict %s: %s", res.Verdict, res.Reason)
	}
	var junit strings.Builder
	rep := &mock.Report{Results: []*mock.Result{res}}
	if err := rep.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(junit.String(), `type="unknown"`) || !strings.Contains(junit.String(), `errors="1"`) || rep.Failed() != 1 {
		t.Fatalf("an unknown verdict must not read as a pass in CI:\n%s", junit.String())
	}
}

func TestAnEmptySinkPassesOnceTheReadyCheckPassed(t *testing.T) {
	kopts := newCluster(t)
	c := quietCase(t, oneQuietSink, "ready: {command: \"true\"}\n")
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() || !strings.Contains(res.Sinks[0].Evidence, "ready check passed") {
		t.Fatalf("verdict %s (%s), evidence %q", res.Verdict, res.Reason, res.Sinks[0].Evidence)
	}
}

func TestAnEmptySinkPassesWhenAnotherSinkOfTheRunReceivedOutput(t *testing.T) {
	kopts := newCluster(t)
	// sink "echo" reads the source's own topic: the "job" is the identity
	c := quietCase(t, `sinks:
  - {name: echo, topic: in, format: json, columns: {id: BIGINT NOT NULL}, key: [id], expect: {rows: [{id: 1}]}}
  - {name: quiet, topic: quiet, format: json, columns: {id: BIGINT NOT NULL}, key: [id], expect: {rows: []}}`, "")
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() || res.Sinks[1].Evidence != "another sink of the run received output" {
		t.Fatalf("%s\nevidence %q", res.Report(), res.Sinks[1].Evidence)
	}
	// With shared topics another writer may have written it: no evidence.
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopics(ctxFor(t), 1, -1, nil, "in", "quiet"); err != nil {
		t.Fatal(err)
	}
	res, err = mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true, Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != mock.Unknown || res.Sinks[0].Verdict != mock.Pass || res.Sinks[1].Verdict != mock.Unknown {
		t.Fatalf("shared run:\n%s", res.Report())
	}
}

// detachingJob ends at once with a clean exit, as flink run -d does once
// it has submitted the real job.
func detachingJob(ctx context.Context, run mock.RunInfo) (func() error, error) {
	run.JobEnded(nil)
	return func() error { return nil }, nil
}

func TestAJobsCleanExitIsNoEvidenceForAnEmptySink(t *testing.T) {
	kopts := newCluster(t)
	c := quietCase(t, oneQuietSink, "")
	// An exit 0 may be a bounded job that read everything, or flink run -d
	// having only submitted the real job: mock cannot tell.
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true, StartJob: detachingJob})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != mock.Unknown || !strings.Contains(res.Reason, "the job's own exit with status 0 is no evidence") {
		t.Fatalf("verdict %s: %s", res.Verdict, res.Reason)
	}
}

func TestASinkExpectingRowsThatReceivesNothingFailsNamingItThroughKafka(t *testing.T) {
	kopts := newCluster(t)
	c := quietCase(t, `sinks:
  - {name: echo, topic: in, format: json, columns: {id: BIGINT NOT NULL}, key: [id], expect: {rows: [{id: 1}]}}
  - {name: totals, topic: totals, format: json, columns: {id: BIGINT NOT NULL}, key: [id], expect: {rows: [{id: 1}]}}`, "")
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := "sink totals: no output on sink topic " + res.RunID + ".totals within 300ms after the last input"
	if res.Verdict != mock.Fail || res.Sinks[0].Verdict != mock.Pass || !strings.HasPrefix(res.Reason, want) {
		t.Fatalf("reason %q, want it to start %q:\n%s", res.Reason, want, res.Report())
	}
	if !strings.Contains(res.Report(), "sink totals (topic "+res.RunID+".totals, json): FAIL (0 messages, 0 rows)") {
		t.Fatalf("report:\n%s", res.Report())
	}
}

func TestAKeyWhoseChangesSpanPartitionsIsNotedInTheChangelogDiff(t *testing.T) {
	kopts := newCluster(t)
	// The sink is the source topic itself: the "job" is the identity.
	c, err := mock.LoadCaseFS(caseFS(`sources:
  - name: in
    topic: in
    format: changelog-json
    partitions: 2
    columns: {id: BIGINT NOT NULL, n: BIGINT}
    key: [id]
    messages:
      - {op: +I, row: {id: 1, n: 1}, partition: 0}
      - {op: +U, row: {id: 1, n: 5}, partition: 1}
sink: {topic: in, format: changelog-json, partitions: 2, columns: {id: BIGINT NOT NULL, n: BIGINT}, key: [id]}
expect:
  changelog:
    - {op: +I, row: {id: 1, n: 1}}
    - {op: -U, row: {id: 1, n: 1}}
  quiet: 200ms
`), "c")
	if err != nil {
		t.Fatal(err)
	}
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Sinks[0].Changelog
	if res.Verdict != mock.Fail || d == nil || len(d.Diverged) != 1 || !strings.Contains(d.Diverged[0].Note, "read from 2 partitions, whose relative order Kafka does not define") {
		t.Fatalf("report:\n%s", res.Report())
	}
	if at := d.Diverged[0].ActualAt; !strings.HasPrefix(at, res.RunID+".in/") {
		t.Errorf("the divergence names the record %q", at)
	}
}
