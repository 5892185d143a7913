package statemigrate_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/internal/bypasstest"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/statemigrate"
)

type bypassEnv struct {
	t       *testing.T
	brokers []string
	jobs    *bypasstest.Jobs
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
	e.jobs = bypasstest.NewJobs(e.brokers, kgo.FetchMaxWait(50*time.Millisecond))
	e.jobs.SetLogf(t.Logf)
	work := t.TempDir() // removed after the jobs are stopped (cleanups run last first)
	t.Cleanup(e.jobs.StopAll)
	out := func(topic string, l statemigrate.Logic) statemigrate.Output {
		r, err := agg.New(mustOpen(t, t.TempDir()), bypasstest.RefundsAgg(l))
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

// waitGroupAtEnd waits until group has committed the end offsets of every
// partition of the input.
func (e *bypassEnv) waitGroupAtEnd(group string) {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		ends, err := adm.ListEndOffsets(ctx, "refunds")
		if err != nil {
			e.t.Fatal(err)
		}
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			e.t.Fatal(err)
		}
		at := true
		ends.Each(func(o kadm.ListedOffset) {
			if c, ok := offs.Lookup("refunds", o.Partition); !ok || c.At < o.Offset {
				at = false
			}
		})
		if at {
			return
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("group %s did not reach the end of the input", group)
		case <-time.After(20 * time.Millisecond): // poll interval, not synchronisation
		}
	}
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
	produceRows(e.t, e.brokers, "refunds", bypasstest.RefundRows, lines...)
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
	var stopped string // the checksums of the stopped online job's state
	e.cfg.OnStage = func(s statemigrate.Stage, st *statemigrate.Status) error {
		stages = append(stages, s)
		if s == statemigrate.StageOnlineStopped {
			stopped = dirHash(t, e.cfg.OnlineStateDir)
			// The side job gets ahead of the stopped online job: stage 5
			// must run the old logic up to the side job's offsets (on a
			// copy of the online state, with stop-at offsets).
			e.refunds(10)
			e.waitGroupAtEnd(e.cfg.SideGroup)
		} else if stopped != "" && dirHash(t, e.cfg.OnlineStateDir) != stopped {
			t.Errorf("the stopped online job's state changed by stage %s", s)
		}
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
		t.Fatalf("offsets online %s side %s: want both partitions", st.OnlineOffsets, st.SideOffsets)
	}
	for _, p := range []string{"p0", "p1"} {
		if _, err := os.Stat(filepath.Join(st.NewStateDir, p, manifest.FileName)); err != nil {
			t.Fatalf("the rebuilt state has no partition %s with its manifest: %v", p, err)
		}
	}
	if dirHash(t, e.cfg.OnlineStateDir) != stopped {
		t.Fatal("the stopped online job's state was modified by the bypass")
	}
	// The online job now runs the new logic on the rebuilt state: every
	// refund counted once, and the new metric covers all history.
	e.refunds(30)
	v2 := e.cfg.SideOutput
	v2.Topic = e.cfg.OnlineOutput.Topic
	e.waitTable(v2, e.wantTable(true))
	// The side job's own output was complete up to the switch.
	if _, ok := e.jobs.Running(statemigrate.Side); ok {
		t.Fatal("the side job still runs after the switch")
	}
	if got := strings.Join(e.jobs.Starts(), " "); !strings.HasSuffix(got, "online:new") {
		t.Fatalf("job starts %s", got)
	}
}

func TestBypassAbortLeavesTheOnlineJobAsItWas(t *testing.T) {
	e := newBypassEnv(t)
	e.refunds(40)
	// Stage 3 compares with the online output: let the online job be done
	// with the input first, so that the outputs agree.
	e.waitTable(e.cfg.OnlineOutput, e.wantTable(false))
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
	if _, side := e.jobs.Running(statemigrate.Side); side {
		t.Fatalf("jobs after abort: %v", e.jobs.Starts())
	}
	if online, ok := e.jobs.Running(statemigrate.Online); !ok || online.Logic != statemigrate.OldLogic {
		t.Fatalf("jobs after abort: %v", e.jobs.Starts())
	}
}

// TestBypassOutputCheckThatComparesNothingFails: outputs with no key in
// common are no evidence; stage 3 fails unless AcceptUncompared is set.
func TestBypassOutputCheckThatComparesNothingFails(t *testing.T) {
	e := newBypassEnv(t) // no input: the outputs share no key
	var stages []statemigrate.Stage
	e.cfg.OnStage = func(s statemigrate.Stage, _ *statemigrate.Status) error {
		stages = append(stages, s)
		if s == statemigrate.StageOutputsChecked {
			return errors.New("stop here")
		}
		return nil
	}
	b, err := statemigrate.NewBypass(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "compared no row") || !strings.Contains(err.Error(), "--accept-uncompared") {
		t.Fatalf("Run = %v, want the output check to fail for comparing nothing", err)
	}
	if slices.Contains(stages, statemigrate.StageOutputsChecked) {
		t.Fatalf("stage 3 passed: %v", stages)
	}
	e.cfg.AcceptUncompared = true
	if b, err = statemigrate.NewBypass(e.cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "stop here") {
		t.Fatalf("Run with AcceptUncompared = %v, want it to pass stage 3", err)
	}
	if !slices.Contains(stages, statemigrate.StageOutputsChecked) {
		t.Fatalf("stage 3 did not pass with AcceptUncompared: %v", stages)
	}
}

