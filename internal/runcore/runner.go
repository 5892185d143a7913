package runcore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/state"
)

// Fate is what became of an input record that was not dirty.
type Fate uint8

const (
	// Processed: the operator took the record.
	Processed Fate = iota
	// PassedOver: the record was read and deliberately not processed (a
	// new join job's records before its hot window).
	PassedOver
)

// Handler is the operator of one partition. The runner calls it from one
// goroutine at a time.
type Handler interface {
	// Handle processes one input record. Its outputs go through the emit
	// function given to Operator.Open, its state mutations into the
	// partition's state.DB; the runner commits both with the record's
	// offset. An error wrapped with Dirty is bad input (it goes to the
	// dirty-data policy, and Handle must then have changed nothing); any
	// other error stops the runner without committing the batch.
	Handle(ctx context.Context, rec *kgo.Record) (Fate, error)
	// Flush finishes the batch: after it, every record handled so far has
	// all its outputs emitted. Called before every commit.
	Flush(ctx context.Context) error
	// Close releases the handler. The runner closes the state after it.
	Close() error
}

// Operator opens the Handler of each partition the group assigns.
type Operator interface {
	// Open builds the handler of partition pn over its state db. emit
	// appends one output record (value nil: a tombstone) to the batch's
	// outbox.
	Open(ctx context.Context, pn int32, db *state.DB, emit func(key, value []byte) error) (Handler, error)
}

// Config configures a Runner. Zero fields take the defaults stated.
type Config struct {
	// Kind names the runner in logs and metrics ("join", "agg"). Required.
	Kind string
	// Operator opens the handler of each partition. Required.
	Operator Operator
	// Inputs are the input topics. With more than one they must be
	// co-partitioned (same partition count and key partitioner): partition
	// p of every input goes to partition p's handler.
	Inputs []string
	// OutputTopic receives the outputs, to the partition equal to the input
	// partition (modulo its partition count).
	OutputTopic string
	// Brokers are the seed brokers.
	Brokers []string
	// Group is the consumer group.
	Group string
	// InstanceID makes the process a static group member (KIP-345).
	InstanceID string
	// ClientOpts are extra franz-go options, applied after the runner's.
	ClientOpts []kgo.Opt
	// StateDir holds one state directory per partition (p<N>).
	StateDir string
	// Manifest, if set, is the job's manifest, derived from its config:
	// New checks it against the manifest of every partition state already
	// under StateDir, and a partition's state directory gets it (or is
	// checked against it) before it is opened (manifest.EnsureJobState). A
	// state of another job, of other logic, or without a manifest is an
	// error naming what to run next.
	Manifest *manifest.Manifest
	// ManifestRunner names the command and config file in those errors.
	ManifestRunner manifest.Runner
	// PrepareDir, if set, is called with a partition's state directory
	// before it is opened, after the manifest check.
	PrepareDir func(dir string) error
	// Dirty is the dirty-data policy; DeadLetterTopic receives dirty
	// messages under DeadLetter.
	Dirty           DirtyPolicy
	DeadLetterTopic string
	// StartWithoutState says where input topic's partition pn starts when
	// its state has no offset for it: the offset, how to say it and why
	// (for the start log). h is the partition's handler. Called from
	// franz-go's goroutine. Nil means the start of the partition.
	StartWithoutState func(topic string, pn int32, h Handler) (off kgo.Offset, at, why string)
	// Check runs before the group is joined (join checks its cold side).
	Check func(ctx context.Context) error
	// OnClose is called with a partition's handler before it is closed.
	OnClose func(pn int32, h Handler)
	// MaxPollRecords bounds one poll batch (one state commit). Zero means
	// 10000.
	MaxPollRecords int
	// NoSync skips the fsync of state commits (tests, benchmarks).
	NoSync bool
	// StopAt, when not nil, makes Run stop by itself: every partition is
	// processed up to (not including) its stop offset and committed, and
	// Run returns nil once every assigned partition has reached its stop
	// offsets. An assigned partition without one, or whose state is past
	// it, is an error.
	StopAt StopAt
	// Zone is the time zone of the state's event-time days. Nil means UTC.
	Zone *time.Location
	// Logger receives progress and warnings. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the runner's and the state's metrics. Nil
	// registers nothing.
	Registerer prometheus.Registerer
}

