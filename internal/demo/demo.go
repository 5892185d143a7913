package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/progress"
	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// Defaults of Config.
const (
	DefaultDays         = 30
	DefaultOrdersPerDay = 20_000
	DefaultHotDays      = 2
	DefaultPartitions   = 3
	DefaultSeed         = 1
)

const (
	// backlogWindow is the event time a live-fed job may have waiting in
	// Kafka: how far apart its two inputs can be read.
	backlogWindow = 2 * time.Hour
	// minBacklog is the smallest backlog in records.
	minBacklog = 100
)

// DefaultStart is the first day of the generated month.
var DefaultStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// markerFile marks a directory made by the demo: a rerun may clear the
// demo's own subdirectories in it, and nothing else.
const markerFile = ".hotcold-demo"

// Config configures a demo run. The zero value of every field but Dir is
// its default.
type Config struct {
	// Dir holds everything the run writes: the warehouse export
	// (Dir/warehouse/orders/dt=YYYY-MM-DD/part-0.parquet), the cold store
	// (Dir/cold), the jobs' state (Dir/state) and the sidecar's socket. It
	// must be new, empty, or a directory of an earlier demo run (whose
	// outputs are then replaced). Required; the run removes nothing when
	// it ends.
	Dir string
	// Days is the number of days of orders and refunds. It must exceed
	// HotDays. Default 30.
	Days int
	// OrdersPerDay is the number of orders a day; about 15% are refunded.
	// Default 20000.
	OrdersPerDay int
	// HotDays is the hot window of the hot/cold job in days; everything
	// older is in the cold store. Default 2.
	HotDays int
	// Partitions is the number of partitions of every input topic (the
	// joined topics, which the aggregation reads, have one: see startKafka).
	// Default 3.
	Partitions int
	// Seed picks the generated workload; the same seed and sizes give the
	// same data. Default 1.
	Seed uint64
	// Start is the first day (a midnight, UTC). Default DefaultStart
	// (2026-11-01), so that runs are reproducible.
	Start time.Time
	// Progress, when set, receives the progress of every step, from one
	// goroutine at a time. Default nil: none.
	Progress func(progress.Event)
	// Logger receives the logs of the components (runners, sidecar, cold
	// store). Default nil: discarded.
	Logger *slog.Logger
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.Days == 0 {
		d.Days = DefaultDays
	}
	if d.OrdersPerDay == 0 {
		d.OrdersPerDay = DefaultOrdersPerDay
	}
	if d.HotDays == 0 {
		d.HotDays = DefaultHotDays
	}
	if d.Partitions == 0 {
		d.Partitions = DefaultPartitions
	}
	if d.Seed == 0 {
		d.Seed = DefaultSeed
	}
	if d.Start.IsZero() {
		d.Start = DefaultStart
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}

func (c *Config) validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("Dir is required: the directory for the warehouse export, cold store and state"))
	}
	if c.Days < 0 || c.OrdersPerDay < 0 || c.HotDays < 0 || c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("Days (%d), OrdersPerDay (%d), HotDays (%d) and Partitions (%d) must not be negative",
			c.Days, c.OrdersPerDay, c.HotDays, c.Partitions))
	} else if c.Days <= c.HotDays {
		errs = append(errs, fmt.Errorf("Days is %d: it must exceed HotDays (%d), so that some days are cold", c.Days, c.HotDays))
	}
	if c.OrdersPerDay > 10_000_000 {
		errs = append(errs, fmt.Errorf("OrdersPerDay is %d: at most 10000000", c.OrdersPerDay))
	}
	if c.Partitions > 64 {
		errs = append(errs, fmt.Errorf("Partitions is %d: at most 64", c.Partitions))
	}
	if !c.Start.IsZero() && !c.Start.Equal(c.Start.UTC().Truncate(24*time.Hour)) {
		errs = append(errs, fmt.Errorf("Start %s is not a UTC midnight", c.Start))
	}
	if len(errs) > 0 {
		return fmt.Errorf("demo: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// Run runs the whole demo in Dir: it generates the workload, exports the
// cold days as Parquet, bulk-loads them into the Pebble cold store, serves
// it with the lookup sidecar on a unix socket, feeds the workload live to
// the full-retention baseline join and to the hot/cold join (cold fallback
// through the sidecar) on an in-process Kafka, runs a fresh job of each
// kind from the complete topics to time its bootstrap, aggregates both
// joined streams, and compares the merged outputs. Every component is
// stopped before Run returns; the files stay.
//
// A run whose outputs differ still returns its Report (Identical false)
// and a nil error: the error is for runs that could not be carried out.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	begin, cpu0 := time.Now(), cpuTime()
	if err := prepareDir(c.Dir); err != nil {
		return nil, err
	}
	log := c.Logger
	rep := &Report{Days: c.Days, OrdersPerDay: c.OrdersPerDay, HotDays: c.HotDays, Partitions: c.Partitions, Seed: c.Seed, Dir: c.Dir}
	// Record every step's duration, and pass the reports on.
	user := c.Progress
	c.Progress = func(p progress.Event) {
		if p.Final {
			rep.Steps = append(rep.Steps, StepTime{Step: p.Op, Seconds: p.Elapsed.Seconds(), Done: p.Done, Unit: p.Unit})
		}
		if user != nil {
			user(p)
		}
	}

	// 1. The workload and the warehouse export of the cold days.
	st := newStep(c.Progress, "generate workload", "orders", int64(c.Days*c.OrdersPerDay))
	w := Generate(c.Start, c.Days, c.OrdersPerDay, c.Seed)
	st.finish(int64(len(w.Orders)))
	rep.Orders, rep.Refunds = len(w.Orders), len(w.Refunds)
	coldDays := c.Days - c.HotDays
	windowStart := w.DayStart(coldDays)
	exportStart := time.Now()
	paths, fileBytes, err := exportOrders(ctx, filepath.Join(c.Dir, "warehouse"), w, coldDays, c.Progress)
	if err != nil {
		return nil, err
	}
	rep.Cold = ColdLoad{Days: coldDays, Files: len(paths), FileBytes: fileBytes, ExportSeconds: time.Since(exportStart).Seconds(),
		Version: "dt=" + w.DayStart(coldDays-1).Format(time.DateOnly), CoversUntil: windowStart}

	// 2. Bulk load into the embedded Pebble cold store.
	coldDir := filepath.Join(c.Dir, "cold")
	store, err := coldstore.OpenPebble(coldDir, &coldstore.PebbleOptions{Logger: log.With("component", "coldstore"), CacheSize: 64 << 20})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	lr, err := loadCold(ctx, store, paths, rep.Cold.Version, windowStart, c.Progress)
	if err != nil {
		return nil, fmt.Errorf("load the cold store: %w", err)
	}
	rep.Cold.Rows, rep.Cold.LoadSeconds = lr.Rows, lr.Seconds
	if rep.Cold.StoreBytes, err = dirSize(coldDir); err != nil {
		return nil, err
	}

	// 3. The sidecar on a unix socket, and its Go client.
	sock, cleanSock, err := socketPath(c.Dir)
	if err != nil {
		return nil, err
	}
	defer cleanSock()
	token := rand.Text()
	stopSidecar, err := startSidecar(ctx, store, sock, token, log)
	if err != nil {
		return nil, err
	}
	defer stopSidecar()
	client, err := sidecar.Dial("unix://"+sock, sidecar.WithToken(token))
	if err != nil {
		return nil, fmt.Errorf("dial the sidecar: %w", err)
	}
	defer client.Close()

	// 4. Kafka. Each job gets its own copy of the inputs, fed to it live.
	kc, err := startKafka(c.Partitions, topicsOf("baseline"), topicsOf("hotcold"))
	if err != nil {
		return nil, err
	}
	defer kc.Close()
	brokers := kc.ListenAddrs()
	st = newStep(c.Progress, "encode records", "records", int64(len(w.Orders)+len(w.Refunds)))
	recs := encodeWorkload(w)
	st.finish(int64(len(recs)))

	// 5. The jobs, each fed the month live; then a fresh job of each kind
	// bootstraps from the complete topics.
	stateDir := filepath.Join(c.Dir, "state")
	all := int64(len(recs))
	backlog := max(all/int64(c.Days)*int64(backlogWindow)/int64(24*time.Hour), minBacklog)
	now := func() time.Time { return w.End().Add(-time.Minute) }
	blT, hcT := topicsOf("baseline"), topicsOf("hotcold")
	bl, err := runJoin(ctx, brokers, joinJob{name: "join: baseline", group: "demo-baseline", topics: blT, output: blT.joined,
		stateDir: filepath.Join(stateDir, "baseline"), retention: c.Days, start: runner.StartEarliest, now: now, want: all,
		feed: recs, backlog: backlog}, log, c.Progress)
	if err != nil {
		return nil, err
	}
	timed := newTimedLookuper(client)
	hc, err := runJoin(ctx, brokers, joinJob{name: "join: hot/cold", group: "demo-hotcold", topics: hcT, output: hcT.joined,
		stateDir: filepath.Join(stateDir, "hotcold"), retention: c.HotDays, cold: timed, start: runner.StartEarliest, now: now, want: all,
		feed: recs, backlog: backlog}, log, c.Progress)
	if err != nil {
		return nil, err
	}
	recs = nil // fed to both jobs; the bootstraps read Kafka
	blBoot, err := runJoin(ctx, brokers, joinJob{name: "bootstrap: baseline", group: "demo-baseline-bootstrap", topics: blT, output: blT.bootstrap,
		stateDir: filepath.Join(stateDir, "baseline-bootstrap"), retention: c.Days, start: runner.StartEarliest, now: now, want: all}, log, c.Progress)
	if err != nil {
		return nil, err
	}
	hcBoot, err := runJoin(ctx, brokers, joinJob{name: "bootstrap: hot/cold", group: "demo-hotcold-bootstrap", topics: hcT, output: hcT.bootstrap,
		stateDir: filepath.Join(stateDir, "hotcold-bootstrap"), retention: c.HotDays, cold: client, start: runner.StartRetention, now: now,
		want: w.Records(windowStart)}, log, c.Progress)
	if err != nil {
		return nil, err
	}
	// The inputs are consumed: free their memory in Kafka.
	if err := deleteTopics(ctx, brokers, blT.orders, blT.refunds, hcT.orders, hcT.refunds); err != nil {
		return nil, err
	}

	// 6. The aggregation over each joined stream.
	aggBL, err := runAgg(ctx, brokers, "agg: baseline", blT.joined, blT.agg, filepath.Join(stateDir, "agg-baseline"), "demo-agg-baseline", log, c.Progress)
	if err != nil {
		return nil, err
	}
	aggHC, err := runAgg(ctx, brokers, "agg: hot/cold", hcT.joined, hcT.agg, filepath.Join(stateDir, "agg-hotcold"), "demo-agg-hotcold", log, c.Progress)
	if err != nil {
		return nil, err
	}

	// 7. Compare the merged outputs.
	if err := compareOutputs(ctx, brokers, w, windowStart, aggBL.schema, rep, c.Progress); err != nil {
		return nil, err
	}

	// 8. State sizes, and the report.
	blBytes, err := stateBytes(ctx, filepath.Join(stateDir, "baseline"))
	if err != nil {
		return nil, err
	}
	hcBytes, err := stateBytes(ctx, filepath.Join(stateDir, "hotcold"))
	if err != nil {
		return nil, err
	}
	rep.Baseline = jobReport("baseline", c.Days, bl, blBytes, blBoot, nil)
	rep.HotCold = jobReport("hot/cold", c.HotDays, hc, hcBytes, hcBoot, timed)
	rep.HotCold.BootstrapColdHits = hcBoot.lookups.ColdHits
	rep.AggSeconds = aggBL.elapsed.Seconds() + aggHC.elapsed.Seconds()
	rep.AggRecords = aggBL.records + aggHC.records
	rep.Seconds = time.Since(begin).Seconds()
	rep.CPUSeconds = (cpuTime() - cpu0).Seconds()
	return rep, nil
}

func jobReport(name string, retention int, run joinResult, stateBytes int64, boot joinResult, timed *timedLookuper) JobReport {
	jr := JobReport{
		Name:             name,
		RetentionDays:    retention,
		Records:          run.records,
		Seconds:          run.elapsed.Seconds(),
		StateBytes:       stateBytes,
		BootstrapRecords: boot.records,
		BootstrapSeconds: boot.elapsed.Seconds(),
		Lookups:          run.lookups,
		Outputs:          run.outputs,
		Dirty:            run.dirty,
		Late:             run.late,
	}
	if jr.Seconds > 0 {
		jr.RecordsPerSecond = float64(jr.Records) / jr.Seconds
	}
	if timed != nil {
		l := timed.latency()
		jr.Sidecar = &l
	}
	return jr
}

// compareOutputs merges the changelogs of the three joins and two aggs
// into tables and compares them with each other and with the in-memory
// reference.
func compareOutputs(ctx context.Context, brokers []string, w *Workload, windowStart time.Time, aggSchema *row.Schema, rep *Report, report func(progress.Event)) error {
	blT, hcT := topicsOf("baseline"), topicsOf("hotcold")
	var total int64
	for _, t := range []string{blT.joined, hcT.joined, hcT.bootstrap, blT.agg, hcT.agg} {
		_, n, err := endOffsets(ctx, brokers, t)
		if err != nil {
			return err
		}
		total += n
	}
	st := newStep(report, "compare outputs", "records", total)
	joinCodec, err := row.NewCodec(row.FormatDebeziumJSON, JoinedSchema)
	if err != nil {
		return err
	}
	aggCodec, err := row.NewCodec(aggFormat, aggSchema)
	if err != nil {
		return err
	}
	var read int64
	merge := func(topic string, codec *row.Codec) (*mock.Table, error) {
		t := mock.NewTable(codec.Schema())
		n, err := readChangelog(ctx, brokers, topic, codec, st, read, t.Apply)
		read += n
		if err != nil {
			return nil, err
		}
		for _, p := range t.Problems() {
			if p.Fatal {
				return nil, fmt.Errorf("merge %s: %s", topic, p)
			}
		}
		return t, nil
	}
	bl, err := merge(blT.joined, joinCodec)
	if err != nil {
		return err
	}
	hc, err := merge(hcT.joined, joinCodec)
	if err != nil {
		return err
	}
	bs, err := merge(hcT.bootstrap, joinCodec)
	if err != nil {
		return err
	}
	aggBL, err := merge(blT.agg, aggCodec)
	if err != nil {
		return err
	}
	aggHC, err := merge(hcT.agg, aggCodec)
	if err != nil {
		return err
	}
	st.finish(read)

	c := &rep.Comparison
	c.JoinRows, c.AggRows = bl.Len(), aggBL.Len()
	diffs := map[string]*mock.Diff{
		"join: hot/cold vs baseline":  mock.Compare(JoinedSchema, bl.Rows(), hc.Rows(), mock.CompareOptions{}),
		"agg: hot/cold vs baseline":   mock.Compare(aggSchema, aggBL.Rows(), aggHC.Rows(), mock.CompareOptions{}),
		"join: baseline vs reference": mock.Compare(JoinedSchema, w.ExpectedJoin(time.Time{}), bl.Rows(), mock.CompareOptions{}),
		"agg: baseline vs reference":  mock.Compare(aggSchema, w.ExpectedAgg(), aggBL.Rows(), mock.CompareOptions{}),
	}
	// The bootstrapped job sees only the refunds of the hot window: its
	// table must equal the baseline's rows for those refunds.
	var inWindow []row.Row
	rtIdx := JoinedSchema.Index("refund_ts")
	for _, r := range bl.Rows() {
		if r.Values[rtIdx].Int64() >= windowStart.UnixMilli() {
			inWindow = append(inWindow, r)
		}
	}
	c.BootstrapRows = bs.Len()
	diffs["bootstrap: hot/cold vs baseline (hot window)"] = mock.Compare(JoinedSchema, inWindow, bs.Rows(), mock.CompareOptions{})
	c.JoinIdentical = diffs["join: hot/cold vs baseline"].Empty()
	c.AggIdentical = diffs["agg: hot/cold vs baseline"].Empty()
	c.BootstrapIdentical = diffs["bootstrap: hot/cold vs baseline (hot window)"].Empty()
	c.MatchesReference = diffs["join: baseline vs reference"].Empty() && diffs["agg: baseline vs reference"].Empty()
	for _, name := range []string{"join: hot/cold vs baseline", "agg: hot/cold vs baseline", "bootstrap: hot/cold vs baseline (hot window)",
		"join: baseline vs reference", "agg: baseline vs reference"} {
		if d := diffs[name]; !d.Empty() {
			c.Diffs = append(c.Diffs, name+": "+truncate(d.String(), 2000))
		}
	}
	rep.Identical = c.JoinIdentical && c.AggIdentical && c.BootstrapIdentical && c.MatchesReference
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// prepareDir makes sure dir is new, empty, or an earlier demo's directory
// (whose outputs it clears), and marks it as the demo's.
func prepareDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("demo directory %s: %w", dir, err)
	case len(ents) > 0:
		if _, err := os.Stat(filepath.Join(dir, markerFile)); err != nil {
			return fmt.Errorf("demo directory %s is not empty and was not made by hotcold demo: pass a new or empty directory", dir)
		}
		for _, sub := range []string{"warehouse", "cold", "state", "sidecar.sock"} {
			if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
				return fmt.Errorf("clear the previous demo run: %w", err)
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, markerFile), []byte("made by hotcold demo; a rerun replaces warehouse/, cold/ and state/ here\n"), 0o644)
}

