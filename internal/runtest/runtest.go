// Package runtest is the fault-injection harness of the runner tests (join
// and agg): a kfake cluster, the group's committed offsets against the end
// of the inputs, produce errors injected in the broker, and a runner child
// process killed with SIGKILL at its k-th produce request. Test code only.
package runtest

import (
	"context"
	"errors"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// NewCluster starts a one-broker kfake cluster with topics of partitions
// partitions, closed with the test.
func NewCluster(t testing.TB, partitions int, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Produce writes recs synchronously, in chunks.
func Produce(t testing.TB, c *kfake.Cluster, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for len(recs) > 0 {
		n := min(len(recs), 5000)
		if err := cl.ProduceSync(context.Background(), recs[:n]...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
	}
}

// EndSum is the sum of the end offsets of topic's partitions.
func EndSum(t testing.TB, c *kfake.Cluster, topics ...string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}

// GroupCommitted is the sum of group's committed offsets of topics (0 for
// a group that does not exist yet).
func GroupCommitted(t testing.TB, c *kfake.Cluster, group string, topics ...string) int64 {
	t.Helper()
	return GroupCommittedAt(t, c.ListenAddrs(), group, topics...)
}

// GroupCommittedAt is GroupCommitted on any brokers (a real broker too).
func GroupCommittedAt(t testing.TB, brokers []string, group string, topics ...string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	committed, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	committed.Each(func(o kadm.OffsetResponse) {
		for _, tp := range topics {
			if o.Topic == tp {
				sum += o.At
			}
		}
	})
	return sum
}

// WaitFor polls cond every 10 ms until it holds, failing the test after
// 45 s with what.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FailProduce makes the broker answer the n-th produce request from now
// on with INVALID_RECORD for every partition in it (once).
func FailProduce(c *kfake.Cluster, n int64) {
	var seen atomic.Int64
	c.ControlKey(kmsg.Produce.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ProduceRequest)
		if seen.Add(1) != n {
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
}

// KillAtProduce starts child (a runner process) and SIGKILLs it from
// inside the broker when it sends its k-th produce request, before the
// broker handles it: the batch is committed in state but its outputs are
// not delivered. When finished reports true before that (the child is
// through its input), the child is killed idle. It returns once the child
// has died.
func KillAtProduce(t testing.TB, c *kfake.Cluster, child *exec.Cmd, k int, finished func() bool) {
	t.Helper()
	var n atomic.Int64
	var fired atomic.Bool
	c.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		if fired.Load() || n.Add(1) < int64(k) {
			c.KeepControl()
			return nil, nil, false
		}
		fired.Store(true)
		child.Process.Kill()
		return nil, errors.New("killed (injected)"), true
	})
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { child.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			if !fired.Load() {
				t.Fatalf("the child exited before produce request %d", k)
			}
			t.Logf("killed the child at its produce request %d", k)
			return
		case <-time.After(10 * time.Millisecond):
		}
		if !fired.Load() && finished() {
			t.Logf("the child finished before produce request %d: killed idle", k)
			fired.Store(true)
			child.Process.Kill()
		}
		if time.Now().After(deadline) {
			child.Process.Kill()
			<-exited
			t.Fatalf("the child neither sent produce request %d (sent %d) nor finished", k, n.Load())
		}
	}
}

// CounterSum is the sum of the counter family name in reg (0 if absent).
func CounterSum(t testing.TB, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
