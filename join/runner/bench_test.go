package runner_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

var (
	benchOrdersPerDay = flag.Int("orders-per-day", 20000, "orders per day in BenchmarkOrdersRefunds30Days")
	benchDays         = flag.Int("days", 30, "days of orders in BenchmarkOrdersRefunds30Days")
)

type benchEvent struct {
	orders bool
	r      row.Row
	at     time.Time
	value  []byte // JSON
	key    []byte
}

// genBench makes perDay orders a day over days days; 5% of orders are
// refunded once, uniformly up to 30 days later (refunds past the last day
// are not generated). Events are in event-time order.
func genBench(perDay, days int) (evs []benchEvent, orders []row.Row) {
	rng := rand.New(rand.NewPCG(1, 2))
	end := epoch.Add(time.Duration(days) * 24 * time.Hour)
	id, rid := int64(0), int64(0)
	for d := 0; d < days; d++ {
		for i := 0; i < perDay; i++ {
			id++
			// Spread over the day in milliseconds (i*24h in nanoseconds would
			// overflow int64 past ~106k orders a day).
			at := epoch.Add(time.Duration(d)*24*time.Hour + time.Duration(int64(i)*86_400_000/int64(perDay))*time.Millisecond)
			o := row.New(row.Int64Value(id), row.TimestampValue(at.UnixMilli()), row.StringValue(fmt.Sprintf("customer-%d", rng.IntN(100000))), row.Int64Value(rng.Int64N(100000)))
			orders = append(orders, o)
			v, _ := json.Marshal(order{ID: id, TS: at.Format("2006-01-02 15:04:05.000"), Customer: o.Values[2].Str(), Amount: o.Values[3].Int64()})
			evs = append(evs, benchEvent{orders: true, r: o, at: at, value: v, key: []byte(fmt.Sprint(id))})
			if rng.IntN(20) == 0 {
				rat := at.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
				if rat.Before(end) {
					rid++
					r := row.New(row.Int64Value(rid), row.Int64Value(id), row.TimestampValue(rat.UnixMilli()), row.Int64Value(rng.Int64N(1000)))
					v, _ := json.Marshal(refund{ID: rid, OrderID: id, TS: rat.Format("2006-01-02 15:04:05.000"), Refund: r.Values[3].Int64()})
					evs = append(evs, benchEvent{r: r, at: rat, value: v, key: []byte(fmt.Sprint(id))})
				}
			}
		}
	}
	slices.SortStableFunc(evs, func(a, b benchEvent) int { return a.at.Compare(b.at) })
	return evs, orders
}

