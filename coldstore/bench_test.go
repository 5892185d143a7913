package coldstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/fixture"
	"github.com/hotcold/hotcold/row"
)

var (
	fixtureDir  string
	fixtureOnce sync.Mutex
	fixtures    = map[int]string{}
)

// benchParquet returns a Parquet file of n benchRows with ids 0..n-1 in
// random order, written once per test binary run.
func benchParquet(b testing.TB, n int) string {
	fixtureOnce.Lock()
	defer fixtureOnce.Unlock()
	if p, ok := fixtures[n]; ok {
		return p
	}
	if fixtureDir == "" {
		d, err := os.MkdirTemp("", "coldstore-bench-")
		if err != nil {
			b.Fatal(err)
		}
		fixtureDir = d
	}
	path := filepath.Join(fixtureDir, fmt.Sprintf("rows-%d.parquet", n))
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w, err := coldstore.NewParquetWriter(f, benchSchema, nil)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	perm := rng.Perm(n)
	for _, id := range perm {
		if err := w.Write(benchRow(int64(id), rng)); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	fixtures[n] = path
	return path
}

func TestMain(m *testing.M) {
	if runCrashHelper() {
		return
	}
	code := m.Run()
	if fixtureDir != "" {
		_ = os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// BenchmarkLoad1M loads 1M rows x 8 columns from one Parquet file into a
// Pebble store: /ingest through Load (sort, sstables, Ingest, publish)
// with the default compression, /ingest-uncompressed with Compression
// "none", /batch-Nk the same rows, read and encoded the same way, with
// Pebble batches of N thousand rows and a final flush.
func BenchmarkLoad1M(b *testing.B) {
	const n = 1_000_000
	path := benchParquet(b, n)
	b.Run("ingest", func(b *testing.B) { benchIngest(b, path, "") })
	b.Run("ingest-uncompressed", func(b *testing.B) { benchIngest(b, path, "none") })
	for _, rows := range benchBatchRows {
		b.Run(fmt.Sprintf("batch-%dk", rows/1000), func(b *testing.B) { benchBatchLoad(b, path, rows) })
	}
}

// benchIngest loads the rows of path through Load with the given sstable
// compression.
func benchIngest(b *testing.B, path, compression string) {
	const n = 1_000_000
	ctx := context.Background()
	{
		p, err := coldstore.OpenPebble(b.TempDir(), &coldstore.PebbleOptions{Compression: compression})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		b.ResetTimer()
		cpu := startCPU()
		for i := 0; i < b.N; i++ {
			src, err := coldstore.OpenParquet(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			res, err := p.Load(ctx, coldstore.LoadSpec{Table: "bench", Version: fmt.Sprintf("v%d", i), Key: []string{"id"}, Source: src})
			src.Close()
			if err != nil {
				b.Fatal(err)
			}
			if res.Rows != n {
				b.Fatalf("loaded %d rows", res.Rows)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(cpu.stop()/float64(b.N), "cpu-s/op")
	}
}

// benchBatchLoad writes the rows of path with Pebble batches of batchRows
// rows and a final flush.
func benchBatchLoad(b *testing.B, path string, batchRows int) {
	const n = 1_000_000
	ctx := context.Background()
	p, err := coldstore.OpenPebble(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		src, err := coldstore.OpenParquet(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		got, err := coldstore.BatchLoad(ctx, p, "bench", []string{"id"}, src, batchRows)
		src.Close()
		if err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("wrote %d rows", got)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(cpu.stop()/float64(b.N), "cpu-s/op")
}

// cpuTimer measures the CPU time (user + system) of the process, which on
// a shared machine is steadier than wall time.
type cpuTimer struct{ start float64 }

func startCPU() cpuTimer { return cpuTimer{start: cpuSeconds()} }

func (c cpuTimer) stop() float64 { return cpuSeconds() - c.start }

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// openBenchStore returns a Pebble store holding the 1M-row bench table,
// warm, and the ids in random order. pinned: the version is pinned in
// memory (the default for a table that fits PinMemory); otherwise pinning
// is off and every block has been read once, so that the block cache is
// warm.
func openBenchStore(b *testing.B, pinned bool) (*coldstore.Pebble, []int64) {
	b.Helper()
	const n = 1_000_000
	path := benchParquet(b, n)
	ctx := context.Background()
	opts := &coldstore.PebbleOptions{PinMemory: -1}
	if pinned {
		opts.PinMemory = 0
	}
	p, err := coldstore.OpenPebble(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	src, err := coldstore.OpenParquet(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	if _, err := p.Load(ctx, coldstore.LoadSpec{Table: "bench", Version: "v1", Key: []string{"id"}, Source: src}); err != nil {
		b.Fatal(err)
	}
	keys := make([][]row.Value, 4096)
	for i := 0; i < n; i += len(keys) {
		for j := range keys {
			keys[j] = []row.Value{row.Int64Value(int64(min(i+j, n-1)))}
		}
		res, err := p.MultiGet(ctx, "bench", keys)
		if err != nil {
			b.Fatal(err)
		}
		if !res[0].Found {
			b.Fatalf("key %d missing", i)
		}
	}
	if got, err := p.Pin(ctx, "bench"); err != nil || got != pinned {
		b.Fatalf("Pin = %v, %v; want %v", got, err, pinned)
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return p, ids
}

// BenchmarkPebbleGet looks up random keys of a 1M-row table: /pinned from
// the version pinned in memory (the default for a table that fits
// PinMemory), /blockcache through Pebble with a warm block cache (pinning
// off, as for a table larger than PinMemory).
func BenchmarkPebbleGet(b *testing.B) {
	for _, pinned := range []bool{true, false} {
		b.Run(benchReadPath(pinned), func(b *testing.B) { benchPebbleGet(b, pinned) })
	}
}

func benchReadPath(pinned bool) string {
	if pinned {
		return "pinned"
	}
	return "blockcache"
}

func benchPebbleGet(b *testing.B, pinned bool) {
	p, ids := openBenchStore(b, pinned)
	ctx := context.Background()
	key := make([]row.Value, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key[0] = row.Int64Value(ids[i%len(ids)])
		res, err := p.Get(ctx, "bench", key)
		if err != nil || !res.Found {
			b.Fatal(err)
		}
	}
}

// BenchmarkPebbleMultiGet256 looks up 256 random keys per call; ns/key is
// the time per key. Sub-benchmarks as for BenchmarkPebbleGet.
func BenchmarkPebbleMultiGet256(b *testing.B) {
	for _, pinned := range []bool{true, false} {
		b.Run(benchReadPath(pinned), func(b *testing.B) { benchPebbleMultiGet256(b, pinned) })
	}
}

func benchPebbleMultiGet256(b *testing.B, pinned bool) {
	p, ids := openBenchStore(b, pinned)
	ctx := context.Background()
	keys := make([][]row.Value, 256)
	slab := make([]row.Value, 256)
	for i := range keys {
		keys[i] = slab[i : i+1 : i+1]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := (i * 256) % (len(ids) - 256)
		for k := range slab {
			slab[k] = row.Int64Value(ids[j+k])
		}
		res, err := p.MultiGet(ctx, "bench", keys)
		if err != nil || !res[255].Found {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/256, "ns/key")
}

// benchBatchRows are the batch sizes of the /batch-Nk baselines: 1,000
// rows (about 100 KB, a common commit size) up to 100,000 rows (10 MB
// batches, the fastest way to write these rows with batches that we
// measured).
var benchBatchRows = []int{1000, 10000, 100000}

// benchSchema is the shared benchmark table (8 columns, about 100 bytes a
// value) without a key: loads name it.
var benchSchema = row.MustSchema(fixture.BenchColumns, nil, 1)

var benchRow = fixture.BenchRow