// Validate reports the missing fields, in Config's names.
func (c *Config) Validate() []error {
	var errs []error
	add := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if c.OutputTopic == "" {
		add("OutputTopic is required")
	}
	if len(c.Brokers) == 0 {
		add("Brokers is empty: give the seed brokers (host:port)")
	}
	if c.Group == "" {
		add("Group is required: the consumer group that assigns partitions")
	}
	if c.StateDir == "" {
		add("StateDir is required")
	}
	if c.Dirty == DeadLetter && c.DeadLetterTopic == "" {
		add("Dirty is dead-letter but DeadLetterTopic is empty")
	}
	if c.MaxPollRecords < 0 {
		add("MaxPollRecords is %d, want >= 1", c.MaxPollRecords)
	}
	return errs
}

// Runner runs one Handler per owned partition between Kafka topics. See
// the package documentation for its delivery and commit rules.
type Runner struct {
	cfg Config
	log *slog.Logger
	m   *metrics

	cl       *kgo.Client
	clShared atomic.Pointer[kgo.Client] // cl, for franz-go's callback goroutines
	outParts int32

	mu    sync.Mutex // guards parts, opening, started, fatal
	parts map[int32]*partition
	// opening holds the partitions assigned and not yet opened (or failed
	// to open): a checkpoint of the running job waits for them.
	opening map[int32]bool

	started time.Time
	counts  totals // committed input records, by fate
	outputs atomic.Int64
	fatal   error
	// stopRun ends Run gracefully once the StopAt offsets are reached.
	stopRun context.CancelFunc
	// failed is set once Run is stopping on an error: from then on no
	// partition commits pending work when it is closed.
	failed atomic.Bool
}

// New checks cfg and applies its defaults. It does not connect; Run does.
func New(cfg Config) (*Runner, error) {
	if cfg.Kind == "" || cfg.Operator == nil || len(cfg.Inputs) == 0 {
		return nil, errors.New("runner: Kind, Operator and Inputs are required")
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("runner: invalid config: %w", errors.Join(errs...))
	}
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = 10000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Manifest != nil {
		if err := checkStateDirs(cfg.StateDir, cfg.Manifest, cfg.ManifestRunner); err != nil {
			return nil, err
		}
	}
	m, err := newMetrics(cfg.Registerer, cfg.Kind)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	return &Runner{cfg: cfg, log: cfg.Logger, parts: map[int32]*partition{}, m: m}, nil
}

// checkStateDirs checks the manifest of every partition state directory
// under root against the job's before anything connects, so that a job
// started on the wrong state fails at once, not at its first assignment.
// Directories without state are left alone (their partition may belong to
// another member).
func checkStateDirs(root string, want *manifest.Manifest, r manifest.Runner) error {
	dirs, _ := filepath.Glob(filepath.Join(root, "p[0-9]*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, manifest.FileName)); err != nil {
			if ents, _ := os.ReadDir(d); len(ents) == 0 {
				continue
			}
		}
		if _, err := manifest.EnsureJobState(d, want, r); err != nil {
			return fmt.Errorf("runner: %w", err)
		}
	}
	return nil
}

// Stats is a snapshot of the runner's progress.
type Stats struct {
	// Records is the number of input records consumed and committed:
	// Processed + Skipped + DeadLettered + PassedOver.
	Records int64
	// Processed is the number of committed records the operator took.
	Processed int64
	// Skipped and DeadLettered are the committed dirty records, skipped
	// (Skip) or written to the dead-letter topic (DeadLetter).
	Skipped, DeadLettered int64
	// PassedOver is the number of committed records deliberately not
	// processed (Fate PassedOver).
	PassedOver int64
	// Outputs is the number of output records produced (dead letters not
	// included).
	Outputs int64
	// StateBytes is the on-disk size of the open partitions' state.
	StateBytes int64
	// Partitions is the number of partitions owned now.
	Partitions int
	// Elapsed is the time since Run started; RecordsPerSecond is Records
	// divided by it.
	Elapsed          time.Duration
	RecordsPerSecond float64
}

// Stats returns the counters so far. Safe for concurrent use.
func (r *Runner) Stats() Stats {
	c := &r.counts
	st := Stats{Records: c.records.Load(), Processed: c.processed.Load(), Skipped: c.skipped.Load(), DeadLettered: c.deadLettered.Load(),
		PassedOver: c.passedOver.Load(), Outputs: r.outputs.Load()}
	r.mu.Lock()
	for _, p := range r.parts {
		st.StateBytes += int64(p.db.DiskUsage())
	}
	st.Partitions = len(r.parts)
	started := r.started
	r.mu.Unlock()
	if !started.IsZero() {
		st.Elapsed = time.Since(started)
		st.RecordsPerSecond = float64(st.Records) / st.Elapsed.Seconds()
	}
	return st
}

