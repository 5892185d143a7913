package sidecar

// Benchmarks of the hand-written wire codec (wire.go, codec.go) against
// generated protobuf-go messages for the two ends of a 256-key
// BatchLookup, without gRPC, on the rows of the benchvsredis schema
// (8 columns, ~100 bytes). Each side does the same work either way:
//
//   - server: decode the request, convert every key to row values of the
//     key column's type, and encode the response from cached answers (the
//     hand codec caches each answer's encoding; the generated design
//     caches each answer's *lookuppb.LookupResult and marshals the
//     response);
//   - client: encode the request from row values, decode the response and
//     convert every row into a coldstore.Result (one value slab per
//     response in both).

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

var codecBenchTypes = []row.Type{row.Int64, row.Int64, row.String, row.String, row.Float64, row.Int32, row.Timestamp(row.Millisecond, ""), row.String}

func codecBenchRows(n int) []row.Row {
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]row.Row, n)
	for i := range rows {
		rows[i] = row.New(
			row.Int64Value(int64(i*397)),
			row.Int64Value(rng.Int64N(10_000_000)),
			row.StringValue(fmt.Sprintf("item-%014d", rng.Int64N(1e12))),
			row.StringValue(fmt.Sprintf("cat-%05d", rng.IntN(1000))),
			row.Float64Value(float64(rng.IntN(100000))/100),
			row.Int32Value(int32(rng.IntN(100))),
			row.TimestampValue(1_760_000_000_000+rng.Int64N(86_400_000)),
			row.StringValue(fmt.Sprintf("note %032x", rng.Uint64())),
		)
	}
	return rows
}

// codecBenchFixture is a 256-key request and its response, encoded, with
// the cached answers in both forms.
type codecBenchFixture struct {
	rows     []row.Row
	req      []byte // BatchLookupRequest
	resp     []byte // BatchLookupResponse
	entries  []cacheEntry
	messages []*lookuppb.LookupResult
	tv       []byte
	tvMsg    *lookuppb.TableVersion
}

func newCodecBenchFixture(tb testing.TB) *codecBenchFixture {
	f := &codecBenchFixture{rows: codecBenchRows(256), tvMsg: &lookuppb.TableVersion{Table: "items", Version: "v1"}}
	f.tv, _ = proto.Marshal(f.tvMsg)
	preq := &lookuppb.BatchLookupRequest{Table: "items"}
	presp := &lookuppb.BatchLookupResponse{Tables: []*lookuppb.TableVersion{f.tvMsg}}
	for _, r := range f.rows {
		preq.Keys = append(preq.Keys, &lookuppb.KeyRef{Key: keyToProto(codecBenchTypes[:1], r.Values[:1])})
		rb, err := appendValues(nil, codecBenchTypes, r.Values)
		if err != nil {
			tb.Fatal(err)
		}
		enc := encodeResult(true, rb, "v1")
		f.entries = append(f.entries, cacheEntry{found: true, enc: enc, size: len(enc)})
		m := &lookuppb.LookupResult{Found: true, Version: "v1", Row: rowToProto(codecBenchTypes, r)}
		f.messages = append(f.messages, m)
		presp.Results = append(presp.Results, m)
	}
	var err error
	if f.req, err = proto.Marshal(preq); err != nil {
		tb.Fatal(err)
	}
	if f.resp, err = proto.Marshal(presp); err != nil {
		tb.Fatal(err)
	}
	return f
}

