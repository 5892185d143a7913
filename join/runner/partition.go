package runner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// partition is the operator and state of one input partition (the same
// partition number of both co-partitioned topics).
type partition struct {
	id      int32
	db      *state.DB
	op      *join.Operator
	out     []outboxEntry // outbox entries of the batch in hand
	decoded []row.Row
	batch   batchCounts // of the batch in hand, added to the runner's at commit
	buf     []byte
	// inBatch is true from the first mutation of a batch until its commit:
	// such a partition holds uncommitted work (possibly records waiting on
	// cold lookups) and must never be committed by close.
	inBatch bool
	// bootstrapFrom holds, per topic, the hot-window start of a partition
	// that started without state (guarded by Runner.mu).
	bootstrapFrom map[string]time.Time
	advanceTo     time.Time // guarded by Runner.mu
}

// batchCounts counts the input records of a batch by what became of them.
type batchCounts struct {
	records, joined, skipped, deadLettered, beforeWindow int64
}

// runnerCounts are the committed totals (safe for concurrent reads).
type runnerCounts struct {
	records, joined, skipped, deadLettered, beforeWindow atomic.Int64
}

func (c *runnerCounts) add(b *batchCounts) {
	c.records.Add(b.records)
	c.joined.Add(b.joined)
	c.skipped.Add(b.skipped)
	c.deadLettered.Add(b.deadLettered)
	c.beforeWindow.Add(b.beforeWindow)
}

// outboxEntry is one record to produce: an output change or a dead letter.
type outboxEntry struct {
	dlq     bool
	key     []byte
	value   []byte // nil: tombstone
	headers []kgo.RecordHeader
}

const (
	flagDLQ       = 1
	flagTombstone = 2
)

func (e *outboxEntry) encode(dst []byte) []byte {
	var flags byte
	if e.dlq {
		flags |= flagDLQ
	}
	if e.value == nil {
		flags |= flagTombstone
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(e.key)))
	dst = append(dst, e.key...)
	dst = binary.AppendUvarint(dst, uint64(len(e.value)))
	dst = append(dst, e.value...)
	dst = binary.AppendUvarint(dst, uint64(len(e.headers)))
	for _, h := range e.headers {
		dst = binary.AppendUvarint(dst, uint64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = binary.AppendUvarint(dst, uint64(len(h.Value)))
		dst = append(dst, h.Value...)
	}
	return dst
}

var errBadOutbox = errors.New("runner: corrupt outbox entry in state")

func decodeOutboxEntry(b []byte) (outboxEntry, error) {
	var e outboxEntry
	if len(b) < 1 {
		return e, errBadOutbox
	}
	flags := b[0]
	b = b[1:]
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		out := append([]byte{}, b[k:k+int(n)]...)
		b = b[k+int(n):]
		return out, true
	}
	var ok bool
	if e.key, ok = next(); !ok {
		return e, errBadOutbox
	}
	if e.value, ok = next(); !ok {
		return e, errBadOutbox
	}
	e.dlq = flags&flagDLQ != 0
	if flags&flagTombstone != 0 {
		e.value = nil
	}
	nh, k := binary.Uvarint(b)
	if k <= 0 || nh > uint64(len(b)) {
		return e, errBadOutbox
	}
	b = b[k:]
	for i := uint64(0); i < nh; i++ {
		hk, ok1 := next()
		hv, ok2 := next()
		if !ok1 || !ok2 {
			return e, errBadOutbox
		}
		e.headers = append(e.headers, kgo.RecordHeader{Key: string(hk), Value: hv})
	}
	if len(b) != 0 {
		return e, errBadOutbox
	}
	return e, nil
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
	db, err := state.Open(r.partDir(pn), state.Options{Logger: r.log, Registerer: r.cfg.Registerer, Zone: r.cfg.Zone, NoSync: r.cfg.NoSync})
	if err != nil {
		return nil, fmt.Errorf("runner: partition %d: %w", pn, err)
	}
	p := &partition{id: pn, db: db, bootstrapFrom: map[string]time.Time{}}
	jc := r.cfg.Join
	jc.Logger = r.log
	jc.Registerer = r.cfg.Registerer
	jc.Emit = func(out row.Row) error {
		m, ok, err := r.outC.Encode(out)
		if err != nil {
			return fmt.Errorf("runner: encode output %s: %w", out.Format(r.outC.Schema()), err)
		}
		if !ok {
			return nil
		}
		return p.appendOutbox(outboxEntry{key: m.Key, value: m.Value})
	}
	op, err := join.New(ctx, db, jc)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("runner: partition %d: %w", pn, err)
	}
	p.op = op
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
		op.Close()
		db.Close()
		return nil, fmt.Errorf("runner: partition %d: recover outbox: %w", pn, err)
	}
	r.log.Info("partition opened", "partition", pn, "dir", r.partDir(pn), "offsets", fmt.Sprint(db.Offsets()))
	return p, nil
}

// commitAndDeliver finishes the batch of p: flush the operator, commit
// state+offsets+outbox, produce the outbox, and clear it with the next
// commit.
func (p *partition) commitAndDeliver(ctx context.Context, r *Runner, cl *kgo.Client) error {
	if err := p.op.Flush(ctx); err != nil {
		return fmt.Errorf("runner: partition %d: %w", p.id, err)
	}
	if err := p.db.Commit(); err != nil {
		return fmt.Errorf("runner: partition %d: %w", p.id, err)
	}
	p.inBatch = false
	r.counts.add(&p.batch)
	r.m.records.Add(float64(p.batch.records))
	p.batch = batchCounts{}
	if err := r.produce(ctx, cl, p.id, p.out); err != nil {
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

// close closes the operator and the state. With clean set (a graceful
// stop or a rebalance between batches) and no batch in hand, the only
// pending mutation is the outbox clear of the last delivered batch, which
// is committed. Otherwise nothing pending is committed: the next owner
// re-reads from the last committed offsets and re-delivers the last
// committed outbox (exact re-sends).
func (p *partition) close(clean bool) error {
	var errs []error
	if clean && !p.inBatch && p.db.Pending() > 0 {
		errs = append(errs, p.db.Commit())
	}
	errs = append(errs, p.op.Close(), p.db.Close())
	return errors.Join(errs...)
}
