package row_test

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/hotcold/hotcold/row"
)

func allTypesSchema(t testing.TB) *row.Schema {
	t.Helper()
	cols := []row.Column{{Name: "k", Type: row.Int64}}
	for i, ty := range append(keyTypes, row.Null, row.Timestamp(row.Millisecond, "UTC")) {
		cols = append(cols, row.Column{Name: "c" + string(rune('a'+i)), Type: ty, Nullable: true})
	}
	s, err := row.NewSchema(cols, []string{"k"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randRow(rng *rand.Rand, s *row.Schema) row.Row {
	r := row.Row{Values: make([]row.Value, s.Len())}
	r.Values[0] = row.Int64Value(rng.Int64())
	for i := 1; i < s.Len(); i++ {
		r.Values[i] = randValue(rng, s.Column(i).Type)
	}
	return r
}

func TestValueEncodingRoundTrips(t *testing.T) {
	s := allTypesSchema(t)
	rng := rand.New(rand.NewPCG(3, 4))
	var got row.Row
	for i := 0; i < 5000; i++ {
		r := randRow(rng, s)
		b, err := s.AppendValue(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DecodeValue(b, &got); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(r) {
			t.Fatalf("round trip\n got %v\nwant %v", got, r)
		}
	}
}

func TestNewerSchemaReadsOldBytesWithDefaults(t *testing.T) {
	old := row.MustSchema([]row.Column{
		{Name: "id", Type: row.Int64},
		{Name: "city", Type: row.String, Nullable: true},
	}, []string{"id"}, 1)
	newer := row.MustSchema(append(old.Columns(),
		row.Column{Name: "refund_cnt", Type: row.Int64, Default: row.Int64Value(0)},
		row.Column{Name: "note", Type: row.String, Nullable: true},
	), []string{"id"}, 2)
	if err := old.AppendOnly(newer); err != nil {
		t.Fatal(err)
	}
	b, err := old.AppendValue(nil, row.New(row.Int64Value(9), row.StringValue("Porto")))
	if err != nil {
		t.Fatal(err)
	}
	var got row.Row
	if err := newer.DecodeValue(b, &got); err != nil {
		t.Fatal(err)
	}
	want := row.New(row.Int64Value(9), row.StringValue("Porto"), row.Int64Value(0), row.NullValue())
	if !got.Equal(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	// and the old reader refuses the newer bytes with advice
	nb, _ := newer.AppendValue(nil, want)
	err = old.DecodeValue(nb, &got)
	if err == nil || !strings.Contains(err.Error(), "migrate") {
		t.Fatalf("old reader on new bytes: %v", err)
	}
}

func TestAppendOnlyRejectsChangedColumns(t *testing.T) {
	old := row.MustSchema([]row.Column{{Name: "id", Type: row.Int64}, {Name: "a", Type: row.String, Nullable: true}}, nil, 1)
	changed := row.MustSchema([]row.Column{{Name: "id", Type: row.Int64}, {Name: "a", Type: row.Int64, Nullable: true}}, nil, 2)
	if err := old.AppendOnly(changed); err == nil || !strings.Contains(err.Error(), "a") {
		t.Fatalf("type change: %v", err)
	}
	notNull := row.MustSchema(append(old.Columns(), row.Column{Name: "b", Type: row.Int64}), nil, 2)
	if err := old.AppendOnly(notNull); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("non-nullable append without default: %v", err)
	}
}

func TestDecodeValueRejectsTruncatedInput(t *testing.T) {
	s := allTypesSchema(t)
	rng := rand.New(rand.NewPCG(5, 6))
	r := randRow(rng, s)
	for i := range r.Values {
		if r.Values[i].IsNull() && s.Column(i).Type.ID != row.TypeNull {
			r.Values[i] = randValue(rng, s.Column(i).Type)
		}
	}
	b, err := s.AppendValue(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	var got row.Row
	for i := 0; i < len(b); i++ {
		err := s.DecodeValue(b[:i], &got)
		if err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", i, len(b))
		}
		if !strings.Contains(err.Error(), "truncated") && !strings.Contains(err.Error(), "column") {
			t.Fatalf("truncated error does not say what: %v", err)
		}
	}
}

func TestAppendValueNamesBadColumn(t *testing.T) {
	s := row.MustSchema([]row.Column{{Name: "id", Type: row.Int64}, {Name: "amount", Type: row.Float64}}, nil, 1)
	_, err := s.AppendValue(nil, row.New(row.Int64Value(1), row.NullValue()))
	if err == nil || !strings.Contains(err.Error(), `"amount"`) {
		t.Fatalf("null in non-nullable: %v", err)
	}
	_, err = s.AppendValue(nil, row.New(row.Int64Value(1), row.StringValue("x")))
	if err == nil || !strings.Contains(err.Error(), `"amount"`) {
		t.Fatalf("wrong type: %v", err)
	}
}

func tenColumnSchema() (*row.Schema, row.Row) {
	s := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "user_id", Type: row.Int64},
		{Name: "city", Type: row.String, Nullable: true},
		{Name: "amount", Type: row.Decimal(18, 2)},
		{Name: "qty", Type: row.Int32},
		{Name: "price", Type: row.Float64},
		{Name: "paid", Type: row.Bool},
		{Name: "dt", Type: row.Date32},
		{Name: "ts", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "note", Type: row.String, Nullable: true},
	}, []string{"order_id"}, 1)
	r := row.New(row.Int64Value(123456789), row.Int64Value(42), row.StringValue("Shanghai"),
		row.DecimalValue(decimal128.FromI64(129900)), row.Int32Value(3), row.Float64Value(433.0),
		row.BoolValue(true), row.Date32Value(20599), row.TimestampValue(1_779_000_000_000), row.StringValue("gift wrap please"))
	return s, r
}

func TestDecodeValueIntoReusedRowAllocatesNothing(t *testing.T) {
	s, r := tenColumnSchema()
	b, err := s.AppendValue(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	var got row.Row
	if err := s.DecodeValue(b, &got); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := s.DecodeValue(b, &got); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("decode into a reused row allocates %v times", allocs)
	}
	if !got.Equal(r) {
		t.Fatalf("got %v", got)
	}
}

func FuzzDecodeValue(f *testing.F) {
	s, r := tenColumnSchema()
	good, _ := s.AppendValue(nil, r)
	f.Add(good)
	f.Add([]byte{1, 10})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, shared row.Row
		err := s.DecodeValue(data, &got)
		serr := s.DecodeValueShared(data, &shared)
		if (err == nil) != (serr == nil) {
			t.Fatalf("DecodeValue: %v, DecodeValueShared: %v", err, serr)
		}
		if err != nil {
			return
		}
		if !shared.Equal(got) {
			t.Fatalf("DecodeValueShared %v, DecodeValue %v", shared, got)
		}
		// whatever decodes must re-encode and decode to the same row,
		// unless it holds a null in a non-nullable column
		b, err := s.AppendValue(nil, got)
		if err != nil {
			return
		}
		var again row.Row
		if err := s.DecodeValue(b, &again); err != nil || !again.Equal(got) {
			t.Fatalf("re-encode round trip: %v", err)
		}
	})
}

