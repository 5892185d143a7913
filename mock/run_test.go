package mock_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
)

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRunInProcessJoinSeesRefundBeforeOrder(t *testing.T) {
	c := loadCase(t, "testdata/cases/refund-before-order")
	res, err := mock.RunInProcess(ctxFor(t), c, newRefundJoin(t, c, false), mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() {
		t.Fatalf("want pass:\n%s", res.Report())
	}
	if res.Complete != mock.CompleteEndOfInput || len(res.Sent) != 4 || len(res.Output) != 2 || len(res.Table) != 2 {
		t.Fatalf("complete %q, %d sent, %d output, %d rows", res.Complete, len(res.Sent), len(res.Output), len(res.Table))
	}
	if got := string(res.Output[0].Key); got != `{"order_id":1}` {
		t.Errorf("output key %s: the sink format's encoding is used", got)
	}
}

func TestRunInProcessCatchesAJobThatDropsAnEarlyRefund(t *testing.T) {
	c := loadCase(t, "testdata/cases/refund-before-order")
	res, err := mock.RunInProcess(ctxFor(t), c, newRefundJoin(t, c, true), mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != mock.Fail || len(res.Diff.Missing) != 1 || len(res.Diff.Unexpected) != 0 || len(res.Diff.Changed) != 0 {
		t.Fatalf("want one missing row:\n%s", res.Report())
	}
	if got := string(c.Sink.Schema.AppendJSON(nil, res.Diff.Missing[0])); got != `{"order_id":1,"amount":30.00,"refund_amount":5.00}` {
		t.Fatalf("missing %s", got)
	}
	if !strings.Contains(res.Reason, "1 missing, 0 unexpected, 0 changed") {
		t.Errorf("reason %q", res.Reason)
	}
}

func TestRunInProcessWrongExpectationShowsTheChangedColumn(t *testing.T) {
	c := loadCase(t, "testdata/cases/refund-wrong-amount.yaml")
	res, err := mock.RunInProcess(ctxFor(t), c, newRefundJoin(t, c, false), mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != mock.Fail || len(res.Diff.Changed) != 1 {
		t.Fatalf("want one changed row:\n%s", res.Report())
	}
	want := "changed:\n  ~ order_id=2\n      refund_amount: expected 10.00, got 12.50\n"
	if !strings.Contains(res.Diff.String(), want) {
		t.Fatalf("diff:\n%s\nwant it to contain:\n%s", res.Diff, want)
	}
}

func TestRunInProcessAdvancesVirtualTimeWithoutSleeping(t *testing.T) {
	c := loadCase(t, "testdata/cases/refund-before-order")
	var arrivals []time.Duration
	var start time.Time
	job := mock.JobFunc(func(_ context.Context, in mock.Input) ([]row.Row, error) {
		if start.IsZero() {
			start = in.Arrival
		}
		arrivals = append(arrivals, in.Arrival.Sub(start))
		return nil, nil
	})
	slept := false
	o := mock.Options{Speed: 0.5, Sleeper: mock.SleeperFunc(func(context.Context, time.Duration) error { slept = true; return nil })}
	if _, err := mock.RunInProcess(ctxFor(t), c, job, o); err != nil {
		t.Fatal(err)
	}
	if slept {
		t.Error("in-process runs must not sleep")
	}
	want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	for i := range want {
		if i >= len(arrivals) || arrivals[i] != want[i] {
			t.Fatalf("arrivals %v, want %v (50ms waits at speed 0.5)", arrivals, want)
		}
	}
}

func TestRunInProcessJobErrorIsAnErrorVerdictNamingTheMessage(t *testing.T) {
	c := loadCase(t, "testdata/cases/refund-before-order")
	boom := errors.New("boom")
	n := 0
	job := mock.JobFunc(func(context.Context, mock.Input) ([]row.Row, error) {
		n++
		if n == 2 {
			return nil, boom
		}
		return nil, nil
	})
	res, err := mock.RunInProcess(ctxFor(t), c, job, mock.Options{})
	if !errors.Is(err, boom) || res == nil || res.Verdict != mock.Error {
		t.Fatalf("err %v, res %+v", err, res)
	}
	if !strings.Contains(err.Error(), "orders message") || !strings.Contains(err.Error(), "orders.jsonl:2") {
		t.Errorf("error does not name the message: %v", err)
	}
}

func TestRunInProcessReportsRowsTheSinkCannotWrite(t *testing.T) {
	fsys := caseFS(`
sources: [{name: s, topic: t, messages: [{value: 1}]}]
sink: {topic: out, format: json, columns: {v: STRING}}
expect: {rows: [{v: a}]}
`)
	c, err := mock.LoadCaseFS(fsys, "c")
	if err != nil {
		t.Fatal(err)
	}
	job := mock.JobFunc(func(context.Context, mock.Input) ([]row.Row, error) {
		return []row.Row{
			{Kind: row.Insert, Values: []row.Value{row.StringValue("a")}},
			{Kind: row.UpdateBefore, Values: []row.Value{row.StringValue("a")}},
		}, nil
	})
	res, err := mock.RunInProcess(ctxFor(t), c, job, mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != mock.Fail || !strings.Contains(res.Report(), "format json is append-only") {
		t.Fatalf("want a fail naming the unwritable -U row:\n%s", res.Report())
	}
}

func TestRunReplaysThroughKafkaAndMergesTheSink(t *testing.T) {
	kopts := newCluster(t)
	c := loadCase(t, "testdata/cases/passthrough.yaml")
	var progress []mock.Progress
	var mu sync.Mutex
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true, Progress: func(p mock.Progress) {
		mu.Lock()
		progress = append(progress, p)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() {
		t.Fatalf("want pass:\n%s", res.Report())
	}
	if res.Complete != mock.CompleteQuiet || len(res.Sent) != 6 || len(res.Output) != 6 {
		t.Fatalf("complete %q, %d sent, %d received", res.Complete, len(res.Sent), len(res.Output))
	}
	topic := res.Topics["accounts"]
	if !strings.HasPrefix(topic, res.RunID+".") {
		t.Errorf("run topic %q is not prefixed with the run id %q", topic, res.RunID)
	}
	for i, s := range res.Sent {
		if s.Record.Topic != topic || s.Record.Offset != int64(i) {
			t.Errorf("sent %d: %s@%d", i, s.Record.Topic, s.Record.Offset)
		}
	}
	if h := res.Output[5].Headers; len(h) != 1 || h[0].Key != "trace" {
		t.Errorf("headers not replayed: %+v", h)
	}
	if len(progress) == 0 || progress[len(progress)-1].Sent != 6 {
		t.Errorf("progress %+v", progress)
	}
	// the isolated topic is gone after the run
	cl, _ := kgo.NewClient(kopts...)
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if td.Has(topic) {
		t.Errorf("isolated topic %s still exists", topic)
	}
}

func TestRunScalesScheduledWaitsThroughTheSleeper(t *testing.T) {
	kopts := newCluster(t)
	c := loadCase(t, "testdata/cases/passthrough.yaml")
	var waits []time.Duration
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, Speed: 2, Sleeper: mock.SleeperFunc(func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	})})
	if err != nil || !res.Passed() {
		t.Fatalf("err %v\n%s", err, res.Report())
	}
	if len(waits) != 5 {
		t.Fatalf("waits %v: want one before every message but the first", waits)
	}
	for _, w := range waits {
		if w != 5*time.Millisecond {
			t.Fatalf("waits %v: want the 10ms interval halved", waits)
		}
	}
}

// TestRunWritesInTheScheduledOrderAcrossTopics observes the produce
// requests reaching the broker: every message must be acknowledged before
// a message to another topic is sent, also at full speed.
func TestRunWritesInTheScheduledOrderAcrossTopics(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	var mu sync.Mutex
	var requests [][][16]byte // per produce request, topic ids (or names as ids)
	var names []string
	cluster.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		pr := req.(*kmsg.ProduceRequest)
		mu.Lock()
		defer mu.Unlock()
		var ids [][16]byte
		for _, tp := range pr.Topics {
			if tp.Topic != "" {
				names = append(names, tp.Topic)
				var id [16]byte
				copy(id[:], tp.Topic)
				ids = append(ids, id)
			} else {
				ids = append(ids, tp.TopicID)
			}
		}
		requests = append(requests, ids)
		return nil, nil, false
	})
	kopts := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}
	c, err := mock.LoadCaseFS(caseFS(`
sources:
  - {name: a, topic: ta, messages: [{value: 1}, {value: 2}, {value: 3}, {value: 4}, {value: 5}]}
  - {name: b, topic: tb, messages: [{value: 6}, {value: 7}, {value: 8}]}
schedule: {order: [a*3, b, a, b*2, a]}
sink: {topic: out, format: json, columns: {v: STRING}}
expect: {rows: [], quiet: 1ms}
`), "c")
	if err != nil {
		t.Fatal(err)
	}
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true, KeepTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := kgo.NewClient(kopts...)
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(ctxFor(t), res.Topics["ta"], res.Topics["tb"])
	if err != nil {
		t.Fatal(err)
	}
	nameOf := map[[16]byte]string{}
	for _, d := range td {
		nameOf[d.ID] = d.Topic
		var id [16]byte
		copy(id[:], d.Topic)
		nameOf[id] = d.Topic
	}
	mu.Lock()
	defer mu.Unlock()
	var runs []string
	for _, ids := range requests {
		if len(ids) != 1 {
			t.Fatalf("a produce request carried %d topics; runs to different topics must not be batched together", len(ids))
		}
		n := strings.TrimPrefix(nameOf[ids[0]], res.RunID+".")
		if len(runs) == 0 || runs[len(runs)-1] != n {
			runs = append(runs, n)
		}
	}
	if got, want := strings.Join(runs, " "), "ta tb ta tb ta"; got != want {
		t.Fatalf("topics reached the broker in the order %q, want %q", got, want)
	}
	var order []string
	for _, s := range res.Sent {
		order = append(order, string(s.Record.Value))
	}
	if got := strings.Join(order, ","); got != "1,2,3,6,4,7,8,5" {
		t.Fatalf("sent %s", got)
	}
}

