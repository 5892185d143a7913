package join_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// BenchmarkOperatorHotHits measures the operator alone (no Kafka) on
// refunds whose order is in hot state: every record is one hot lookup
// (hit), one output row and one state write. Commit every 10k records.
func BenchmarkOperatorHotHits(b *testing.B) {
	ctx := context.Background()
	// The hot rows are mirrored in memory (default MirrorBytes), Pebble holds
	// the durable copy; a 64 MiB memtable absorbs the writes of a hot day.
	db, err := state.Open(filepath.Join(b.TempDir(), "s"), state.Options{NoSync: true, MemTableBytes: 64 << 20, CacheBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var outputs int
	cfg := join.Config{Name: "bench", Left: ordersInput(false), Right: refundsInput(), Output: outputColumns(join.Left),
		Emit: func(row.Row) error { outputs++; return nil }}
	op, err := join.New(ctx, db, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	const orders = 100_000
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := int64(0); i < orders; i++ {
		at := day.Add(time.Duration(i) * (12 * time.Hour) / orders).UnixMilli()
		if err := op.Push(ctx, join.Left, row.New(row.Int64Value(i), row.TimestampValue(at), row.StringValue("customer"), row.Int64Value(i%1000))); err != nil {
			b.Fatal(err)
		}
	}
	if err := op.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	// Every refund references a different order (stride 7919 over the
	// 100k orders): each order is looked up once per 100k records, so the
	// row cache (64k keys) does not hold it and lookups reach Pebble.
	refunds := make([]row.Row, 1<<16)
	at := day.Add(13 * time.Hour).UnixMilli()
	for i := range refunds {
		refunds[i] = row.New(row.Int64Value(int64(i)), row.Int64Value(0), row.TimestampValue(at), row.Int64Value(5))
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		r := refunds[i%len(refunds)]
		r.Values[1] = row.Int64Value(int64(i) * 7919 % orders)
		if err := op.Push(ctx, join.Right, r); err != nil {
			b.Fatal(err)
		}
		if i%10_000 == 9_999 {
			if err := op.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := op.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	// On a shared machine wall time includes waiting for a core; records
	// per CPU-second of this process is the one-core throughput.
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "records/cpu-s")
	if st := op.Stats(); st.Left.HotHits != int64(b.N) {
		b.Fatalf("hot hits %d of %d", st.Left.HotHits, b.N)
	}
}

// cpuTime returns the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
