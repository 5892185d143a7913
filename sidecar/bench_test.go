package sidecar_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// The benchmarks read a table of benchRows rows of 8 columns (about 100
// bytes encoded) through a sidecar on loopback. The comparison with Redis
// on the same machine is cmd benchvsredis (see
// internal/benchreport/recorded/sidecar-vs-redis.md).

const benchRows = 100_000

var benchSchema = row.MustSchema([]row.Column{
	{Name: "id", Type: row.Int64},
	{Name: "user_id", Type: row.Int64, Nullable: true},
	{Name: "item", Type: row.String, Nullable: true},
	{Name: "category", Type: row.String, Nullable: true},
	{Name: "price", Type: row.Float64, Nullable: true},
	{Name: "qty", Type: row.Int32, Nullable: true},
	{Name: "ts", Type: row.Timestamp(row.Millisecond, ""), Nullable: true},
	{Name: "note", Type: row.String, Nullable: true},
}, []string{"id"}, 1)

func benchRow(id int64, rng *rand.Rand) row.Row {
	return row.New(
		row.Int64Value(id),
		row.Int64Value(rng.Int64N(10_000_000)),
		row.StringValue(fmt.Sprintf("item-%014d", rng.Int64N(1e12))),
		row.StringValue(fmt.Sprintf("cat-%05d", rng.IntN(1000))),
		row.Float64Value(float64(rng.IntN(100000))/100),
		row.Int32Value(int32(rng.IntN(100))),
		row.TimestampValue(1_760_000_000_000+rng.Int64N(86_400_000)),
		row.StringValue(fmt.Sprintf("note %032x", rng.Uint64())),
	)
}

// benchFixture is one sidecar over benchRows rows shared by every
// benchmark of the test binary (stopped by TestMain), with its cache warm,
// so that repeated runs of a benchmark measure the steady state.
var benchFixture struct {
	sync.Once
	sc *sidecarUnderTest
}

func benchSidecar(b *testing.B) *sidecarUnderTest {
	b.Helper()
	benchFixture.Do(func() {
		m := coldstore.NewMemory()
		rng := rand.New(rand.NewPCG(1, 2))
		rows := make([]row.Row, benchRows)
		for i := range rows {
			rows[i] = benchRow(int64(i), rng)
		}
		if err := m.Publish("items", "v1", benchSchema, time.Time{}, rows); err != nil {
			b.Fatal(err)
		}
		sc := startSidecarFor(b, m, sidecar.Options{MaxBatch: 4096, CacheBytes: 512 << 20}, func(func()) {})
		c, err := sidecar.Dial(sc.tcp)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		keys := make([][]row.Value, benchRows)
		for i := range keys {
			keys[i] = key(int64(i))
		}
		if _, err := c.MultiGet(context.Background(), "items", keys); err != nil {
			b.Fatal(err)
		}
		benchFixture.sc = sc
		stopBench = func() { sc.stop(); m.Close() }
	})
	if benchFixture.sc == nil {
		b.Fatal("benchmark fixture failed")
	}
	return benchFixture.sc
}

// BenchmarkAutoBatchedGet64 is single-key Gets from 64 goroutines through
// one auto-batching client over TCP.
func BenchmarkAutoBatchedGet64(b *testing.B) {
	sc := benchSidecar(b)
	c := dial(b, sc.tcp, sidecar.WithAutoBatch(256, 0))
	benchGets(b, c, 64)
}

// BenchmarkUnaryGet64 is the same without auto-batching: one Lookup call
// per Get.
func BenchmarkUnaryGet64(b *testing.B) {
	sc := benchSidecar(b)
	c := dial(b, sc.tcp)
	benchGets(b, c, 64)
}

func benchGets(b *testing.B, c *sidecar.Client, goroutines int) {
	ctx := context.Background()
	var seed atomic.Uint64
	b.SetParallelism(max(1, goroutines/max(1, runtimeProcs())))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 7))
		k := []row.Value{{}}
		for pb.Next() {
			k[0] = row.Int64Value(rng.Int64N(benchRows))
			res, err := c.Get(ctx, "items", k)
			if err != nil || !res.Found {
				b.Errorf("Get: %v %v", res.Found, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lookups/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/lookup")
}

// BenchmarkBatchLookup256 is MultiGet of 256 random keys (one BatchLookup
// call) from 8 goroutines over TCP.
func BenchmarkBatchLookup256(b *testing.B) {
	sc := benchSidecar(b)
	c := dial(b, sc.tcp)
	ctx := context.Background()
	var seed atomic.Uint64
	b.SetParallelism(max(1, 8/runtimeProcs()))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 9))
		keys := make([][]row.Value, 256)
		vals := make([]row.Value, 256)
		for pb.Next() {
			for i := range keys {
				vals[i] = row.Int64Value(rng.Int64N(benchRows))
				keys[i] = vals[i : i+1 : i+1]
			}
			if _, err := c.MultiGet(ctx, "items", keys); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)*256/time.Since(start).Seconds(), "keys/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*256), "cpu-ns/key")
}

// cpuTime is the CPU time (user + system) the process has used, in ns:
// client and server together, which on a shared machine is steadier than
// wall-clock throughput.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
