package sidecar

import (
	"context"
	"sync"
	"sync/atomic"
)

// A watch wakes the auto-batched Gets waiting under one context when it
// is canceled, so that those Gets wait on their own answer channel alone.
//
// Gets that share a context (a worker's or a service's, as the join's
// cold fallback does) would otherwise each select on the same Done
// channel: every wait locks that one channel twice (to queue on it and to
// leave it) and the waits of all goroutines contend for its lock. At 800
// goroutines that cost the client about a fifth of its CPU per Get
// (BENCHMARKS.md, #17). A watch registers once with the context
// (context.AfterFunc) and keeps its waiting Gets in watchShards lists
// under their own locks.
//
// A batcher has one hot watch, for the context of most of its Gets: a
// context becomes hot when two Gets in a row that are not hot's use it
// (or when there is none yet). So Gets under contexts of their own (one
// per request) keep selecting, and do not each register a watch. A Get under any other context selects on its
// Done channel as before. A watch that is no longer hot stays registered
// until its context ends, so that Gets already waiting in it are still
// woken; it then holds nothing but its registration.
type watch struct {
	done     <-chan struct{}
	stop     func() bool
	canceled atomic.Bool // its context ended
	retired  atomic.Bool // no longer hot: no Get gets in
	shards   [watchShards]watchShard
}

const watchShards = 8

type watchShard struct {
	mu   sync.Mutex
	head *pending
	_    [48]byte // a cache line per shard
}

// watchFor returns the watch of ctx (whose Done channel is done) if ctx
// is hot or becomes hot now, else nil.
func (b *batcher) watchFor(ctx context.Context, done <-chan struct{}) *watch {
	w := b.hot.Load()
	if w != nil && w.done == done {
		return w
	}
	if w != nil && b.seen.Swap(done) != any(done) {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if w = b.hot.Load(); w != nil && w.done == done {
		return w
	}
	if b.closed.Load() {
		return nil
	}
	nw := &watch{done: done}
	nw.stop = context.AfterFunc(ctx, nw.cancel)
	b.hot.Store(nw)
	if w != nil {
		w.retire()
	}
	return nw
}

// wait waits for p's answer, true, or for the watch's context to end,
// false (p is then abandoned: a sender may still write into it).
func (w *watch) wait(p *pending) bool {
	s := &w.shards[p.shard]
	s.mu.Lock()
	if w.canceled.Load() || w.retired.Load() {
		s.mu.Unlock()
		// Not in the watch: only p's answer or the context wakes it.
		select {
		case <-p.done:
			return true
		case <-w.done:
			if p.state.CompareAndSwap(waiting, canceled) {
				return false
			}
			<-p.done // answered meanwhile
			return true
		}
	}
	p.next = s.head
	if s.head != nil {
		s.head.prev = p
	}
	s.head = p
	s.mu.Unlock()

	<-p.done

	s.mu.Lock()
	if p.prev != nil {
		p.prev.next = p.next
	} else {
		s.head = p.next
	}
	if p.next != nil {
		p.next.prev = p.prev
	}
	p.prev, p.next = nil, nil
	s.mu.Unlock()
	if w.retired.Load() {
		w.stopIfIdle()
	}
	return p.state.Load() == answered
}

// cancel wakes every Get waiting in w that is not answered yet (run by
// context.AfterFunc when the context ends).
func (w *watch) cancel() {
	w.canceled.Store(true)
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		for p := s.head; p != nil; p = p.next {
			if p.state.CompareAndSwap(waiting, canceled) {
				p.done <- struct{}{}
			}
		}
		s.mu.Unlock()
	}
}

// retire keeps further Gets out of w (another watch is hot) and ends its
// registration with the context once no Get waits in it.
func (w *watch) retire() {
	w.retired.Store(true)
	w.stopIfIdle()
}

// stopIfIdle ends w's registration if no Get waits in it (w is retired,
// so none gets in after a shard is seen empty).
func (w *watch) stopIfIdle() {
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		busy := s.head != nil
		s.mu.Unlock()
		if busy {
			return
		}
	}
	w.stop()
}
