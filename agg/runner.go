package agg

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// RunnerConfig configures a Runner: one agg operator between two Kafka
// topics, with its state in a directory.
type RunnerConfig struct {
	// Agg configures the operator. Required. Agg.InputName defaults to
	// InputTopic and Agg.OutputName to OutputTopic.
	Agg Config
	// Job names the job in the state manifest. Zero means Agg.ID.
	Job string
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// InputTopic is the changelog topic to aggregate. Required.
	InputTopic string
	// InputFormat is the encoding of the input. Zero means changelog-json.
	InputFormat row.Format
	// OutputTopic receives the aggregate changelog. Required.
	OutputTopic string
	// OutputFormat is the encoding of the output. Zero means changelog-json.
	OutputFormat row.Format
	// StateDir is the operator's state directory (created if missing). Its
	// manifest must match the operator (state.EnsureManifest). Required.
	StateDir string
	// Group is the consumer group the runner commits its offsets to after
	// each state commit, so that lag monitors (kadm) see its progress. The
	// state, not the group, is where the runner resumes. Zero means Agg.ID.
	Group string
	// SkipDirty skips input records that do not decode or that the
	// operator rejects (counted in Stats.Skipped, logged with the raw
	// bytes) instead of failing. Default false: Run returns the error.
	SkipDirty bool
	// MaxBatch is the most records processed per state commit. Zero means
	// 10000.
	MaxBatch int
	// NoSync skips fsync on state commits (tests). Default false.
	NoSync bool
	// Logger receives progress and dirty-data logs. Nil discards them.
	Logger *slog.Logger
}

func (c *RunnerConfig) validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("Brokers is empty"))
	}
	if c.InputTopic == "" {
		errs = append(errs, errors.New("InputTopic is empty"))
	}
	if c.OutputTopic == "" {
		errs = append(errs, errors.New("OutputTopic is empty"))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("StateDir is empty"))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("MaxBatch is %d, want >= 0", c.MaxBatch))
	}
	for _, f := range []row.Format{c.InputFormat, c.OutputFormat} {
		if f != "" {
			if _, err := row.ParseFormat(string(f)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("agg: invalid runner config: %w", errors.Join(errs...))
	}
	return nil
}

// Runner consumes a changelog topic, aggregates it and produces the
// aggregate changelog. It is the older runner (one state directory for all
// partitions, ConsumePartitions, StopAt), still used by hotcold demo
// (its input is not keyed by the group columns) and the console's tests;
// new jobs use package
// agg/runner (`hotcold agg`) on the runner core shared with join. Offsets, state and the produced-but-undelivered
// output (an outbox) are committed in one state batch, so a restart neither
// loses nor double-counts input; output delivered just before a crash may
// be delivered again (at least once).
//
// # Concurrency
//
// Run is called once, from one goroutine. StopAt and Offsets are safe to
// call concurrently with it. Close after Run has returned.
type Runner struct {
	cfg  RunnerConfig
	db   *state.DB
	op   *Operator
	in   *row.Codec
	out  *row.Codec
	log  *slog.Logger
	man  *state.Manifest
	cl   *kgo.Client
	adm  *kadm.Client
	skip atomic.Int64

	mu struct {
		sync.Mutex
		stopAt map[int32]int64
		wake   context.CancelFunc
	}
}

// NewRunner opens the state, checks its manifest and connects to Kafka.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Agg.InputName == "" {
		cfg.Agg.InputName = cfg.InputTopic
	}
	if cfg.Agg.OutputName == "" {
		cfg.Agg.OutputName = cfg.OutputTopic
	}
	if cfg.Job == "" {
		cfg.Job = cfg.Agg.ID
	}
	if cfg.Group == "" {
		cfg.Group = cfg.Agg.ID
	}
	if cfg.InputFormat == "" {
		cfg.InputFormat = row.FormatChangelogJSON
	}
	if cfg.OutputFormat == "" {
		cfg.OutputFormat = row.FormatChangelogJSON
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 10000
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Agg.Logger == nil {
		cfg.Agg.Logger = log
	}
	man, err := cfg.Agg.Manifest()
	if err != nil {
		return nil, err
	}
	m, err := state.EnsureManifest(cfg.StateDir, &state.Manifest{Job: cfg.Job, Operators: []state.Operator{man}})
	if err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, log: log, man: m}
	if r.in, err = row.NewCodec(cfg.InputFormat, cfg.Agg.Input); err != nil {
		return nil, fmt.Errorf("agg: input codec: %w", err)
	}
	if r.db, err = state.Open(cfg.StateDir, state.Options{Logger: log, NoSync: cfg.NoSync}); err != nil {
		return nil, err
	}
	if r.op, err = New(r.db, cfg.Agg); err != nil {
		r.db.Close()
		return nil, err
	}
	if r.out, err = row.NewCodec(cfg.OutputFormat, r.op.OutputSchema()); err != nil {
		r.db.Close()
		return nil, fmt.Errorf("agg: output codec: %w", err)
	}
	return r, nil
}