// EachHandler calls fn with the handler of every open partition, under the
// runner's lock (fn must not call back into the runner).
func (r *Runner) EachHandler(fn func(pn int32, h Handler)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pn, p := range r.parts {
		fn(pn, p.h)
	}
}

// Run consumes, processes and produces until ctx is canceled (graceful: the
// batch in hand is finished and committed, partitions are closed, the
// group is left) or a fatal error happens.
func (r *Runner) Run(ctx context.Context) error {
	ctx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	r.mu.Lock()
	r.started = time.Now()
	r.stopRun = stopRun
	r.mu.Unlock()
	opts := []kgo.Opt{
		kgo.SeedBrokers(r.cfg.Brokers...),
		kgo.ConsumerGroup(r.cfg.Group),
		kgo.ConsumeTopics(r.cfg.Inputs...),
		// Range, not cooperative-sticky: only range assigns partition p of
		// every co-partitioned input to the same member.
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.OnPartitionsAssigned(r.onAssigned),
		kgo.OnPartitionsRevoked(r.onRevoked),
		kgo.OnPartitionsLost(r.onRevoked),
		kgo.AdjustFetchOffsetsFn(r.adjustOffsets),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	}
	if r.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(r.cfg.InstanceID))
	}
	opts = append(opts, r.cfg.ClientOpts...)
	if r.cfg.Check != nil {
		if err := r.cfg.Check(ctx); err != nil {
			return err
		}
	}
	// Check the topics (and learn the output's partition count) before
	// joining the group: partition callbacks may produce right away.
	adminCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(r.cfg.Brokers...)}, r.cfg.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("runner: kafka client: %w", err)
	}
	err = r.checkTopics(ctx, adminCl)
	adminCl.Close()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("runner: kafka client: %w", err)
	}
	// hotcold join/agg checkpoint asks the running job for a copy of its
	// state here.
	defer r.serveControl()()
	r.cl = cl
	r.clShared.Store(cl)
	r.log.Info(r.cfg.Kind+" runner started", "inputs", strings.Join(r.cfg.Inputs, ","), "output", r.cfg.OutputTopic, "group", r.cfg.Group, "instance_id", r.cfg.InstanceID)
	err = r.loop(ctx)
	if err == nil {
		err = r.fatalErr()
	}
	if err != nil {
		r.failed.Store(true)
	}
	// Partitions are closed through the revoke callback when leaving.
	cl.CloseAllowingRebalance()
	r.closeAll()
	if err == nil {
		err = r.fatalErr()
	}
	return err
}

func (r *Runner) checkTopics(ctx context.Context, cl *kgo.Client) error {
	adm := kadm.NewClient(cl)
	topics := append(append([]string{}, r.cfg.Inputs...), r.cfg.OutputTopic)
	tds, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("runner: list topics on %v: %w (check the brokers: kafka.brokers or --brokers)", r.cfg.Brokers, err)
	}
	n := map[string]int{}
	for _, t := range topics {
		td, ok := tds[t]
		if !ok || td.Err != nil {
			return fmt.Errorf("runner: topic %q does not exist or is unreadable (%v): create it first", t, td.Err)
		}
		n[t] = len(td.Partitions)
	}
	first := r.cfg.Inputs[0]
	for _, t := range r.cfg.Inputs[1:] {
		if n[t] != n[first] {
			return fmt.Errorf("runner: %q has %d partitions and %q %d: the inputs must be co-partitioned by the key (same partition count and key partitioner)",
				first, n[first], t, n[t])
		}
	}
	if err := r.checkStopReachable(ctx, adm); err != nil {
		return err
	}
	r.outParts = int32(n[r.cfg.OutputTopic])
	if r.outParts < int32(n[first]) {
		r.log.Warn("output topic has fewer partitions than the inputs; using input partition modulo its count",
			"output", r.cfg.OutputTopic, "partitions", r.outParts, "inputs", n[first])
	}
	return nil
}