// TestBypassRestoresTheOldJobWhenTheSwitchedJobDies: the new logic fails
// at start once it is the online job; the bypass stops it, restarts the
// old job on its untouched state and fails saying why.
func TestBypassRestoresTheOldJobWhenTheSwitchedJobDies(t *testing.T) {
	e := newBypassEnv(t)
	e.jobs.FailStart(statemigrate.Online, statemigrate.NewLogic, errors.New("simulated: the new logic fails at start"))
	e.refunds(30)
	e.waitTable(e.cfg.OnlineOutput, e.wantTable(false))
	var stopped string
	e.cfg.OnStage = func(s statemigrate.Stage, _ *statemigrate.Status) error {
		if s == statemigrate.StageOnlineStopped {
			stopped = dirHash(t, e.cfg.OnlineStateDir)
		}
		if s == statemigrate.StageOffsetsMatched && dirHash(t, e.cfg.OnlineStateDir) != stopped {
			t.Error("stages 5 and 6 modified the online state")
		}
		return nil
	}
	e.cfg.SwitchTimeout = time.Minute
	b, err := statemigrate.NewBypass(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the switched job exited") || !strings.Contains(err.Error(), "simulated: the new logic fails at start") ||
		!strings.Contains(err.Error(), "the old job was restarted with the old logic") {
		t.Fatalf("Run = %v, want it to fail saying the switched job died and the old job was restored", err)
	}
	if !st.Aborted || st.Stage != statemigrate.StageOffsetsMatched || !strings.Contains(st.AbortReason, "simulated") {
		t.Fatalf("status %+v", st)
	}
	if got := strings.Join(e.jobs.Starts(), " "); !strings.HasSuffix(got, "online:new online:old") {
		t.Fatalf("job starts %s", got)
	}
	// The old job runs on: it counts new input with the old logic.
	e.refunds(10)
	e.waitTable(e.cfg.OnlineOutput, e.wantTable(false))
}

// byCity groups refunds by city and amount parity in the new logic: the
// keys of the old logic (city alone) are no longer produced.
func byCityAndParity(logic statemigrate.Logic) agg.Config {
	c := bypasstest.RefundsAgg(statemigrate.OldLogic)
	if logic == statemigrate.NewLogic {
		c.Version = 2
		c.GroupBy = []string{"city", "refund_id"}
	}
	return c
}

// liveByKey merges a changelog-json topic by message key: the keys whose
// last row is live.
func liveByKey(t *testing.T, brokers []string, topic string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	live := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("reading", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := remaining[r.Partition]; !ok || r.Offset >= end {
				return
			} else if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			live[string(r.Key)] = r.Value != nil && !strings.Contains(string(r.Value), `"op":"-D"`) && !strings.Contains(string(r.Value), `"op":"-U"`)
		})
	}
	var out []string
	for k, l := range live {
		if l {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestBypassRetractsTheKeysTheNewLogicNoLongerProduces: the new logic
// groups by another key; with RetractOldKeys the downstream table holds
// the new logic's keys only, without it the old keys stay.
func TestBypassRetractsTheKeysTheNewLogicNoLongerProduces(t *testing.T) {
	for _, retract := range []bool{false, true} {
		t.Run(fmt.Sprint("retract=", retract), func(t *testing.T) {
			e := newBypassEnv(t)
			e.jobs.SetLogic(byCityAndParity)
			r, err := agg.New(mustOpen(t, t.TempDir()), byCityAndParity(statemigrate.NewLogic))
			if err != nil {
				t.Fatal(err)
			}
			e.cfg.SideOutput.Schema = r.OutputSchema()
			e.cfg.AcceptUncompared = true // the keys differ: nothing to compare
			e.cfg.RetractOldKeys = retract
			e.refunds(12)
			e.waitTable(e.cfg.OnlineOutput, e.wantTable(false))
			b, err := statemigrate.NewBypass(e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			st, err := b.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if side := liveByKey(t, e.brokers, e.cfg.SideOutput.Topic); len(side) != 12 {
				t.Fatalf("side output keys %v", side)
			}
			// The switched job emits changes: the keys of new input.
			e.refunds(2)
			var want []string
			if !retract {
				want = []string{`{"city":"beijing"}`, `{"city":"guangzhou"}`, `{"city":"shanghai"}`}
			}
			want = append(want, `{"city":"guangzhou","refund_id":14}`, `{"city":"shanghai","refund_id":13}`)
			sort.Strings(want)
			deadline := time.Now().Add(30 * time.Second)
			for {
				got := liveByKey(t, e.brokers, e.cfg.OnlineOutput.Topic)
				if slices.Equal(got, want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("live keys downstream:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				time.Sleep(20 * time.Millisecond) // polling Kafka
			}
			if retract && st.Retracted != 3 || !retract && st.Retracted != 0 {
				t.Fatalf("retracted %d", st.Retracted)
			}
		})
	}
}
