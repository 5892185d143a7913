package join

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

// keyQueue holds the records of one join key while its head waits on a
// cold lookup: records of a key are processed strictly in input order,
// records of other keys go ahead.
type keyQueue struct {
	key  string
	recs []*record
	cold [2]*coldstore.Result // cold answer per looked-up side, once known
}

// coldReq asks the cold table of side for one key.
type coldReq struct {
	key  string
	vals []row.Value
}

// coldBatch is one MultiGet, sent back to the owner goroutine when done.
type coldBatch struct {
	side    Side
	reqs    []*coldReq
	res     []coldstore.Result
	err     error
	elapsed time.Duration
}

func keyVals(r row.Row, idx []int) []row.Value {
	out := make([]row.Value, len(idx))
	for i, j := range idx {
		out[i] = r.Values[j]
	}
	return out
}

// request queues a cold lookup for the head record of a key.
func (o *Operator) request(rec *record) {
	s := rec.side.other()
	o.open[s] = append(o.open[s], &coldReq{key: string(rec.key), vals: keyVals(rec.r, o.sides[rec.side].keyIdx)})
}

// dispatchFull sends every full batch.
func (o *Operator) dispatchFull(ctx context.Context) error {
	for s := Left; s <= Right; s++ {
		for len(o.open[s]) >= o.cfg.ColdBatchSize {
			if err := o.dispatch(ctx, s); err != nil {
				return o.fail(err)
			}
		}
	}
	return o.err
}

// dispatch starts one MultiGet for up to ColdBatchSize open requests of
// side, first waiting for a free slot (processing finished lookups).
func (o *Operator) dispatch(ctx context.Context, s Side) error {
	for o.inflight >= o.cfg.MaxInFlight {
		if err := o.waitOne(ctx); err != nil {
			return err
		}
	}
	if len(o.open[s]) == 0 {
		return nil
	}
	n := min(len(o.open[s]), o.cfg.ColdBatchSize)
	reqs := o.open[s][:n:n]
	o.open[s] = append([]*coldReq(nil), o.open[s][n:]...)
	keys := make([][]row.Value, n)
	for i, r := range reqs {
		keys[i] = r.vals
	}
	table := o.sides[s].in.ColdTable
	o.inflight++
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		start := time.Now()
		res, err := o.multiGet(table, keys)
		o.done <- coldBatch{side: s, reqs: reqs, res: res, err: err, elapsed: time.Since(start)}
	}()
	o.stats.coldLookups.Add(1)
	return nil
}

// multiGet looks keys up, retrying a failed call with backoff for
// Config.ColdRetryFor. A missing table is not retried.
func (o *Operator) multiGet(table string, keys [][]row.Value) ([]coldstore.Result, error) {
	deadline := time.Now().Add(o.cfg.ColdRetryFor)
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := o.cfg.Cold.MultiGet(o.ctx, table, keys)
		if err == nil && len(res) != len(keys) {
			err = fmt.Errorf("cold store answered %d results for %d keys", len(res), len(keys))
		}
		if err == nil || errors.Is(err, coldstore.ErrNoTable) || o.ctx.Err() != nil ||
			o.cfg.ColdRetryFor < 0 || !time.Now().Add(backoff).Before(deadline) {
			if err != nil && attempt > 1 {
				err = fmt.Errorf("%w (after %d attempts in %s)", err, attempt, o.cfg.ColdRetryFor)
			}
			return res, err
		}
		o.cfg.Logger.Warn("join: cold lookup failed; retrying", "operator", o.cfg.Name, "table", table, "attempt", attempt, "retry_in", backoff, "err", err)
		o.m.coldRetries.Inc()
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-o.ctx.Done():
			t.Stop()
			return nil, o.ctx.Err()
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// waitOne blocks for one finished lookup and processes it.
func (o *Operator) waitOne(ctx context.Context) error {
	select {
	case b := <-o.done:
		o.handle(b)
		return o.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drainReady processes the lookups that have finished, without blocking.
func (o *Operator) drainReady() {
	for {
		select {
		case b := <-o.done:
			o.handle(b)
		default:
			return
		}
	}
}

func (o *Operator) handle(b coldBatch) {
	o.inflight--
	o.m.coldSeconds.WithLabelValues(o.cfg.Name, o.sides[b.side].in.Name).Observe(b.elapsed.Seconds())
	if b.err != nil {
		// Fail closed: a lookup that could not be answered (even a table
		// that disappeared) is never a miss.
		o.fail(fmt.Errorf("join: cold lookup in %q: %w", o.sides[b.side].in.ColdTable, b.err))
		return
	}
	for i, req := range b.reqs {
		q := o.pending[req.key]
		if q == nil {
			o.fail(fmt.Errorf("join: internal error: cold answer for a key with no pending records"))
			return
		}
		ans := b.res[i]
		q.cold[b.side] = &ans
		if err := o.drain(q); err != nil {
			o.fail(err)
			return
		}
	}
}

// drain processes the queued records of a key until one needs a cold
// lookup that has not been answered yet.
func (o *Operator) drain(q *keyQueue) error {
	for len(q.recs) > 0 {
		rec := q.recs[0]
		done, err := o.tryProcess(rec, q)
		if err != nil {
			return err
		}
		if !done {
			o.request(rec)
			return nil
		}
		q.recs[0] = nil
		q.recs = q.recs[1:]
	}
	delete(o.pending, q.key)
	return nil
}
