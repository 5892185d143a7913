package statemigrate_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
	"github.com/hotcold/hotcold/statemigrate"
)

// benchState writes a join state of n order rows (as the join stores them:
// a uvarint then the row) and its manifest into dir.
func benchState(b *testing.B, dir string, n int) *manifest.Manifest {
	b.Helper()
	m := &manifest.Manifest{Job: "bench", Operators: []manifest.Operator{joinManifest()}}
	if _, err := manifest.Ensure(dir, m); err != nil {
		b.Fatal(err)
	}
	db, err := state.Open(dir, state.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ns, err := db.Namespace("orders_refunds/orders", state.Retention{Days: 30})
	if err != nil {
		b.Fatal(err)
	}
	cities := []string{"beijing", "shanghai", "guangzhou", "shenzhen", "hangzhou"}
	var key, val []byte
	for i := 0; i < n; i++ {
		ts := day0.UnixMilli() + int64(i)*1000
		r := row.New(row.Int64Value(int64(i)), row.StringValue(cities[i%5]), row.Date32Value(int32(ts/86400000)), row.TimestampValue(ts))
		key, _ = row.AppendKey(key[:0], []row.Type{row.Int64}, r.Values[:1])
		val = binary.AppendUvarint(val[:0], 0)
		if val, err = ordersSchema.AppendValue(val, r); err != nil {
			b.Fatal(err)
		}
		if _, err := ns.Put(state.DayOf(row.TimeOf(r.Values[3], ordersSchema.Column(3).Type), nil), key, val); err != nil {
			b.Fatal(err)
		}
		if i%50000 == 49999 {
			db.SetOffset("orders", 0, int64(i+1))
			if err := db.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := db.Commit(); err != nil {
		b.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkApply migrates a state of 1M join rows: "rewrite" drops a
// column (every row decoded and re-encoded), "metadata" appends one (rows
// copied as they are). The baselines copy the same state without looking
// at the values: "baseline-batch" iterates a generic Pebble store and
// writes batches, "baseline-sst" is state.Rewrite without a row function
// (Apply's own I/O path — sstables ingested into a fresh store — without
// decoding, re-encoding and verification).
func BenchmarkApply(b *testing.B) {
	const n = 1_000_000
	src := b.TempDir()
	from := benchState(b, src, n)

	rewrite := from.Clone()
	rewrite.Operators[0].Version = 2
	cols := rewrite.Operators[0].Tables[0].Columns
	rewrite.Operators[0].Tables[0].Columns = append(cols[:2:2], cols[3]) // drop order_day
	metadata := from.Clone()
	metadata.Operators[0].Version = 2
	metadata.Operators[0].Tables[0].Columns = append(metadata.Operators[0].Tables[0].Columns,
		manifest.Column{Name: "channel", Type: row.String, Nullable: true})

	run := func(b *testing.B, copy func(out string) int64) {
		var maxHeap uint64
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			out := filepath.Join(b.TempDir(), fmt.Sprint(i))
			before := cpuTime()
			rows := copy(out)
			cpu += cpuTime() - before
			if rows != n {
				b.Fatalf("copied %d rows, want %d", rows, n)
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			maxHeap = max(maxHeap, ms.HeapInuse)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		// Throughput per CPU second of the process: robust to other load on
		// a shared machine.
		b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "rows/cpu-s")
		b.ReportMetric(float64(maxHeap)/(1<<20), "MiB-heap")
	}
	for _, tc := range []struct {
		name string
		to   *manifest.Manifest
	}{{"rewrite", rewrite}, {"metadata", metadata}} {
		b.Run(tc.name, func(b *testing.B) {
			plan := statemigrate.NewPlan(from, tc.to)
			var maxHeap uint64
			run(b, func(out string) int64 {
				res, err := statemigrate.Apply(context.Background(), src, plan, out, statemigrate.ApplyOptions{
					ProgressEvery: 100_000,
					Progress: func(statemigrate.ApplyProgress) {
						var ms runtime.MemStats
						runtime.ReadMemStats(&ms)
						maxHeap = max(maxHeap, ms.HeapInuse)
					},
				})
				if err != nil {
					b.Fatal(err)
				}
				return res.Operators[0].Rows
			})
			b.ReportMetric(float64(maxHeap)/(1<<20), "MiB-heap-during")
		})
	}
	b.Run("baseline-batch", func(b *testing.B) {
		run(b, func(out string) int64 { return batchCopy(b, src, out) })
	})
	b.Run("baseline-sst", func(b *testing.B) {
		run(b, func(out string) int64 {
			res, err := state.Rewrite(context.Background(), src, out, state.RewriteOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return res.Rows["orders_refunds/orders"]
		})
	})
}

// batchCopy copies src key by key through write batches into a new Pebble
// store, as a generic tool would (Pebble's default options, no knowledge
// of state's key layout), and returns n once it copied more than n keys
// (the rows plus state's metadata).
func batchCopy(b *testing.B, src, dst string) int64 {
	const n = 1_000_000
	sdb, err := pebble.Open(src, &pebble.Options{ReadOnly: true, Logger: quiet{}})
	if err != nil {
		b.Fatal(err)
	}
	defer sdb.Close()
	ddb, err := pebble.Open(dst, &pebble.Options{Logger: quiet{}})
	if err != nil {
		b.Fatal(err)
	}
	defer ddb.Close()
	it, _ := sdb.NewIter(nil)
	defer it.Close()
	var keys int64
	batch := ddb.NewBatch()
	for valid := it.First(); valid; valid = it.Next() {
		keys++
		if err := batch.Set(it.Key(), it.Value(), nil); err != nil {
			b.Fatal(err)
		}
		if batch.Len() > 4<<20 {
			if err := batch.Commit(pebble.NoSync); err != nil {
				b.Fatal(err)
			}
			batch = ddb.NewBatch()
		}
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		b.Fatal(err)
	}
	if err := ddb.Flush(); err != nil {
		b.Fatal(err)
	}
	if keys <= n {
		b.Fatalf("copied %d keys, want more than %d", keys, n)
	}
	return n
}

// quiet drops Pebble's informational logs.
type quiet struct{}

func (quiet) Infof(string, ...any)  {}
func (quiet) Errorf(string, ...any) {}
func (quiet) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
