// Command benchvsredis measures the lookup sidecar against Redis on this
// machine, in one run, and prints the results as markdown (the section of
// sidecar/BENCHMARKS.part.md):
//
//   - auto-batched single-key Gets from 64 goroutines through the Go client
//     versus `redis-benchmark -t get -c 50` (no pipelining);
//   - BatchLookup of 256 keys (Client.MultiGet) versus redis-benchmark MGET
//     of 256 keys;
//   - unary Lookup p50/p99 latency at 50% of peak throughput, TCP versus
//     unix socket.
//
// Both sides hold the same rows: a table of -rows rows of 8 columns, loaded
// into a Pebble cold store served by the sidecar, and into a throwaway
// redis-server (started here on a free loopback port) as the rows' value
// encoding under key:%012d, the keys redis-benchmark -r draws from. The
// measurements run in -rounds interleaved rounds; the report gives the
// median of each and the median ratio.
//
//	go run ./sidecar/internal/benchvsredis -out sidecar/BENCHMARKS.part.md
package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/fixture"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

var (
	flagRows     = flag.Int("rows", 100_000, "rows in the table (and keys in Redis)")
	flagDuration = flag.Duration("duration", 4*time.Second, "length of each measurement")
	flagRounds   = flag.Int("rounds", 3, "interleaved rounds of every measurement")
	flagOut      = flag.String("out", "", "also write the markdown to this file")
	flagStore    = flag.String("store", "pebble", "cold store behind the sidecar: pebble or memory")
	flagBatchG   = flag.Int("batch-goroutines", 8, "goroutines issuing 256-key batches")
)

