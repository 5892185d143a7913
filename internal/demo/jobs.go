package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/agg"
	aggrunner "github.com/hotcold/hotcold/agg/runner"
	"github.com/hotcold/hotcold/internal/progress"
	"github.com/hotcold/hotcold/internal/runcore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// joinConfig is the orders JOIN refunds operator of both jobs. cold is nil
// for the baseline (no cold fallback).
func joinConfig(retentionDays int, cold join.Lookuper) join.Config {
	orders := join.Input{Name: "orders", Schema: OrdersSchema, Key: []string{"order_id"}, EventTime: "order_ts"}
	if cold != nil {
		orders.ColdTable = "orders"
	}
	return join.Config{
		Name:  "orders_refunds",
		Left:  orders,
		Right: join.Input{Name: "refunds", Schema: RefundsSchema, Key: []string{"order_id"}, EventTime: "refund_ts"},
		Output: []join.Column{
			{Side: join.Left, Source: "order_id"},
			{Side: join.Left, Source: "customer"},
			{Side: join.Left, Source: "city"},
			{Name: "order_amount", Side: join.Left, Source: "amount"},
			{Side: join.Right, Source: "refund_id"},
			{Side: join.Right, Source: "refund_ts"},
			{Side: join.Right, Source: "refund_day"},
			{Side: join.Right, Source: "refund"},
		},
		OutputKey:     []string{"refund_id"},
		Cold:          cold,
		RetentionDays: retentionDays,
	}
}

// joinJob is one run of the join runner.
type joinJob struct {
	name      string // progress step
	group     string
	topics    topics
	output    string
	stateDir  string
	retention int
	cold      join.Lookuper
	start     runner.StartFrom
	now       func() time.Time
	want      int64 // input records to consume before stopping
	// feed, when set, is produced to the input topics while the job runs
	// (see feed), with at most backlog records waiting.
	feed    []record
	backlog int64
}

// joinResult is what one run measured.
type joinResult struct {
	records int64
	outputs int64
	elapsed time.Duration
	lookups Lookups
	dirty   int64
	late    int64
}

// Lookups count the join's lookups into its orders side: for each refund,
// whether its order was in hot state, in the cold store, or not yet read
// (the refund then waits in hot state and is joined when the order
// arrives).
type Lookups struct {
	HotHits  int64 `json:"hot_hits"`
	ColdHits int64 `json:"cold_hits"`
	Misses   int64 `json:"misses"`
}

// stallTimeout is how long a job may make no progress before the demo
// gives up on it.
const stallTimeout = 2 * time.Minute

var errStalled = errors.New("no progress")

// runJoin runs the join runner on the demo's Kafka until it has consumed
// job.want records, then stops it gracefully.
func runJoin(ctx context.Context, brokers []string, job joinJob, log *slog.Logger, report func(progress.Event)) (joinResult, error) {
	reg := prometheus.NewRegistry()
	r, err := runner.New(runner.Config{
		Join:        joinConfig(job.retention, job.cold),
		LeftTopic:   job.topics.orders,
		RightTopic:  job.topics.refunds,
		OutputTopic: job.output,
		Brokers:     brokers,
		Group:       job.group,
		StateDir:    job.stateDir,
		StartFrom:   job.start,
		NoSync:      true,
		Now:         job.now,
		Logger:      log.With("job", job.group),
		Registerer:  reg,
	})
	if err != nil {
		return joinResult{}, err
	}
	st := newStep(report, job.name, "records", job.want)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.Run(rctx) }()
	// The feeder, if any, reports on fed once; feeding is true until then.
	fed := make(chan error, 1)
	feeding := job.feed != nil
	if feeding {
		go func() {
			fed <- feed(rctx, brokers, job.topics, job.feed, job.backlog, func() int64 { return r.Stats().Records })
		}()
	}
	defer func() {
		cancel()
		if feeding {
			<-fed
		}
	}()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var (
		res      joinResult
		last     int64
		lastMove = time.Now()
	)
	for {
		s := r.Stats()
		if s.Records >= job.want {
			res.elapsed = time.Since(start)
			break
		}
		if s.Records != last {
			last, lastMove = s.Records, time.Now()
		} else if time.Since(lastMove) > stallTimeout {
			cancel()
			<-done
			return res, fmt.Errorf("%s: %w for %s after %d of %d records (stats %+v)", job.name, errStalled, stallTimeout, s.Records, job.want, s)
		}
		st.set(s.Records)
		select {
		case err := <-fed:
			feeding = false
			if err != nil {
				cancel()
				<-done
				return res, fmt.Errorf("%s: %w", job.name, err)
			}
		case err := <-done:
			if err == nil {
				err = ctx.Err()
			}
			return res, fmt.Errorf("%s: the runner stopped after %d of %d records: %w", job.name, r.Stats().Records, job.want, err)
		case <-tick.C:
		}
	}
	cancel()
	if err := <-done; err != nil {
		return res, fmt.Errorf("%s: %w", job.name, err)
	}
	s := r.Stats()
	st.finish(s.Records)
	res.records, res.outputs, res.dirty, res.late = s.Records, s.Outputs, s.Dirty, s.LateRecords
	res.lookups, err = ordersLookups(reg)
	return res, err
}

