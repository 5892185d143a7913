package sidecar

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

// batcher coalesces concurrent Client.Get calls into BatchLookup calls.
//
// One loop goroutine collects queued gets into a batch and hands it to one
// of autoInflight sender goroutines when one is idle (so at most
// autoInflight batches are in flight). The senders live as long as the
// batcher, so that a batch does not pay for a new goroutine and its stack
// growth through the gRPC call. All are owned by the batcher and stop on
// close.
type batcher struct {
	c      *Client
	max    int
	linger time.Duration
	reqs   chan *pending
	work   chan []*pending // to an idle sender
	ctx    context.Context // canceled on close; parent of every batch call
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// closed is set by close once the loop and senders are gone, before it
	// fails what is queued; a Get that queues after seeing it set fails
	// the queue itself. So every queued Get is answered, and a caller
	// waits on its answer alone (a select over fewer channels).
	closed atomic.Bool
	// hot watches the context most Gets share (see watch); seen is the
	// Done channel of the last Get whose context was not hot's.
	hot  atomic.Pointer[watch]
	seen atomic.Value // <-chan struct{}
	mu   sync.Mutex   // makes a watch hot
}

type pending struct {
	table string
	key   []byte // Key content, from appendValues
	// keyBuf holds key when it fits (as most keys do).
	keyBuf [24]byte
	// done gets one value when res and err are set (buffered: the
	// answering side never blocks); after it the answering side no
	// longer touches the pending, so the caller may reuse it.
	done chan struct{}
	res  coldstore.Result
	err  error
	// state decides who sends on done, once: the answering side
	// (answered) or a watch whose context was canceled (canceled).
	state atomic.Uint32
	// In a watch's list while its Get waits there (see watch).
	prev, next *pending
	shard      uint8 // the watch shard it waits in
}

const (
	waiting uint32 = iota
	answered
	canceled
)

// answer wakes p's Get unless a canceled watch woke it first. The
// answering side sets res and err before: a Get woken by its context does
// not read them.
func (p *pending) answer() {
	if p.state.CompareAndSwap(waiting, answered) {
		p.done <- struct{}{}
	}
}

var pendingShards atomic.Uint32

// pendingPool recycles the pendings of answered Gets (a Get abandoned by
// its context is not recycled: a sender may still write into it).
var pendingPool = sync.Pool{New: func() any {
	return &pending{done: make(chan struct{}, 1), shard: uint8(pendingShards.Add(1) % watchShards)}
}}

func newPending(table string) *pending {
	p := pendingPool.Get().(*pending)
	p.table = table
	return p
}

func newBatcher(c *Client) *batcher {
	ctx, cancel := context.WithCancel(context.Background())
	b := &batcher{
		c: c, max: c.cfg.autoMax, linger: c.cfg.linger,
		reqs: make(chan *pending, c.cfg.autoMax),
		work: make(chan []*pending),
		ctx:  ctx, cancel: cancel,
	}
	b.wg.Add(1 + c.cfg.autoInflight)
	go b.loop()
	for i := 0; i < c.cfg.autoInflight; i++ {
		go b.sender()
	}
	return b
}

// get queues one lookup (p, with table, key and done set) and waits for
// its answer or ctx.
func (b *batcher) get(ctx context.Context, p *pending) (coldstore.Result, error) {
	if err := ctx.Err(); err != nil {
		return coldstore.Result{}, err
	}
	select {
	case b.reqs <- p: // the queue has room: no need to lock ctx's channels
	default:
		select {
		case b.reqs <- p:
		case <-ctx.Done():
			return coldstore.Result{}, ctx.Err()
		case <-b.ctx.Done():
			return coldstore.Result{}, coldstore.ErrClosed
		}
	}
	if b.closed.Load() {
		// Queued after close failed the queue: fail it again (p among
		// the rest).
		b.failQueued()
	}
	if done := ctx.Done(); done != nil {
		if w := b.watchFor(ctx, done); w != nil {
			if !w.wait(p) {
				// A sender that picked p up writes into it unobserved.
				return coldstore.Result{}, ctx.Err()
			}
		} else {
			select {
			case <-p.done:
			case <-done:
				return coldstore.Result{}, ctx.Err()
			}
		}
	} else {
		<-p.done
	}
	res, err := p.res, p.err
	// Answered: nothing refers to p any more.
	*p = pending{done: p.done, shard: p.shard}
	pendingPool.Put(p)
	return res, err
}

