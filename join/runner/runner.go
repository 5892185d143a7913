package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/runcore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// DirtyPolicy is what happens to an input message that cannot be decoded
// or joined: Fail (the default), Skip or DeadLetter.
type DirtyPolicy = runcore.DirtyPolicy

const (
	// Fail stops the runner with an error naming the topic, partition,
	// offset and field, and a sample of the raw bytes. The default.
	Fail = runcore.Fail
	// Skip counts the message (hotcold_join_dirty_records_total, when its
	// batch is committed), logs a WARN with a sample of the raw bytes, and
	// goes on.
	Skip = runcore.Skip
	// DeadLetter writes the raw message, with headers naming its origin and
	// the error, to Config.DeadLetterTopic, and goes on.
	DeadLetter = runcore.DeadLetter
)

// ParseDirtyPolicy reads "fail", "skip" or "dead-letter".
func ParseDirtyPolicy(s string) (DirtyPolicy, error) { return runcore.ParseDirtyPolicy(s) }

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
	// Registerer are set by the runner (from the fields below). The
	// inputs' schemas (their version and column defaults) are those of the
	// state: see Manifest.
	Join join.Config
	// Job names the job in each partition's state manifest. Zero means
	// Join.Name ("join" when that is empty too).
	Job string
	// OutputName names the output in the manifest. Zero means
	// OutputTopic; a bypass's side job writes to another topic but keeps
	// the config's output name, so the switched job accepts its state.
	OutputName string
	// ConfigFile is the configuration file the Config was read from; the
	// manifest errors name it in their next steps. Optional.
	ConfigFile string
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
	// StateDir holds one state directory per partition (p<N>), each with
	// the job's manifest (Manifest): written on first start, checked on
	// every later one. Required.
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
	// StopAt, when not nil, makes Run stop by itself (returning nil) once
	// every assigned partition of every input has been processed up to, not
	// including, its offset there and committed (see runcore.StopAt; the
	// --stop-at flag).
	StopAt runcore.StopAt
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
	cc := c.core(nil)
	errs = append(errs, cc.Validate()...)
	if c.OutputFormat == row.FormatUpsertKafka && len(c.Join.OutputKey) == 0 {
		add("OutputFormat upsert-kafka needs Join.OutputKey (the output columns that identify a row)")
	}
	if len(errs) > 0 {
		return fmt.Errorf("runner: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// core is the runner core's configuration of c, running r's operator.
func (c *Config) core(r *Runner) runcore.Config {
	cc := runcore.Config{
		Kind: "join", Inputs: []string{c.LeftTopic, c.RightTopic}, OutputTopic: c.OutputTopic,
		Brokers: c.Brokers, Group: c.Group, InstanceID: c.InstanceID, ClientOpts: c.ClientOpts,
		StateDir: c.StateDir, Dirty: c.Dirty, DeadLetterTopic: c.DeadLetterTopic,
		MaxPollRecords: c.MaxPollRecords, NoSync: c.NoSync, StopAt: c.StopAt, Zone: c.Zone, Logger: c.Logger, Registerer: c.Registerer,
	}
	if r != nil {
		cc.Operator = operator{r}
		cc.Manifest = r.man
		cc.ManifestRunner = manifest.Runner{Command: "hotcold join", ConfigFile: c.ConfigFile}
		cc.StartWithoutState = r.startWithoutState
		cc.Check = r.checkCold
		cc.OnClose = r.onClose
	}
	return cc
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
	codec [2]*row.Codec
	outC  *row.Codec
	man   *manifest.Manifest
	core  *runcore.Runner

	mu       sync.Mutex    // guards finished
	finished [2]joinTotals // counters of closed partitions
}

type joinTotals struct {
	hotHits, coldHits, misses, late int64
}

// New validates cfg and checks the manifest of every partition state
// already under StateDir against the job's (Config.Manifest): the state of
// another job, of other logic, or without a manifest is an error naming
// the change and the command to run next. It does not connect; Run does.
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg, log: cfg.Logger}
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
	if r.man, err = cfg.Manifest(); err != nil {
		return nil, err
	}
	if r.core, err = runcore.New(cfg.core(r)); err != nil {
		return nil, err
	}
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
	cs := r.core.Stats()
	st := Stats{Records: cs.Records, Joined: cs.Processed, Skipped: cs.Skipped, DeadLettered: cs.DeadLettered,
		Dirty: cs.Skipped + cs.DeadLettered, BeforeWindow: cs.PassedOver, Outputs: cs.Outputs, StateBytes: cs.StateBytes,
		Partitions: cs.Partitions, Elapsed: cs.Elapsed, RecordsPerSecond: cs.RecordsPerSecond}
	r.mu.Lock()
	for i := range r.finished {
		st.HotHits += r.finished[i].hotHits
		st.ColdHits += r.finished[i].coldHits
		st.Misses += r.finished[i].misses
		st.LateRecords += r.finished[i].late
	}
	r.mu.Unlock()
	r.core.EachHandler(func(_ int32, h runcore.Handler) {
		js := h.(*handler).op.Stats()
		for _, s := range []join.SideStats{js.Left, js.Right} {
			st.HotHits += s.HotHits
			st.ColdHits += s.ColdHits
			st.Misses += s.Misses
			st.LateRecords += s.Late
		}
	})
	return st
}