// Operator returns the runner's operator.
func (r *Runner) Operator() *Operator { return r.op }

// Manifest returns the manifest of the runner's state (as on disk, with
// any counted_from marks).
func (r *Runner) Manifest() *state.Manifest { return r.man }

// Offsets returns the committed next offset of every input partition.
func (r *Runner) Offsets() map[int32]int64 {
	out := map[int32]int64{}
	for tp, o := range r.db.Offsets() {
		if tp.Topic == r.cfg.InputTopic {
			out[tp.Partition] = o
		}
	}
	return out
}

// StopAt makes Run return once the committed offset of every partition in
// offsets has reached it, without consuming records at or past it. A
// partition already past its stop offset is an error from Run. Safe to call
// while Run is running.
func (r *Runner) StopAt(offsets map[int32]int64) {
	r.mu.Lock()
	r.mu.stopAt = maps.Clone(offsets)
	wake := r.mu.wake
	r.mu.Unlock()
	if wake != nil {
		wake()
	}
}

// Skipped returns the number of dirty records skipped (SkipDirty).
func (r *Runner) Skipped() int64 { return r.skip.Load() }

// Run consumes until ctx is done (returning ctx.Err() after committing
// what it processed) or until the StopAt offsets are reached (returning
// nil).
func (r *Runner) Run(ctx context.Context) error {
	r.adm = nil
	start, err := r.startOffsets(ctx)
	if err != nil {
		return err
	}
	parts := map[int32]kgo.Offset{}
	committed := r.Offsets()
	for p, o := range start {
		parts[p] = kgo.NewOffset().At(o)
		if _, ok := committed[p]; !ok {
			// Record where a new partition starts, so that Offsets is
			// explicit about every partition.
			r.db.SetOffset(r.cfg.InputTopic, p, o)
		}
	}
	if len(committed) != len(start) {
		if err := r.db.Commit(); err != nil {
			return err
		}
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(r.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.cfg.InputTopic: parts}),
		kgo.DefaultProduceTopic(r.cfg.OutputTopic),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return fmt.Errorf("agg: kafka client: %w", err)
	}
	defer cl.Close()
	r.cl = cl
	r.adm = kadm.NewClient(cl)
	if err := r.deliver(ctx); err != nil {
		return err
	}
	r.log.Info("agg: runner started", "operator", r.cfg.Agg.ID, "input", r.cfg.InputTopic, "output", r.cfg.OutputTopic, "offsets", fmt.Sprint(start))
	var rows, outRows []row.Row
	var entry []byte
	for {
		if done, err := r.stopReached(); done || err != nil {
			return err
		}
		pollCtx, cancel := context.WithCancel(ctx)
		r.mu.Lock()
		r.mu.wake = cancel
		r.mu.Unlock()
		fetches := cl.PollRecords(pollCtx, r.cfg.MaxBatch)
		r.mu.Lock()
		r.mu.wake = nil
		stopAt := r.mu.stopAt
		r.mu.Unlock()
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = err
			}
		})
		if ferr != nil {
			return fmt.Errorf("agg: fetch %s: %w", r.cfg.InputTopic, ferr)
		}
		n := 0
		var procErr error
		fetches.EachRecord(func(rec *kgo.Record) {
			if procErr != nil {
				return
			}
			if stop, ok := stopAt[rec.Partition]; ok && rec.Offset >= stop {
				return
			}
			rows = rows[:0]
			rows, err = r.in.Decode(rows, row.Message{Key: rec.Key, Value: rec.Value})
			if err == nil {
				outRows = outRows[:0]
				for _, in := range rows {
					if outRows, err = r.op.Process(outRows, in); err != nil {
						break
					}
				}
			}
			if err != nil {
				if !r.cfg.SkipDirty {
					procErr = fmt.Errorf("agg: %s partition %d offset %d: %w (set SkipDirty to skip such records)", rec.Topic, rec.Partition, rec.Offset, err)
					return
				}
				r.skip.Add(1)
				r.log.Warn("agg: skipped dirty record", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "error", err, "value", string(rec.Value))
				outRows = outRows[:0]
			}
			for _, o := range outRows {
				m, ok, err := r.out.Encode(o)
				if err != nil {
					procErr = fmt.Errorf("agg: encode output: %w", err)
					return
				}
				if !ok {
					continue
				}
				entry = appendEntry(entry[:0], m)
				if err := r.db.AppendOutbox(entry); err != nil {
					procErr = err
					return
				}
			}
			r.db.SetOffset(rec.Topic, rec.Partition, rec.Offset+1)
			n++
		})
		if procErr != nil {
			return procErr
		}
		if n == 0 {
			// Only records past a stop offset (or a wake-up): make sure the
			// stop offsets of idle partitions count as reached.
			continue
		}
		if err := r.db.Commit(); err != nil {
			return err
		}
		if err := r.deliver(ctx); err != nil {
			return err
		}
	}
}

