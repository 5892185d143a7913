package sidecar

import (
	"context"
	"runtime"
	"testing"
)

// waitingIn waits until p is in w's list (polling its shard: the wait
// under test takes the lock itself).
func waitingIn(w *watch, p *pending) {
	s := &w.shards[p.shard]
	for {
		s.mu.Lock()
		in := false
		for q := s.head; q != nil; q = q.next {
			in = in || q == p
		}
		s.mu.Unlock()
		if in {
			return
		}
		runtime.Gosched()
	}
}

func newTestPending() *pending {
	return pendingPool.New().(*pending)
}

// A watch wakes its waiting Gets when its context ends, and a Get that is
// answered first keeps its answer (the state decides once who wakes it).
func TestWatchWakesItsGetsWhenTheContextEnds(t *testing.T) {
	b := &batcher{}
	ctx, cancel := context.WithCancel(context.Background())
	w := b.watchFor(ctx, ctx.Done())
	if w == nil {
		t.Fatal("the first context seen did not become hot")
	}
	if again := b.watchFor(ctx, ctx.Done()); again != w {
		t.Fatal("the hot context got a second watch")
	}

	answeredP, canceledP := newTestPending(), newTestPending()
	canceledP.shard = answeredP.shard // one list: unlinking keeps the other in it
	results := make(chan bool, 2)
	go func() { results <- w.wait(answeredP) }()
	waitingIn(w, answeredP)
	answeredP.answer()
	if !<-results {
		t.Fatal("an answered Get was reported canceled")
	}

	go func() { results <- w.wait(canceledP) }()
	waitingIn(w, canceledP)
	cancel()
	if <-results {
		t.Fatal("a Get whose context ended was reported answered")
	}
	if canceledP.state.Load() != canceled {
		t.Fatalf("state %d, want canceled", canceledP.state.Load())
	}
	canceledP.answer() // the late answer of an abandoned Get: no second wake-up
	if len(canceledP.done) != 0 {
		t.Fatal("an abandoned Get was woken twice")
	}
	if s := &w.shards[canceledP.shard]; s.head != nil {
		t.Fatal("a woken Get stayed in the watch")
	}

	// A Get that starts waiting after the context ended is not left waiting.
	late := newTestPending()
	if w.wait(late) {
		t.Fatal("a Get under an ended context was reported answered")
	}

	// The next context takes over as any other: after two Gets in a row
	// (one-Get contexts, one per request, keep selecting).
	next, cancelNext := context.WithCancel(context.Background())
	defer cancelNext()
	if b.watchFor(next, next.Done()) != nil {
		t.Fatal("a context seen once replaced the ended hot one")
	}
	if nw := b.watchFor(next, next.Done()); nw == nil || nw == w {
		t.Fatal("a context seen twice in a row did not replace the ended hot one")
	}
}

// A context becomes hot after two Gets in a row, the watch it replaces
// ends its registration once no Get waits in it, and a Get waiting there
// until then is still woken by its context.
func TestWatchHandsOverToTheNextHotContext(t *testing.T) {
	b := &batcher{}
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	w1 := b.watchFor(ctx1, ctx1.Done())

	waiter := newTestPending()
	results := make(chan bool, 1)
	go func() { results <- w1.wait(waiter) }()
	waitingIn(w1, waiter)

	if w := b.watchFor(ctx2, ctx2.Done()); w != nil {
		t.Fatal("a context seen once replaced the hot one")
	}
	w2 := b.watchFor(ctx2, ctx2.Done())
	if w2 == nil || w2 == w1 || b.hot.Load() != w2 {
		t.Fatal("a context seen twice in a row did not become hot")
	}
	if !w1.retired.Load() {
		t.Fatal("the replaced watch is not retired")
	}
	// A Get arriving at the retired watch waits on its own.
	own := newTestPending()
	go func() { results <- w1.wait(own) }()
	own.answer()
	if !<-results {
		t.Fatal("an answered Get at a retired watch was reported canceled")
	}

	// The Get still waiting in w1 is woken by its context.
	cancel1()
	if <-results {
		t.Fatal("the Get waiting in the replaced watch was reported answered")
	}

	// Once idle, w2's registration ends when it is replaced in turn.
	ctx3, cancel3 := context.WithCancel(context.Background())
	b.watchFor(ctx3, ctx3.Done())
	if b.watchFor(ctx3, ctx3.Done()) == nil {
		t.Fatal("a third context did not become hot")
	}
	cancel3()
	if w2.stop() {
		t.Fatal("the idle replaced watch is still registered with its context")
	}
	cancel2()
	if w2.canceled.Load() {
		t.Fatal("a stopped watch ran on its context's end")
	}
}