func (r *Runner) loop(ctx context.Context) error {
	// Work on a batch continues after cancellation so it can be committed.
	work := context.WithoutCancel(ctx)
	for {
		fetches := r.cl.PollRecords(ctx, r.cfg.MaxPollRecords)
		if err := r.fatalErr(); err != nil {
			r.cl.AllowRebalance()
			return err
		}
		if ctx.Err() != nil && fetches.NumRecords() == 0 {
			return nil
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("runner: fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			r.cl.AllowRebalance()
			return ferr
		}
		if err := r.process(work, fetches); err != nil {
			r.cl.AllowRebalance()
			return err
		}
		r.cl.AllowRebalance()
		r.checkStopReached(r.cl)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// process handles one poll batch, then commits and delivers per partition.
func (r *Runner) process(ctx context.Context, fetches kgo.Fetches) error {
	start := time.Now()
	touched := map[int32]*partition{}
	var err error
	fetches.EachRecord(func(rec *kgo.Record) {
		if err != nil {
			return
		}
		p := r.part(rec.Partition)
		if p == nil {
			return // revoked meanwhile; it will be re-read by the new owner
		}
		if !r.beforeStop(rec) {
			// At or past its stop offset: not this run's. No record
			// remains before the stop offset (the offsets between are
			// transaction markers, aborted or compacted away), so the
			// partition has reached it.
			if r.skipToStop(p, rec) {
				touched[rec.Partition] = p
			}
			return
		}
		touched[rec.Partition] = p
		err = r.handle(ctx, p, rec)
	})
	if err != nil {
		return err
	}
	for _, p := range touched {
		if err := p.commitAndDeliver(ctx, r); err != nil {
			return err
		}
	}
	offs := groupOffsets(touchedList(touched)...)
	if len(offs) > 0 {
		// For lag monitoring only; restarts resume from state offsets.
		r.cl.CommitOffsets(ctx, offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				r.log.Debug("group offset commit failed (informational only)", "err", err)
			}
		})
	}
	r.m.batchSeconds.Observe(time.Since(start).Seconds())
	return nil
}

func touchedList(m map[int32]*partition) []*partition {
	out := make([]*partition, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	return out
}

func groupOffsets(ps ...*partition) map[string]map[int32]kgo.EpochOffset {
	offs := map[string]map[int32]kgo.EpochOffset{}
	for _, p := range ps {
		for tp, off := range p.db.Offsets() {
			if offs[tp.Topic] == nil {
				offs[tp.Topic] = map[int32]kgo.EpochOffset{}
			}
			offs[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		}
	}
	return offs
}

func (r *Runner) part(p int32) *partition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parts[p]
}

// handle passes one record to its partition's handler.
func (r *Runner) handle(ctx context.Context, p *partition, rec *kgo.Record) error {
	p.inBatch = true
	fate, err := p.h.Handle(ctx, rec)
	if err != nil {
		cause, dirty := isDirty(err)
		if !dirty {
			return fmt.Errorf("runner: partition %d: %w", p.id, err)
		}
		if derr := r.dirtyRecord(p, rec, cause); derr != nil {
			return derr
		}
	} else if fate == PassedOver {
		p.batch.passedOver++
	} else {
		p.batch.processed++
	}
	p.db.SetOffset(rec.Topic, rec.Partition, rec.Offset+1)
	p.batch.records++
	return nil
}

func (r *Runner) dirtyRecord(p *partition, rec *kgo.Record, cause error) error {
	where := fmt.Sprintf("%s/%d@%d", rec.Topic, rec.Partition, rec.Offset)
	switch r.cfg.Dirty {
	case Skip:
		p.batch.skipped++
		p.batch.dirty[dirtyKey{rec.Topic, Skip}]++
		r.log.Warn(r.cfg.Kind+": skipping dirty record", "record", where, "err", cause, "raw", Sample(rec.Value))
		return nil
	case DeadLetter:
		p.batch.deadLettered++
		p.batch.dirty[dirtyKey{rec.Topic, DeadLetter}]++
		r.log.Warn(r.cfg.Kind+": dead-lettering dirty record", "record", where, "err", cause, "topic", r.cfg.DeadLetterTopic)
		return p.appendOutbox(outboxEntry{dlq: true, key: rec.Key, value: rec.Value, headers: []kgo.RecordHeader{
			{Key: "hotcold-source", Value: []byte(where)},
			{Key: "hotcold-error", Value: []byte(cause.Error())},
		}})
	}
	return fmt.Errorf("runner: dirty record %s: %w; raw: %s (set dirty: skip or dead-letter to go on)", where, cause, Sample(rec.Value))
}

func (r *Runner) adjustOffsets(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for t, ps := range offs {
		for pn := range ps {
			p := r.part(pn)
			if p == nil {
				continue
			}
			if off, ok := p.db.Offsets()[state.TopicPartition{Topic: t, Partition: pn}]; ok {
				ps[pn] = kgo.NewOffset().At(off).WithEpoch(-1)
				r.log.Info("partition starts reading", "topic", t, "partition", pn, "offset", off,
					"why", "the committed offset in its state ("+r.partDir(pn)+")")
				continue
			}
			if r.cfg.StartWithoutState == nil {
				ps[pn] = kgo.NewOffset().AtStart()
				r.log.Info("partition starts reading", "topic", t, "partition", pn, "offset", "earliest", "why", "no state yet")
				continue
			}
			var at, why string
			ps[pn], at, why = r.cfg.StartWithoutState(t, pn, p.h)
			r.log.Info("partition starts reading", "topic", t, "partition", pn, "offset", at, "why", why)
		}
	}
	return offs, nil
}

func (r *Runner) onAssigned(ctx context.Context, cl *kgo.Client, assigned map[string][]int32) {
	var opened []*partition
	defer func() {
		r.commitGroup(cl, opened...)
		r.checkStopReached(cl)
	}()
	// The partitions to open are marked opening before the first is
	// opened, so a checkpoint meanwhile waits for all of them. A partition
	// number comes once per input topic: it is opened once.
	var toOpen []int32
	r.mu.Lock()
	for _, ps := range assigned {
		for _, pn := range ps {
			if r.parts[pn] == nil && !r.opening[pn] {
				if r.opening == nil {
					r.opening = map[int32]bool{}
				}
				r.opening[pn] = true
				toOpen = append(toOpen, pn)
			}
		}
	}
	r.mu.Unlock()
	for _, pn := range toOpen {
		p, err := r.openPartition(ctx, cl, pn)
		r.mu.Lock()
		delete(r.opening, pn)
		if err == nil {
			r.parts[pn] = p
		}
		r.mu.Unlock()
		if err != nil {
			r.setFatal(err)
			continue
		}
		opened = append(opened, p)
	}
}

// commitGroup commits the committed state offsets of ps as the group's
// offsets, waiting for the answer (at most groupCommitTimeout). The group's
// offsets only show progress (lag); restarts resume from state. They are
// committed when a partition is opened (so that the lag of a restarted job
// whose state is at the end of its inputs reads zero) and when it is closed
// cleanly, besides after every batch.
func (r *Runner) commitGroup(cl *kgo.Client, ps ...*partition) {
	offs := groupOffsets(ps...)
	if cl == nil {
		cl = r.clShared.Load()
	}
	if len(offs) == 0 || cl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupCommitTimeout)
	defer cancel()
	cl.CommitOffsetsSync(ctx, offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			r.log.Debug("group offset commit failed (informational only)", "err", err)
		}
	})
}

