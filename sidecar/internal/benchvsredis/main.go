// Command benchvsredis measures the lookup sidecar against Redis on this
// machine, in one run, with client and server in separate processes, and
// prints the results as markdown (recorded for BENCHMARKS.md in
// internal/benchreport/recorded/sidecar-vs-redis.md):
//
//   - auto-batched single-key Gets from 64 goroutines through the Go client
//     versus `redis-benchmark -t get -c 50 -P 16` (pipelined Redis is the
//     fair peer of a batching client) and without -P, and the CPU time per
//     Get of the client and sidecar processes;
//   - BatchLookup of 256 keys (raw and Client.MultiGet) versus
//     redis-benchmark MGET of 256 keys;
//   - unary Lookup p50/p99/p99.9 at 50% of peak, open loop (see openLoop),
//     over TCP and the unix socket, beside Redis GETs through go-redis with
//     the same driver and redis-benchmark's own percentiles;
//   - Redis memory per key (INFO memory before and after loading the rows).
//
// -pin adds the latency rows pinned (see pin.go); -latency-only skips the
// throughput and CPU-per-key measurements.
//
// Both sides hold the same rows: a table of -rows rows of 8 columns, loaded
// into a Pebble cold store served by a sidecar in a child process (this
// binary with -child, see child.go), and into a throwaway redis-server
// (started here on a free loopback port) as the rows' value encoding under
// key:%012d, the keys redis-benchmark -r draws from. The measurements run
// in -rounds interleaved rounds; the report gives the median of each.
// -server-cpuprofile, -server-trace and -client-cpuprofile profile one
// measurement of round 1 (-profile latency or autobatch).
//
//	go build -o /tmp/benchvsredis ./sidecar/internal/benchvsredis
//	nice /tmp/benchvsredis -out internal/benchreport/recorded/sidecar-vs-redis.md
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

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
	flagAutoG    = flag.Int("autobatch-goroutines", 800, "goroutines issuing auto-batched single-key Gets (800: the Gets redis-benchmark -c 50 -P 16 keeps in flight)")
	flagPin      = flag.Bool("pin", false, "also measure latency pinned: the driver on CPU 0, the server (sidecar or redis-server) on CPU 1, GOMAXPROCS 1 each")
	flagLatOnly  = flag.Bool("latency-only", false, "measure only latency (and redis-benchmark -t get -c 50), not throughput and CPU per key")
	flagLoads    = flag.String("loads", "0.5", "fractions of peak at which the unary open loop runs, e.g. 0.1,0.25,0.5 (0.5 is the targets' load and is always measured)")
	flagOnly     = flag.String("only", "", "autobatch: measure only auto-batched Gets against redis-benchmark -P 16 (logged, no report)")
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
	if *flagChild {
		return runChild(log)
	}
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

	// The sidecar, in its own process over its own copy of the rows.
	log.Info("starting the sidecar child process (it loads its cold store)")
	ch, err := startChild(dir)
	if err != nil {
		return err
	}
	defer ch.stop()
	tcp, unix := ch.tcp, ch.unix

	// Redis with the same rows, and what they cost it in memory.
	rport, rpid, stopRedis, err := startRedis(ctx, dir)
	if err != nil {
		return err
	}
	defer stopRedis()
	memBefore, err := redisUsedMemory(ctx, rport)
	if err != nil {
		return err
	}
	if err := loadRedis(ctx, rport, rows); err != nil {
		return err
	}
	memAfter, err := redisUsedMemory(ctx, rport)
	if err != nil {
		return err
	}
	// The same rows through hotcold's Redis backend (as `hotcold load
	// --store redis://...` writes them), into the same server.
	be, err := coldstore.Open(ctx, fmt.Sprintf("redis://127.0.0.1:%d", rport), &coldstore.Options{Create: true})
	if err != nil {
		return err
	}
	if _, err := be.Load(ctx, coldstore.LoadSpec{Table: "items", Version: "v1", Key: []string{"id"}, Source: coldstore.RowSource(schema, rows)}); err != nil {
		be.Close()
		return fmt.Errorf("loading the rows through the Redis backend: %w", err)
	}
	be.Close()
	memBackend, err := redisUsedMemory(ctx, rport)
	if err != nil {
		return err
	}
	valueSize := avgValueSize(rows)
	rows = nil

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
	keys = nil
	runtime.GC()

	d := *flagDuration
	var (
		getR, getP, getS, mgetR, mgetS, rawS     []float64
		ratioGet, ratioGetP, ratioMget, ratioRaw []float64
		cpuGetC, cpuGetS, cpuBatch, cpuRaw       []float64 // CPU µs per key
		getS64, ratioGetP64, cpuGet64            []float64 // auto-batched Gets from 64 goroutines
		redisGetCmd, redisGetPCmd, redisMgetCmd  string
		redisGetLat, redisGetLatPinned           []redisResult
		lats                                     = map[string][]latResult{}
	)
	mgetArgs := []string{"-c", "50", "mget"}
	for i := 0; i < 256; i++ {
		mgetArgs = append(mgetArgs, "key:__rand_int__")
	}
	transports := []struct{ name, addr string }{{"TCP (127.0.0.1)", tcp}, {"unix socket", unix}}
	// throughput measures auto-batched Gets and 256-key batches against
	// redis-benchmark; rg is this round's redis-benchmark -t get -c 50.
	throughput := func(round int, rg redisResult) error {
		rp, cmd, err := redisBench(ctx, rport, d, []string{"-t", "get", "-c", "50", "-P", "16"}, n)
		if err != nil {
			return err
		}
		redisGetPCmd = cmd
		if round == 1 && *flagProfile == "autobatch" {
			ch.command("prof start")
			stopClient := startClientProfile()
			ch.command("trace start")
			_, err := autoBatchedGets(ctx, tcp, *flagAutoG, d, n, ch)
			ch.command("trace stop")
			stopClient()
			ch.command("prof stop")
			if err != nil {
				return err
			}
		}
		sg, err := autoBatchedGets(ctx, tcp, *flagAutoG, d, n, ch)
		if err != nil {
			return err
		}
		cpuGetC, cpuGetS = append(cpuGetC, lastCPU.client), append(cpuGetS, lastCPU.server)
		log.Info("autobatch", "goroutines", *flagAutoG, "sidecar_get", sg, "redis_get_P16", rp.rps, "ratio", sg/rp.rps, "cpu_us_per_get", lastCPU.total(), "client_us", lastCPU.client, "server_us", lastCPU.server)
		// The same with 64 goroutines: fewer Gets in flight than
		// redis-benchmark keeps, so smaller batches.
		sg64, err := autoBatchedGets(ctx, tcp, 64, d, n, ch)
		if err != nil {
			return err
		}
		getS64, ratioGetP64 = append(getS64, sg64), append(ratioGetP64, sg64/rp.rps)
		cpuGet64 = append(cpuGet64, lastCPU.total())
		log.Info("autobatch", "goroutines", 64, "sidecar_get", sg64, "ratio", sg64/rp.rps, "cpu_us_per_get", lastCPU.total(), "client_us", lastCPU.client, "server_us", lastCPU.server)
		if *flagOnly == "autobatch" {
			return nil
		}
		rm, cmd, err := redisBench(ctx, rport, d, mgetArgs, n)
		if err != nil {
			return err
		}
		redisMgetCmd = cmd
		sm, err := batchLookups(ctx, tcp, *flagBatchG, 256, d, n, ch)
		if err != nil {
			return err
		}
		cpuBatch = append(cpuBatch, lastCPU.total()/256)
		sr, err := rawBatchLookups(ctx, tcp, *flagBatchG, 256, d, n, ch)
		if err != nil {
			return err
		}
		cpuRaw = append(cpuRaw, lastCPU.total()/256)
		getR, getP, getS = append(getR, rg.rps), append(getP, rp.rps), append(getS, sg)
		mgetR, mgetS, rawS = append(mgetR, rm.rps*256), append(mgetS, sm), append(rawS, sr)
		ratioGet, ratioGetP = append(ratioGet, sg/rg.rps), append(ratioGetP, sg/rp.rps)
		ratioMget, ratioRaw = append(ratioMget, sm/(rm.rps*256)), append(ratioRaw, sr/(rm.rps*256))
		log.Info("throughput", "redis_get", rg.rps, "redis_get_P16", rp.rps, "sidecar_get", sg, "cpu_us_per_get", lastCPU.total(), "redis_mget_keys", rm.rps*256, "sidecar_batch_keys", sm, "sidecar_raw_batch_keys", sr)
		return nil
	}
	// latency measures latency at 50% of peak: the sidecar over TCP and
	// unix, and Redis through go-redis with the same open-loop driver;
	// suffix names the variant (pinned or not) in lats.
	loads, err := parseLoads(*flagLoads)
	if err != nil {
		return err
	}
	record := func(name string, ls []latResult) {
		for _, l := range ls {
			key := name + loadSuffix(l.frac)
			lats[key] = append(lats[key], l)
			log.Info("latency", "transport", key, "peak", l.peak, "offered", l.peak*l.frac, "p50", l.p50, "p99", l.p99, "p99.9", l.p999, "max", l.max, "dispatch_lag_p50", l.lagP50, "dispatch_lag_p99", l.lagP99)
		}
	}
	latency := func(round int, suffix string) error {
		for i, t := range transports {
			ls, err := sidecarLatency(ctx, t.addr, d, n, ch, loads, round == 1 && i == 0 && suffix == "" && *flagProfile == "latency")
			if err != nil {
				return err
			}
			record(t.name+suffix, ls)
		}
		ls, err := redisLatency(ctx, rport, rpid, d, n, loads)
		if err != nil {
			return err
		}
		record("redis"+suffix, ls)
		return nil
	}
	for round := 1; round <= *flagRounds; round++ {
		log.Info("round", "n", round)
		rg, cmd, err := redisBench(ctx, rport, d, []string{"-t", "get", "-c", "50"}, n)
		if err != nil {
			return err
		}
		redisGetCmd = cmd
		redisGetLat = append(redisGetLat, rg)
		if !*flagLatOnly {
			if err := throughput(round, rg); err != nil {
				return err
			}
		}
		if *flagOnly == "autobatch" {
			continue
		}
		if err := latency(round, ""); err != nil {
			return err
		}
		if *flagPin {
			err := pinned(ch, rpid, func() error {
				rg, _, err := redisBench(ctx, rport, d, []string{"-t", "get", "-c", "50"}, n)
				if err != nil {
					return err
				}
				redisGetLatPinned = append(redisGetLatPinned, rg)
				return latency(round, pinSuffix)
			})
			if err != nil {
				return err
			}
		}
	}

	if *flagOnly == "autobatch" {
		return nil
	}
	// Report.
	var b bytes.Buffer
	model := cpuModel()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&b, "## #4 / #17 sidecar: lookups through the sidecar versus Redis, client and server in separate processes\n\n")
	fmt.Fprintf(&b, "Machine: %s, %d logical CPUs (GOMAXPROCS %d), shared with other work (load average at the end: %s); %s; %s, %s.  \n", model, runtime.NumCPU(), runtime.GOMAXPROCS(0), strings.Join(strings.Fields(string(load))[:3], " "), idleState(), runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	extra := ""
	if *flagPin {
		extra += " -pin"
	}
	if *flagLatOnly {
		extra += " -latency-only"
	}
	if *flagDispatcher != "timerfd" {
		extra += " -dispatcher " + *flagDispatcher
	}
	if *flagLoads != "0.5" {
		extra += " -loads " + *flagLoads
	}
	fmt.Fprintf(&b, "Command: `go run ./sidecar/internal/benchvsredis -rows %d -duration %v -rounds %d -store %s -batch-goroutines %d%s`  \n", n, d, *flagRounds, *flagStore, *flagBatchG, extra)
	fmt.Fprintf(&b, "Data: %d rows of 8 columns (%d bytes encoded on average), in a %s cold store behind the sidecar (its read cache warmed with every key) and in redis-server %s as `key:%%012d` -> the row's value encoding. The sidecar runs in a child process of the benchmark (same binary, `-child`), the clients and load generators in the parent: client and server share no Go runtime. Everything on loopback. %d interleaved rounds of %v per throughput measurement (%v per latency measurement); medians of the rounds.\n\n",
		n, valueSize, *flagStore, redisVersion(ctx), *flagRounds, d, 2*d)
	fmt.Fprintf(&b, "Redis baselines, run in the same rounds:\n\n```\n%s\n%s\n%s\n```\n\n", redisGetCmd, redisGetPCmd, shortenMget(redisMgetCmd))
	if !*flagLatOnly {
		fmt.Fprintf(&b, "### Throughput and CPU per key\n\n")
		fmt.Fprintf(&b, "| measurement | sidecar | Redis | ratio | target | verdict |\n|---|---:|---:|---:|---:|---|\n")
		fmt.Fprintf(&b, "| single-key lookups/s: Go client `WithAutoBatch(256, 0)`, %d goroutines (as many Gets in flight as redis-benchmark's 50 connections x 16) vs `redis-benchmark -t get -c 50 -P 16` | %.0f | %.0f | %.2fx | >= 0.5x | %s |\n", *flagAutoG, median(getS), median(getP), median(ratioGetP), verdict(median(ratioGetP) >= 0.5))
		fmt.Fprintf(&b, "| the same vs `redis-benchmark -t get -c 50` (no pipelining) | %.0f | %.0f | %.2fx | | reported |\n", median(getS), median(getR), median(ratioGet))
		cg := median(cpuGetC) + median(cpuGetS)
		fmt.Fprintf(&b, "| CPU per auto-batched Get, client + server processes, %d goroutines | %.2f µs (client %.2f, server %.2f) | | | <= 3 µs | %s |\n", *flagAutoG, cg, median(cpuGetC), median(cpuGetS), verdict(cg <= 3))
		fmt.Fprintf(&b, "| the same Gets from 64 goroutines (64 in flight: smaller batches) | %.0f Gets/s, %.2f µs CPU per Get | %.0f | %.2fx | | reported |\n", median(getS64), median(cpuGet64), median(getP), median(ratioGetP64))
		fmt.Fprintf(&b, "| keys/s in 256-key BatchLookups, raw gRPC client (responses framed and counted, rows not decoded: what redis-benchmark does with MGET replies), %d goroutines vs `redis-benchmark -c 50 mget` x256 | %.0f | %.0f | %.2fx | >= 0.5x | %s |\n", *flagBatchG, median(rawS), median(mgetR), median(ratioRaw), verdict(median(ratioRaw) >= 0.5))
		fmt.Fprintf(&b, "| keys/s in 256-key batches through the Go client: `Client.MultiGet` (one BatchLookup, every row decoded into typed values), %d goroutines vs the same MGET | %.0f | %.0f | %.2fx | | reported |\n\n", *flagBatchG, median(mgetS), median(mgetR), median(ratioMget))
		fmt.Fprintf(&b, "CPU per key of both processes, raw BatchLookup %.2f µs, Go client MultiGet %.2f µs. Per round (sidecar / Redis): gets %s (vs -P 16: %s); raw batch keys %s; Go client batch keys %s.\n\n", median(cpuRaw), median(cpuBatch), pairs(getS, getR), pairs(getS, getP), pairs(rawS, mgetR), pairs(mgetS, mgetR))
	}

	fmt.Fprintf(&b, "### Unary Lookup latency at 50%% of peak\n\n")
	fmt.Fprintf(&b, "Go client without auto-batching, 256 worker goroutines. Peak: closed loop, 64 goroutines, %v. Then open loop at half that rate for %v: call i is due at start + i/rate and its latency counts from its due time (no coordinated omission; the dispatcher waits with `-dispatcher %s`, see openloop.go; its own lateness is the dispatch lag column; the last column is the CPU time per call of the driver process and of the server process during the open loop). Percentiles are exact (every call's latency, sorted). Redis (go-redis) is the same driver against redis-server at 50%% of its own go-redis peak; redis-benchmark's own percentiles (closed loop, 50 connections, full load) are beside it.%s%s\n\n", d, 2*d, *flagDispatcher, pinNote(), loadsNote(loads))
	fmt.Fprintf(&b, "| transport | peak lookups/s | offered | p50 | p99 | p99.9 | max | dispatch lag p50 / p99 / p99.9 | CPU µs per call, driver / server |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	variants := []string{""}
	if *flagPin {
		variants = append(variants, pinSuffix)
	}
	for _, v := range variants {
		for _, f := range loads {
			for _, name := range []string{"TCP (127.0.0.1)", "unix socket", "redis"} {
				m := medianLat(lats[name+v+loadSuffix(f)])
				label := name + v
				if name == "redis" {
					label = "Redis GET via go-redis, same driver" + v
				}
				label += loadSuffix(f)
				fmt.Fprintf(&b, "| %s | %.0f | %.0f/s | %s | %s | %s | %s | %.3f / %.3f / %.3f ms | %.1f / %.1f |\n", label, m.peak, m.peak*f, ms(m.p50), ms(m.p99), ms(m.p999), ms(m.max), float64(m.lagP50)/1e6, float64(m.lagP99)/1e6, float64(m.lagP999)/1e6, m.cpuClient, m.cpuServer)
			}
		}
		rb := medianRedis(redisGetLat)
		if v != "" {
			rb = medianRedis(redisGetLatPinned)
		}
		fmt.Fprintf(&b, "| `redis-benchmark -t get -c 50`%s, its own percentiles (closed loop, full load) | %.0f | full | %.3f ms | %.3f ms | %.3f ms | %.3f ms | | |\n", v, rb.rps, rb.p50, rb.p99, rb.p999, rb.max)
	}
	b.WriteString("\n")
	tcpL, unixL := medianLat(lats["TCP (127.0.0.1)"]), medianLat(lats["unix socket"])
	fmt.Fprintf(&b, "Per round, p50 / p99 / p99.9: TCP %s; unix %s; Redis %s.", latRounds(lats["TCP (127.0.0.1)"]), latRounds(lats["unix socket"]), latRounds(lats["redis"]))
	if *flagPin {
		fmt.Fprintf(&b, " Pinned: TCP %s; unix %s; Redis %s.", latRounds(lats["TCP (127.0.0.1)"+pinSuffix]), latRounds(lats["unix socket"+pinSuffix]), latRounds(lats["redis"+pinSuffix]))
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "| target | measured | verdict |\n|---|---:|---|\n")
	fmt.Fprintf(&b, "| TCP p50 <= 0.4 ms at 50%% of peak | %s | %s |\n", ms(tcpL.p50), verdict(tcpL.p50 <= 400*time.Microsecond))
	fmt.Fprintf(&b, "| TCP p99 <= 2 ms at 50%% of peak | %s | %s |\n", ms(tcpL.p99), verdict(tcpL.p99 <= 2*time.Millisecond))
	fmt.Fprintf(&b, "| unix p50 <= 0.4 ms, p99 <= 2 ms | %s, %s | %s |\n", ms(unixL.p50), ms(unixL.p99), verdict(unixL.p50 <= 400*time.Microsecond && unixL.p99 <= 2*time.Millisecond))
	fmt.Fprintf(&b, "| unix socket <= TCP (p50 and p99) | p50 %.2fx, p99 %.2fx of TCP | %s |\n\n", float64(unixL.p50)/float64(tcpL.p50), float64(unixL.p99)/float64(tcpL.p99), verdict(unixL.p50 <= tcpL.p50 && unixL.p99 <= tcpL.p99))

	fmt.Fprintf(&b, "### Redis memory per key\n\n")
	fmt.Fprintf(&b, "`INFO memory` used_memory of the redis-server above before and after loading the %d rows (SET `key:%%012d` -> the %d-byte value encoding, no expiry): %s -> %s, **%.0f bytes per key** (%.1fx the value size): about %.0f MiB per million rows of this schema, before replication and fork headroom for snapshots.\n",
		n, valueSize, bytesize(memBefore), bytesize(memAfter), float64(memAfter-memBefore)/float64(n), float64(memAfter-memBefore)/float64(n)/float64(valueSize), float64(memAfter-memBefore)/float64(n)*1e6/(1<<20))
	fmt.Fprintf(&b, "\nThe same rows loaded through hotcold's Redis backend (`coldstore.Open(\"redis://...\")` + Load, as `hotcold load --store redis://...` does: one key per row under the version's prefix, plus the version's metadata) into the same server afterwards: %s -> %s, **%.0f bytes per row**, about %.0f MiB per million rows per retained version (`--keep`).\n",
		bytesize(memAfter), bytesize(memBackend), float64(memBackend-memAfter)/float64(n), float64(memBackend-memAfter)/float64(n)*1e6/(1<<20))
	os.Stdout.Write(b.Bytes())
	if *flagOut != "" {
		return os.WriteFile(*flagOut, b.Bytes(), 0o644)
	}
	return nil
}

var (
	flagProfile    = flag.String("profile", "latency", "which measurement of round 1 -server-cpuprofile, -server-trace and -client-cpuprofile cover: latency (TCP) or autobatch")
	flagClientProf = flag.String("client-cpuprofile", "", "write a CPU profile of the benchmark (client) process to this file")
)

func startClientProfile() func() {
	if *flagClientProf == "" {
		return func() {}
	}
	f, err := os.Create(*flagClientProf)
	if err != nil {
		return func() {}
	}
	pprof.StartCPUProfile(f)
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }

func bytesize(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

type latResult struct {
	peak                    float64
	p50, p99, p999, max     time.Duration
	frac                    float64       // the offered load, a fraction of peak
	lagP50, lagP99, lagP999 time.Duration // the dispatcher's own lateness
	cpuClient, cpuServer    float64       // CPU µs per call of the driver and the server process
}

func medianLat(ls []latResult) latResult {
	pick := func(f func(latResult) float64) float64 {
		var xs []float64
		for _, l := range ls {
			xs = append(xs, f(l))
		}
		return median(xs)
	}
	return latResult{
		peak:      pick(func(l latResult) float64 { return l.peak }),
		frac:      pick(func(l latResult) float64 { return l.frac }),
		p50:       time.Duration(pick(func(l latResult) float64 { return float64(l.p50) })),
		p99:       time.Duration(pick(func(l latResult) float64 { return float64(l.p99) })),
		p999:      time.Duration(pick(func(l latResult) float64 { return float64(l.p999) })),
		max:       time.Duration(pick(func(l latResult) float64 { return float64(l.max) })),
		lagP50:    time.Duration(pick(func(l latResult) float64 { return float64(l.lagP50) })),
		lagP99:    time.Duration(pick(func(l latResult) float64 { return float64(l.lagP99) })),
		lagP999:   time.Duration(pick(func(l latResult) float64 { return float64(l.lagP999) })),
		cpuClient: pick(func(l latResult) float64 { return l.cpuClient }),
		cpuServer: pick(func(l latResult) float64 { return l.cpuServer }),
	}
}

func latRounds(ls []latResult) string {
	var parts []string
	for _, l := range ls {
		parts = append(parts, fmt.Sprintf("%.2f / %.2f / %.2f", float64(l.p50)/1e6, float64(l.p99)/1e6, float64(l.p999)/1e6))
	}
	return strings.Join(parts, ", ") + " ms"
}

func medianRedis(rs []redisResult) redisResult {
	pick := func(f func(redisResult) float64) float64 {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	return redisResult{
		rps:  pick(func(r redisResult) float64 { return r.rps }),
		p50:  pick(func(r redisResult) float64 { return r.p50 }),
		p99:  pick(func(r redisResult) float64 { return r.p99 }),
		p999: pick(func(r redisResult) float64 { return r.p999 }),
		max:  pick(func(r redisResult) float64 { return r.max }),
	}
}

// sidecarLatency measures the unary Lookup peak over addr, then the
// latency open loop at half of it.
func sidecarLatency(ctx context.Context, addr string, d time.Duration, keyspace int, ch *child, loads []float64, profile bool) ([]latResult, error) {
	c, err := sidecar.Dial(addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	get := func(rng *rand.Rand) error {
		res, err := c.Get(ctx, "items", []row.Value{row.Int64Value(rng.Int64N(int64(keyspace)))})
		if err == nil && !res.Found {
			err = fmt.Errorf("key not found")
		}
		return err
	}
	peak, err := closedLoop(64, d, get, ch)
	if err != nil {
		return nil, err
	}
	var ls []latResult
	for _, f := range loads {
		var stop []func()
		if profile && f == 0.5 {
			ch.command("prof start")
			ch.command("trace start")
			stop = []func(){startClientProfile(), func() { ch.command("trace stop") }, func() { ch.command("prof stop") }}
		}
		l, err := measureOpenLoop(peak, f, d, ch.cmd.Process.Pid, get)
		for _, s := range stop {
			s()
		}
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// measureOpenLoop runs get open loop at frac of peak for 2d and returns
// its latencies, the dispatcher's lateness and the CPU time per call of
// this process (the driver and client) and of the server process pid.
func measureOpenLoop(peak, frac float64, d time.Duration, pid int, get func(*rand.Rand) error) (latResult, error) {
	c0, s0 := cpuTime(), procCPU(pid)
	lat, lag, err := openLoop(peak*frac, 2*d, 256, get)
	if err != nil {
		return latResult{}, err
	}
	calls := float64(max(1, len(lat)))
	return latResult{peak: peak, frac: frac, p50: lat.q(0.5), p99: lat.q(0.99), p999: lat.q(0.999), max: lat.q(1), lagP50: lag.q(0.5), lagP99: lag.q(0.99), lagP999: lag.q(0.999),
		cpuClient: float64(cpuTime()-c0) / 1e3 / calls, cpuServer: float64(procCPU(pid)-s0) / 1e3 / calls}, nil
}

// redisLatency is sidecarLatency for GETs through go-redis.
func redisLatency(ctx context.Context, port, redisPid int, d time.Duration, keyspace int, loads []float64) ([]latResult, error) {
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), PoolSize: 256})
	defer c.Close()
	get := func(rng *rand.Rand) error {
		return c.Get(ctx, fmt.Sprintf("key:%012d", rng.Int64N(int64(keyspace)))).Err()
	}
	peak, err := closedLoop(64, d, get, nil)
	if err != nil {
		return nil, err
	}
	var ls []latResult
	for _, f := range loads {
		l, err := measureOpenLoop(peak, f, d, redisPid, get)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// parseLoads reads -loads: fractions of peak in (0, 1], in the order
// given, with 0.5 (the targets' load) added first if missing.
func parseLoads(s string) ([]float64, error) {
	loads := []float64{0.5}
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v > 1 {
			return nil, fmt.Errorf("-loads %q: %q is not a fraction of peak in (0, 1], e.g. -loads 0.1,0.25,0.5", s, f)
		}
		if !slices.Contains(loads, v) {
			loads = append(loads, v)
		}
	}
	return loads, nil
}

// loadsNote describes the rows of other loads than 50% of peak.
func loadsNote(loads []float64) string {
	if len(loads) == 1 {
		return ""
	}
	return " Rows \"at N% of peak\" (`-loads`) are the same open loop offered that fraction of the same peak: where the tail goes as the load falls."
}

// loadSuffix names a load other than the targets' 50% in the table.
func loadSuffix(frac float64) string {
	if frac == 0.5 {
		return ""
	}
	return fmt.Sprintf(" at %g%% of peak", frac*100)
}

// idleState says how an idle CPU of this machine waits (the cpuidle
// driver, and a KVM guest's halt polling): on a VM whose idle vCPUs halt
// at once, every wake-up of an idle process is a host reschedule, which
// an open loop below full load pays on every call.
func idleState() string {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	drv := read("/sys/devices/system/cpu/cpuidle/current_driver")
	if drv == "" {
		return "cpuidle driver unknown"
	}
	s := "cpuidle driver " + drv
	if ns := read("/sys/module/haltpoll/parameters/guest_halt_poll_ns"); ns != "" {
		s += ", guest_halt_poll_ns " + ns
	}
	return s
}

func redisUsedMemory(ctx context.Context, port int) (int64, error) {
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO memory has no used_memory")
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
func startRedis(ctx context.Context, dir string) (int, int, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return 0, 0, nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for c.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			stop()
			return 0, 0, nil, fmt.Errorf("redis-server on port %d did not answer PING", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return port, cmd.Process.Pid, stop, nil
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

// redisResult is what redis-benchmark reports: requests/s and its latency
// percentiles in ms.
type redisResult struct {
	rps                 float64
	p50, p99, p999, max float64
}

var (
	reThroughput = regexp.MustCompile(`throughput summary: ([\d.]+) requests per second`)
	rePercentile = regexp.MustCompile(`^\s*([\d.]+)% <= ([\d.]+) milliseconds`)
)

// parseRedisBench reads redis-benchmark's text output: the throughput
// summary and the "Latency by percentile distribution" lines.
func parseRedisBench(out []byte) (redisResult, error) {
	var r redisResult
	m := reThroughput.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no throughput summary")
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	in := false
	set := map[float64]*float64{50: &r.p50, 99: &r.p99, 99.9: &r.p999, 100: &r.max}
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.Contains(l, "Latency by percentile distribution"):
			in = true
			continue
		case strings.Contains(l, "Cumulative distribution"):
			in = false
		}
		if !in {
			continue
		}
		pm := rePercentile.FindStringSubmatch(l)
		if pm == nil {
			continue
		}
		pct, _ := strconv.ParseFloat(pm[1], 64)
		v, _ := strconv.ParseFloat(pm[2], 64)
		for p, dst := range set {
			if pct >= p && *dst == 0 {
				*dst = v
			}
		}
	}
	return r, nil
}

// redisBench runs redis-benchmark with args for about d (calibrated with a
// short run) and returns its figures and the command line.
func redisBench(ctx context.Context, port int, d time.Duration, args []string, keyspace int) (redisResult, string, error) {
	runOnce := func(n int) (redisResult, string, error) {
		full := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-r", strconv.Itoa(keyspace), "-n", strconv.Itoa(n)}, args...)
		out, err := exec.CommandContext(ctx, "redis-benchmark", full...).Output()
		if err != nil {
			return redisResult{}, "", fmt.Errorf("redis-benchmark %s: %w", strings.Join(full, " "), err)
		}
		r, err := parseRedisBench(out)
		if err != nil {
			return r, "", fmt.Errorf("redis-benchmark %s: %w in %q", strings.Join(full, " "), err, out)
		}
		return r, "redis-benchmark " + strings.Join(full, " "), nil
	}
	r, _, err := runOnce(5000)
	if err != nil {
		return r, "", err
	}
	return runOnce(max(5000, int(r.rps*d.Seconds())))
}

// autoBatchedGets runs single-key Gets from g goroutines through one
// auto-batching client for d and returns lookups/s.
func autoBatchedGets(ctx context.Context, addr string, g int, d time.Duration, keyspace int, ch *child) (float64, error) {
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
	}, ch)
}

// batchLookups runs MultiGets of size random keys from g goroutines for d
// and returns keys/s.
func batchLookups(ctx context.Context, addr string, g, size int, d time.Duration, keyspace int, ch *child) (float64, error) {
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
	}, ch)
	return ops * float64(size), err
}

// rawBatchLookups runs BatchLookups of size random keys from g goroutines
// for d with a minimal gRPC client: the request is encoded by hand and the
// response only framed and counted, no row decoded. It returns keys/s.
func rawBatchLookups(ctx context.Context, addr string, g, size int, d time.Duration, keyspace int, ch *child) (float64, error) {
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
	}, ch)
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

// cpuUse is CPU time per op of the benchmark process (clients and load
// generators) and of the sidecar child, in µs.
type cpuUse struct{ client, server float64 }

func (c cpuUse) total() float64 { return c.client + c.server }

// lastCPU is the CPU use per op of the last closedLoop with a child.
var lastCPU cpuUse

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// closedLoop runs op from g goroutines for d and returns ops/s. With ch,
// it sets lastCPU.
func closedLoop(g int, d time.Duration, op func(*rand.Rand) error, ch *child) (float64, error) {
	cpu0 := cpuTime()
	var srv0 time.Duration
	if ch != nil {
		srv0 = ch.cpu()
	}
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
	elapsed := time.Since(start)
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	n := float64(max(1, ops.Load()))
	if ch != nil {
		lastCPU = cpuUse{client: float64(cpuTime()-cpu0) / 1e3 / n, server: float64(ch.cpu()-srv0) / 1e3 / n}
	}
	return float64(ops.Load()) / elapsed.Seconds(), nil
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