func TestDecodeValueSharedAliasesInput(t *testing.T) {
	s, r := tenColumnSchema()
	data, err := s.AppendValue(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	var copied, shared row.Row
	if err := s.DecodeValue(data, &copied); err != nil {
		t.Fatal(err)
	}
	if err := s.DecodeValueShared(data, &shared); err != nil {
		t.Fatal(err)
	}
	if !shared.Equal(r) || !copied.Equal(r) {
		t.Fatalf("decoded %v / %v, want %v", shared, copied, r)
	}
	// A string of the shared row points into data, the copied one does not.
	strCol := -1
	for i := 0; i < s.Len(); i++ {
		if s.Column(i).Type.ID == row.TypeString && !r.Values[i].IsNull() && len(r.Values[i].Bytes()) > 0 {
			strCol = i
			break
		}
	}
	if strCol < 0 {
		t.Fatal("fixture has no non-empty string column")
	}
	sb, cb := shared.Values[strCol].Bytes(), copied.Values[strCol].Bytes()
	inData := func(b []byte) bool {
		p, lo := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&data[0]))
		return p >= lo && p < lo+uintptr(len(data))
	}
	if !inData(sb) || inData(cb) {
		t.Fatalf("shared string in input: %v, copied string in input: %v; want true, false", inData(sb), inData(cb))
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.DecodeValueShared(data, &shared) }); n != 0 {
		t.Fatalf("DecodeValueShared into a reused row allocates %.0f times, want 0", n)
	}
}

func BenchmarkKeyEncode3(b *testing.B) {
	types := []row.Type{row.Int64, row.String, row.Date32}
	vals := []row.Value{row.Int64Value(123456789), row.StringValue("Shanghai"), row.Date32Value(20599)}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = row.AppendKey(buf[:0], types, vals)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValueDecode10(b *testing.B) {
	s, r := tenColumnSchema()
	data, _ := s.AppendValue(nil, r)
	var got row.Row
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := s.DecodeValue(data, &got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValueEncode10(b *testing.B) {
	s, r := tenColumnSchema()
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = s.AppendValue(buf[:0], r)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValueDecode10JSON is the baseline for BenchmarkValueDecode10:
// the same row read from its JSON form, as a job that kept JSON in state
// would.
func BenchmarkValueDecode10JSON(b *testing.B) {
	s, r := tenColumnSchema()
	data := s.AppendJSON(nil, r)
	var got row.Row
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := s.RowFromJSON(data, &got); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyEncode3JSON is the baseline for BenchmarkKeyEncode3: the
// same key written as a JSON array (not order-preserving).
func BenchmarkKeyEncode3JSON(b *testing.B) {
	s := row.MustSchema([]row.Column{{Name: "a", Type: row.Int64}, {Name: "b", Type: row.String}, {Name: "c", Type: row.Date32}}, nil, 1)
	r := row.New(row.Int64Value(123456789), row.StringValue("Shanghai"), row.Date32Value(20599))
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = s.AppendJSON(buf[:0], r)
	}
}

// reflect.DeepEqual (and so testify's Equal) on Values compares a string's
// bytes: a Value holding them as a bare pointer with its length elsewhere
// (a 32-byte layout tried once) made DeepEqual compare the first byte
// only, so "abc" and "axy" were equal.
func TestDeepEqualComparesTheBytesOfAStringValue(t *testing.T) {
	if reflect.DeepEqual(row.StringValue("abc"), row.StringValue("axy")) {
		t.Fatal(`reflect.DeepEqual(StringValue("abc"), StringValue("axy")) = true`)
	}
	buf := []byte("xabc")
	if !reflect.DeepEqual(row.StringBytesValue(buf[1:]), row.StringValue("abc")) {
		t.Fatal("equal strings in different buffers are not DeepEqual")
	}
	if !reflect.DeepEqual(row.New(row.StringValue("é"), row.Int64Value(1)).Clone(), row.New(row.StringValue("é"), row.Int64Value(1))) {
		t.Fatal("a cloned row is not DeepEqual to its original")
	}
}
