package runner_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/agg/runner"
	"github.com/hotcold/hotcold/internal/runcore"
	"github.com/hotcold/hotcold/internal/runtest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

var refunds = row.MustSchema([]row.Column{
	{Name: "city", Type: row.String},
	{Name: "day", Type: row.Date32},
	{Name: "refund_id", Type: row.Int64},
	{Name: "amount", Type: row.Int64, Nullable: true},
}, nil, 1)

const (
	input  = "refunds"
	output = "refunds_by_city"
	dlq    = "dlq"
)

// workload is a multi-day changelog of refunds: +I rows over days days
// and 8 cities, a tenth of them retracted (-D) later, keyed by city.
type workload struct {
	recs []*kgo.Record
	want map[string]string // the aggregate table: key -> row
}

func genWorkload(perDay, days int) workload {
	rng := rand.New(rand.NewPCG(5, 8))
	codec, err := row.NewCodec(row.FormatChangelogJSON, refunds)
	if err != nil {
		panic(err)
	}
	var w workload
	live := map[int64]row.Row{}
	var ids []int64
	id := int64(0)
	emit := func(r row.Row) {
		m, _, err := codec.Encode(r)
		if err != nil {
			panic(err)
		}
		w.recs = append(w.recs, &kgo.Record{Topic: input, Key: r.Values[0].Bytes(), Value: m.Value})
	}
	for d := 0; d < days; d++ {
		for i := 0; i < perDay; i++ {
			if len(ids) > 0 && rng.IntN(10) == 0 {
				j := rng.IntN(len(ids))
				r := live[ids[j]]
				delete(live, ids[j])
				ids = append(ids[:j], ids[j+1:]...)
				r.Kind = row.Delete
				emit(r)
				continue
			}
			id++
			amount := row.Int64Value(rng.Int64N(1000))
			if rng.IntN(20) == 0 {
				amount = row.NullValue()
			}
			r := row.New(row.StringValue(fmt.Sprintf("city-%d", rng.IntN(8))), row.Date32Value(int32(20400+d)), row.Int64Value(id), amount)
			live[id], ids = r, append(ids, id)
			emit(r)
		}
	}
	type acc struct {
		n, sum, max int64
		nonNull     bool
	}
	groups := map[[2]string]*acc{}
	for _, r := range live {
		k := [2]string{r.Values[0].String(), r.Values[1].String()}
		a := groups[k]
		if a == nil {
			a = &acc{}
			groups[k] = a
		}
		a.n++
		if !r.Values[3].IsNull() {
			v := r.Values[3].Int64()
			if !a.nonNull || v > a.max {
				a.max = v
			}
			a.sum += v
			a.nonNull = true
		}
	}
	w.want = map[string]string{}
	for k, a := range groups {
		sum, max := "NULL", "NULL"
		if a.nonNull {
			sum, max = fmt.Sprint(a.sum), fmt.Sprint(a.max)
		}
		w.want[k[0]+" "+k[1]] = fmt.Sprintf("%s %s %d %s %s", k[0], k[1], a.n, sum, max)
	}
	return w
}

func aggConfig() agg.Config {
	return agg.Config{ID: "refunds_by_city", Input: refunds, GroupBy: []string{"city", "day"},
		Aggregates: []agg.Aggregate{{Name: "n", Func: agg.Count}, {Name: "total", Func: agg.Sum, Arg: "amount"}, {Name: "biggest", Func: agg.Max, Arg: "amount"}}}
}

func newCluster(t testing.TB) *kfake.Cluster {
	return runtest.NewCluster(t, 3, input, output, dlq)
}

func runnerConfig(c *kfake.Cluster, dir string) runner.Config {
	return runner.Config{
		Agg: aggConfig(), InputTopic: input, OutputTopic: output,
		Brokers: c.ListenAddrs(), Group: "agg-test", StateDir: dir,
		MaxPollRecords: 200, NoSync: true, DeadLetterTopic: dlq,
		ClientOpts: []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)},
	}
}

// start runs cfg in the background; stop cancels it and returns Run's
// error.
func start(t *testing.T, cfg runner.Config) (r *runner.Runner, stop func() error, done <-chan error) {
	t.Helper()
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- r.Run(ctx) }()
	var res error
	stopped := false
	return r, func() error {
		if !stopped {
			cancel()
			res, stopped = <-ch, true
		}
		return res
	}, ch
}

