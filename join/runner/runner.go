package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// DirtyPolicy is what happens to an input message that cannot be decoded
// or joined.
type DirtyPolicy uint8

const (
	// Fail stops the runner with an error naming the topic, partition,
	// offset and field, and a sample of the raw bytes. The default.
	Fail DirtyPolicy = iota
	// Skip counts the message (hotcold_join_dirty_records_total), logs a
	// WARN with a sample of the raw bytes, and goes on.
	Skip
	// DeadLetter writes the raw message, with headers naming its origin and
	// the error, to Config.DeadLetterTopic, and goes on.
	DeadLetter
)

// ParseDirtyPolicy reads "fail", "skip" or "dead-letter".
func ParseDirtyPolicy(s string) (DirtyPolicy, error) {
	switch s {
	case "", "fail":
		return Fail, nil
	case "skip":
		return Skip, nil
	case "dead-letter", "dlq", "deadletter":
		return DeadLetter, nil
	}
	return 0, fmt.Errorf("runner: dirty-data policy %q: want fail, skip or dead-letter", s)
}

func (p DirtyPolicy) String() string {
	switch p {
	case Skip:
		return "skip"
	case DeadLetter:
		return "dead-letter"
	}
	return "fail"
}

// StartFrom says where a partition without state starts consuming.
type StartFrom uint8

const (
	// StartRetention starts at the first record of the hot window (by
	// record timestamp): a new job bootstraps from RetentionDays of Kafka
	// and finds everything older in the cold store. The default.
	StartRetention StartFrom = iota
	// StartEarliest starts at the beginning of each partition.
	StartEarliest
)

// ParseStartFrom reads "retention" or "earliest".
func ParseStartFrom(s string) (StartFrom, error) {
	switch s {
	case "", "retention":
		return StartRetention, nil
	case "earliest":
		return StartEarliest, nil
	}
	return 0, fmt.Errorf("runner: start-from %q: want retention or earliest", s)
}

// Config configures a Runner. Zero fields take the defaults stated.
type Config struct {
	// Join configures the operator of every partition. Emit, Logger and
	// Registerer are set by the runner (from the fields below).
	Join join.Config
	// LeftTopic and RightTopic are the input topics of Join.Left and
	// Join.Right. They must have the same number of partitions and be
	// partitioned by the join key (co-partitioned).
	LeftTopic, RightTopic string
	// LeftFormat and RightFormat are the input encodings. Zero means
	// row.FormatJSON. Decoded retractions (-U, -D) are dirty data: the join
	// takes append-only inputs.
	LeftFormat, RightFormat row.Format
	// OutputTopic receives the changelog. It needs at least as many
	// partitions as the inputs (output partition = input partition, so the
	// changes of a join key stay in order); with fewer, partition modulo
	// its count is used.
	OutputTopic string
	// OutputFormat is the changelog encoding. Zero means
	// row.FormatDebeziumJSON; row.FormatUpsertKafka needs Join.OutputKey.
	OutputFormat row.Format
	// Brokers are the seed brokers.
	Brokers []string
	// Group is the consumer group. Required.
	Group string
	// InstanceID, if set, makes this process a static member of the group
	// (group.instance.id, KIP-345): a process restarted with the same ID
	// (after a crash or kill -9) takes its partitions back at once instead
	// of waiting for the dead member's session to time out (45 s by
	// default). Each process of a group needs its own ID. A static member
	// does not leave the group when it stops, so its partitions move to
	// another member only after the session timeout. Empty means a dynamic
	// member.
	InstanceID string
	// ClientOpts are extra franz-go options (TLS, SASL, ...), applied after
	// the runner's own.
	ClientOpts []kgo.Opt
	// StateDir holds one state directory per partition (p<N>). Required.
	StateDir string
	// Dirty is the dirty-data policy. Zero means Fail.
	Dirty DirtyPolicy
	// DeadLetterTopic receives dirty messages under DeadLetter.
	DeadLetterTopic string
	// StartFrom is where a partition without state starts. Zero means
	// StartRetention.
	StartFrom StartFrom
	// WaitCold is how long Run waits for an unreachable cold side (the
	// sidecar not up yet) before failing. Zero means Run fails at once. A
	// missing cold table or a cold schema that does not fit is never
	// waited for.
	WaitCold time.Duration
	// MaxPollRecords bounds one poll batch (one state commit). Zero means
	// 10000.
	MaxPollRecords int
	// NoSync skips the fsync of state commits (tests, benchmarks). Default
	// false.
	NoSync bool
	// Zone is the time zone of the event-time days. Nil means UTC.
	Zone *time.Location
	// Now is the clock used to find the start of the hot window when
	// bootstrapping. Zero means time.Now.
	Now func() time.Time
	// Logger receives progress and warnings. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the runner's, the operators' and the state's
	// metrics. Nil registers nothing.
	Registerer prometheus.Registerer
}

