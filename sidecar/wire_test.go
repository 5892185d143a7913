package sidecar

// Internal tests of the wire codecs (wire.go, codec.go): each hand-written
// decoder is fuzzed against protobuf-go decoding the same bytes into the
// generated messages.

import (
	"math"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

var wireTypesUnderTest = []row.Type{
	row.Bool, row.Int32, row.Int64, row.Float32, row.Float64, row.String, row.Binary, row.Date32,
	row.Timestamp(row.Millisecond, ""), row.Timestamp(row.Microsecond, "UTC"), row.Decimal(18, 2), row.Decimal(38, 0),
}

func sampleValues() []*lookuppb.Value {
	return []*lookuppb.Value{
		{Kind: &lookuppb.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}},
		{Kind: &lookuppb.Value_BoolValue{BoolValue: true}},
		{Kind: &lookuppb.Value_Int32Value{Int32Value: -7}},
		{Kind: &lookuppb.Value_Int64Value{Int64Value: math.MinInt64}},
		{Kind: &lookuppb.Value_FloatValue{FloatValue: 1.5}},
		{Kind: &lookuppb.Value_DoubleValue{DoubleValue: -2.25}},
		{Kind: &lookuppb.Value_StringValue{StringValue: "héllo"}},
		{Kind: &lookuppb.Value_BytesValue{BytesValue: []byte{0, 255}}},
		{Kind: &lookuppb.Value_DateValue{DateValue: 20000}},
		{Kind: &lookuppb.Value_TimestampMillis{TimestampMillis: 1_763_800_000_123}},
		{Kind: &lookuppb.Value_TimestampMicros{TimestampMicros: -5_000}},
		{Kind: &lookuppb.Value_DecimalValue{DecimalValue: "-12.50"}},
		{},
	}
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameConversion checks that a value decoded by hand converts like the
// one protobuf-go decoded, for every column type.
func sameConversion(t *testing.T, hand []byte, oracle *lookuppb.Value) {
	t.Helper()
	wv, err := decodeWireValue(hand)
	if err != nil {
		t.Fatalf("hand decoder failed on a value protobuf-go read as %v: %v", oracle, err)
	}
	for _, ct := range wireTypesUnderTest {
		got, gerr := valueFromWire(ct, wv)
		want, werr := valueFromProto(ct, oracle)
		if (gerr == nil) != (werr == nil) || (gerr == nil && !row.Equal(got, want)) {
			t.Fatalf("%s: hand %v, %v; protobuf-go %v, %v (value %v)", ct, got, gerr, want, werr, oracle)
		}
	}
	got, gerr := valueFromWireSelf(wv)
	want, werr := valueFromWireSelf(protoToWire(oracle))
	if (gerr == nil) != (werr == nil) || (gerr == nil && !row.Equal(got, want)) {
		t.Fatalf("self-typed: hand %v, %v; protobuf-go %v, %v", got, gerr, want, werr)
	}
}

func FuzzDecodeBatchRequest(f *testing.F) {
	vals := sampleValues()
	f.Add(mustMarshal(f, &lookuppb.BatchLookupRequest{Table: "orders", Keys: []*lookuppb.KeyRef{
		{Key: &lookuppb.Key{Values: vals[:4]}},
		{Table: "refunds", Key: &lookuppb.Key{Values: vals[4:]}},
		{},
	}}))
	f.Add(mustMarshal(f, &lookuppb.BatchLookupRequest{Keys: []*lookuppb.KeyRef{{Table: "t", Key: &lookuppb.Key{Values: vals[1:2]}}}}))
	// A KeyRef whose key is given twice (merged) and unknown fields.
	f.Add([]byte{0x12, 0x0c, 0x12, 0x04, 0x0a, 0x02, 0x20, 0x01, 0x12, 0x04, 0x0a, 0x02, 0x20, 0x02, 0x7a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var oracle lookuppb.BatchLookupRequest
		if proto.Unmarshal(data, &oracle) != nil {
			var r batchRequest
			_ = r.decodeWire(data) // must not panic
			return
		}
		var r batchRequest
		if err := r.decodeWire(data); err != nil {
			t.Fatalf("hand decoder failed where protobuf-go did not: %v", err)
		}
		if r.table != oracle.Table || len(r.refs) != len(oracle.Keys) {
			t.Fatalf("table %q and %d keys, protobuf-go %q and %d", r.table, len(r.refs), oracle.Table, len(oracle.Keys))
		}
		for i, ref := range r.refs {
			ok := oracle.Keys[i]
			if ref.table != ok.Table || ref.n != len(ok.GetKey().GetValues()) {
				t.Fatalf("key %d: table %q, %d values; protobuf-go %q, %d", i, ref.table, ref.n, ok.Table, len(ok.GetKey().GetValues()))
			}
			b := ref.key
			for _, ov := range ok.GetKey().GetValues() {
				v, rest, more, err := nextValue(b)
				if err != nil || !more {
					t.Fatalf("key %d: values end early: %v", i, err)
				}
				b = rest
				sameConversion(t, v, ov)
			}
		}
		// Stream requests share the layout with other field numbers.
		var so lookuppb.StreamLookupRequest
		if proto.Unmarshal(data, &so) == nil {
			sr := batchRequest{stream: true}
			if err := sr.decodeWire(data); err != nil || sr.id != so.Id || sr.table != so.Table || len(sr.refs) != len(so.Keys) {
				t.Fatalf("stream request: %v id %d table %q %d keys; protobuf-go %d %q %d", err, sr.id, sr.table, len(sr.refs), so.Id, so.Table, len(so.Keys))
			}
		}
	})
}

func FuzzDecodeBatchResponse(f *testing.F) {
	vals := sampleValues()[:12]
	f.Add(mustMarshal(f, &lookuppb.BatchLookupResponse{
		Results: []*lookuppb.LookupResult{
			{Found: true, Row: &lookuppb.Row{Values: vals}, Version: "v1"},
			{Version: "v1"},
			{Found: true, Row: &lookuppb.Row{Values: vals[:2]}, Version: "v2"},
		},
		Tables: []*lookuppb.TableVersion{{Table: "t", Version: "v1", CoversUntil: timestamppb.Now()}},
	}))
	f.Add(mustMarshal(f, &lookuppb.LookupResponse{Found: true, Row: &lookuppb.Row{Values: vals[3:5]}, Version: "x", CoversUntil: timestamppb.Now()}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var oracle lookuppb.BatchLookupResponse
		if proto.Unmarshal(data, &oracle) == nil {
			var r batchResponse
			if err := r.decodeWire(data); err != nil {
				t.Fatalf("hand decoder failed where protobuf-go did not: %v", err)
			}
			if len(r.results) != len(oracle.Results) {
				t.Fatalf("%d results, protobuf-go %d", len(r.results), len(oracle.Results))
			}
			for i, res := range r.results {
				checkResult(t, res, oracle.Results[i].Found, oracle.Results[i].Row, oracle.Results[i].Version)
			}
		} else {
			var r batchResponse
			_ = r.decodeWire(data) // must not panic
		}
		var lo lookuppb.LookupResponse
		if proto.Unmarshal(data, &lo) == nil {
			var r lookupResponse
			if err := r.decodeWire(data); err != nil {
				t.Fatalf("hand decoder failed on a LookupResponse protobuf-go read: %v", err)
			}
			checkResult(t, r.res, lo.Found, lo.Row, lo.Version)
		}
	})
}

func checkResult(t *testing.T, res resultWire, found bool, r *lookuppb.Row, version string) {
	t.Helper()
	if res.found != found || res.version != version {
		t.Fatalf("found %v version %q, protobuf-go %v %q", res.found, res.version, found, version)
	}
	n, err := countValues(res.row)
	if err != nil || n != len(r.GetValues()) {
		t.Fatalf("row of %d values (%v), protobuf-go %d", n, err, len(r.GetValues()))
	}
	b := res.row
	var want []row.Value
	wantOK := true
	for _, ov := range r.GetValues() {
		v, rest, _, _ := nextValue(b)
		b = rest
		sameConversion(t, v, ov)
		wv, err := decodeWireValue(v)
		var rv row.Value
		if err == nil {
			rv, err = valueFromWireSelf(wv)
		}
		wantOK = wantOK && err == nil
		want = append(want, rv)
	}
	// rowFromWire (strings sharing one copy of the row) decodes the same
	// values as the value-by-value conversion, with and without a slab.
	slab := make([]row.Value, 0, 4)
	for _, sl := range []*[]row.Value{nil, &slab} {
		got, err := rowFromWire(res.row, sl, sl != nil)
		if (err == nil) != wantOK {
			t.Fatalf("rowFromWire: %v, value by value ok=%v", err, wantOK)
		}
		if err != nil {
			continue
		}
		if len(got.Values) != len(want) {
			t.Fatalf("rowFromWire: %d values, want %d", len(got.Values), len(want))
		}
		for i := range want {
			if !row.Equal(got.Values[i], want[i]) && !(want[i].Type() == row.TypeFloat64 || want[i].Type() == row.TypeFloat32) {
				t.Fatalf("rowFromWire value %d = %v, want %v", i, got.Values[i], want[i])
			}
		}
	}
}

// FuzzAppendValue checks that every value the server encodes decodes back
// to itself, with protobuf-go as well as by hand.
func FuzzAppendValue(f *testing.F) {
	f.Add(int64(0), "", []byte(nil), 0.0)
	f.Add(int64(-1), "héllo", []byte{1, 2}, math.Inf(1))
	f.Add(int64(math.MaxInt64), "\xff", []byte{}, math.NaN())
	f.Fuzz(func(t *testing.T, n int64, s string, b []byte, x float64) {
		vals := []struct {
			t row.Type
			v row.Value
		}{
			{row.Int64, row.Int64Value(n)},
			{row.Int32, row.Int32Value(int32(n))},
			{row.Bool, row.BoolValue(n%2 == 0)},
			{row.Date32, row.Date32Value(int32(n))},
			{row.Timestamp(row.Microsecond, ""), row.TimestampValue(n)},
			{row.Timestamp(row.Millisecond, "UTC"), row.TimestampValue(n)},
			{row.Decimal(38, 3), row.DecimalValue(decimal128.FromI64(n))},
			{row.String, row.StringValue(s)},
			{row.Binary, row.BinaryValue(b)},
			{row.Float64, row.Float64Value(x)},
			{row.Float32, row.Float32Value(float32(x))},
			{row.String, row.NullValue()},
		}
		for _, c := range vals {
			enc, err := appendValue(nil, c.t, c.v)
			if err != nil {
				continue // a string that is not UTF-8
			}
			var pv lookuppb.Value
			if err := proto.Unmarshal(enc, &pv); err != nil {
				t.Fatalf("%s %v: protobuf-go cannot read the encoding: %v", c.t, c.v, err)
			}
			got, err := valueFromProto(c.t, &pv)
			if err != nil || !row.Equal(got, c.v) {
				t.Fatalf("%s %v: read back as %v, %v", c.t, c.v, got, err)
			}
			wv, err := decodeWireValue(enc)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := valueFromWire(c.t, wv); err != nil || !row.Equal(got, c.v) {
				t.Fatalf("%s %v: hand decoder read %v, %v", c.t, c.v, got, err)
			}
		}
	})
}

func TestEncodedResultsAreTheTypedMessages(t *testing.T) {
	cols := []row.Type{row.Int64, row.String, row.Decimal(10, 2), row.Timestamp(row.Microsecond, "")}
	r := row.New(row.Int64Value(4), row.StringValue("x"), row.DecimalValue(decimal128.FromI64(-150)), row.NullValue())
	rb, err := appendValues(nil, cols, r.Values)
	if err != nil {
		t.Fatal(err)
	}
	entries := []cacheEntry{
		{found: true, enc: encodeResult(true, rb, "v9")},
		{enc: encodeResult(false, nil, "v9")},
	}
	var got lookuppb.BatchLookupResponse
	if err := proto.Unmarshal(appendResults(nil, fBatchResults, entries), &got); err != nil {
		t.Fatal(err)
	}
	want := &lookuppb.BatchLookupResponse{Results: []*lookuppb.LookupResult{
		{Found: true, Version: "v9", Row: rowToProto(cols, r)},
		{Version: "v9"},
	}}
	if !proto.Equal(&got, want) {
		t.Fatalf("encoded results read as\n%v\nwant\n%v", &got, want)
	}
	var lr lookuppb.LookupResponse
	if err := proto.Unmarshal(entries[0].enc, &lr); err != nil || !lr.Found || lr.Version != "v9" || !proto.Equal(lr.Row, rowToProto(cols, r)) {
		t.Fatalf("a result read as a LookupResponse: %v %v", &lr, err)
	}
}