const groupCommitTimeout = 5 * time.Second

func (r *Runner) setFatal(err error) {
	r.log.Error(r.cfg.Kind+" runner failed", "err", err)
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	stop := r.stopRun
	r.mu.Unlock()
	// Wake the poll: Run returns the error without waiting for records.
	r.failed.Store(true)
	if stop != nil {
		stop()
	}
}

func (r *Runner) fatalErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal
}

func (r *Runner) onRevoked(_ context.Context, cl *kgo.Client, revoked map[string][]int32) {
	for _, ps := range revoked {
		for _, pn := range ps {
			r.closePartition(cl, pn)
		}
	}
}

func (r *Runner) closeAll() {
	r.mu.Lock()
	var ids []int32
	for id := range r.parts {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	for _, id := range ids {
		r.closePartition(nil, id)
	}
}

func (r *Runner) closePartition(cl *kgo.Client, pn int32) {
	r.mu.Lock()
	p := r.parts[pn]
	delete(r.parts, pn)
	if p != nil && r.cfg.OnClose != nil {
		r.cfg.OnClose(pn, p.h)
	}
	r.mu.Unlock()
	if p == nil {
		return
	}
	clean := !r.failed.Load() && r.fatalErr() == nil
	if clean {
		r.commitGroup(cl, p)
	}
	if err := p.close(clean); err != nil {
		r.log.Warn("closing partition state", "partition", pn, "err", err)
	}
	r.log.Info("partition closed", "partition", pn)
}

func (r *Runner) partDir(pn int32) string {
	return filepath.Join(r.cfg.StateDir, "p"+strconv.Itoa(int(pn)))
}

// outPartition maps an input partition to the output partition.
func (r *Runner) outPartition(pn int32) int32 {
	if r.outParts <= 0 {
		return 0
	}
	return pn % r.outParts
}
