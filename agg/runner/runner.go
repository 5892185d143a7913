package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/internal/runcore"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// DirtyPolicy is what happens to an input message that cannot be decoded
// or that the operator rejects: Fail (the default), Skip or DeadLetter.
type DirtyPolicy = runcore.DirtyPolicy

const (
	// Fail stops the runner with an error naming the topic, partition,
	// offset and field, and a sample of the raw bytes; nothing pending is
	// committed. The default.
	Fail = runcore.Fail
	// Skip counts the message (hotcold_agg_dirty_records_total, when its
	// batch is committed), logs a WARN with a sample of the raw bytes, and
	// goes on.
	Skip = runcore.Skip
	// DeadLetter writes the raw message, with headers naming its origin and
	// the error, to Config.DeadLetterTopic, and goes on.
	DeadLetter = runcore.DeadLetter
)

// ParseDirtyPolicy reads "fail", "skip" or "dead-letter".
func ParseDirtyPolicy(s string) (DirtyPolicy, error) { return runcore.ParseDirtyPolicy(s) }

// Config configures a Runner. Zero fields take the defaults stated.
type Config struct {
	// Agg configures the operator of every partition. Agg.InputName
	// defaults to InputTopic and Agg.OutputName to OutputTopic; Logger and
	// Registerer are set by the runner.
	Agg agg.Config
	// Job names the job in each partition's state manifest. Zero means
	// Agg.ID.
	Job string
	// ConfigFile is the configuration file the Config was read from; the
	// manifest errors name it in their next steps. Optional.
	ConfigFile string
	// InputTopic is the changelog to aggregate. Every row of a group must be
	// in one partition: key the topic by the group columns, or by a subset
	// of them (each partition has its own state). Required.
	InputTopic string
	// InputFormat is the input encoding. Zero means changelog-json.
	InputFormat row.Format
	// OutputTopic receives the aggregate changelog, to the partition equal
	// to the input partition (a group's changes stay in order). Required.
	OutputTopic string
	// OutputFormat is the output encoding. Zero means changelog-json.
	OutputFormat row.Format
	// Brokers are the seed brokers. Required.
	Brokers []string
	// Group is the consumer group. Required.
	Group string
	// InstanceID makes this process a static member of the group
	// (KIP-345): restarted with the same ID it takes its partitions back at
	// once. Empty means a dynamic member.
	InstanceID string
	// ClientOpts are extra franz-go options (TLS, SASL, ...).
	ClientOpts []kgo.Opt
	// StateDir holds one state directory per partition (p<N>), each with
	// the job's manifest (Manifest): written on first start, checked on
	// every later one. Required.
	StateDir string
	// Dirty is the dirty-data policy. Zero means Fail.
	Dirty DirtyPolicy
	// DeadLetterTopic receives dirty messages under DeadLetter.
	DeadLetterTopic string
	// MaxPollRecords bounds one poll batch (one state commit). Zero means
	// 10000.
	MaxPollRecords int
	// NoSync skips the fsync of state commits (tests, benchmarks).
	NoSync bool
	// StopAt, when not nil, makes Run stop by itself (returning nil) once
	// every assigned partition of every input has been processed up to, not
	// including, its offset there and committed (see runcore.StopAt; the
	// --stop-at flag).
	StopAt runcore.StopAt
	// Logger receives progress and warnings. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the runner's, the operators' and the state's
	// metrics. Nil registers nothing.
	Registerer prometheus.Registerer
}

func (c *Config) core(r *Runner) runcore.Config {
	cc := runcore.Config{
		Kind: "agg", Inputs: []string{c.InputTopic}, OutputTopic: c.OutputTopic,
		Brokers: c.Brokers, Group: c.Group, InstanceID: c.InstanceID, ClientOpts: c.ClientOpts,
		StateDir: c.StateDir, Dirty: c.Dirty, DeadLetterTopic: c.DeadLetterTopic,
		MaxPollRecords: c.MaxPollRecords, NoSync: c.NoSync, StopAt: c.StopAt, Logger: c.Logger, Registerer: c.Registerer,
	}
	if r != nil {
		cc.Operator = operator{r}
		cc.Manifest = r.man
		cc.ManifestRunner = manifest.Runner{Command: "hotcold agg", ConfigFile: c.ConfigFile}
		cc.OnClose = r.onClose
	}
	return cc
}