func main() {
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		fmt.Fprintf(os.Stderr, "benchvsredis: %v\n", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, bin := range []string{"redis-server", "redis-benchmark"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found: install redis-server and redis-tools", bin)
		}
	}
	dir, err := os.MkdirTemp("", "benchvsredis-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	n := *flagRows
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]row.Row, n)
	for i := range rows {
		rows[i] = makeRow(int64(i), rng)
	}

	// The cold store and the sidecar.
	store, err := openStore(ctx, dir, rows)
	if err != nil {
		return err
	}
	defer store.Close()
	srv, err := sidecar.NewServer(store, sidecar.Options{MaxBatch: 4096, CacheBytes: 1 << 30, Registerer: prometheus.NewRegistry()})
	if err != nil {
		return err
	}
	sock := filepath.Join(dir, "hotcold.sock")
	addrs := make(chan sidecar.Addrs, 1)
	srvDone := make(chan error, 1)
	go func() {
		srvDone <- srv.Run(ctx, sidecar.Listeners{TCP: "127.0.0.1:0", Unix: sock, Ready: func(a sidecar.Addrs) { addrs <- a }})
	}()
	var a sidecar.Addrs
	select {
	case a = <-addrs:
	case err := <-srvDone:
		return err
	}
	defer func() { cancel(); <-srvDone }()
	tcp, unix := a.TCP, "unix://"+sock

	// Redis with the same rows.
	rport, stopRedis, err := startRedis(ctx, dir)
	if err != nil {
		return err
	}
	defer stopRedis()
	if err := loadRedis(ctx, rport, rows); err != nil {
		return err
	}

	// Warm the sidecar's cache: every key once.
	warm, err := sidecar.Dial(tcp, sidecar.WithCallTimeout(time.Minute))
	if err != nil {
		return err
	}
	keys := make([][]row.Value, n)
	for i := range keys {
		keys[i] = []row.Value{row.Int64Value(int64(i))}
	}
	if _, err := warm.MultiGet(ctx, "items", keys); err != nil {
		return fmt.Errorf("warming the cache: %w", err)
	}
	warm.Close()

	d := *flagDuration
	var getR, getS, mgetR, mgetS, rawS, ratioGet, ratioMget, ratioRaw []float64
	var cpuGet, cpuBatch, cpuRaw []float64 // process CPU µs per key
	var redisGetCmd, redisMgetCmd string
	for round := 1; round <= *flagRounds; round++ {
		log.Info("round", "n", round)
		rg, cmd, err := redisBench(ctx, rport, d, []string{"-t", "get", "-c", "50"}, n)
		if err != nil {
			return err
		}
		redisGetCmd = cmd
		sg, err := autoBatchedGets(ctx, tcp, 64, d, n)
		if err != nil {
			return err
		}
		cpuGet = append(cpuGet, lastCPU.Seconds()*1e6)
		mgetArgs := []string{"-c", "50", "mget"}
		for i := 0; i < 256; i++ {
			mgetArgs = append(mgetArgs, "key:__rand_int__")
		}
		rm, cmd, err := redisBench(ctx, rport, d, mgetArgs, n)
		if err != nil {
			return err
		}
		redisMgetCmd = cmd
		sm, err := batchLookups(ctx, tcp, *flagBatchG, 256, d, n)
		if err != nil {
			return err
		}
		cpuBatch = append(cpuBatch, lastCPU.Seconds()*1e6/256)
		sr, err := rawBatchLookups(ctx, tcp, *flagBatchG, 256, d, n)
		if err != nil {
			return err
		}
		cpuRaw = append(cpuRaw, lastCPU.Seconds()*1e6/256)
		getR, getS, mgetR, mgetS, rawS = append(getR, rg), append(getS, sg), append(mgetR, rm*256), append(mgetS, sm), append(rawS, sr)
		ratioGet, ratioMget, ratioRaw = append(ratioGet, sg/rg), append(ratioMget, sm/(rm*256)), append(ratioRaw, sr/(rm*256))
		log.Info("round done", "redis_get", rg, "sidecar_get", sg, "redis_mget_keys", rm*256, "sidecar_batch_keys", sm, "sidecar_raw_batch_keys", sr)
	}

	// Latency at 50% of peak, TCP and unix.
	type lat struct {
		name           string
		peak, rate     float64
		p50, p99, p999 time.Duration
	}
	var lats []lat
	for _, t := range []struct{ name, addr string }{{"TCP (127.0.0.1)", tcp}, {"unix socket", unix}} {
		peak, err := unaryPeak(ctx, t.addr, 64, d, n)
		if err != nil {
			return err
		}
		p50, p99, p999, err := unaryLatency(ctx, t.addr, peak/2, d*2, n)
		if err != nil {
			return err
		}
		lats = append(lats, lat{t.name, peak, peak / 2, p50, p99, p999})
		log.Info("latency", "transport", t.name, "peak", peak, "p50", p50, "p99", p99)
	}

	// Report.
	var b bytes.Buffer
	model := cpuModel()
	fmt.Fprintf(&b, "## #4 sidecar: lookups through the sidecar versus Redis\n\n")
	fmt.Fprintf(&b, "Machine: %s, %d logical CPUs (GOMAXPROCS %d), shared with other work; %s.  \n", model, runtime.NumCPU(), runtime.GOMAXPROCS(0), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Command: `go run ./sidecar/internal/benchvsredis -rows %d -duration %v -rounds %d -store %s -batch-goroutines %d`  \n", n, d, *flagRounds, *flagStore, *flagBatchG)
	fmt.Fprintf(&b, "Data: %d rows of 8 columns (%d bytes encoded on average), in a %s cold store behind the sidecar (its read cache warmed with every key) and in redis-server %s as `key:%%012d` -> the row's value encoding. Everything on loopback, client and server on the same machine. %d interleaved rounds of %v per measurement; medians.\n\n",
		n, avgValueSize(rows), *flagStore, redisVersion(ctx), *flagRounds, d)
	fmt.Fprintf(&b, "Redis baselines, run in the same rounds:\n\n```\n%s\n%s\n```\n\n", redisGetCmd, shortenMget(redisMgetCmd))
	fmt.Fprintf(&b, "| measurement | sidecar | Redis | ratio (target) |\n|---|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| single-key lookups/s: Go client `WithAutoBatch(256, 0)`, 64 goroutines vs `redis-benchmark -t get -c 50` | %.0f | %.0f | %.2fx (>= 1x) |\n", median(getS), median(getR), median(ratioGet))
	fmt.Fprintf(&b, "| keys/s in 256-key BatchLookups, raw gRPC client (responses framed and counted, rows not decoded: what redis-benchmark does with MGET replies), %d goroutines vs `redis-benchmark -c 50 mget` x256 | %.0f | %.0f | %.2fx (>= 0.5x) |\n", *flagBatchG, median(rawS), median(mgetR), median(ratioRaw))
	fmt.Fprintf(&b, "| keys/s in 256-key batches through the Go client: `Client.MultiGet` (one BatchLookup, every row decoded into typed values), %d goroutines vs the same MGET | %.0f | %.0f | %.2fx |\n\n", *flagBatchG, median(mgetS), median(mgetR), median(ratioMget))
	fmt.Fprintf(&b, "Per round (sidecar / Redis): gets %s; raw batch keys %s; Go client batch keys %s.\n\n", pairs(getS, getR), pairs(rawS, mgetR), pairs(mgetS, mgetR))
	fmt.Fprintf(&b, "CPU time of the benchmark process (Go client and sidecar together) per key, median: auto-batched Get %.2f µs, raw BatchLookup %.2f µs, Go client MultiGet %.2f µs.\n\n", median(cpuGet), median(cpuRaw), median(cpuBatch))
	fmt.Fprintf(&b, "Unary Lookup latency (Go client without auto-batching), open loop at 50%% of the peak measured with 64 closed-loop goroutines, latency from the scheduled send time:\n\n")
	fmt.Fprintf(&b, "| transport | peak lookups/s | offered rate | p50 | p99 | p99.9 |\n|---|---:|---:|---:|---:|---:|\n")
	for _, l := range lats {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f/s | %v | %v | %v |\n", l.name, l.peak, l.rate, l.p50.Round(time.Microsecond), l.p99.Round(time.Microsecond), l.p999.Round(time.Microsecond))
	}
	if len(lats) == 2 {
		fmt.Fprintf(&b, "\nunix socket / TCP: p50 %.2fx, p99 %.2fx.\n", float64(lats[1].p50)/float64(lats[0].p50), float64(lats[1].p99)/float64(lats[0].p99))
	}
	os.Stdout.Write(b.Bytes())
	if *flagOut != "" {
		return os.WriteFile(*flagOut, b.Bytes(), 0o644)
	}
	return nil
}

