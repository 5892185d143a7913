package runner_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/row"
)

// runToError runs cfg until Run returns and wants an error containing want.
func runToError(t *testing.T, cfg runner.Config, want string) error {
	t.Helper()
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	err = r.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Run = %v, want an error containing %q", err, want)
	}
	return err
}

// groupCommitted is the sum of the group's committed offsets of topics.
func groupCommitted(t *testing.T, c *kfake.Cluster, group string, topics ...string) int64 {
	t.Helper()
	return groupCommittedAt(t, c.ListenAddrs(), group, topics...)
}

// groupCommittedAt is groupCommitted on any brokers.
func groupCommittedAt(t *testing.T, brokers []string, group string, topics ...string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	committed, err := newAdmin(cl).FetchOffsets(context.Background(), group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	committed.Each(func(o kadmOffsetResponse) {
		for _, tp := range topics {
			if o.Topic == tp {
				sum += o.At
			}
		}
	})
	return sum
}

// inputEnd is the sum of the end offsets of the inputs.
func inputEnd(t *testing.T, c *kfake.Cluster) int64 {
	return endSum(t, c.ListenAddrs(), "orders") + endSum(t, c.ListenAddrs(), "refunds")
}

// finishAndCheck runs cfg until every input record is consumed, stops it
// and checks the merged output against want and the group's offsets
// against the end of the inputs.
func finishAndCheck(t *testing.T, c *kfake.Cluster, cfg runner.Config, want map[string]string) runner.Stats {
	t.Helper()
	end := inputEnd(t, c)
	st := runUntil(t, cfg, func(runner.Stats) bool { return groupCommitted(t, c, cfg.Group, "orders", "refunds") >= end })
	got, _ := readOutput(t, c.ListenAddrs(), "out")
	compare(t, got, want)
	if n := groupCommitted(t, c, cfg.Group, "orders", "refunds"); n != end {
		t.Fatalf("the group committed %d offsets in all, the inputs end at %d", n, end)
	}
	return st
}

// freshOrder is a new order on the partition of key "1" (its state write
// is pending in the batch that also holds lateColdRefund).
func freshOrder() *kgo.Record {
	at := epoch.Add(days*24*time.Hour - 3*time.Hour)
	v := []byte(`{"order_id": 888888, "order_ts": "` + at.Format("2006-01-02 15:04:05.000") + `", "customer": "new", "amount": 1}`)
	return &kgo.Record{Topic: "orders", Key: []byte("1"), Value: v, Timestamp: at}
}

// lateColdRefund is a refund of order 1 (only in the cold store once the
// hot window has moved on) on the partition of key "1".
func lateColdRefund(w workload) (*kgo.Record, string, string) {
	o := w.orders[0]
	at := epoch.Add(days*24*time.Hour - 2*time.Hour)
	v := []byte(`{"refund_id": 999999, "order_id": 1, "refund_ts": "` + at.Format("2006-01-02 15:04:05.000") + `", "refund": 5}`)
	want := strings.Join([]string{"1", o.Customer, strconv.FormatInt(o.Amount, 10), "999999", "5"}, " ")
	return &kgo.Record{Topic: "refunds", Key: []byte("1"), Value: v, Timestamp: at}, "999999", want
}

// TestDirtyFailThenSkipLosesNoRow stops on a dirty record that follows a
// record waiting on a cold lookup in the same batch, then restarts under
// skip as the error advises: every joined row arrives, and the group's
// offsets reach the end of the inputs.
func TestDirtyFailThenSkipLosesNoRow(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(60)
	late, lateID, lateRow := lateColdRefund(w)
	bad := &kgo.Record{Topic: "refunds", Key: []byte("1"), Value: []byte(`{"refund_id": "oops"}`), Timestamp: late.Timestamp}
	produceWorkload(t, c.ListenAddrs(), w)
	cfg := runnerConfig(c.ListenAddrs(), t.TempDir(), w.coldStore(t, 7))
	finishAndCheck(t, c, cfg, w.expected(time.Time{}))
	// Order 1 has left the hot window: the late refund waits on a cold
	// lookup when the dirty record behind it stops the job.
	produceRecords(t, c, freshOrder(), late, bad)
	cfg.Dirty = runner.Fail
	runToError(t, cfg, "oops")

	cfg.Dirty = runner.Skip
	want := w.expected(time.Time{})
	want[lateID] = lateRow
	st := finishAndCheck(t, c, cfg, want)
	if st.Dirty != 1 {
		t.Fatalf("dirty = %d, want 1", st.Dirty)
	}
}

// TestARestartedJobAtTheEndOfItsInputsShowsNoLag: the group's offsets are
// written from state when partitions are opened, so a job restarted (here
// under a new group) with nothing left to read reports zero lag.
func TestARestartedJobAtTheEndOfItsInputsShowsNoLag(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(20)
	produceWorkload(t, c.ListenAddrs(), w)
	cfg := runnerConfig(c.ListenAddrs(), t.TempDir(), w.coldStore(t, 7))
	finishAndCheck(t, c, cfg, w.expected(time.Time{}))
	cfg.Group = "join-test-restarted"
	st := finishAndCheck(t, c, cfg, w.expected(time.Time{}))
	if st.Records != 0 {
		t.Fatalf("the restart consumed %d records, want none", st.Records)
	}
}

func produceRecords(t *testing.T, c *kfake.Cluster, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// flakyCold fails every MultiGet once broken is set.
type flakyCold struct {
	join.Lookuper
	calls  atomic.Int64
	breakN int64 // fail from this call on (0: never)
}

var errColdDown = errors.New("cold side down (injected)")

func (f *flakyCold) MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]coldstore.Result, error) {
	if n := f.calls.Add(1); f.breakN > 0 && n >= f.breakN {
		return nil, errColdDown
	}
	return f.Lookuper.MultiGet(ctx, table, keys)
}

