package sidecar

// Benchmarks of the two halves of a BatchLookup without gRPC: the server
// answering 256 cached keys, and the client decoding 256 rows.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"google.golang.org/protobuf/proto"

	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

// benchEngineRows is how many rows benchEngine's table "t" holds.
const benchEngineRows = 100000

// benchEngine returns an engine over a memory store whose table "t" (key
// id) holds benchEngineRows rows of 5 columns; the store closes with b.
func benchEngine(b *testing.B) *engine {
	s := row.MustSchema([]row.Column{{Name: "id", Type: row.Int64}, {Name: "s", Type: row.String}, {Name: "t", Type: row.String}, {Name: "u", Type: row.String}, {Name: "f", Type: row.Float64}}, []string{"id"}, 1)
	m := coldstore.NewMemory()
	rows := make([]row.Row, benchEngineRows)
	for i := range rows {
		rows[i] = row.New(row.Int64Value(int64(i)), row.StringValue(fmt.Sprintf("item-%014d", i)), row.StringValue("cat-00001"), row.StringValue(fmt.Sprintf("note %032x", i)), row.Float64Value(1.5))
	}
	if err := m.Publish("t", "v1", s, time.Time{}, rows); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return newEngine(m, (&Options{}).withDefaults(), newMetrics())
}

// BenchmarkEngineHits256 answers 256 cached keys and encodes the results.
func BenchmarkEngineHits256(b *testing.B) {
	e := benchEngine(b)
	keys := make(wireKeys, 256)
	for i := range keys {
		var err error
		if keys[i], err = appendValues(nil, nil, []row.Value{row.Int64Value(int64(i * 300))}); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	ents := make([]cacheEntry, len(keys))
	if _, err := e.lookup(ctx, "t", keys, func(int) string { return "" }, ents); err != nil {
		b.Fatal(err)
	}
	answerBatches(b, e, []wireKeys{keys})
}

// BenchmarkEngineHitsRandom256 answers batches of 256 random keys of a
// warm cache of 100,000 rows (the memory-bound case: a batch's keys are
// spread over the whole cache) and encodes the results.
func BenchmarkEngineHitsRandom256(b *testing.B) {
	e := benchEngine(b)
	const n = benchEngineRows
	ctx := context.Background()
	all := make(wireKeys, n)
	for i := range all {
		var err error
		if all[i], err = appendValues(nil, nil, []row.Value{row.Int64Value(int64(i))}); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < n; i += 4096 { // warm the cache with every key
		part := all[i:min(i+4096, n)]
		if _, err := e.lookup(ctx, "t", part, func(int) string { return "" }, make([]cacheEntry, len(part))); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	batches := make([]wireKeys, 64)
	for i := range batches {
		batches[i] = make(wireKeys, 256)
		for j := range batches[i] {
			batches[i][j] = all[rng.IntN(n)]
		}
	}
	answerBatches(b, e, batches)
}

// answerBatches is the timed loop of the engine benchmarks: b.N batches of
// 256 keys, taken in turn from batches, answered and encoded.
func answerBatches(b *testing.B, e *engine, batches []wireKeys) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		keys := batches[i%len(batches)]
		ents := make([]cacheEntry, len(keys))
		st, err := e.lookup(ctx, "t", keys, func(int) string { return "" }, ents)
		if err != nil {
			b.Fatal(err)
		}
		encodeBatchResponse(false, 0, ents, [][]byte{st.tvEnc}).buf.Free()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/key")
}

// BenchmarkClientDecode256 decodes a BatchLookupResponse of 256 rows into
// coldstore.Results.
func BenchmarkClientDecode256(b *testing.B) {
	cols := []row.Type{row.Int64, row.String, row.String, row.String, row.Float64}
	var results []*lookuppb.LookupResult
	for i := 0; i < 256; i++ {
		results = append(results, &lookuppb.LookupResult{Found: true, Version: "v1", Row: rowToProto(cols, row.New(row.Int64Value(int64(i)), row.StringValue(fmt.Sprintf("item-%014d", i)), row.StringValue("cat-00001"), row.StringValue(fmt.Sprintf("note %032x", i)), row.Float64Value(1.5)))})
	}
	data, err := proto.Marshal(&lookuppb.BatchLookupResponse{Results: results})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var r batchResponse
		if err := r.decodeWire(data); err != nil {
			b.Fatal(err)
		}
		slab := valueSlab(r.results)
		for j := range r.results {
			if _, err := r.results[j].resultInto(&slab); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/key")
}