func TestRunKafkaEndToEndWithAJobReadingBothTopics(t *testing.T) {
	// IN-TEST JOB (refundJoin via kafkaJob); see join_e2e_test.go for the
	// join runner.
	kopts := newCluster(t)
	for _, tc := range []struct {
		name       string
		casePath   string
		lookupOnly bool
		verdict    mock.Verdict
		diff       string
	}{
		{"refund before order passes", "testdata/cases/refund-before-order", false, mock.Pass, ""},
		{"a lookup join drops the early refund", "testdata/cases/refund-before-order", true, mock.Fail,
			"missing (expected, not produced):\n  - {\"order_id\":1,\"amount\":30.00,\"refund_amount\":5.00}\n"},
		{"a wrong expectation fails with its diff", "testdata/cases/refund-wrong-amount.yaml", false, mock.Fail,
			"changed:\n  ~ order_id=2\n      refund_amount: expected 10.00, got 12.50\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCase(t, tc.casePath)
			job := newRefundJoin(t, c, tc.lookupOnly)
			res, err := mock.Run(ctxFor(t), c, mock.Options{
				Kafka:    kopts,
				StartJob: kafkaJob(t, kopts, job),
				Sleeper:  barrier(t, func() int64 { return job.processed.Load() }),
				Quiet:    300 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != tc.verdict {
				t.Fatalf("verdict %s, want %s:\n%s", res.Verdict, tc.verdict, res.Report())
			}
			if tc.diff != "" && !strings.Contains(res.Diff.String(), tc.diff) {
				t.Fatalf("diff:\n%s\nwant it to contain:\n%s", res.Diff, tc.diff)
			}
		})
	}
}

func TestRunWithoutOutputEndsAtTheTimeoutWithAClearVerdict(t *testing.T) {
	kopts := newCluster(t)
	c := loadCase(t, "testdata/cases/refund-before-order")
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != mock.Fail || res.Complete != mock.CompleteTimeout {
		t.Fatalf("verdict %s complete %s", res.Verdict, res.Complete)
	}
	for _, want := range []string{"no output on sink topic " + res.RunID + ".order_refunds within 200ms", "reads " + res.RunID + ".orders, " + res.RunID + ".refunds"} {
		if !strings.Contains(res.Reason, want) {
			t.Errorf("reason %q does not say %q", res.Reason, want)
		}
	}
}

func TestRunSharedTopicsReadOnlyTheNewOutput(t *testing.T) {
	kopts := newCluster(t)
	c := loadCase(t, "testdata/cases/passthrough.yaml")
	_, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true, Shared: true})
	if err == nil || !strings.Contains(err.Error(), "topic accounts does not exist") {
		t.Fatalf("got %v", err)
	}
	cl, _ := kgo.NewClient(kopts...)
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctxFor(t), 1, -1, nil, "accounts"); err != nil {
		t.Fatal(err)
	}
	// an earlier message in the shared topic must not count
	if err := cl.ProduceSync(ctxFor(t), &kgo.Record{Topic: "accounts", Value: []byte(`{"before":null,"after":{"id":99,"owner":"old","balance":1},"op":"c"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true, Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() || res.Topics["accounts"] != "accounts" || res.Output[0].Offset != 1 {
		t.Fatalf("topics %v:\n%s", res.Topics, res.Report())
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	c := loadCase(t, "testdata/cases/passthrough.yaml")
	_, err := mock.Run(ctxFor(t), c, mock.Options{Speed: -1, RunID: "a b"})
	for _, want := range []string{"Kafka: give the cluster's client options", "Speed: -1 must be positive", `RunID: "a b"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

func TestRunReportsAJobThatFailed(t *testing.T) {
	kopts := newCluster(t)
	c := loadCase(t, "testdata/cases/refund-before-order")
	failing := mock.JobFunc(func(context.Context, mock.Input) ([]row.Row, error) { return nil, errors.New("bad input") })
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true, Timeout: 300 * time.Millisecond, StartJob: kafkaJob(t, kopts, failing)})
	if err == nil || res.Verdict != mock.Error || !strings.Contains(res.Reason, "the job under test did not stop cleanly: bad input") {
		t.Fatalf("error %v, report:\n%s", err, res.Report())
	}
}