// finishAndCheck runs cfg until the group's committed offsets reach the
// end of the input, stops it gracefully and checks the merged output
// against want.
func finishAndCheck(t *testing.T, c *kfake.Cluster, cfg runner.Config, want map[string]string) runner.Stats {
	t.Helper()
	r, stop, done := start(t, cfg)
	end := runtest.EndSum(t, c, input)
	runtest.WaitFor(t, "the end of the input", func() bool {
		select {
		case err := <-done:
			t.Fatalf("runner stopped early: %v", err)
		default:
		}
		return runtest.GroupCommitted(t, c, cfg.Group, input) >= end
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	compare(t, readTable(t, c, r.OutputSchema()), want)
	if n := runtest.GroupCommitted(t, c, cfg.Group, input); n != end {
		t.Fatalf("the group committed %d offsets in all, the input ends at %d", n, end)
	}
	return r.Stats()
}

// runToError runs cfg until Run returns and wants an error containing
// every one of want.
func runToError(t *testing.T, cfg runner.Config, want ...string) error {
	t.Helper()
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	err = r.Run(ctx)
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Fatalf("Run = %v, want an error containing %q", err, w)
		}
	}
	return err
}

// readTable reads the whole output topic and merges the changelog into a
// table keyed by the group columns. Only exact re-sends may repeat a key
// without a retraction between.
func readTable(t *testing.T, c *kfake.Cluster, s *row.Schema) map[string]string {
	t.Helper()
	total := runtest.EndSum(t, c, output)
	codec, err := row.NewCodec(row.FormatChangelogJSON, s)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(output), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	table := map[string]string{}
	var got int64
	for got < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d output records", got, total)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			got++
			rows, err := codec.Decode(nil, row.Message{Key: rec.Key, Value: rec.Value})
			if err != nil {
				t.Fatalf("output record %d: %v: %s", rec.Offset, err, rec.Value)
			}
			for _, r := range rows {
				k := r.Values[0].String() + " " + r.Values[1].String()
				v := make([]string, len(r.Values))
				for i, x := range r.Values {
					v[i] = x.String()
				}
				switch r.Kind {
				case row.Insert, row.UpdateAfter:
					table[k] = strings.Join(v, " ")
				default:
					delete(table, k)
				}
			}
		})
	}
	return table
}

func compare(t *testing.T, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, "missing "+w)
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: got %q, want %q", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "unexpected "+g)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		if len(diffs) > 10 {
			diffs = append(diffs[:10], fmt.Sprintf("... %d more", len(diffs)-10))
		}
		t.Fatalf("output table differs from the expected one (%d groups):\n%s", len(want), strings.Join(diffs, "\n"))
	}
}

func TestAggRunnerAggregatesAMultiDayChangelog(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(200, 5)
	runtest.Produce(t, c, w.recs...)
	st := finishAndCheck(t, c, runnerConfig(c, t.TempDir()), w.want)
	if st.Records != int64(len(w.recs)) || st.Aggregated != st.Records || st.Outputs == 0 {
		t.Fatalf("stats %+v: want %d records aggregated", st, len(w.recs))
	}
}