func openStore(ctx context.Context, dir string, rows []row.Row) (coldstore.Store, error) {
	switch *flagStore {
	case "memory":
		m := coldstore.NewMemory()
		return m, m.Publish("items", "v1", schema, time.Time{}, rows)
	case "pebble":
		be, err := coldstore.Open(ctx, "pebble:"+filepath.Join(dir, "cold"), &coldstore.Options{Create: true})
		if err != nil {
			return nil, err
		}
		if _, err := be.Load(ctx, coldstore.LoadSpec{Table: "items", Version: "v1", Key: []string{"id"}, Source: coldstore.RowSource(schema, rows)}); err != nil {
			be.Close()
			return nil, err
		}
		return be, nil
	}
	return nil, fmt.Errorf("-store %q: want pebble or memory", *flagStore)
}

// startRedis starts a throwaway redis-server on a free loopback port.
func startRedis(ctx context.Context, dir string) (int, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for c.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			stop()
			return 0, nil, fmt.Errorf("redis-server on port %d did not answer PING", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return port, stop, nil
}

func loadRedis(ctx context.Context, port int, rows []row.Row) error {
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	for start := 0; start < len(rows); start += 1000 {
		p := c.Pipeline()
		for i := start; i < min(start+1000, len(rows)); i++ {
			v, err := schema.AppendValue(nil, rows[i])
			if err != nil {
				return err
			}
			p.Set(ctx, fmt.Sprintf("key:%012d", i), v, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// redisBench runs redis-benchmark with args for about d (calibrated with a
// short run) and returns requests/s and the command line.
func redisBench(ctx context.Context, port int, d time.Duration, args []string, keyspace int) (float64, string, error) {
	runOnce := func(n int) (float64, string, error) {
		full := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-r", strconv.Itoa(keyspace), "-n", strconv.Itoa(n), "--csv"}, args...)
		out, err := exec.CommandContext(ctx, "redis-benchmark", full...).Output()
		if err != nil {
			return 0, "", fmt.Errorf("redis-benchmark %s: %w", strings.Join(full, " "), err)
		}
		recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
		if err != nil || len(recs) < 2 || len(recs[len(recs)-1]) < 2 {
			return 0, "", fmt.Errorf("redis-benchmark output %q: %v", out, err)
		}
		rps, err := strconv.ParseFloat(recs[len(recs)-1][1], 64)
		return rps, "redis-benchmark " + strings.Join(full, " "), err
	}
	rps, _, err := runOnce(2000)
	if err != nil {
		return 0, "", err
	}
	return runOnce(max(2000, int(rps*d.Seconds())))
}

// autoBatchedGets runs single-key Gets from g goroutines through one
// auto-batching client for d and returns lookups/s.
func autoBatchedGets(ctx context.Context, addr string, g int, d time.Duration, keyspace int) (float64, error) {
	c, err := sidecar.Dial(addr, sidecar.WithAutoBatch(256, 0))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return closedLoop(g, d, func(rng *rand.Rand) error {
		res, err := c.Get(ctx, "items", []row.Value{row.Int64Value(rng.Int64N(int64(keyspace)))})
		if err == nil && !res.Found {
			err = fmt.Errorf("key not found")
		}
		return err
	})
}

// batchLookups runs MultiGets of size random keys from g goroutines for d
// and returns keys/s.
func batchLookups(ctx context.Context, addr string, g, size int, d time.Duration, keyspace int) (float64, error) {
	c, err := sidecar.Dial(addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	ops, err := closedLoop(g, d, func(rng *rand.Rand) error {
		keys := make([][]row.Value, size)
		vals := make([]row.Value, size)
		for i := range keys {
			vals[i] = row.Int64Value(rng.Int64N(int64(keyspace)))
			keys[i] = vals[i : i+1 : i+1]
		}
		_, err := c.MultiGet(ctx, "items", keys)
		return err
	})
	return ops * float64(size), err
}

// rawBatchLookups runs BatchLookups of size random keys from g goroutines
// for d with a minimal gRPC client: the request is encoded by hand and the
// response only framed and counted, no row decoded. It returns keys/s.
func rawBatchLookups(ctx context.Context, addr string, g, size int, d time.Duration, keyspace int) (float64, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ops, err := closedLoop(g, d, func(rng *rand.Rand) error {
		// BatchLookupRequest{table: "items", keys: [{key: {values: [{int64_value: k}]}}...]}
		req := protowire.AppendTag(make([]byte, 0, 8+size*16), 1, protowire.BytesType)
		req = protowire.AppendString(req, "items")
		for i := 0; i < size; i++ {
			k := uint64(rng.Int64N(int64(keyspace)))
			valLen := 1 + protowire.SizeVarint(k)     // Value{int64_value = 4}
			keyLen := 1 + protowire.SizeBytes(valLen) // Key{values = 1}
			refLen := 1 + protowire.SizeBytes(keyLen) // KeyRef{key = 2}
			req = protowire.AppendTag(req, 2, protowire.BytesType)
			req = protowire.AppendVarint(req, uint64(refLen))
			req = protowire.AppendTag(req, 2, protowire.BytesType)
			req = protowire.AppendVarint(req, uint64(keyLen))
			req = protowire.AppendTag(req, 1, protowire.BytesType)
			req = protowire.AppendVarint(req, uint64(valLen))
			req = protowire.AppendTag(req, 4, protowire.VarintType)
			req = protowire.AppendVarint(req, k)
		}
		var resp rawCount
		if err := conn.Invoke(ctx, lookuppb.LookupService_BatchLookup_FullMethodName, &rawBytes{req}, &resp); err != nil {
			return err
		}
		if resp.n != size {
			return fmt.Errorf("BatchLookup of %d keys answered %d results", size, resp.n)
		}
		return nil
	})
	return ops * float64(size), err
}

type rawBytes struct{ b []byte }

// rawCount counts the results of a BatchLookupResponse.
type rawCount struct{ n int }

// rawCodec sends rawBytes as they are and frames responses into rawCount.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.(*rawBytes).b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	r := v.(*rawCount)
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	b := buf.ReadOnlyData()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if num == 1 {
			r.n++
		}
		b = b[n:]
	}
	return nil
}

// unaryPeak is the closed-loop unary Lookup throughput with g goroutines.
func unaryPeak(ctx context.Context, addr string, g int, d time.Duration, keyspace int) (float64, error) {
	c, err := sidecar.Dial(addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return closedLoop(g, d, func(rng *rand.Rand) error {
		_, err := c.Get(ctx, "items", []row.Value{row.Int64Value(rng.Int64N(int64(keyspace)))})
		return err
	})
}

// lastCPU is the process CPU time (client and sidecar) per op of the last
// closedLoop, for the log.
var lastCPU time.Duration

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// closedLoop runs op from g goroutines for d and returns ops/s.
func closedLoop(g int, d time.Duration, op func(*rand.Rand) error) (float64, error) {
	cpu0 := cpuTime()
	var ops atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 3))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := op(rng); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	lastCPU = (cpuTime() - cpu0) / time.Duration(max(1, ops.Load()))
	return float64(ops.Load()) / time.Since(start).Seconds(), nil
}

// unaryLatency offers unary Lookups at rate per second for d (open loop:
// each call is scheduled at a fixed time and its latency counts from that
// time, so a slow call delays no measurement) and returns percentiles.
func unaryLatency(ctx context.Context, addr string, rate float64, d time.Duration, keyspace int) (p50, p99, p999 time.Duration, err error) {
	c, err := sidecar.Dial(addr)
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()
	total := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	lat := make([]time.Duration, total)
	var firstErr atomic.Value
	jobs := make(chan int, 1024)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 256; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for i := range jobs {
				sched := start.Add(time.Duration(i) * interval)
				if _, err := c.Get(ctx, "items", []row.Value{row.Int64Value(rng.Int64N(int64(keyspace)))}); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
				lat[i] = time.Since(sched)
			}
		}()
	}
	for i := 0; i < total; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, 0, 0, err
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return q(0.50), q(0.99), q(0.999), nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func pairs(a, b []float64) string {
	var parts []string
	for i := range a {
		parts = append(parts, fmt.Sprintf("%.0f / %.0f", a[i], b[i]))
	}
	return strings.Join(parts, ", ")
}

func avgValueSize(rows []row.Row) int {
	total := 0
	for _, r := range rows {
		v, _ := schema.AppendValue(nil, r)
		total += len(v)
	}
	return total / max(1, len(rows))
}

func cpuModel() string {
	out, err := exec.Command("lscpu").Output()
	if err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "Model name:") {
				return strings.TrimSpace(strings.TrimPrefix(l, "Model name:"))
			}
		}
	}
	return runtime.GOARCH
}

func redisVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "redis-server", "--version").Output()
	if err != nil {
		return "?"
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "v=") {
			return strings.TrimPrefix(f, "v=")
		}
	}
	return strings.TrimSpace(string(out))
}

// shortenMget abbreviates the 256 key arguments of the MGET command line.
func shortenMget(cmd string) string {
	return strings.Replace(cmd, strings.Repeat(" key:__rand_int__", 256), " key:__rand_int__ ... (256 times)", 1)
}

// The table measured is the shared benchmark table of the cold store and
// sidecar benchmarks.
var (
	schema  = fixture.BenchSchema
	makeRow = fixture.BenchRow
)