// ordersLookups reads the join's per-input lookup counters for input
// "orders" from reg: where the refunds found their orders.
func ordersLookups(reg *prometheus.Registry) (Lookups, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return Lookups{}, err
	}
	var c Lookups
	for _, mf := range mfs {
		var dst *int64
		switch mf.GetName() {
		case "hotcold_join_hot_hits_total":
			dst = &c.HotHits
		case "hotcold_join_cold_hits_total":
			dst = &c.ColdHits
		case "hotcold_join_misses_total":
			dst = &c.Misses
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "input" && l.GetValue() == "orders" {
					*dst += int64(m.GetCounter().GetValue())
				}
			}
		}
	}
	return c, nil
}

// aggConfig is the aggregation over the joined stream: refund total and
// count per city and refund day.
func aggConfig() agg.Config {
	return agg.Config{
		ID:      "refunds_by_city",
		Input:   JoinedSchema,
		GroupBy: []string{"city", "refund_day"},
		Aggregates: []agg.Aggregate{
			{Name: "refund_total", Func: agg.Sum, Arg: "refund"},
			{Name: "refunds", Func: agg.Count},
		},
	}
}

// aggFormat is the aggregate's output encoding: upsert-kafka, as a Flink
// job would sink an aggregate table (-U rows are not written).
const aggFormat = row.FormatUpsertKafka

// aggResult is what one agg run measured.
type aggResult struct {
	records int64
	elapsed time.Duration
	schema  *row.Schema
}

// runAgg aggregates the whole joined topic input into output with the agg
// runner (agg/runner, what `hotcold agg` runs), stopping by itself at the
// input's current end. The agg runner keeps one state per input
// partition, so every row of a group must come through one partition:
// the joined topic has a single partition (see startKafka).
func runAgg(ctx context.Context, brokers []string, name, input, output, stateDir, group string, log *slog.Logger, report func(progress.Event)) (aggResult, error) {
	ends, total, err := endOffsets(ctx, brokers, input)
	if err != nil {
		return aggResult{}, err
	}
	r, err := aggrunner.New(aggrunner.Config{
		Agg:          aggConfig(),
		Job:          "refunds_by_city",
		Brokers:      brokers,
		InputTopic:   input,
		InputFormat:  row.FormatDebeziumJSON, // the join runner's default output format
		OutputTopic:  output,
		OutputFormat: aggFormat,
		StateDir:     stateDir,
		Group:        group,
		NoSync:       true,
		StopAt:       runcore.StopAt{input: ends},
		Logger:       log.With("job", group),
	})
	if err != nil {
		return aggResult{}, err
	}
	st := newStep(report, name, "records", total)
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return aggResult{}, fmt.Errorf("%s: %w", name, err)
			}
			s := r.Stats()
			if s.Records != total {
				return aggResult{}, fmt.Errorf("%s: the agg runner stopped after %d of the %d records of %s", name, s.Records, total, input)
			}
			res := aggResult{records: s.Records, elapsed: time.Since(start), schema: r.OutputSchema()}
			st.finish(total)
			return res, nil
		case <-tick.C:
			st.set(r.Stats().Records)
		}
	}
}

// stateBytes compacts the state of every partition of a finished job
// (so that expired day buckets no longer take space), closes it and
// returns the size of its files.
func stateBytes(ctx context.Context, dir string) (int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "p") {
			continue
		}
		pdir := filepath.Join(dir, e.Name())
		db, err := state.Open(pdir, state.Options{NoSync: true, MirrorBytes: -1})
		if err != nil {
			return 0, err
		}
		err = db.Flush()
		if err == nil {
			err = db.Compact(ctx)
		}
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, fmt.Errorf("measure state %s: %w", pdir, err)
		}
		n, err := dirSize(pdir)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
