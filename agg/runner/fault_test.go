package runner_test

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/agg/runner"
	"github.com/hotcold/hotcold/internal/runtest"
	"github.com/hotcold/hotcold/row"
)

// The agg fault-injection suite: over a generated multi-day changelog with
// a known expected table, after each fault the merged output equals the
// table exactly and the group's offsets reach the end of the input.

// TestAggDirtyFailThenSkipLosesNoRow stops on a dirty record in the middle
// of a batch under fail (nothing of that batch committed, nothing counted
// as dirty), then restarts under skip as the error advises: every group is
// exact, and the skip is counted once it is committed.
func TestAggDirtyFailThenSkipLosesNoRow(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(100, 4)
	bad := &kgo.Record{Topic: input, Key: []byte("city-1"), Value: []byte(`{"data":{"city":"city-1","day":"2025-11-10","refund_id":"oops","amount":1},"op":"+I"}`)}
	half := len(w.recs) / 2
	recs := append(append(append([]*kgo.Record{}, w.recs[:half]...), bad), w.recs[half:]...)
	runtest.Produce(t, c, recs...)
	dir := t.TempDir()
	cfg := runnerConfig(c, dir)
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	runToError(t, cfg, "refund_id", "oops", "refunds/", "dirty: skip or dead-letter")
	if n := runtest.CounterSum(t, reg, "hotcold_agg_dirty_records_total"); n != 0 {
		t.Fatalf("hotcold_agg_dirty_records_total = %v after a failed run, want 0", n)
	}
	cfg.Dirty = runner.Skip
	reg = prometheus.NewRegistry()
	cfg.Registerer = reg
	st := finishAndCheck(t, c, cfg, w.want)
	if st.Skipped != 1 {
		t.Fatalf("skipped = %d, want 1", st.Skipped)
	}
	if n := runtest.CounterSum(t, reg, "hotcold_agg_dirty_records_total"); n != 1 {
		t.Fatalf("hotcold_agg_dirty_records_total = %v, want 1", n)
	}
}

// TestAggDeadLetterWritesTheRawRecord sends a dirty record to the
// dead-letter topic with headers naming its origin and the error.
func TestAggDeadLetterWritesTheRawRecord(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(50, 2)
	bad := &kgo.Record{Topic: input, Key: []byte("city-2"), Value: []byte(`not json`)}
	runtest.Produce(t, c, append(append([]*kgo.Record{}, w.recs...), bad)...)
	cfg := runnerConfig(c, t.TempDir())
	cfg.Dirty = runner.DeadLetter
	st := finishAndCheck(t, c, cfg, w.want)
	if st.DeadLettered != 1 {
		t.Fatalf("dead-lettered = %d, want 1", st.DeadLettered)
	}
	if n := runtest.EndSum(t, c, dlq); n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
}

// TestAggProduceErrorStopsAndRestartRedeliversExactly injects a failed
// produce: the job stops, and the restart re-sends the committed outbox.
func TestAggProduceErrorStopsAndRestartRedeliversExactly(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(100, 4)
	runtest.Produce(t, c, w.recs...)
	runtest.FailProduce(c, 3)
	dir := t.TempDir()
	cfg := runnerConfig(c, dir)
	cfg.MaxPollRecords = 50
	runToError(t, cfg, "produce")
	finishAndCheck(t, c, cfg, w.want)
}

// TestAggKill9AtSeededPointsLosesNoRow kills runner processes (SIGKILL)
// twice at seeded points of the stream, each time between a state commit
// and the delivery of its outputs, then finishes the stream.
func TestAggKill9AtSeededPointsLosesNoRow(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			c := newCluster(t)
			w := genWorkload(100, 4)
			runtest.Produce(t, c, w.recs...)
			dir := t.TempDir()
			end := runtest.EndSum(t, c, input)
			for range 2 {
				child := exec.Command(os.Args[0], "-test.run=^$")
				child.Env = append(os.Environ(), "HOTCOLD_AGG_CHILD_BROKERS="+strings.Join(c.ListenAddrs(), ","), "HOTCOLD_AGG_CHILD_DIR="+dir)
				child.Stderr = os.Stderr
				runtest.KillAtProduce(t, c, child, 1+rng.IntN(6), func() bool { return runtest.GroupCommitted(t, c, staticGroup, input) >= end })
			}
			cfg := runnerConfig(c, dir)
			cfg.Group, cfg.InstanceID = staticGroup, "agg-1"
			finishAndCheck(t, c, cfg, w.want)
		})
	}
}