func TestAggRunnerResumesFromItsStateWithoutRecounting(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(100, 4)
	half := len(w.recs) / 2
	runtest.Produce(t, c, w.recs[:half]...)
	dir := t.TempDir()
	cfg := runnerConfig(c, dir)
	r, stop, _ := start(t, cfg)
	runtest.WaitFor(t, "the first half", func() bool { return r.Stats().Records >= int64(half) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	runtest.Produce(t, c, w.recs[half:]...)
	st := finishAndCheck(t, c, cfg, w.want)
	if st.Records != int64(len(w.recs)-half) {
		t.Fatalf("the restart read %d records, want the %d new ones", st.Records, len(w.recs)-half)
	}
}

func TestAggRunnerRefusesStateOfAnotherSchema(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(10, 1)
	runtest.Produce(t, c, w.recs...)
	dir := t.TempDir()
	finishAndCheck(t, c, runnerConfig(c, dir), w.want)
	cfg := runnerConfig(c, dir)
	cfg.Agg.Aggregates = append(cfg.Agg.Aggregates, agg.Aggregate{Name: "smallest", Func: agg.Min, Arg: "amount"})
	cfg.Agg.Version = 2
	_, err := runner.New(cfg)
	if err == nil || !strings.Contains(err.Error(), "hotcold migrate plan") || !strings.Contains(err.Error(), `column smallest: aggregate min(amount) added`) {
		t.Fatalf("New on old state: %v", err)
	}
}

// TestMain runs a child runner process when the environment asks for it:
// for the kill -9 tests a static member that works until it is killed; with
// HOTCOLD_AGG_CHILD_GROUP a dynamic member of that group that stops
// gracefully on SIGTERM (exit status 0 after a clean stop).
func TestMain(m *testing.M) {
	brokers := os.Getenv("HOTCOLD_AGG_CHILD_BROKERS")
	if brokers == "" {
		os.Exit(m.Run())
	}
	cfg := runner.Config{
		Agg: aggConfig(), InputTopic: input, OutputTopic: output,
		Brokers: strings.Split(brokers, ","), Group: staticGroup, InstanceID: "agg-1", StateDir: os.Getenv("HOTCOLD_AGG_CHILD_DIR"),
		MaxPollRecords: 50, ClientOpts: []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)},
		// NoSync false: a killed process must find every commit.
	}
	if g := os.Getenv("HOTCOLD_AGG_CHILD_GROUP"); g != "" {
		cfg.Group, cfg.InstanceID = g, ""
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	r, err := runner.New(cfg)
	if err == nil {
		err = r.Run(ctx)
	}
	stop()
	fmt.Fprintln(os.Stderr, "child runner returned:", err)
	if err == nil {
		os.Exit(0)
	}
	os.Exit(1)
}

const staticGroup = "agg-static"

// inputEnds are the end offsets of the input's partitions.
func inputEnds(t *testing.T, c *kfake.Cluster) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

func TestAggRunnerStopsByItselfAtItsStopOffsetsAndResumesExactly(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(100, 4)
	half := len(w.recs) / 2
	runtest.Produce(t, c, w.recs[:half]...)
	mid := inputEnds(t, c)
	runtest.Produce(t, c, w.recs[half:]...)
	dir := t.TempDir()
	cfg := runnerConfig(c, dir)
	cfg.StopAt = runcore.StopAt{input: mid}
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run with stop offsets %v: %v", mid, err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run returned only at the test's timeout, not at its stop offsets")
	}
	if st := r.Stats(); st.Records != int64(half) {
		t.Fatalf("read %d records, want the %d before the stop offsets", st.Records, half)
	}
	for pn, want := range mid {
		if got := stateOffset(t, dir, pn); got != want {
			t.Fatalf("partition %d: state committed offset %d, want its stop offset %d", pn, got, want)
		}
	}
	// Stopping again at the same offsets consumes nothing and exits.
	r, err = runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx); err != nil || ctx.Err() != nil || r.Stats().Records != 0 {
		t.Fatalf("a second run at the same stop offsets: err %v, ctx %v, %d records", err, ctx.Err(), r.Stats().Records)
	}
	// Without stop offsets the job goes on to exactly the expected table.
	cfg.StopAt = nil
	if st := finishAndCheck(t, c, cfg, w.want); st.Records != int64(len(w.recs)-half) {
		t.Fatalf("the run after the stop read %d records, want the %d after it", st.Records, len(w.recs)-half)
	}
}

func TestAggRunnerRefusesStopOffsetsItCannotKeep(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(50, 2)
	runtest.Produce(t, c, w.recs...)
	dir := t.TempDir()
	finishAndCheck(t, c, runnerConfig(c, dir), w.want)
	cfg := runnerConfig(c, dir)
	// (Offsets at most the partitions' ends: past them is an error of its
	// own, at start.)
	cfg.StopAt = runcore.StopAt{input: {0: 0, 1: 0, 2: 0}}
	runToError(t, cfg, "past its stop offset 0", "the stop offsets are older than this state")
	cfg = runnerConfig(c, t.TempDir())
	cfg.StopAt = runcore.StopAt{input: {0: 0}}
	runToError(t, cfg, "the stop offsets (refunds/0=0) name none for it")
}

// stateOffset is the input offset committed in partition pn's state.
func stateOffset(t *testing.T, dir string, pn int32) int64 {
	t.Helper()
	db, err := state.Open(filepath.Join(dir, fmt.Sprintf("p%d", pn)), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Offsets()[state.TopicPartition{Topic: input, Partition: pn}]
}
