package runner_test

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/runtest"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// killAtProduce starts a child runner process (TestMain) and SIGKILLs it
// from inside the broker when it sends its k-th produce request, before
// the broker handles it: the batch is committed in state but its outputs
// are not delivered. It returns once the child has died.
func killAtProduce(t *testing.T, c *kfake.Cluster, dir string, perDay, k int) {
	t.Helper()
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), "HOTCOLD_CHILD_BROKERS="+strings.Join(c.ListenAddrs(), ","), "HOTCOLD_CHILD_DIR="+dir,
		"HOTCOLD_CHILD_INSTANCE=runner-1", "HOTCOLD_CHILD_PERDAY="+strconv.Itoa(perDay))
	child.Stderr = os.Stderr
	end := inputEnd(t, c)
	runtest.KillAtProduce(t, c, child, k, func() bool { return groupCommitted(t, c, staticGroup, "orders", "refunds") >= end })
}

// TestKill9AtSeededPointsLosesNoRow kills runner processes (SIGKILL) twice
// at seeded points of the stream, each time between a state commit and the
// delivery of its outputs, then finishes the stream: the merged output is
// the expected table and the group's offsets reach the end of the inputs.
func TestKill9AtSeededPointsLosesNoRow(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			c := newCluster(t)
			const perDay = 100
			w := genWorkload(perDay)
			produceWorkload(t, c.ListenAddrs(), w)
			dir := t.TempDir()
			for range 2 {
				killAtProduce(t, c, dir, perDay, 1+rng.IntN(4))
			}
			cfg := runnerConfig(c.ListenAddrs(), dir, w.coldStore(t, 7))
			cfg.Group, cfg.InstanceID = staticGroup, "runner-1"
			finishAndCheck(t, c, cfg, w.expected(time.Time{}))
		})
	}
}

// TestTwoRunnersInOneGroupRebalanceMidStream starts a second runner in the
// group of a running one (sharing the state directory, as two processes of
// one machine do): partitions move between them mid-stream, and the merged
// output is exact.
func TestTwoRunnersInOneGroupRebalanceMidStream(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(200)
	half := len(w.orders) / 2
	first := workload{orders: w.orders[:half]}
	rest := workload{orders: w.orders[half:]}
	for _, r := range w.refunds {
		if r.at.Before(w.orders[half].at) {
			first.refunds = append(first.refunds, r)
		} else {
			rest.refunds = append(rest.refunds, r)
		}
	}
	produceWorkload(t, c.ListenAddrs(), first)
	dir := t.TempDir()
	cold := w.coldStore(t, 7)
	start := func() (*runner.Runner, context.CancelFunc, chan error) {
		cfg := runnerConfig(c.ListenAddrs(), dir, cold)
		cfg.Group = "join-two"
		cfg.MaxPollRecords = 50
		r, err := runner.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		return r, cancel, done
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	a, stopA, doneA := start()
	waitFor("the first runner's output", func() bool { return endSum(t, c.ListenAddrs(), "out") > 0 })
	b, stopB, doneB := start()
	waitFor("the rebalance", func() bool {
		return b.Stats().Partitions > 0 && a.Stats().Partitions > 0 && a.Stats().Partitions+b.Stats().Partitions == 3
	})
	produceWorkload(t, c.ListenAddrs(), rest)
	end := inputEnd(t, c)
	waitFor("the end of the inputs", func() bool { return groupCommitted(t, c, "join-two", "orders", "refunds") >= end })
	stopA()
	stopB()
	for _, d := range []chan error{doneA, doneB} {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	if b.Stats().Records == 0 {
		t.Fatal("the second runner consumed nothing")
	}
	got, _ := readOutput(t, c.ListenAddrs(), "out")
	compare(t, got, w.expected(time.Time{}))
}

// sidecarOn serves cold through a lookup sidecar on a unix socket until
// the returned stop is called.
func sidecarOn(t *testing.T, sock string, cold coldstore.Store) (stop func()) {
	t.Helper()
	srv, err := sidecar.NewServer(cold, sidecar.Options{})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(sock)
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Serve(lis); close(done) }()
	var once atomic.Bool
	stop = func() {
		if once.Swap(true) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}
	t.Cleanup(stop)
	return stop
}

// TestSidecarKilledAndRestartedMidRun: the job reads its cold table through
// the sidecar; the sidecar goes away while a record waits on a cold lookup;
// the job stops on the lookup error (after its retries) without committing,
// and once the sidecar is back a restart joins the record.
func TestSidecarKilledAndRestartedMidRun(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(60)
	produceWorkload(t, c.ListenAddrs(), w)
	cold := w.coldStore(t, 7)
	sock := filepath.Join(t.TempDir(), "cold.sock")
	stop := sidecarOn(t, sock, cold)
	cl, err := sidecar.Dial("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dir := t.TempDir()
	cfg := runnerConfig(c.ListenAddrs(), dir, cl)
	cfg.Join.ColdRetryFor = 300 * time.Millisecond
	st := finishAndCheck(t, c, cfg, w.expected(time.Time{}))
	t.Logf("first run through the sidecar: %+v", st)

	late, lateID, lateRow := lateColdRefund(w)
	produceRecords(t, c, freshOrder(), late)
	// The sidecar dies as the late refund's lookup is sent.
	dying := &stopAtLookup{Lookuper: cl, stop: stop}
	cfg2 := cfg
	cfg2.Join.Cold = dying
	r, err := runner.New(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if err := r.Run(ctx); err == nil || !strings.Contains(err.Error(), "cold lookup") {
		t.Fatalf("Run with the sidecar gone = %v, want the cold lookup error", err)
	}
	// Nothing of the failed batch is committed (the fresh order's miss on
	// refunds is real; the late refund's failed lookup is no miss).
	if st := r.Stats(); st.Records != 0 || st.Outputs != 0 || dying.calls.Load() == 0 {
		t.Fatalf("stats %+v after %d lookups: want nothing committed or produced", st, dying.calls.Load())
	}

	sidecarOn(t, sock, cold)
	cfg.WaitCold = 20 * time.Second // the client reconnects with backoff
	want := w.expected(time.Time{})
	want[lateID] = lateRow
	finishAndCheck(t, c, cfg, want)
}

// stopAtLookup stops the sidecar when the first MultiGet is sent.
type stopAtLookup struct {
	join.Lookuper
	stop  func()
	calls atomic.Int64
}

func (s *stopAtLookup) MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]coldstore.Result, error) {
	if s.calls.Add(1) == 1 {
		s.stop()
	}
	return s.Lookuper.MultiGet(ctx, table, keys)
}
