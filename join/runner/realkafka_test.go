package runner_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/internal/kafkatest"
	"github.com/hotcold/hotcold/internal/runtest"
	"github.com/hotcold/hotcold/join/runner"
)

// rejoinWithin is issue #15's requirement on static membership: a runner
// process restarted after kill -9 with the same instance id holds its
// partitions again within 5 s, although the dead member's session (set to
// sessionTimeout, far longer) has not timed out.
const (
	rejoinWithin   = 5 * time.Second
	sessionTimeout = 2 * time.Minute
)

// TestKilledStaticMemberOnRealKafka is TestKilledStaticMemberTakesItsPartitionsBackAtOnce
// on a real Apache Kafka broker (the test kit's KRaft broker; kfake in the
// fast suite): a runner process in a static group is killed with SIGKILL
// mid-stream and restarted with the same instance id; it holds all its
// partitions again within rejoinWithin, the merged output equals the
// expected table and the group's committed offsets reach the end of both
// inputs.
func TestKilledStaticMemberOnRealKafka(t *testing.T) {
	b := kafkatest.Start(t)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newAdmin(cl).CreateTopics(ctx, 3, 1, nil, "orders", "refunds", "out", "dlq"); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	// The first half of the stream before the child starts, the rest
	// just before it is killed: the restart has work left.
	w := genWorkload(300)
	half := workload{orders: w.orders[:len(w.orders)/2]}
	rest := workload{orders: w.orders[len(w.orders)/2:]}
	for _, r := range w.refunds {
		if r.at.Before(half.orders[len(half.orders)-1].at) {
			half.refunds = append(half.refunds, r)
		} else {
			rest.refunds = append(rest.refunds, r)
		}
	}
	produceWorkload(t, brokers, half)
	dir := t.TempDir()

	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), "HOTCOLD_CHILD_BROKERS="+b.Addr(), "HOTCOLD_CHILD_DIR="+dir,
		"HOTCOLD_CHILD_INSTANCE=runner-1", "HOTCOLD_CHILD_SESSION_TIMEOUT="+sessionTimeout.String())
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for endSum(t, brokers, "out") == 0 {
		if time.Now().After(deadline) {
			child.Process.Kill()
			child.Wait()
			t.Fatal("the child runner produced nothing")
		}
		time.Sleep(10 * time.Millisecond) // poll the output's end offsets
	}
	produceWorkload(t, brokers, rest)
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	killedAt := runtest.GroupCommittedAt(t, brokers, staticGroup, "orders", "refunds")
	end := endSum(t, brokers, "orders") + endSum(t, brokers, "refunds")

	cfg := runnerConfig(brokers, dir, w.coldStore(t, 7))
	cfg.Group, cfg.InstanceID = staticGroup, "runner-1"
	cfg.ClientOpts = append(cfg.ClientOpts, kgo.SessionTimeout(sessionTimeout))
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.Run(rctx) }()
	for r.Stats().Partitions < 3 {
		if time.Since(start) > rejoinWithin {
			rcancel()
			<-done
			t.Fatalf("the restarted static member holds %d of 3 partitions %s after its start (session timeout %s)", r.Stats().Partitions, rejoinWithin, sessionTimeout)
		}
		select {
		case err := <-done:
			t.Fatalf("runner stopped: %v", err)
		case <-time.After(5 * time.Millisecond): // poll Stats
		}
	}
	rehold := time.Since(start)
	t.Logf("killed with the group's offsets at %d of %d; the restarted static member held its 3 partitions %s after its start (session timeout %s)", killedAt, end, rehold.Round(time.Millisecond), sessionTimeout)
	for runtest.GroupCommittedAt(t, brokers, staticGroup, "orders", "refunds") < end {
		select {
		case err := <-done:
			t.Fatalf("runner stopped: %v", err)
		case <-time.After(20 * time.Millisecond): // poll the committed offsets
		}
		if time.Since(start) > 90*time.Second {
			t.Fatalf("group offsets at %d of %d", runtest.GroupCommittedAt(t, brokers, staticGroup, "orders", "refunds"), end)
		}
	}
	rcancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := runtest.GroupCommittedAt(t, brokers, staticGroup, "orders", "refunds"); n != end {
		t.Fatalf("the group committed %d offsets in all, the inputs end at %d", n, end)
	}
	got, _ := readOutput(t, brokers, "out")
	compare(t, got, w.expected(time.Time{}))
}
