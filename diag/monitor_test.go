package diag_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/diag"
)

func newCluster(t *testing.T, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newClient(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.FetchMaxWait(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(ctx context.Context, t *testing.T, p *kgo.Client, n int) {
	t.Helper()
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = &kgo.Record{Topic: "orders", Value: []byte(`{"order_id":1}`)}
	}
	if err := p.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// consume polls at most max records (at least one) and commits them.
func consume(ctx context.Context, t *testing.T, c *kgo.Client, max int) {
	t.Helper()
	fs := c.PollRecords(ctx, max)
	if err := fs.Err0(); err != nil {
		t.Fatal(err)
	}
	if err := c.CommitRecords(ctx, fs.Records()...); err != nil {
		t.Fatal(err)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestMonitorOnKafkaTellsSlowStoppedAndStuckConsumersApart runs three real
// consumer groups against an in-process Kafka: one that consumes fewer
// records than are produced, one that closed, and one that stays in its
// group but stops polling.
func TestMonitorOnKafkaTellsSlowStoppedAndStuckConsumersApart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := newCluster(t, "orders")
	producer := newClient(t, c, kgo.DefaultProduceTopic("orders"))
	group := func(name string) *kgo.Client {
		return newClient(t, c, kgo.ConsumerGroup(name), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit())
	}
	slow, stopped, stuck := group("slow"), group("stopped"), group("stuck")

	clock := &fakeClock{t: t0}
	events := make(chan diag.Event, 64)
	var eventLog, sampleLog bytes.Buffer
	reg := prometheus.NewRegistry()
	adm := kadm.NewClient(producer)
	m, err := diag.NewMonitor(adm, diag.MonitorConfig{
		Groups: []string{"slow", "stopped", "stuck"},
		Lag:    diag.LagConfig{StallAfter: 2 * time.Minute, MinSamples: 3},
		Events: events, EventLog: &eventLog, SampleLog: &sampleLog,
		Now: clock.Now, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}

	// Round 0: every group consumes and commits a little.
	produce(ctx, t, producer, 100)
	consume(ctx, t, slow, 20)
	consume(ctx, t, stopped, 20)
	consume(ctx, t, stuck, 20)
	stopped.Close() // leaves the group
	var last []diag.GroupStatus
	for round := 0; round < 7; round++ {
		if round > 0 {
			produce(ctx, t, producer, 100)
			consume(ctx, t, slow, 20)
		}
		if last, err = m.Tick(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		clock.Add(30 * time.Second)
	}
	want := map[string]diag.Status{"slow": diag.StatusWarn, "stopped": diag.StatusStop, "stuck": diag.StatusStall}
	if len(last) != 3 {
		t.Fatalf("got %d group statuses, want 3", len(last))
	}
	for _, gs := range last {
		if gs.Status != want[gs.Group] {
			t.Errorf("group %s is %s, want %s (partitions %+v)", gs.Group, gs.Status, want[gs.Group], gs.Partitions)
		}
		if gs.TotalLag <= 0 {
			t.Errorf("group %s has lag %d, want > 0", gs.Group, gs.TotalLag)
		}
	}

	// Every group's anomaly started, on the channel and in the JSON lines.
	started := map[string]bool{}
	for len(events) > 0 {
		ev := <-events
		if ev.Kind == diag.EventStart {
			started[ev.Group] = true
		}
	}
	for g := range want {
		if !started[g] {
			t.Errorf("no start event for group %s", g)
		}
		if !strings.Contains(eventLog.String(), `"group":"`+g+`"`) {
			t.Errorf("event log has no line for group %s", g)
		}
	}
	// The sample log replays into the same verdicts.
	samples, err := diag.ReadSamples(&sampleLog)
	if err != nil {
		t.Fatal(err)
	}
	replayed, _, err := diag.Replay(samples, diag.LagConfig{StallAfter: 2 * time.Minute, MinSamples: 3}, diag.Window{})
	if err != nil {
		t.Fatal(err)
	}
	for _, gs := range replayed[len(replayed)-3:] {
		if gs.Status != want[gs.Group] {
			t.Errorf("replayed group %s is %s, want %s", gs.Group, gs.Status, want[gs.Group])
		}
	}
	// History and metrics.
	if h := m.History("stopped", diag.Window{}); len(h) != 7 {
		t.Errorf("history holds %d evaluations of group stopped, want 7", len(h))
	}
	if got := gaugeValue(t, reg, "hotcold_diag_group_status", "stopped"); got != float64(diag.StatusStop) {
		t.Errorf("status gauge of group stopped is %v, want %d", got, diag.StatusStop)
	}
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name, group string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "group" && l.GetValue() == group {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric %s{group=%q}", name, group)
	return 0
}

func TestMonitorRunStopsWhenContextEnds(t *testing.T) {
	c := newCluster(t, "orders")
	cl := newClient(t, c)
	m, err := diag.NewMonitor(kadm.NewClient(cl), diag.MonitorConfig{Groups: []string{"nobody"}, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}
}

func TestNewMonitorRejectsAMissingGroup(t *testing.T) {
	c := newCluster(t, "orders")
	if _, err := diag.NewMonitor(kadm.NewClient(newClient(t, c)), diag.MonitorConfig{}); err == nil {
		t.Fatal("a monitor without groups was created")
	}
}