type opRun struct {
	wall, cpu  time.Duration
	records    int
	outputs    map[string]int
	diskBytes  int64 // the live state directory, write-ahead logs included
	ckBytes    int64 // a checkpoint of the state (what a restore copies)
	tableBytes int64 // live sstables: the state itself
	stats      join.Stats
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// runOperator pushes the events through one operator. With cold, orders
// are backed by a cold store that a daily load publishes at the start of
// each day, covering everything before yesterday (the load's time is not
// counted: it is the warehouse's job).
func runOperator(b *testing.B, evs []benchEvent, orders []row.Row, dir string, cold bool, retention int) opRun {
	ctx := context.Background()
	db, err := state.Open(dir, state.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	res := opRun{outputs: map[string]int{}}
	cfg := joinConfig(nil)
	cfg.RetentionDays = retention
	cfg.CoverageRefresh = -1
	var mem *coldstore.Memory
	if cold {
		mem = coldstore.NewMemory()
		// The table exists (empty, covering nothing) before the first
		// daily load: a join does not start on a missing cold table.
		if err := mem.Publish("orders", "empty", ordersSchema, time.Time{}, nil); err != nil {
			b.Fatal(err)
		}
		cfg.Cold = mem
	} else {
		cfg.Left.ColdTable = ""
	}
	cfg.Emit = func(r row.Row) error {
		k := fmt.Sprint(r.Values)
		if r.Kind.IsAccumulate() {
			res.outputs[k]++
		} else {
			res.outputs[k]--
		}
		return nil
	}
	op, err := join.New(ctx, db, cfg)
	if err != nil {
		b.Fatal(err)
	}
	publishedFor := state.Day(-1 << 30)
	oi := 0
	var wall, cpu time.Duration
	start, cpu0 := time.Now(), cpuTime()
	pause := func() { wall += time.Since(start); cpu += cpuTime() - cpu0 }
	resume := func() { start, cpu0 = time.Now(), cpuTime() }
	for i, e := range evs {
		if d := state.DayOf(e.at, nil); cold && d > publishedFor {
			pause()
			covers := (d - 1).Start(nil)
			for oi < len(orders) && row.TimeOf(orders[oi].Values[1], ordersSchema.Column(1).Type).Before(covers) {
				oi++
			}
			if err := mem.Publish("orders", d.String(), ordersSchema, covers, orders[:oi]); err != nil {
				b.Fatal(err)
			}
			publishedFor = d
			runtime.GC() // collect the load's garbage outside the measurement
			resume()
		}
		side := join.Right
		if e.orders {
			side = join.Left
		}
		if err := op.Push(ctx, side, e.r); err != nil {
			b.Fatal(err)
		}
		if i%10000 == 9999 || i == len(evs)-1 {
			if err := op.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	pause()
	res.wall, res.cpu, res.records = wall, cpu, len(evs)
	res.stats = op.Stats()
	op.Close()
	if err := db.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := db.Compact(ctx); err != nil {
		b.Fatal(err)
	}
	res.tableBytes = int64(db.TableBytes())
	if err := db.Checkpoint(ctx, dir+"-checkpoint"); err != nil {
		b.Fatal(err)
	}
	res.ckBytes = dirSize(dir + "-checkpoint")
	db.Close()
	res.diskBytes = dirSize(dir)
	for k, n := range res.outputs {
		if n == 0 {
			delete(res.outputs, k)
		}
	}
	return res
}

// bootstrap measures how long a new job takes to consume its start window
// from Kafka (group join, fetch, decode, join, state commit).
func bootstrap(b *testing.B, brokers []string, dir string, cfg runner.Config, want int64) (time.Duration, runner.Stats) {
	r, err := runner.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.Run(ctx) }()
	for r.Stats().Records < want {
		select {
		case err := <-done:
			cancel()
			b.Fatalf("runner stopped: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	st := r.Stats()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return elapsed, st
}

// BenchmarkOrdersRefunds30Days compares the hot/cold join (2-day hot
// window, orders backed by a cold store) with the same operator keeping 30
// days of state and no cold store (the usual Flink setup), on the same
// orders/refunds stream, in one run. See BENCHMARKS.part.md.
func BenchmarkOrdersRefunds30Days(b *testing.B) {
	days, perDay := *benchDays, *benchOrdersPerDay
	evs, orders := genBench(perDay, days)
	var refunds int
	for _, e := range evs {
		if !e.orders {
			refunds++
		}
	}
	b.Logf("workload: %d days x %d orders/day = %d orders, %d refunds (5%% refunded up to 30 days later), %d records",
		days, perDay, len(orders), refunds, len(evs))
	for i := 0; i < b.N; i++ {
		// Operator alone: throughput, state size, output.
		hc := runOperator(b, evs, orders, filepath.Join(b.TempDir(), "hotcold"), true, 2)
		base := runOperator(b, evs, orders, filepath.Join(b.TempDir(), "baseline"), false, days)
		same := len(hc.outputs) == len(base.outputs)
		for k, n := range base.outputs {
			if hc.outputs[k] != n {
				same = false
			}
		}
		if !same || len(base.outputs) != refunds {
			refundsIn := func(m map[string]int) map[int64]bool {
				out := map[int64]bool{}
				for k := range m {
					f := strings.Fields(strings.Trim(k, "[]"))
					if len(f) == 5 {
						var rid int64
						fmt.Sscan(f[3], &rid)
						out[rid] = true
					}
				}
				return out
			}
			inHC, inBase := refundsIn(hc.outputs), refundsIn(base.outputs)
			shown := 0
			for _, e := range evs {
				rid := e.r.Values[0].Int64()
				if e.orders || shown >= 10 || (inHC[rid] && inBase[rid]) {
					continue
				}
				shown++
				oid := e.r.Values[1].Int64()
				b.Logf("refund %d (order %d, order time %v, refund time %v): in hot/cold %v, in baseline %v", rid, oid,
					row.TimeOf(orders[oid-1].Values[1], ordersSchema.Column(1).Type), e.at, inHC[rid], inBase[rid])
			}
			b.Logf("hot/cold stats %+v", hc.stats)
			b.Logf("baseline stats %+v", base.stats)
			b.Fatalf("merged outputs differ: hot/cold %d rows, baseline %d rows, %d refunds", len(hc.outputs), len(base.outputs), refunds)
		}
		b.Logf("merged output: identical, %d rows (one per refund)", len(base.outputs))
		for _, r := range []struct {
			name string
			run  opRun
		}{{"hot/cold (2 days + cold)", hc}, {"baseline (30 days, no cold)", base}} {
			b.Logf("%-28s records/s wall %8.0f  records/cpu-s %8.0f  state sstables %7.2f MiB  checkpoint %7.2f MiB  live dir (with WAL) %7.2f MiB  hot hits %d cold hits %d misses %d",
				r.name, float64(r.run.records)/r.run.wall.Seconds(), float64(r.run.records)/r.run.cpu.Seconds(), float64(r.run.tableBytes)/(1<<20), float64(r.run.ckBytes)/(1<<20), float64(r.run.diskBytes)/(1<<20),
				r.run.stats.Left.HotHits, r.run.stats.Left.ColdHits, r.run.stats.Left.Misses)
		}
		b.ReportMetric(float64(base.tableBytes)/float64(hc.tableBytes), "state-sstable-ratio")
		b.ReportMetric(float64(base.ckBytes)/float64(hc.ckBytes), "state-checkpoint-ratio")
		b.ReportMetric(float64(base.diskBytes)/float64(hc.diskBytes), "state-dir-ratio")
		b.ReportMetric((float64(hc.records)/hc.cpu.Seconds())/(float64(base.records)/base.cpu.Seconds()), "throughput-ratio-cpu")
		b.ReportMetric((float64(hc.records)/hc.wall.Seconds())/(float64(base.records)/base.wall.Seconds()), "throughput-ratio-wall")

		// Bootstrap a new job from Kafka at the end of the period.
		c := newCluster(b)
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(5*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		recs := make([]*kgo.Record, 0, 10000)
		for j, e := range evs {
			topic := "refunds"
			if e.orders {
				topic = "orders"
			}
			recs = append(recs, &kgo.Record{Topic: topic, Key: e.key, Value: e.value, Timestamp: e.at})
			if len(recs) == cap(recs) || j == len(evs)-1 {
				if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		cl.Close()
		now := epoch.Add(time.Duration(days)*24*time.Hour - time.Minute)
		windowStart := epoch.Add(time.Duration(days-2) * 24 * time.Hour)
		var inWindow int64
		var coldRows []row.Row
		for _, e := range evs {
			if !e.at.Before(windowStart) {
				inWindow++
			}
		}
		for _, o := range orders {
			if row.TimeOf(o.Values[1], ordersSchema.Column(1).Type).Before(windowStart) {
				coldRows = append(coldRows, o)
			}
		}
		mem := coldstore.NewMemory()
		if err := mem.Publish("orders", "v", ordersSchema, windowStart, coldRows); err != nil {
			b.Fatal(err)
		}
		hcCfg := runnerConfig(c.ListenAddrs(), b.TempDir(), mem)
		hcCfg.StartFrom, hcCfg.Now, hcCfg.Group, hcCfg.MaxPollRecords = runner.StartRetention, func() time.Time { return now }, "bootstrap-hotcold", 10000
		hcBoot, hcSt := bootstrap(b, c.ListenAddrs(), hcCfg.StateDir, hcCfg, inWindow)
		baseCfg := runnerConfig(c.ListenAddrs(), b.TempDir(), nil)
		baseCfg.Join.Left.ColdTable = ""
		baseCfg.Join.RetentionDays = days
		baseCfg.StartFrom, baseCfg.Now, baseCfg.Group, baseCfg.MaxPollRecords = runner.StartRetention, func() time.Time { return now }, "bootstrap-baseline", 10000
		baseBoot, baseSt := bootstrap(b, c.ListenAddrs(), baseCfg.StateDir, baseCfg, int64(len(evs)))
		b.Logf("bootstrap from Kafka: hot/cold %v (%d records, %d cold hits), baseline %v (%d records)",
			hcBoot.Round(time.Millisecond), hcSt.Records, hcSt.ColdHits, baseBoot.Round(time.Millisecond), baseSt.Records)
		b.ReportMetric(baseBoot.Seconds()/hcBoot.Seconds(), "bootstrap-speedup")
	}
}