func (b *batcher) close() {
	b.cancel()
	b.wg.Wait()
	b.closed.Store(true)
	b.failQueued()
	if w := b.hot.Swap(nil); w != nil {
		w.stop() // every Get is answered: nothing waits in w
	}
}

// failQueued fails the Gets queued and not picked up.
func (b *batcher) failQueued() {
	for {
		select {
		case p := <-b.reqs:
			p.err = coldstore.ErrClosed
			p.answer()
		default:
			return
		}
	}
}

func (b *batcher) loop() {
	defer b.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first *pending
		select {
		case first = <-b.reqs:
		case <-b.ctx.Done():
			return
		}
		batch := make([]*pending, 1, b.max)
		batch[0] = first
		lingering := b.linger > 0
		if lingering {
			timer.Reset(b.linger)
		}
		handed, yielded := false, false
	collect:
		for len(batch) < b.max {
			select {
			case p := <-b.reqs:
				batch = append(batch, p)
				continue
			default:
			}
			// Nothing queued right now.
			if lingering {
				select {
				case p := <-b.reqs:
					batch = append(batch, p)
				case <-timer.C:
					lingering = false
				case <-b.ctx.Done():
					b.fail(batch, coldstore.ErrClosed)
					return
				}
				continue
			}
			if !yielded {
				// Let the callers the last answer woke run and queue their
				// next Gets before a sender takes a small batch: a batch
				// costs about the same whatever its size.
				yielded = true
				runtime.Gosched()
				continue
			}
			select {
			case b.work <- batch:
				handed = true
				break collect
			case p := <-b.reqs:
				batch = append(batch, p)
			case <-b.ctx.Done():
				b.fail(batch, coldstore.ErrClosed)
				return
			}
		}
		if lingering {
			timer.Stop() // Go 1.23+ timers: no stale tick after Stop
		}
		if !handed {
			select {
			case b.work <- batch:
			case <-b.ctx.Done():
				b.fail(batch, coldstore.ErrClosed)
				return
			}
		}
	}
}

// sender sends the batches the loop hands it until the batcher closes.
func (b *batcher) sender() {
	defer b.wg.Done()
	for {
		select {
		case batch := <-b.work:
			b.send(batch)
		case <-b.ctx.Done():
			return
		}
	}
}

func (b *batcher) fail(batch []*pending, err error) {
	for _, p := range batch {
		p.err = err
		p.answer()
	}
}

// send makes one BatchLookup for batch and delivers the answers.
func (b *batcher) send(batch []*pending) {
	def := batch[0].table
	n := 16 + len(def)
	for _, p := range batch {
		n += len(p.key) + 8
		if p.table != def {
			n += len(p.table) + 2
		}
	}
	req := appendTable(make([]byte, 0, n), def)
	for _, p := range batch {
		t := ""
		if p.table != def {
			t = p.table
		}
		req = appendKeyRef(req, fBatchReqKeys, t, p.key)
	}
	resp := &batchResponse{}
	err := b.c.conn.Invoke(b.ctx, lookuppb.LookupService_BatchLookup_FullMethodName, &rawMessage{b: req}, resp)
	if err == nil && len(resp.results) != len(batch) {
		err = status.Errorf(codes.Internal, "BatchLookup of %d keys answered %d results", len(batch), len(resp.results))
	}
	if err != nil {
		switch status.Code(err) {
		case codes.InvalidArgument, codes.NotFound, codes.PermissionDenied:
			if len(batch) > 1 {
				// One caller's bad key or table must not fail the others:
				// answer each on its own.
				b.individually(batch)
				return
			}
		}
		b.fail(batch, b.c.callError(batch[0].table, err))
		return
	}
	// The rows of one batch share one allocation (each row's slice is
	// capped, so a caller appending to it copies).
	slab := valueSlab(resp.results)
	for i, p := range batch {
		p.res, p.err = resp.results[i].resultInto(&slab)
		p.answer()
	}
}

func (b *batcher) individually(batch []*pending) {
	for _, p := range batch {
		req := appendKeyRef(appendTable(nil, p.table), fBatchReqKeys, "", p.key)
		resp := &batchResponse{}
		err := b.c.conn.Invoke(b.ctx, lookuppb.LookupService_BatchLookup_FullMethodName, &rawMessage{b: req}, resp)
		switch {
		case err != nil:
			p.err = b.c.callError(p.table, err)
		case len(resp.results) != 1:
			p.err = fmt.Errorf("sidecar: BatchLookup of 1 key answered %d results", len(resp.results))
		default:
			p.res, p.err = resp.results[0].result()
		}
		p.answer()
	}
}
