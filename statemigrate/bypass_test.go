package statemigrate_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/statemigrate"
)

var refundRows = row.MustSchema([]row.Column{
	{Name: "city", Type: row.String},
	{Name: "refund_id", Type: row.Int64},
	{Name: "amount", Type: row.Int64},
}, nil, 1)

// refundsAgg is the job's logic: v1 counts and sums refunds per city; v2
// also keeps the largest refund.
func refundsAgg(logic statemigrate.Logic) agg.Config {
	c := agg.Config{ID: "refunds_by_city", Input: refundRows, GroupBy: []string{"city"},
		InputName: "refunds", OutputName: "refunds_by_city",
		Aggregates: []agg.Aggregate{{Name: "n", Func: agg.Count}, {Name: "total", Func: agg.Sum, Arg: "amount"}}}
	if logic == statemigrate.NewLogic {
		c.Version = 2
		c.Aggregates = append(c.Aggregates, agg.Aggregate{Name: "biggest", Func: agg.Max, Arg: "amount"})
	}
	return c
}

// runnerJobs runs the jobs in process as agg runners.
type runnerJobs struct {
	t       *testing.T
	brokers []string
	mu      sync.Mutex
	running map[statemigrate.Role]*runningJob
	starts  []string
}

type runningJob struct {
	r      *agg.Runner
	cancel context.CancelFunc
	done   chan error
	spec   statemigrate.JobSpec
}

func (j *runnerJobs) Start(ctx context.Context, role statemigrate.Role, spec statemigrate.JobSpec) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if rj := j.running[role]; rj != nil {
		select {
		case err := <-rj.done:
			rj.r.Close()
			delete(j.running, role)
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
		default:
			return nil // already running
		}
	}
	r, err := agg.NewRunner(agg.RunnerConfig{Agg: refundsAgg(spec.Logic), Job: "refunds", Brokers: j.brokers,
		InputTopic: "refunds", OutputTopic: spec.OutputTopic, StateDir: spec.StateDir, Group: spec.Group, NoSync: true, MaxBatch: 7})
	if err != nil {
		return err
	}
	if spec.StopAt != nil {
		stop := map[int32]int64{}
		for tp, o := range spec.StopAt {
			stop[tp.Partition] = o
		}
		r.StopAt(stop)
	}
	rctx, cancel := context.WithCancel(context.Background())
	rj := &runningJob{r: r, cancel: cancel, done: make(chan error, 1), spec: spec}
	go func() { rj.done <- r.Run(rctx) }()
	j.running[role] = rj
	j.starts = append(j.starts, fmt.Sprintf("%s:%s", role, spec.Logic))
	return nil
}

