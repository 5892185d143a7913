package runcore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/state"
)

// StopAt is where a runner stops by itself: per input topic and partition,
// the offset it must not consume (the offset its state commits when done).
// A runner given StopAt processes every assigned partition up to, not
// including, its offset, commits, and Run returns nil once every assigned
// partition of every input has reached its offset.
//
// Unreachable stop offsets: a stop offset past the end offset of its
// partition when Run starts is an error at once (the runner would wait for
// records that do not exist). A partition reaches its stop offset when its
// state has consumed the record before it, or when a record at or past it
// is fetched (the offsets between hold no record: transaction markers,
// aborted or compacted records); its state then commits the stop offset.
// When the last offsets before the stop offset hold no record (e.g. a
// transaction's commit marker at the end of the partition), the runner
// waits until a later record arrives: the partition's end offset is not
// proof that no record before the stop offset is still to come.
type StopAt map[string]map[int32]int64

// ParseStopAt reads "topic/partition=offset,..." (the form of the
// --stop-at flag and of statemigrate's {stop_at}); "" is nil.
func ParseStopAt(s string) (StopAt, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := StopAt{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		tpStr, offStr, ok := strings.Cut(part, "=")
		i := strings.LastIndexByte(tpStr, '/')
		if !ok || i <= 0 {
			return nil, fmt.Errorf("stop offset %q: want topic/partition=offset, e.g. orders/0=1200", part)
		}
		p, err := strconv.ParseInt(tpStr[i+1:], 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("stop offset %q: the partition %q is not a partition number", part, tpStr[i+1:])
		}
		off, err := strconv.ParseInt(offStr, 10, 64)
		if err != nil || off < 0 {
			return nil, fmt.Errorf("stop offset %q: the offset %q is not an offset (0 or more)", part, offStr)
		}
		topic := tpStr[:i]
		if out[topic] == nil {
			out[topic] = map[int32]int64{}
		}
		if _, dup := out[topic][int32(p)]; dup {
			return nil, fmt.Errorf("stop offset %q: %s/%d is given twice", part, topic, p)
		}
		out[topic][int32(p)] = off
	}
	return out, nil
}

// String renders s the way ParseStopAt reads it, sorted.
func (s StopAt) String() string {
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(s)) {
		for _, p := range slices.Sorted(maps.Keys(s[t])) {
			parts = append(parts, fmt.Sprintf("%s/%d=%d", t, p, s[t][p]))
		}
	}
	return strings.Join(parts, ",")
}

// stopOffset is the stop offset of topic/pn, ok false without one.
func (r *Runner) stopOffset(topic string, pn int32) (int64, bool) {
	off, ok := r.cfg.StopAt[topic][pn]
	return off, ok
}

// checkStopAt is called when a partition is opened: with StopAt set,
// every input of the partition needs a stop offset, and its state must not
// be past it.
func (r *Runner) checkStopAt(p *partition) error {
	if r.cfg.StopAt == nil {
		return nil
	}
	offs := p.db.Offsets()
	for _, t := range r.cfg.Inputs {
		stop, ok := r.stopOffset(t, p.id)
		if !ok {
			return fmt.Errorf("runner: partition %s/%d is assigned but the stop offsets (%s) name none for it: give every partition of every input a stop offset",
				t, p.id, r.cfg.StopAt)
		}
		if off, ok := offs[state.TopicPartition{Topic: t, Partition: p.id}]; ok && off > stop {
			return fmt.Errorf("runner: partition %s/%d: its state (%s) is at offset %d, past its stop offset %d: the stop offsets are older than this state",
				t, p.id, r.partDir(p.id), off, stop)
		}
	}
	return nil
}

// beforeStop reports whether rec is before its partition's stop offset (or
// there is none): records at or past it are not processed.
func (r *Runner) beforeStop(rec *kgo.Record) bool {
	stop, ok := r.stopOffset(rec.Topic, rec.Partition)
	return !ok || rec.Offset < stop
}

// reached reports whether every input of p has reached its stop offset.
// A partition whose state has no offset for an input has reached a stop
// offset of 0 only.
func (r *Runner) reached(p *partition) bool {
	offs := p.db.Offsets()
	for _, t := range r.cfg.Inputs {
		stop, ok := r.stopOffset(t, p.id)
		if !ok {
			return false
		}
		off, has := offs[state.TopicPartition{Topic: t, Partition: p.id}]
		if !has {
			off = 0
		}
		if off < stop {
			return false
		}
	}
	return true
}

// checkStopReached pauses the partitions that reached their stop offsets
// and ends Run (gracefully) once every owned partition has. Called without
// r.mu held.
func (r *Runner) checkStopReached(cl *kgo.Client) {
	if r.cfg.StopAt == nil {
		return
	}
	r.mu.Lock()
	all := len(r.parts) > 0
	pause := map[string][]int32{}
	for pn, p := range r.parts {
		if !r.reached(p) {
			all = false
			continue
		}
		if !p.paused {
			p.paused = true
			for _, t := range r.cfg.Inputs {
				pause[t] = append(pause[t], pn)
			}
		}
	}
	stop := r.stopRun
	r.mu.Unlock()
	if len(pause) > 0 && cl != nil {
		cl.PauseFetchPartitions(pause)
	}
	if all && stop != nil {
		r.log.Info(r.cfg.Kind+" runner reached its stop offsets", "stop_at", r.cfg.StopAt.String())
		stop()
	}
}

// skipToStop moves p's offset of rec's partition to its stop offset when
// rec, fetched at or past it, shows that no record before it remains. It
// reports whether the state changed.
func (r *Runner) skipToStop(p *partition, rec *kgo.Record) bool {
	stop, ok := r.stopOffset(rec.Topic, rec.Partition)
	if !ok {
		return false
	}
	tp := state.TopicPartition{Topic: rec.Topic, Partition: rec.Partition}
	if off, has := p.db.PendingOffset(tp); has && off >= stop {
		return false
	}
	p.inBatch = true
	p.db.SetOffset(rec.Topic, rec.Partition, stop)
	r.log.Info("partition reached its stop offset past a gap (no record in between)", "topic", rec.Topic, "partition", rec.Partition, "stop_at", stop, "fetched", rec.Offset)
	return true
}

// checkStopReachable fails when a stop offset is past the end offset of
// its partition.
func (r *Runner) checkStopReachable(ctx context.Context, adm *kadm.Client) error {
	if r.cfg.StopAt == nil {
		return nil
	}
	ends, err := adm.ListEndOffsets(ctx, r.cfg.Inputs...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("runner: end offsets of the inputs (for the stop offsets): %w", err)
	}
	var errs []string
	ends.Each(func(e kadm.ListedOffset) {
		if stop, ok := r.stopOffset(e.Topic, e.Partition); ok && stop > e.Offset {
			errs = append(errs, fmt.Sprintf("%s/%d=%d is past the partition's end offset %d", e.Topic, e.Partition, stop, e.Offset))
		}
	})
	if len(errs) > 0 {
		slices.Sort(errs)
		return fmt.Errorf("runner: unreachable stop offsets: %s: the runner would wait for records that do not exist; give stop offsets at most the end offsets", strings.Join(errs, "; "))
	}
	return nil
}