func (c *Config) validate() error {
	var errs []error
	if c.InputTopic == "" {
		errs = append(errs, errors.New("InputTopic is required"))
	}
	if c.InputTopic != "" && c.InputTopic == c.OutputTopic {
		errs = append(errs, fmt.Errorf("InputTopic and OutputTopic are both %q", c.InputTopic))
	}
	cc := c.core(nil)
	errs = append(errs, cc.Validate()...)
	if len(errs) > 0 {
		return fmt.Errorf("runner: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// Runner aggregates a Kafka changelog topic into the changelog of the
// aggregate table: one agg.Operator and one state DB per partition, on the
// runner core shared with join (see the package documentation).
//
// A Runner is used once: call Run, then read Stats (safe at any time).
type Runner struct {
	cfg  Config
	log  *slog.Logger
	in   *row.Codec
	out  *row.Codec
	man  *manifest.Manifest
	core *runcore.Runner

	mu       sync.Mutex
	finished agg.Stats // counters of closed partitions
}

// New validates cfg, and checks the manifest of every partition state
// already under StateDir against the job's (Config.Manifest): the state of
// another job, of other logic, or without a manifest is an error naming
// the change and the command to run next. It does not connect; Run does.
func New(cfg Config) (*Runner, error) {
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
	if cfg.InputFormat == "" {
		cfg.InputFormat = row.FormatChangelogJSON
	}
	if cfg.OutputFormat == "" {
		cfg.OutputFormat = row.FormatChangelogJSON
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Agg.Logger = cfg.Logger
	cfg.Agg.Registerer = cfg.Registerer
	m, err := cfg.Manifest()
	if err != nil {
		return nil, err
	}
	man := m.Operators[0]
	r := &Runner{cfg: cfg, log: cfg.Logger, man: m}
	if r.in, err = row.NewCodec(cfg.InputFormat, cfg.Agg.Input); err != nil {
		return nil, fmt.Errorf("runner: input: %w", err)
	}
	out, err := man.Tables[0].Schema(man.Version)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	if r.out, err = row.NewCodec(cfg.OutputFormat, out); err != nil {
		return nil, fmt.Errorf("runner: output: %w", err)
	}
	if r.core, err = runcore.New(cfg.core(r)); err != nil {
		return nil, err
	}
	return r, nil
}

// Manifest returns the manifest the runner writes into, and checks
// against, every partition state directory: the job (Job, default Agg.ID)
// and its one agg operator (agg.Config.Manifest), with the input's
// columns.
func (c *Config) Manifest() (*manifest.Manifest, error) {
	ac := c.Agg
	if ac.InputName == "" {
		ac.InputName = c.InputTopic
	}
	if ac.OutputName == "" {
		ac.OutputName = c.OutputTopic
	}
	job := c.Job
	if job == "" {
		job = ac.ID
	}
	op, err := manifest.FromAgg(ac)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	return &manifest.Manifest{Job: job, Operators: []manifest.Operator{op}}, nil
}

// OutputSchema is the schema of the aggregate table: the group columns
// (its key), then the aggregates.
func (r *Runner) OutputSchema() *row.Schema { return r.out.Schema() }

// Stats is a snapshot of the runner's progress.
type Stats struct {
	// Records is the number of input records consumed and committed:
	// Aggregated + Skipped + DeadLettered.
	Records int64
	// Aggregated is the number of committed records the operator took.
	Aggregated int64
	// Skipped and DeadLettered are the committed dirty records.
	Skipped, DeadLettered int64
	// Outputs is the number of changelog records produced.
	Outputs int64
	// Late and IgnoredRetractions add up the operators' counters (see
	// agg.Stats).
	Late, IgnoredRetractions int64
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
	cs := r.core.Stats()
	st := Stats{Records: cs.Records, Aggregated: cs.Processed, Skipped: cs.Skipped, DeadLettered: cs.DeadLettered,
		Outputs: cs.Outputs, StateBytes: cs.StateBytes, Partitions: cs.Partitions, Elapsed: cs.Elapsed, RecordsPerSecond: cs.RecordsPerSecond}
	r.mu.Lock()
	st.Late, st.IgnoredRetractions = r.finished.Late, r.finished.IgnoredRetractions
	r.mu.Unlock()
	r.core.EachHandler(func(_ int32, h runcore.Handler) {
		s := h.(*handler).op.Stats()
		st.Late += s.Late
		st.IgnoredRetractions += s.IgnoredRetractions
	})
	return st
}

// Run consumes, aggregates and produces until ctx is canceled (graceful:
// the batch in hand is finished and committed, partitions are closed, the
// group is left; Run returns nil) or a fatal error happens.
func (r *Runner) Run(ctx context.Context) error {
	err := r.core.Run(ctx)
	st := r.Stats()
	r.log.Info("agg runner stopped", "records", st.Records, "aggregated", st.Aggregated, "skipped", st.Skipped,
		"dead_lettered", st.DeadLettered, "outputs", st.Outputs, "err", err)
	return err
}

func (r *Runner) onClose(_ int32, h runcore.Handler) {
	s := h.(*handler).op.Stats()
	r.mu.Lock()
	r.finished.Late += s.Late
	r.finished.IgnoredRetractions += s.IgnoredRetractions
	r.mu.Unlock()
}

type operator struct{ r *Runner }

// Open implements runcore.Operator: the agg operator of partition pn.
func (o operator) Open(_ context.Context, _ int32, db *state.DB, emit func(key, value []byte) error) (runcore.Handler, error) {
	op, err := agg.New(db, o.r.cfg.Agg)
	if err != nil {
		return nil, err
	}
	return &handler{r: o.r, op: op, emit: emit}, nil
}

// handler is the aggregation of one partition.
type handler struct {
	r        *Runner
	op       *agg.Operator
	emit     func(key, value []byte) error
	rows     []row.Row
	out      []row.Row
	messages []row.Message
}

// Handle decodes one changelog record and aggregates its rows. The
// operator changes nothing on a rejected row, and the record's outputs are
// emitted only once all its rows are taken, so a dirty record (one that
// does not decode, or whose first row is rejected) leaves no trace. A later
// row of a record rejected after earlier ones were taken (a debezium update
// whose +U is bad) is a fatal error: nothing of the batch is committed.
func (h *handler) Handle(_ context.Context, rec *kgo.Record) (runcore.Fate, error) {
	rows, err := h.r.in.Decode(h.rows[:0], row.Message{Key: rec.Key, Value: rec.Value})
	h.rows = rows[:0]
	if err != nil {
		return 0, runcore.Dirty(err)
	}
	out := h.out[:0]
	for i, in := range rows {
		if out, err = h.op.Process(out, in); err != nil {
			h.out = out[:0]
			if i > 0 {
				// The rows before it changed the state: skipping the record
				// would leave half of it counted. Stop without committing.
				return 0, fmt.Errorf("record %s/%d@%d: row %d of %d rejected after the ones before it were aggregated (%w): it cannot be skipped",
					rec.Topic, rec.Partition, rec.Offset, i+1, len(rows), err)
			}
			return 0, runcore.Dirty(err)
		}
	}
	h.out = out[:0]
	for _, o := range out {
		m, ok, err := h.r.out.Encode(o)
		if err != nil {
			return 0, fmt.Errorf("encode output %s: %w", o.Format(h.r.out.Schema()), err)
		}
		if ok {
			if err := h.emit(m.Key, m.Value); err != nil {
				return 0, err
			}
		}
	}
	return runcore.Processed, nil
}

// Flush has nothing to wait for: Handle emits at once.
func (h *handler) Flush(context.Context) error { return nil }

// Close has nothing to release: the state is the core's.
func (h *handler) Close() error { return nil }

// OutputFormat is the encoding of the output (OutputFormat or its
// default).
func (r *Runner) OutputFormat() row.Format { return r.out.Format() }