func BenchmarkCodecServer256(b *testing.B) {
	f := newCodecBenchFixture(b)
	keyTypes := codecBenchTypes[:1]
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		dst := make([]row.Value, 1)
		var sum int64
		for i := 0; i < b.N; i++ {
			r := &batchRequest{}
			if err := r.decodeWire(f.req); err != nil {
				b.Fatal(err)
			}
			keys := make(wireKeys, len(r.refs))
			for j, ref := range r.refs {
				keys[j] = ref.key
			}
			for j := range keys {
				if _, _, err := keys.values(j, keyTypes, dst); err != nil {
					b.Fatal(err)
				}
				sum += dst[0].Int64()
			}
			raw := encodeBatchResponse(false, 0, f.entries, [][]byte{f.tv})
			if raw.buf.Len() != len(f.resp) {
				b.Fatalf("response is %d bytes, want %d", raw.buf.Len(), len(f.resp))
			}
			raw.buf.Free()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/key")
		_ = sum
	})
	b.Run("protobuf-go", func(b *testing.B) {
		b.ReportAllocs()
		var out []byte
		var sum int64
		for i := 0; i < b.N; i++ {
			var req lookuppb.BatchLookupRequest
			if err := proto.Unmarshal(f.req, &req); err != nil {
				b.Fatal(err)
			}
			for _, k := range req.Keys {
				v, err := valueFromProto(keyTypes[0], k.GetKey().GetValues()[0])
				if err != nil {
					b.Fatal(err)
				}
				sum += v.Int64()
			}
			resp := &lookuppb.BatchLookupResponse{Results: make([]*lookuppb.LookupResult, len(req.Keys)), Tables: []*lookuppb.TableVersion{f.tvMsg}}
			copy(resp.Results, f.messages)
			var err error
			if out, err = (proto.MarshalOptions{}).MarshalAppend(out[:0], resp); err != nil {
				b.Fatal(err)
			}
			if len(out) != len(f.resp) {
				b.Fatalf("response is %d bytes, want %d", len(out), len(f.resp))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/key")
		_ = sum
	})
}

func BenchmarkCodecClient256(b *testing.B) {
	f := newCodecBenchFixture(b)
	keys := make([][]row.Value, len(f.rows))
	for i, r := range f.rows {
		keys[i] = r.Values[:1]
	}
	out := make([]coldstore.Result, len(keys))
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		var kb []byte
		for i := 0; i < b.N; i++ {
			req := appendTable(make([]byte, 0, 16+len(keys)*16), "items")
			for _, k := range keys {
				var err error
				if kb, err = appendValues(kb[:0], nil, k); err != nil {
					b.Fatal(err)
				}
				req = appendKeyRef(req, fBatchReqKeys, "", kb)
			}
			if len(req) != len(f.req) {
				b.Fatalf("request is %d bytes, want %d", len(req), len(f.req))
			}
			var resp batchResponse
			if err := resp.decodeWire(f.resp); err != nil {
				b.Fatal(err)
			}
			slab := valueSlab(resp.results)
			for j := range resp.results {
				res, err := resp.results[j].resultInto(&slab)
				if err != nil {
					b.Fatal(err)
				}
				out[j] = res
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/key")
	})
	b.Run("protobuf-go", func(b *testing.B) {
		b.ReportAllocs()
		var reqb []byte
		for i := 0; i < b.N; i++ {
			preq := &lookuppb.BatchLookupRequest{Table: "items", Keys: make([]*lookuppb.KeyRef, len(keys))}
			for j, k := range keys {
				preq.Keys[j] = &lookuppb.KeyRef{Key: keyToProto(nil, k)}
			}
			var err error
			if reqb, err = (proto.MarshalOptions{}).MarshalAppend(reqb[:0], preq); err != nil {
				b.Fatal(err)
			}
			if len(reqb) != len(f.req) {
				b.Fatalf("request is %d bytes, want %d", len(reqb), len(f.req))
			}
			var resp lookuppb.BatchLookupResponse
			if err := proto.Unmarshal(f.resp, &resp); err != nil {
				b.Fatal(err)
			}
			n := 0
			if len(resp.Results) > 0 {
				n = len(resp.Results[0].GetRow().GetValues())
			}
			slab := make([]row.Value, 0, n*len(resp.Results))
			for j, r := range resp.Results {
				res := coldstore.Result{Found: r.Found, Version: r.Version}
				if r.Found {
					start := len(slab)
					for _, pv := range r.GetRow().GetValues() {
						v, err := valueFromWireSelf(protoToWire(pv))
						if err != nil {
							b.Fatal(err)
						}
						slab = append(slab, v)
					}
					res.Row = row.Row{Kind: row.Insert, Values: slab[start:len(slab):len(slab)]}
				}
				out[j] = res
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/key")
	})
}