// Run consumes, joins and produces until ctx is canceled (graceful: the
// batch in hand is finished and committed, partitions are closed, the
// group is left) or a fatal error happens.
func (r *Runner) Run(ctx context.Context) error {
	err := r.core.Run(ctx)
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

// handler is the join of one partition (the same partition number of both
// co-partitioned topics).
type handler struct {
	r       *Runner
	op      *join.Operator
	decoded []row.Row

	mu sync.Mutex // guards the bootstrap fields, set from franz-go's goroutine
	// bootstrapFrom holds, per topic, the hot-window start of a partition
	// that started without state.
	bootstrapFrom map[string]time.Time
	advanceTo     time.Time
}

// operator opens the join of each partition for the runner core.
type operator struct{ r *Runner }

// Open implements runcore.Operator: the join operator of partition pn.
func (o operator) Open(ctx context.Context, pn int32, db *state.DB, emit func(key, value []byte) error) (runcore.Handler, error) {
	r := o.r
	h := &handler{r: r, bootstrapFrom: map[string]time.Time{}}
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
		return emit(m.Key, m.Value)
	}
	op, err := join.New(ctx, db, jc)
	if err != nil {
		return nil, err
	}
	h.op = op
	return h, nil
}

// Handle decodes and joins one record.
func (h *handler) Handle(ctx context.Context, rec *kgo.Record) (runcore.Fate, error) {
	r := h.r
	side := join.Left
	if rec.Topic == r.cfg.RightTopic {
		side = join.Right
	}
	h.mu.Lock()
	if !h.advanceTo.IsZero() {
		// A new job: its hot window ends now, so rows older than the window
		// come from the cold store even before newer records arrive.
		h.op.Advance(h.advanceTo)
		h.advanceTo = time.Time{}
	}
	from, bootstrapping := h.bootstrapFrom[rec.Topic]
	if bootstrapping && !rec.Timestamp.Before(from) {
		delete(h.bootstrapFrom, rec.Topic)
	}
	h.mu.Unlock()
	if bootstrapping && rec.Timestamp.Before(from) {
		r.log.Debug("skipping a record before the hot window", "record", rec.Topic, "ts", rec.Timestamp, "from", from)
		return runcore.PassedOver, nil
	}
	rows, err := r.codec[side].Decode(h.decoded[:0], row.Message{Key: rec.Key, Value: rec.Value})
	h.decoded = rows[:0]
	if err != nil {
		return 0, runcore.Dirty(err)
	}
	for _, rw := range rows {
		if !rw.Kind.IsAccumulate() {
			return 0, runcore.Dirty(fmt.Errorf("a %s row: the join takes append-only inputs", rw.Kind))
		}
	}
	for _, rw := range rows {
		rw.Kind = row.Insert
		if perr := h.op.Push(ctx, side, rw); perr != nil {
			var ie *join.InputError
			if !errors.As(perr, &ie) {
				return 0, perr
			}
			return 0, runcore.Dirty(perr)
		}
	}
	return runcore.Processed, nil
}

// Flush waits for the batch's cold lookups: then all its outputs are
// emitted.
func (h *handler) Flush(ctx context.Context) error { return h.op.Flush(ctx) }

// Close closes the operator.
func (h *handler) Close() error { return h.op.Close() }

// startWithoutState is where a partition without state starts: the hot
// window (StartRetention) or the start of the topic (StartEarliest).
func (r *Runner) startWithoutState(topic string, pn int32, hh runcore.Handler) (kgo.Offset, string, string) {
	if r.cfg.StartFrom == StartEarliest {
		return kgo.NewOffset().AtStart(), "earliest", "no state yet and start_from: earliest"
	}
	days := r.cfg.Join.RetentionDays
	if days == 0 {
		days = 2
	}
	windowStart := state.DayOf(r.cfg.Now(), r.cfg.Zone) - state.Day(days) + 1
	from := windowStart.Start(r.cfg.Zone)
	// A broker may answer with the start of the batch holding the
	// timestamp: the handler passes over what precedes it.
	h := hh.(*handler)
	h.mu.Lock()
	h.bootstrapFrom[topic] = from
	h.advanceTo = r.cfg.Now()
	h.mu.Unlock()
	return kgo.NewOffset().AfterMilli(from.UnixMilli()), "first record at or after " + from.Format(time.RFC3339),
		fmt.Sprintf("no state yet and start_from: retention (the %d-day hot window; older rows come from the cold store, older records are passed over)", days)
}

// onClose adds the counters of a closing partition's operator to the
// totals. Called under the core's lock.
func (r *Runner) onClose(_ int32, hh runcore.Handler) {
	js := hh.(*handler).op.Stats()
	r.mu.Lock()
	for i, s := range []join.SideStats{js.Left, js.Right} {
		r.finished[i].hotHits += s.HotHits
		r.finished[i].coldHits += s.ColdHits
		r.finished[i].misses += s.Misses
		r.finished[i].late += s.Late
	}
	r.mu.Unlock()
}

// OutputSchema is the schema of the output rows (as encoded to
// OutputTopic).
func (r *Runner) OutputSchema() *row.Schema { return r.outC.Schema() }

// OutputFormat is the encoding of the output (OutputFormat or its
// default).
func (r *Runner) OutputFormat() row.Format { return r.outC.Format() }