func (j *runnerJobs) Stop(ctx context.Context, role statemigrate.Role) error {
	j.mu.Lock()
	rj := j.running[role]
	delete(j.running, role)
	j.mu.Unlock()
	if rj == nil {
		return nil
	}
	rj.cancel()
	err := <-rj.done
	rj.r.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (j *runnerJobs) Wait(ctx context.Context, role statemigrate.Role) error {
	j.mu.Lock()
	rj := j.running[role]
	delete(j.running, role)
	j.mu.Unlock()
	if rj == nil {
		return nil
	}
	select {
	case err := <-rj.done:
		rj.r.Close()
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (j *runnerJobs) stopAll() {
	for _, r := range []statemigrate.Role{statemigrate.Online, statemigrate.Side} {
		j.Stop(context.Background(), r)
	}
}

type bypassEnv struct {
	t       *testing.T
	brokers []string
	jobs    *runnerJobs
	cfg     statemigrate.BypassConfig
	nextID  int64
	want    map[string]*cityRef
}

type cityRef struct{ n, total, biggest int64 }

func newBypassEnv(t *testing.T) *bypassEnv {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "refunds", "refunds_by_city", "refunds_by_city_v2"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e := &bypassEnv{t: t, brokers: c.ListenAddrs(), want: map[string]*cityRef{}}
	e.jobs = &runnerJobs{t: t, brokers: e.brokers, running: map[statemigrate.Role]*runningJob{}}
	t.Cleanup(e.jobs.stopAll)
	work := t.TempDir()
	out := func(topic string, l statemigrate.Logic) statemigrate.Output {
		r, err := agg.New(mustOpen(t, t.TempDir()), refundsAgg(l))
		if err != nil {
			t.Fatal(err)
		}
		return statemigrate.Output{Topic: topic, Schema: r.OutputSchema()}
	}
	e.cfg = statemigrate.BypassConfig{
		WorkDir: work + "/bypass", Brokers: e.brokers, InputTopics: []string{"refunds"}, Jobs: e.jobs,
		OnlineStateDir: work + "/online", OnlineGroup: "refunds_by_city", OnlineOutput: out("refunds_by_city", statemigrate.OldLogic),
		SideGroup: "refunds_by_city_v2", SideOutput: out("refunds_by_city_v2", statemigrate.NewLogic),
		PollInterval: 20 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
	// The online job runs the old logic.
	if err := e.jobs.Start(context.Background(), statemigrate.Online, statemigrate.JobSpec{
		Logic: statemigrate.OldLogic, StateDir: e.cfg.OnlineStateDir, OutputTopic: "refunds_by_city", Group: "refunds_by_city"}); err != nil {
		t.Fatal(err)
	}
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// refunds produces n refunds across cities, and retracts every fifth.
func (e *bypassEnv) refunds(n int) {
	e.t.Helper()
	cities := []string{"beijing", "shanghai", "guangzhou"}
	var lines []string
	for i := 0; i < n; i++ {
		e.nextID++
		city := cities[int(e.nextID)%len(cities)]
		amount := 10 + e.nextID%37
		lines = append(lines, fmt.Sprintf("+I[%s, %d, %d]", city, e.nextID, amount))
		ref := e.want[city]
		if ref == nil {
			ref = &cityRef{}
			e.want[city] = ref
		}
		ref.n++
		ref.total += amount
		ref.biggest = max(ref.biggest, amount)
		if e.nextID%5 == 0 && amount < ref.biggest {
			lines = append(lines, fmt.Sprintf("-D[%s, %d, %d]", city, e.nextID, amount))
			ref.n--
			ref.total -= amount
		}
	}
	produceRows(e.t, e.brokers, "refunds", refundRows, lines...)
}

func produceRows(t *testing.T, brokers []string, topic string, s *row.Schema, lines ...string) {
	t.Helper()
	codec, err := row.NewCodec(row.FormatChangelogJSON, s)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, line := range lines {
		k, rest, _ := strings.Cut(line, "[")
		kind, err := row.ParseKind(k)
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Split(strings.TrimSuffix(rest, "]"), ", ")
		var id, amount int64
		fmt.Sscan(f[1], &id)
		fmt.Sscan(f[2], &amount)
		r := row.Row{Kind: kind, Values: []row.Value{row.StringValue(f[0]), row.Int64Value(id), row.Int64Value(amount)}}
		m, _, err := codec.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Key: []byte(f[0]), Value: m.Value})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func (e *bypassEnv) wantTable(withBiggest bool) string {
	var rows []string
	for city, r := range e.want {
		if withBiggest {
			rows = append(rows, fmt.Sprintf("%s, %d, %d, %d", city, r.n, r.total, r.biggest))
		} else {
			rows = append(rows, fmt.Sprintf("%s, %d, %d", city, r.n, r.total))
		}
	}
	sort.Strings(rows)
	return strings.Join(rows, "\n")
}

// waitTable polls the merged table of an output until it equals want.
func (e *bypassEnv) waitTable(o statemigrate.Output, want string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := statemigrate.ReadTable(ctx, e.brokers, o)
		cancel()
		if err != nil {
			e.t.Fatal(err)
		}
		got = strings.Join(res, "\n")
		if got == want {
			return
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not synchronisation
	}
	e.t.Fatalf("table of %s:\n%s\nwant:\n%s", o.Topic, got, want)
}

// TestBypassRebuildsAndSwitchesWithoutSkippingOrRepeatingInput runs the
// whole workflow on kfake with crashes between stages, resuming each time.
func TestBypassRebuildsAndSwitchesWithoutSkippingOrRepeatingInput(t *testing.T) {
	e := newBypassEnv(t)
	e.refunds(60)
	e.waitTable(e.cfg.OnlineOutput, e.wantTable(false))

	crashAfter := map[statemigrate.Stage]bool{statemigrate.StageOutputsChecked: true, statemigrate.StageSideCheckpointed: true}
	var stages []statemigrate.Stage
	e.cfg.OnStage = func(s statemigrate.Stage, st *statemigrate.Status) error {
		stages = append(stages, s)
		if crashAfter[s] {
			delete(crashAfter, s)
			// Input keeps arriving while the workflow is down.
			if s == statemigrate.StageOutputsChecked {
				e.refunds(25)
			}
			return fmt.Errorf("simulated crash after %s", s)
		}
		return nil
	}
	var st *statemigrate.Status
	for attempt := 0; ; attempt++ {
		b, err := statemigrate.NewBypass(e.cfg) // a fresh process each time
		if err != nil {
			t.Fatal(err)
		}
		st, err = b.Run(context.Background())
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "simulated crash") || attempt > 3 {
			t.Fatalf("Run: %v", err)
		}
		t.Logf("crashed: %v; resuming", err)
	}
	if st.Stage != statemigrate.StageDone {
		t.Fatalf("final stage %s", st.Stage)
	}
	if got := fmt.Sprint(stages); got != "[side-started side-caught-up outputs-checked online-stopped side-checkpointed offsets-matched online-switched]" {
		t.Fatalf("stages %s", got)
	}
	if st.Compare == nil || st.Compare.Differ != 0 || st.Compare.Compared != 3 {
		t.Fatalf("output check %+v", st.Compare)
	}
	if !st.OnlineOffsets.Equal(st.SideOffsets) || len(st.OnlineOffsets) != 2 {
		t.Fatalf("offsets online %s side %s", st.OnlineOffsets, st.SideOffsets)
	}
	// The online job now runs the new logic on the rebuilt state: every
	// refund counted once, and the new metric covers all history.
	e.refunds(30)
	v2 := e.cfg.SideOutput
	v2.Topic = e.cfg.OnlineOutput.Topic
	e.waitTable(v2, e.wantTable(true))
	// The side job's own output was complete up to the switch.
	if e.jobs.running[statemigrate.Side] != nil {
		t.Fatal("the side job still runs after the switch")
	}
	if got := strings.Join(e.jobs.starts, " "); !strings.HasSuffix(got, "online:new") {
		t.Fatalf("job starts %s", got)
	}
}

func TestBypassAbortLeavesTheOnlineJobAsItWas(t *testing.T) {
	e := newBypassEnv(t)
	e.refunds(40)
	e.cfg.OnStage = func(s statemigrate.Stage, _ *statemigrate.Status) error {
		if s == statemigrate.StageOnlineStopped {
			return errors.New("operator gives up")
		}
		return nil
	}
	b, err := statemigrate.NewBypass(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Run(context.Background()); err == nil {
		t.Fatal("Run did not stop")
	}
	st, err := b.Abort(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Aborted || st.Stage != statemigrate.StageOnlineStopped {
		t.Fatalf("status %+v", st)
	}
	if _, err := b.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "aborted") {
		t.Fatalf("Run after Abort: %v", err)
	}
	// The online job runs the old logic on its own state and keeps counting.
	e.refunds(20)
	e.waitTable(e.cfg.OnlineOutput, e.wantTable(false))
	if e.jobs.running[statemigrate.Side] != nil || e.jobs.running[statemigrate.Online].spec.Logic != statemigrate.OldLogic {
		t.Fatalf("jobs after abort: %v", e.jobs.starts)
	}
}