// TestAggTwoRunnersInOneGroupRebalanceMidStream starts a second runner
// process in the group of a running one (sharing the state directory, as
// two processes of one machine do): partitions move to it mid-stream, and
// back when it stops; the merged output is exact.
func TestAggTwoRunnersInOneGroupRebalanceMidStream(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(200, 4)
	half := len(w.recs) / 2
	runtest.Produce(t, c, w.recs[:half]...)
	dir := t.TempDir()
	cfg := runnerConfig(c, dir)
	cfg.Group, cfg.MaxPollRecords = "agg-two", 50
	cfg.NoSync = false // the child process reads the partitions it takes over from disk
	a, stopA, _ := start(t, cfg)
	runtest.WaitFor(t, "the first runner's output", func() bool { return runtest.EndSum(t, c, output) > 0 })
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "HOTCOLD_AGG_CHILD_BROKERS="+strings.Join(c.ListenAddrs(), ","), "HOTCOLD_AGG_CHILD_DIR="+dir,
		"HOTCOLD_AGG_CHILD_GROUP=agg-two")
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = child.Wait(); close(exited) }()
	t.Cleanup(func() { child.Process.Kill(); <-exited })
	runtest.WaitFor(t, "the rebalance (the second process takes partitions)", func() bool {
		n := a.Stats().Partitions
		return n > 0 && n < 3
	})
	runtest.Produce(t, c, w.recs[half:]...)
	end := runtest.EndSum(t, c, input)
	runtest.WaitFor(t, "the end of the input", func() bool { return runtest.GroupCommitted(t, c, "agg-two", input) >= end })
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-exited
	if waitErr != nil {
		t.Fatalf("the second process did not stop cleanly: %v", waitErr)
	}
	runtest.WaitFor(t, "the partitions back at the first runner", func() bool { return a.Stats().Partitions == 3 })
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	if a.Stats().Records >= end {
		t.Fatalf("the first runner consumed all %d records: the second process took none", end)
	}
	compare(t, readTable(t, c, a.OutputSchema()), w.want)
	if n := runtest.GroupCommitted(t, c, "agg-two", input); n != end {
		t.Fatalf("the group committed %d offsets in all, the input ends at %d", n, end)
	}
}

// TestAggHalfTakenRecordStopsInsteadOfSkipping: a debezium update whose
// -U was aggregated and whose +U is then rejected (a null group value)
// cannot be skipped without leaving half of it counted: even under skip the
// job stops, and nothing of the batch is committed.
func TestAggHalfTakenRecordStopsInsteadOfSkipping(t *testing.T) {
	c := newCluster(t)
	s := row.MustSchema([]row.Column{{Name: "city", Type: row.String, Nullable: true}, {Name: "amount", Type: row.Int64}}, nil, 1)
	runtest.Produce(t, c,
		&kgo.Record{Topic: input, Key: []byte("bj"), Value: []byte(`{"before":null,"after":{"city":"bj","amount":5},"op":"c"}`)},
		&kgo.Record{Topic: input, Key: []byte("bj"), Value: []byte(`{"before":{"city":"bj","amount":5},"after":{"city":null,"amount":6},"op":"u"}`)},
	)
	cfg := runnerConfig(c, t.TempDir())
	cfg.Agg = agg.Config{ID: "by_city", Input: s, GroupBy: []string{"city"}, Aggregates: []agg.Aggregate{{Name: "total", Func: agg.Sum, Arg: "amount"}}}
	cfg.InputFormat = row.FormatDebeziumJSON
	cfg.Dirty = runner.Skip
	runToError(t, cfg, "row 2 of 2 rejected", "cannot be skipped")
	if n := runtest.GroupCommitted(t, c, cfg.Group, input); n != 0 {
		t.Fatalf("the group committed %d offsets, want none", n)
	}
}
