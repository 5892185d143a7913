package runcore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/state"
)

// partition is the handler and state of one input partition (the same
// partition number of every co-partitioned input).
type partition struct {
	id    int32
	db    *state.DB
	h     Handler
	out   []outboxEntry // outbox entries of the batch in hand
	batch batchCounts   // of the batch in hand, added to the runner's at commit
	buf   []byte
	// inBatch is true from the first mutation of a batch until its commit:
	// such a partition holds uncommitted work (possibly records waiting on
	// cold lookups) and must never be committed by close.
	inBatch bool
	// paused is set once the partition reached its StopAt offsets and its
	// fetching was paused.
	paused bool
}

type dirtyKey struct {
	topic  string
	policy DirtyPolicy
}

// batchCounts counts the input records of a batch by what became of them.
type batchCounts struct {
	records, processed, skipped, deadLettered, passedOver int64
	dirty                                                 map[dirtyKey]int64
}

// totals are the committed totals (safe for concurrent reads).
type totals struct {
	records, processed, skipped, deadLettered, passedOver atomic.Int64
}

func (c *totals) add(b *batchCounts) {
	c.records.Add(b.records)
	c.processed.Add(b.processed)
	c.skipped.Add(b.skipped)
	c.deadLettered.Add(b.deadLettered)
	c.passedOver.Add(b.passedOver)
}

func (p *partition) appendOutbox(e outboxEntry) error {
	p.buf = e.encode(p.buf[:0])
	if err := p.db.AppendOutbox(p.buf); err != nil {
		return err
	}
	p.out = append(p.out, e)
	return nil
}

func (r *Runner) openPartition(ctx context.Context, cl *kgo.Client, pn int32) (*partition, error) {
	dir := r.partDir(pn)
	if r.cfg.Manifest != nil {
		if _, err := manifest.EnsureJobState(dir, r.cfg.Manifest, r.cfg.ManifestRunner); err != nil {
			return nil, fmt.Errorf("runner: partition %d: %w", pn, err)
		}
	}
	if r.cfg.PrepareDir != nil {
		if err := r.cfg.PrepareDir(dir); err != nil {
			return nil, fmt.Errorf("runner: partition %d: %w", pn, err)
		}
	}
	db, err := state.Open(dir, state.Options{Logger: r.log, Registerer: r.cfg.Registerer, Zone: r.cfg.Zone, NoSync: r.cfg.NoSync})
	if err != nil {
		return nil, fmt.Errorf("runner: partition %d: %w", pn, err)
	}
	p := &partition{id: pn, db: db, batch: batchCounts{dirty: map[dirtyKey]int64{}}}
	if err := r.checkStopAt(p); err != nil {
		db.Close()
		return nil, err
	}
	emit := func(key, value []byte) error { return p.appendOutbox(outboxEntry{key: key, value: value}) }
	h, err := r.cfg.Operator.Open(ctx, pn, db, emit)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("runner: partition %d: %w", pn, err)
	}
	p.h = h
	// Deliver what a previous run committed but may not have produced.
	var pending []outboxEntry
	err = db.Outbox(func(v []byte) error {
		e, err := decodeOutboxEntry(v)
		if err != nil {
			return err
		}
		pending = append(pending, e)
		return nil
	})
	if err == nil && len(pending) > 0 {
		r.log.Info("re-delivering the outbox of the last committed batch", "partition", pn, "records", len(pending))
		err = r.produce(ctx, cl, pn, pending)
		if err == nil {
			if err = db.ClearOutbox(); err == nil {
				err = db.Commit()
			}
		}
	}
	if err != nil {
		h.Close()
		db.Close()
		return nil, fmt.Errorf("runner: partition %d: recover outbox: %w", pn, err)
	}
	r.log.Info("partition opened", "partition", pn, "dir", dir, "offsets", fmt.Sprint(db.Offsets()))
	return p, nil
}

// commitAndDeliver finishes the batch of p: flush the handler, commit
// state+offsets+outbox, produce the outbox, and clear it with the next
// commit. Dirty records are counted once their batch is committed.
func (p *partition) commitAndDeliver(ctx context.Context, r *Runner) error {
	if err := p.h.Flush(ctx); err != nil {
		return fmt.Errorf("runner: partition %d: %w", p.id, err)
	}
	if err := p.db.Commit(); err != nil {
		return fmt.Errorf("runner: partition %d: %w", p.id, err)
	}
	p.inBatch = false
	r.counts.add(&p.batch)
	r.m.records.Add(float64(p.batch.records))
	for k, n := range p.batch.dirty {
		r.m.dirty.WithLabelValues(k.topic, k.policy.String()).Add(float64(n))
	}
	clear(p.batch.dirty)
	p.batch = batchCounts{dirty: p.batch.dirty}
	if err := r.produce(ctx, r.cl, p.id, p.out); err != nil {
		return err
	}
	p.out = p.out[:0]
	// Delivered: the outbox goes with the next commit.
	return p.db.ClearOutbox()
}

func (r *Runner) produce(ctx context.Context, cl *kgo.Client, pn int32, entries []outboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(entries))
	outputs := 0
	for i, e := range entries {
		topic := r.cfg.OutputTopic
		if e.dlq {
			topic = r.cfg.DeadLetterTopic
		} else {
			outputs++
		}
		recs[i] = &kgo.Record{Topic: topic, Partition: r.outPartition(pn), Key: e.key, Value: e.value, Headers: e.headers}
		if e.dlq {
			recs[i].Partition = 0
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("runner: produce to %s: %w", r.cfg.OutputTopic, err)
	}
	r.outputs.Add(int64(outputs))
	r.m.outputs.Add(float64(outputs))
	return nil
}

// close closes the handler and the state. With clean set (a graceful stop
// or a rebalance between batches) and no batch in hand, the only pending
// mutation is the outbox clear of the last delivered batch, which is
// committed. Otherwise nothing pending is committed: the next owner
// re-reads from the last committed offsets and re-delivers the last
// committed outbox (exact re-sends).
func (p *partition) close(clean bool) error {
	var errs []error
	if clean && !p.inBatch && p.db.Pending() > 0 {
		errs = append(errs, p.db.Commit())
	}
	errs = append(errs, p.h.Close(), p.db.Close())
	return errors.Join(errs...)
}