// TestColdOutageStopsWithoutCommittingAndRestartLosesNoRow: a cold lookup
// fails, the job stops with the error (never counting a miss), and the
// record behind it is not committed: a restart with the cold side back
// joins it.
func TestColdOutageStopsWithoutCommittingAndRestartLosesNoRow(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(60)
	produceWorkload(t, c.ListenAddrs(), w)
	cold := w.coldStore(t, 7)
	dir := t.TempDir()
	cfg := runnerConfig(c.ListenAddrs(), dir, cold)
	finishAndCheck(t, c, cfg, w.expected(time.Time{}))

	late, lateID, lateRow := lateColdRefund(w)
	produceRecords(t, c, freshOrder(), late)
	flaky := &flakyCold{Lookuper: cold, breakN: 1}
	broken := runnerConfig(c.ListenAddrs(), dir, flaky)
	broken.Join.ColdRetryFor = 200 * time.Millisecond
	runToError(t, broken, errColdDown.Error())
	if flaky.calls.Load() < 2 {
		t.Fatalf("%d lookups: want the failed one retried", flaky.calls.Load())
	}
	if flaky.calls.Load() == 0 {
		t.Fatal("the late refund did not look up the cold store")
	}

	want := w.expected(time.Time{})
	want[lateID] = lateRow
	finishAndCheck(t, c, cfg, want)
}

// TestProduceErrorStopsAndRestartRedeliversExactly injects one failed
// produce to the output topic: the job stops, and the restart re-sends the
// committed outbox, so the merged output is exact.
func TestProduceErrorStopsAndRestartRedeliversExactly(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(100)
	produceWorkload(t, c.ListenAddrs(), w)
	var outProduces atomic.Int64
	c.ControlKey(kmsg.Produce.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		// The inputs are written: every produce from now on is the
		// runner's (to the output topic, named by ID in newer versions).
		req := kreq.(*kmsg.ProduceRequest)
		if outProduces.Add(1) != 3 {
			c.KeepControl()
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range req.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = tp.Topic, tp.TopicID
			for _, p := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.InvalidRecord.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	dir := t.TempDir()
	cfg := runnerConfig(c.ListenAddrs(), dir, w.coldStore(t, 7))
	cfg.MaxPollRecords = 50
	runToError(t, cfg, "produce")
	finishAndCheck(t, c, cfg, w.expected(time.Time{}))
}
