package coldstore_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/redistest"
	"github.com/hotcold/hotcold/row"
)

// BenchmarkRedisMultiGet256 compares, on one redis-server started by the
// benchmark, a Redis-backend MultiGet of 256 keys (one MGET, plus key
// encoding and row decoding) with redis-benchmark sending MGET of the very
// same 256 keys, both over one connection without pipelining (-c 1 -P 1).
// The /redis-benchmark case reports redis-benchmark's own request rate as
// ns/op.
func BenchmarkRedisMultiGet256(b *testing.B) {
	srv := redistest.Start(b)
	bin := redistest.Lookup(b, "redis-benchmark")
	ctx := context.Background()
	r, err := coldstore.OpenRedis(ctx, &coldstore.RedisOptions{Addrs: []string{srv.Addr()}, Prefix: "hc:"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	path := benchParquet(b, 100_000)
	src, err := coldstore.OpenParquet(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Load(ctx, coldstore.LoadSpec{Table: "bench", Version: "v1", Key: []string{"id"}, Source: src}); err != nil {
		b.Fatal(err)
	}
	src.Close()
	keys := make([][]row.Value, 256)
	raw := make([]string, 256)
	for i := range keys {
		keys[i] = []row.Value{row.Int64Value(int64(i * 373 % 100_000))}
		if raw[i], err = coldstore.RedisDataKey(ctx, r, "bench", keys[i]); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("hotcold", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			res, err := r.MultiGet(ctx, "bench", keys)
			if err != nil || !res[255].Found {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/256, "ns/key")
	})
	b.Run("redis-benchmark", func(b *testing.B) {
		host, port, _ := strings.Cut(srv.Addr(), ":")
		n := max(b.N, 1000)
		args := append([]string{"-h", host, "-p", port, "-c", "1", "-P", "1", "-n", strconv.Itoa(n), "--csv", "MGET"}, raw...)
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			b.Fatalf("redis-benchmark: %v\n%s", err, out)
		}
		rps, err := parseRedisBenchmarkCSV(out)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(1e9/rps, "ns/op")
		b.ReportMetric(1e9/rps/256, "ns/key")
	})
}

// parseRedisBenchmarkCSV returns the requests per second of the one test
// in redis-benchmark --csv output.
func parseRedisBenchmarkCSV(out []byte) (float64, error) {
	recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark output %q: %w", out, err)
	}
	for _, rec := range recs {
		if len(rec) >= 2 && rec[0] != "test" {
			return strconv.ParseFloat(rec[1], 64)
		}
	}
	return 0, fmt.Errorf("redis-benchmark output %q has no result", out)
}