func (c *Config) validate() error {
	var errs []error
	add := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if c.LeftTopic == "" || c.RightTopic == "" {
		add("LeftTopic and RightTopic are required")
	} else if c.LeftTopic == c.RightTopic {
		add("LeftTopic and RightTopic are both %q: the inputs need their own topics", c.LeftTopic)
	}
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
	if c.OutputFormat == row.FormatUpsertKafka && len(c.Join.OutputKey) == 0 {
		add("OutputFormat upsert-kafka needs Join.OutputKey (the output columns that identify a row)")
	}
	if c.MaxPollRecords < 0 {
		add("MaxPollRecords is %d, want >= 1", c.MaxPollRecords)
	}
	if len(errs) > 0 {
		return fmt.Errorf("runner: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// Runner runs a hot/cold join between two Kafka topics: one operator and
// one state DB per partition, outputs to a topic.
//
// # Delivery
//
// Every poll batch is one state transaction per partition: the state
// mutations, the consumed offsets and the encoded output records (an
// outbox) are committed in one Pebble batch, then the outputs are produced
// (idempotent producer), and the outbox is cleared with the next batch. A
// restart resumes from the offsets in state (not the group's committed
// offsets, which are written only for lag monitoring) and first re-produces
// the outbox. So state updates happen exactly once, and output is
// at-least-once with exact re-emission: a crash between commit and
// delivery re-sends the same records in the same order, which a changelog
// merge (upsert by the output key) absorbs.
//
// A Runner is used once: call Run, then read Stats (safe at any time).
type Runner struct {
	cfg   Config
	log   *slog.Logger
	m     *runnerMetrics
	codec [2]*row.Codec
	outC  *row.Codec

	cl       *kgo.Client
	outParts int32

	mu    sync.Mutex // guards parts for Stats
	parts map[int32]*partition

	started  time.Time
	counts   runnerCounts // committed input records, by fate
	outputs  atomic.Int64
	finished [2]joinTotals // counters of closed partitions
	fatal    error         // guarded by mu
	// failed is set once Run is stopping on an error: from then on no
	// partition commits pending work when it is closed.
	failed atomic.Bool
}

type joinTotals struct {
	records, hotHits, coldHits, misses, late int64
}

// New validates cfg. It does not connect; Run does.
func New(cfg Config) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.LeftFormat == "" {
		cfg.LeftFormat = row.FormatJSON
	}
	if cfg.RightFormat == "" {
		cfg.RightFormat = row.FormatJSON
	}
	if cfg.OutputFormat == "" {
		cfg.OutputFormat = row.FormatDebeziumJSON
	}
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg, log: cfg.Logger, parts: map[int32]*partition{}}
	var err error
	if r.codec[join.Left], err = row.NewCodec(cfg.LeftFormat, cfg.Join.Left.Schema); err != nil {
		return nil, fmt.Errorf("runner: left input: %w", err)
	}
	if r.codec[join.Right], err = row.NewCodec(cfg.RightFormat, cfg.Join.Right.Schema); err != nil {
		return nil, fmt.Errorf("runner: right input: %w", err)
	}
	// Validate the join config now by building an operator over a
	// throw-away state, so that errors surface before connecting.
	probe, err := r.outputSchema()
	if err != nil {
		return nil, err
	}
	if r.outC, err = row.NewCodec(cfg.OutputFormat, probe); err != nil {
		return nil, fmt.Errorf("runner: output: %w", err)
	}
	r.m = newRunnerMetrics(cfg.Registerer)
	return r, nil
}

func (r *Runner) outputSchema() (*row.Schema, error) {
	dir, err := os.MkdirTemp("", "hotcold-join-probe-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := state.Open(dir, state.Options{NoSync: true, CacheBytes: 1 << 20})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	jc := r.cfg.Join
	jc.Emit = func(row.Row) error { return nil }
	jc.Cold = nil
	jc.Left.ColdTable, jc.Right.ColdTable = "", ""
	op, err := join.New(context.Background(), db, jc)
	if err != nil {
		if r.cfg.Join.Cold == nil && (r.cfg.Join.Left.ColdTable != "" || r.cfg.Join.Right.ColdTable != "") {
			return nil, fmt.Errorf("runner: %w (and a cold table is set without Join.Cold)", err)
		}
		return nil, fmt.Errorf("runner: %w", err)
	}
	defer op.Close()
	if jc2 := r.cfg.Join; jc2.Type == join.LeftOuter && jc2.Left.ColdTable != "" {
		return nil, fmt.Errorf("runner: left outer join with a cold table on the left input: back the right input instead")
	}
	return op.OutputSchema(), nil
}

// Stats is a snapshot of the runner's progress.
type Stats struct {
	// Records is the number of input records consumed and committed:
	// Joined + Skipped + DeadLettered + BeforeWindow.
	Records int64
	// Joined is the number of committed records that went through the join.
	Joined int64
	// Skipped and DeadLettered are the committed dirty records, skipped
	// (Skip) or written to the dead-letter topic (DeadLetter); Dirty is
	// their sum.
	Skipped, DeadLettered, Dirty int64
	// BeforeWindow is the number of records a new job read and passed over
	// because they precede its hot window (StartRetention): their rows are
	// the cold store's.
	BeforeWindow int64
	// Outputs is the number of changelog records produced.
	Outputs int64
	// HotHits, ColdHits and Misses add up the lookups of all partitions
	// (both inputs), LateRecords the late records.
	HotHits, ColdHits, Misses, LateRecords int64
	// StateBytes is the on-disk size of the open partitions' state.
	StateBytes int64
	// Partitions is the number of partitions owned now.
	Partitions int
	// Elapsed is the time since Run started, and RecordsPerSecond is
	// Records divided by it.
	Elapsed          time.Duration
	RecordsPerSecond float64
}

// Stats returns the counters so far. Safe for concurrent use.
func (r *Runner) Stats() Stats {
	c := &r.counts
	st := Stats{Records: c.records.Load(), Joined: c.joined.Load(), Skipped: c.skipped.Load(), DeadLettered: c.deadLettered.Load(),
		BeforeWindow: c.beforeWindow.Load(), Outputs: r.outputs.Load()}
	st.Dirty = st.Skipped + st.DeadLettered
	r.mu.Lock()
	for i := range r.finished {
		st.HotHits += r.finished[i].hotHits
		st.ColdHits += r.finished[i].coldHits
		st.Misses += r.finished[i].misses
		st.LateRecords += r.finished[i].late
	}
	for _, p := range r.parts {
		js := p.op.Stats()
		for _, s := range []join.SideStats{js.Left, js.Right} {
			st.HotHits += s.HotHits
			st.ColdHits += s.ColdHits
			st.Misses += s.Misses
			st.LateRecords += s.Late
		}
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

// Run consumes, joins and produces until ctx is canceled (graceful: the
// batch in hand is finished and committed, partitions are closed, the
// group is left) or a fatal error happens.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	r.started = time.Now()
	r.mu.Unlock()
	opts := []kgo.Opt{
		kgo.SeedBrokers(r.cfg.Brokers...),
		kgo.ConsumerGroup(r.cfg.Group),
		kgo.ConsumeTopics(r.cfg.LeftTopic, r.cfg.RightTopic),
		// Range, not cooperative-sticky: only range assigns partition p of
		// both co-partitioned inputs to the same member.
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
	if err := r.checkCold(ctx); err != nil {
		return err
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
	r.cl = cl
	r.log.Info("join runner started", "left", r.cfg.LeftTopic, "right", r.cfg.RightTopic, "output", r.cfg.OutputTopic, "group", r.cfg.Group, "instance_id", r.cfg.InstanceID)
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
	st := r.Stats()
	r.log.Info("join runner stopped", "records", st.Records, "joined", st.Joined, "skipped", st.Skipped, "dead_lettered", st.DeadLettered,
		"before_window", st.BeforeWindow, "outputs", st.Outputs, "err", err)
	return err
}

// checkCold fails closed on the cold side before joining the group: an
// unreachable cold store or sidecar (waited for up to WaitCold), a missing
// cold table or a cold schema that does not fit the input stops Run.
func (r *Runner) checkCold(ctx context.Context) error {
	deadline := time.Now().Add(r.cfg.WaitCold)
	backoff := 100 * time.Millisecond
	for {
		err := join.CheckCold(ctx, r.cfg.Join)
		if err == nil {
			return nil
		}
		var se *join.ColdSchemaError
		if errors.Is(err, coldstore.ErrNoTable) || errors.As(err, &se) || ctx.Err() != nil || !time.Now().Add(backoff).Before(deadline) {
			hint := ""
			if r.cfg.WaitCold == 0 && !errors.Is(err, coldstore.ErrNoTable) && !errors.As(err, &se) {
				hint = " (start the cold side first, or pass --wait-cold DURATION to wait for it)"
			}
			return fmt.Errorf("runner: the cold side is not usable: %w%s", err, hint)
		}
		r.log.Info("waiting for the cold side", "err", err, "retry_in", backoff, "wait_until", deadline.Format(time.RFC3339))
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("runner: the cold side is not usable: %w", err)
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (r *Runner) checkTopics(ctx context.Context, cl *kgo.Client) error {
	adm := kadm.NewClient(cl)
	tds, err := adm.ListTopics(ctx, r.cfg.LeftTopic, r.cfg.RightTopic, r.cfg.OutputTopic)
	if err != nil {
		return fmt.Errorf("runner: list topics on %v: %w (check the brokers: kafka.brokers or --brokers)", r.cfg.Brokers, err)
	}
	n := map[string]int{}
	for _, t := range []string{r.cfg.LeftTopic, r.cfg.RightTopic, r.cfg.OutputTopic} {
		td, ok := tds[t]
		if !ok || td.Err != nil {
			return fmt.Errorf("runner: topic %q does not exist or is unreadable (%v): create it first", t, td.Err)
		}
		n[t] = len(td.Partitions)
	}
	if n[r.cfg.LeftTopic] != n[r.cfg.RightTopic] {
		return fmt.Errorf("runner: %q has %d partitions and %q %d: the inputs must be co-partitioned by the join key (same partition count and key partitioner)",
			r.cfg.LeftTopic, n[r.cfg.LeftTopic], r.cfg.RightTopic, n[r.cfg.RightTopic])
	}
	r.outParts = int32(n[r.cfg.OutputTopic])
	if r.outParts < int32(n[r.cfg.LeftTopic]) {
		r.log.Warn("output topic has fewer partitions than the inputs; using input partition modulo its count",
			"output", r.cfg.OutputTopic, "partitions", r.outParts, "inputs", n[r.cfg.LeftTopic])
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
		if ctx.Err() != nil {
			return nil
		}
	}
}

// process joins one poll batch, then commits and delivers per partition.
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
		touched[rec.Partition] = p
		err = r.handle(ctx, p, rec)
	})
	if err != nil {
		return err
	}
	for _, p := range touched {
		if err := p.commitAndDeliver(ctx, r, r.cl); err != nil {
			return err
		}
	}
	offs := map[string]map[int32]kgo.EpochOffset{}
	for _, p := range touched {
		for tp, off := range p.db.Offsets() {
			if offs[tp.Topic] == nil {
				offs[tp.Topic] = map[int32]kgo.EpochOffset{}
			}
			offs[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		}
	}
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

func (r *Runner) part(p int32) *partition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parts[p]
}

// handle decodes and joins one record.
func (r *Runner) handle(ctx context.Context, p *partition, rec *kgo.Record) error {
	side := join.Left
	if rec.Topic == r.cfg.RightTopic {
		side = join.Right
	}
	p.inBatch = true
	r.mu.Lock()
	if !p.advanceTo.IsZero() {
		// A new job: its hot window ends now, so rows older than the window
		// come from the cold store even before newer records arrive.
		p.op.Advance(p.advanceTo)
		p.advanceTo = time.Time{}
	}
	from, bootstrapping := p.bootstrapFrom[rec.Topic]
	if bootstrapping && !rec.Timestamp.Before(from) {
		delete(p.bootstrapFrom, rec.Topic)
	}
	r.mu.Unlock()
	if bootstrapping && rec.Timestamp.Before(from) {
		r.log.Debug("skipping a record before the hot window", "record", rec.Topic, "ts", rec.Timestamp, "from", from)
		p.db.SetOffset(rec.Topic, rec.Partition, rec.Offset+1)
		p.batch.records++
		p.batch.beforeWindow++
		return nil
	}
	rows, err := r.codec[side].Decode(p.decoded[:0], row.Message{Key: rec.Key, Value: rec.Value})
	p.decoded = rows[:0]
	if err == nil {
		for _, rw := range rows {
			if !rw.Kind.IsAccumulate() {
				err = fmt.Errorf("a %s row: the join takes append-only inputs", rw.Kind)
				break
			}
		}
	}
	if err == nil {
		for _, rw := range rows {
			rw.Kind = row.Insert
			if perr := p.op.Push(ctx, side, rw); perr != nil {
				var ie *join.InputError
				if !errors.As(perr, &ie) {
					return fmt.Errorf("runner: partition %d: %w", p.id, perr)
				}
				err = perr
				break
			}
		}
	}
	if err != nil {
		if derr := r.dirtyRecord(p, rec, err); derr != nil {
			return derr
		}
	} else {
		p.batch.joined++
	}
	p.db.SetOffset(rec.Topic, rec.Partition, rec.Offset+1)
	p.batch.records++
	return nil
}

func sample(b []byte) string {
	const max = 256
	s := b
	if len(s) > max {
		s = s[:max]
	}
	if utf8.Valid(s) {
		out := string(s)
		if len(b) > max {
			out += "…(" + strconv.Itoa(len(b)) + " bytes)"
		}
		return out
	}
	return fmt.Sprintf("%x", s)
}

func (r *Runner) dirtyRecord(p *partition, rec *kgo.Record, cause error) error {
	where := fmt.Sprintf("%s/%d@%d", rec.Topic, rec.Partition, rec.Offset)
	switch r.cfg.Dirty {
	case Skip:
		p.batch.skipped++
		r.m.dirty.WithLabelValues(rec.Topic, "skip").Inc()
		r.log.Warn("join: skipping dirty record", "record", where, "err", cause, "raw", sample(rec.Value))
		return nil
	case DeadLetter:
		p.batch.deadLettered++
		r.m.dirty.WithLabelValues(rec.Topic, "dead-letter").Inc()
		r.log.Warn("join: dead-lettering dirty record", "record", where, "err", cause, "topic", r.cfg.DeadLetterTopic)
		return p.appendOutbox(outboxEntry{dlq: true, key: rec.Key, value: rec.Value, headers: []kgo.RecordHeader{
			{Key: "hotcold-source", Value: []byte(where)},
			{Key: "hotcold-error", Value: []byte(cause.Error())},
		}})
	}
	return fmt.Errorf("runner: dirty record %s: %w; raw: %s (set dirty: skip or dead-letter to go on)", where, cause, sample(rec.Value))
}

func (r *Runner) adjustOffsets(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	r.log.Debug("adjusting start offsets", "offsets", fmt.Sprint(offs))
	days := r.cfg.Join.RetentionDays
	if days == 0 {
		days = 2
	}
	windowStart := state.DayOf(r.cfg.Now(), r.cfg.Zone) - state.Day(days) + 1
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
			if r.cfg.StartFrom == StartEarliest {
				ps[pn] = kgo.NewOffset().AtStart()
				r.log.Info("partition starts reading", "topic", t, "partition", pn, "offset", "earliest",
					"why", "no state yet and start_from: earliest")
			} else {
				from := windowStart.Start(r.cfg.Zone)
				r.log.Info("partition starts reading", "topic", t, "partition", pn, "offset", "first record at or after "+from.Format(time.RFC3339),
					"why", fmt.Sprintf("no state yet and start_from: retention (the %d-day hot window; older rows come from the cold store, older records are passed over)", days))
				ps[pn] = kgo.NewOffset().AfterMilli(from.UnixMilli())
				// A broker may answer with the start of the batch holding
				// the timestamp: skip what precedes it.
				r.mu.Lock()
				p.bootstrapFrom[t] = from
				p.advanceTo = r.cfg.Now()
				r.mu.Unlock()
			}
		}
	}
	return offs, nil
}

func (r *Runner) onAssigned(ctx context.Context, cl *kgo.Client, assigned map[string][]int32) {
	var opened []*partition
	defer func() { r.commitGroup(opened...) }()
	for _, ps := range assigned {
		for _, pn := range ps {
			if r.part(pn) != nil {
				continue
			}
			p, err := r.openPartition(ctx, cl, pn)
			if err != nil {
				r.setFatal(err)
				continue
			}
			r.mu.Lock()
			r.parts[pn] = p
			r.mu.Unlock()
			opened = append(opened, p)
		}
	}
}

// commitGroup commits the committed state offsets of ps as the group's
// offsets, waiting for the answer (at most groupCommitTimeout). The group's
// offsets only show progress (lag); restarts resume from state. They are
// committed when a partition is opened (so that the lag of a restarted job
// whose state is at the end of its inputs reads zero) and when it is closed
// cleanly, besides after every batch.
func (r *Runner) commitGroup(ps ...*partition) {
	offs := map[string]map[int32]kgo.EpochOffset{}
	for _, p := range ps {
		for tp, off := range p.db.Offsets() {
			if offs[tp.Topic] == nil {
				offs[tp.Topic] = map[int32]kgo.EpochOffset{}
			}
			offs[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		}
	}
	if len(offs) == 0 || r.cl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupCommitTimeout)
	defer cancel()
	r.cl.CommitOffsetsSync(ctx, offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			r.log.Debug("group offset commit failed (informational only)", "err", err)
		}
	})
}

const groupCommitTimeout = 5 * time.Second

func (r *Runner) setFatal(err error) {
	r.log.Error("join runner failed", "err", err)
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	r.mu.Unlock()
}

func (r *Runner) fatalErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal
}

func (r *Runner) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	for _, ps := range revoked {
		for _, pn := range ps {
			r.closePartition(pn)
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
		r.closePartition(id)
	}
}

func (r *Runner) closePartition(pn int32) {
	r.mu.Lock()
	p := r.parts[pn]
	delete(r.parts, pn)
	if p != nil {
		js := p.op.Stats()
		for i, s := range []join.SideStats{js.Left, js.Right} {
			r.finished[i].hotHits += s.HotHits
			r.finished[i].coldHits += s.ColdHits
			r.finished[i].misses += s.Misses
			r.finished[i].late += s.Late
		}
	}
	r.mu.Unlock()
	if p == nil {
		return
	}
	clean := !r.failed.Load() && r.fatalErr() == nil
	if clean {
		r.commitGroup(p)
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