// socketPath returns the sidecar's socket path: Dir/sidecar.sock, or a
// short temporary path when that exceeds the unix socket path limit.
func socketPath(dir string) (string, func(), error) {
	abs, err := filepath.Abs(filepath.Join(dir, "sidecar.sock"))
	if err != nil {
		return "", nil, err
	}
	if len(abs) < 100 {
		return abs, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "hcdemo")
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(tmp, "sidecar.sock"), func() { os.RemoveAll(tmp) }, nil
}

// startSidecar serves store on a unix socket, to the holder of token only,
// until the returned stop function is called (it waits for the server to
// drain).
func startSidecar(ctx context.Context, store coldstore.Store, sock, token string, log *slog.Logger) (func(), error) {
	srv, err := sidecar.NewServer(store, sidecar.Options{
		Logger:     log.With("component", "sidecar"),
		Registerer: prometheus.NewRegistry(),
		Jobs:       []sidecar.Job{{Name: "hotcold-demo", Token: token, Tables: []string{"orders"}}},
	})
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- srv.Run(sctx, sidecar.Listeners{Unix: sock, Ready: func(sidecar.Addrs) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("start the sidecar on %s: %w", sock, err)
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			log.Warn("sidecar stopped with an error", "err", err)
		}
	}, nil
}