// startOffsets returns where each input partition resumes: the state's
// committed offset, else the partition's start.
func (r *Runner) startOffsets(ctx context.Context) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.cfg.Brokers...))
	if err != nil {
		return nil, fmt.Errorf("agg: kafka client: %w", err)
	}
	defer cl.Close()
	starts, err := kadm.NewClient(cl).ListStartOffsets(ctx, r.cfg.InputTopic)
	if err != nil {
		return nil, fmt.Errorf("agg: list offsets of %s: %w", r.cfg.InputTopic, err)
	}
	if err := starts.Error(); err != nil {
		return nil, fmt.Errorf("agg: list offsets of %s: %w", r.cfg.InputTopic, err)
	}
	committed := r.Offsets()
	out := map[int32]int64{}
	starts.Each(func(o kadm.ListedOffset) {
		out[o.Partition] = o.Offset
		if c, ok := committed[o.Partition]; ok && c > o.Offset {
			out[o.Partition] = c
		}
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("agg: input topic %q has no partitions; create it first", r.cfg.InputTopic)
	}
	return out, nil
}

func (r *Runner) stopReached() (bool, error) {
	r.mu.Lock()
	stopAt := r.mu.stopAt
	r.mu.Unlock()
	if stopAt == nil {
		return false, nil
	}
	off := r.Offsets()
	for p, stop := range stopAt {
		cur, ok := off[p]
		if !ok {
			cur = 0
		}
		if cur > stop {
			return false, fmt.Errorf("agg: partition %d is already at offset %d, past the stop offset %d", p, cur, stop)
		}
		if cur < stop {
			return false, nil
		}
	}
	r.log.Info("agg: runner reached its stop offsets", "operator", r.cfg.Agg.ID, "offsets", fmt.Sprint(stopAt))
	return true, nil
}

// deliver produces the committed outbox, clears it and commits the
// consumer group offsets for lag monitors.
func (r *Runner) deliver(ctx context.Context) error {
	var recs []*kgo.Record
	err := r.db.Outbox(func(v []byte) error {
		m, err := decodeEntry(v)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Key: m.Key, Value: m.Value})
		return nil
	})
	if err != nil {
		return fmt.Errorf("agg: read outbox: %w", err)
	}
	if len(recs) > 0 {
		if err := r.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("agg: produce to %s: %w", r.cfg.OutputTopic, err)
		}
		if err := r.db.ClearOutbox(); err != nil {
			return err
		}
		if err := r.db.Commit(); err != nil {
			return err
		}
	}
	offs := kadm.Offsets{}
	for p, o := range r.Offsets() {
		offs.Add(kadm.Offset{Topic: r.cfg.InputTopic, Partition: p, At: o, LeaderEpoch: -1})
	}
	if len(offs) > 0 {
		resp, err := r.adm.CommitOffsets(ctx, r.cfg.Group, offs)
		if err == nil {
			err = resp.Error()
		}
		if err != nil && ctx.Err() == nil {
			r.log.Warn("agg: commit group offsets for lag monitoring failed", "group", r.cfg.Group, "error", err)
		}
	}
	return nil
}

// Close closes the state. Call it after Run has returned.
func (r *Runner) Close() error { return r.db.Close() }

// An outbox entry: flags (1: has value), uvarint key length, key, value.
func appendEntry(dst []byte, m row.Message) []byte {
	var flags byte
	if m.Value != nil {
		flags = 1
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(m.Key)))
	dst = append(dst, m.Key...)
	return append(dst, m.Value...)
}

func decodeEntry(b []byte) (row.Message, error) {
	if len(b) < 1 {
		return row.Message{}, errors.New("agg: corrupt outbox entry")
	}
	flags := b[0]
	l, n := binary.Uvarint(b[1:])
	if n <= 0 || l > uint64(len(b)-1-n) {
		return row.Message{}, errors.New("agg: corrupt outbox entry")
	}
	key := b[1+n : 1+n+int(l)]
	var m row.Message
	if len(key) > 0 {
		m.Key = append([]byte(nil), key...)
	}
	if flags&1 != 0 {
		m.Value = append([]byte{}, b[1+n+int(l):]...)
	}
	return m, nil
}
