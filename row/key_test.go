package row_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/hotcold/hotcold/row"
)

var keyTypes = []row.Type{
	row.Bool, row.Int32, row.Int64, row.Float32, row.Float64, row.String,
	row.Binary, row.Date32, row.Timestamp(row.Microsecond, ""), row.Decimal(38, 4),
}

var specialFloats = []float64{math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64, 1, math.MaxFloat64, math.Inf(1), math.NaN()}

func randValue(rng *rand.Rand, t row.Type) row.Value {
	if rng.IntN(8) == 0 {
		return row.NullValue()
	}
	switch t.ID {
	case row.TypeBool:
		return row.BoolValue(rng.IntN(2) == 0)
	case row.TypeInt32:
		return row.Int32Value(int32(rng.Uint32()) >> uint(rng.IntN(32)))
	case row.TypeInt64:
		return row.Int64Value(int64(rng.Uint64()) >> uint(rng.IntN(64)))
	case row.TypeFloat32:
		if rng.IntN(3) == 0 {
			return row.Float32Value(float32(specialFloats[rng.IntN(len(specialFloats))]))
		}
		return row.Float32Value(float32(rng.NormFloat64() * 1e3))
	case row.TypeFloat64:
		if rng.IntN(3) == 0 {
			return row.Float64Value(specialFloats[rng.IntN(len(specialFloats))])
		}
		return row.Float64Value(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20)))
	case row.TypeString, row.TypeBinary:
		b := make([]byte, rng.IntN(5))
		for i := range b {
			b[i] = []byte{0, 1, 'a', 'b', 0xff}[rng.IntN(5)]
		}
		if t.ID == row.TypeString {
			return row.StringValue(string(b))
		}
		return row.BinaryValue(b)
	case row.TypeDate32:
		return row.Date32Value(int32(rng.IntN(40000) - 20000))
	case row.TypeTimestamp:
		return row.TimestampValue(rng.Int64N(1<<45) - 1<<44)
	case row.TypeDecimal128:
		return row.DecimalValue(decimal128.New(int64(rng.Uint64())>>uint(2+rng.IntN(62)), rng.Uint64()))
	}
	return row.NullValue()
}

func compareTuples(a, b []row.Value) int {
	for i := range a {
		if c := row.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func TestKeyEncodingPreservesOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 20000; iter++ {
		n := 1 + rng.IntN(3)
		types := make([]row.Type, n)
		for i := range types {
			types[i] = keyTypes[rng.IntN(len(keyTypes))]
		}
		a, b := make([]row.Value, n), make([]row.Value, n)
		for i, ty := range types {
			a[i], b[i] = randValue(rng, ty), randValue(rng, ty)
			if rng.IntN(3) == 0 {
				b[i] = a[i]
			}
		}
		ea, err := row.AppendKey(nil, types, a)
		if err != nil {
			t.Fatal(err)
		}
		eb, err := row.AppendKey(nil, types, b)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sign(bytes.Compare(ea, eb)), sign(compareTuples(a, b)); got != want {
			t.Fatalf("types %v: order of %v vs %v: bytes say %d, values say %d\n%x\n%x", types, a, b, got, want, ea, eb)
		}
		dec, rest, err := row.DecodeKey(types, ea, nil)
		if err != nil || len(rest) != 0 {
			t.Fatalf("decode %x: %v rest %x", ea, err, rest)
		}
		if compareTuples(dec, a) != 0 {
			t.Fatalf("round trip %v -> %v", a, dec)
		}
	}
}

func TestKeyEncodingSpecialFloats(t *testing.T) {
	types := []row.Type{row.Float64}
	enc := func(f float64) []byte {
		b, err := row.AppendKey(nil, types, []row.Value{row.Float64Value(f)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(enc(0), enc(math.Copysign(0, -1))) {
		t.Error("-0 and +0 encode differently")
	}
	if !bytes.Equal(enc(math.NaN()), enc(math.Float64frombits(0xfff8000000000001))) {
		t.Error("two NaNs encode differently")
	}
	if bytes.Compare(enc(math.Inf(1)), enc(math.NaN())) >= 0 {
		t.Error("NaN does not sort above +Inf")
	}
	null, _ := row.AppendKey(nil, types, []row.Value{row.NullValue()})
	if bytes.Compare(null, enc(math.Inf(-1))) >= 0 {
		t.Error("null does not sort first")
	}
}

func TestKeyEncodingStringsWithZeroBytes(t *testing.T) {
	ordered := []string{"", "\x00", "\x00\x00", "\x00\x01", "\x00\xff", "a", "a\x00", "a\x00b", "a\x01", "ab", "b"}
	types := []row.Type{row.String, row.Int64}
	var prev []byte
	for i, s := range ordered {
		// a second column makes prefix confusion visible
		k, err := row.AppendKey(nil, types, []row.Value{row.StringValue(s), row.Int64Value(-1)})
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && bytes.Compare(prev, k) >= 0 {
			t.Errorf("%q does not sort after %q", s, ordered[i-1])
		}
		prev = k
	}
}

func TestSchemaKeyRejectsNullAndWrongType(t *testing.T) {
	s := row.MustSchema([]row.Column{{Name: "id", Type: row.Int64}, {Name: "v", Type: row.String, Nullable: true}}, []string{"id"}, 1)
	_, err := s.AppendKey(nil, row.New(row.NullValue(), row.NullValue()))
	if !errors.Is(err, row.ErrKeyNull) {
		t.Fatalf("null key: %v", err)
	}
	_, err = s.AppendKey(nil, row.New(row.StringValue("x"), row.NullValue()))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`"id"`)) {
		t.Fatalf("wrong type: %v", err)
	}
}

func TestDecodeKeyRejectsMalformedInput(t *testing.T) {
	types := []row.Type{row.Int64, row.String}
	good, _ := row.AppendKey(nil, types, []row.Value{row.Int64Value(7), row.StringValue("a\x00b")})
	for i := 0; i < len(good); i++ {
		if _, _, err := row.DecodeKey(types, good[:i], nil); err == nil {
			t.Errorf("truncated at %d: no error", i)
		}
	}
	if _, _, err := row.DecodeKey(types, []byte{0x07}, nil); err == nil {
		t.Error("bad tag: no error")
	}
}

func TestPrefixEnd(t *testing.T) {
	cases := []struct{ in, want []byte }{
		{[]byte("a"), []byte("b")},
		{[]byte{1, 0xff}, []byte{2}},
		{[]byte{0xff, 0xff}, nil},
	}
	for _, c := range cases {
		if got := row.PrefixEnd(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", c.in, got, c.want)
		}
	}
}

// FuzzKeyOrder checks the order property on keys derived from fuzz input:
// two (int64, string, float64) tuples.
func FuzzKeyOrder(f *testing.F) {
	f.Add(int64(1), "a", 1.5, int64(1), "a\x00", -0.0)
	f.Add(int64(-1), "", math.Inf(1), int64(0), "\x00", math.NaN())
	f.Add(int64(math.MinInt64), "zz", -1.0, int64(math.MaxInt64), "z", 0.0)
	types := []row.Type{row.Int64, row.String, row.Float64}
	f.Fuzz(func(t *testing.T, i1 int64, s1 string, f1 float64, i2 int64, s2 string, f2 float64) {
		a := []row.Value{row.Int64Value(i1), row.StringValue(s1), row.Float64Value(f1)}
		b := []row.Value{row.Int64Value(i2), row.StringValue(s2), row.Float64Value(f2)}
		ea, err := row.AppendKey(nil, types, a)
		if err != nil {
			t.Fatal(err)
		}
		eb, err := row.AppendKey(nil, types, b)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sign(bytes.Compare(ea, eb)), sign(compareTuples(a, b)); got != want {
			t.Fatalf("order of %v vs %v: bytes %d values %d", a, b, got, want)
		}
		dec, _, err := row.DecodeKey(types, ea, nil)
		if err != nil || compareTuples(dec, a) != 0 {
			t.Fatalf("round trip %v: %v %v", a, dec, err)
		}
	})
}

// FuzzDecodeKey feeds arbitrary bytes to the key decoder: errors are fine,
// panics are not, and whatever decodes must re-encode to the same prefix.
func FuzzDecodeKey(f *testing.F) {
	types := []row.Type{row.Int32, row.String, row.Decimal(10, 2), row.Float32, row.Bool}
	good, _ := row.AppendKey(nil, types, []row.Value{row.Int32Value(3), row.StringValue("x\x00"), row.DecimalValue(decimal128.FromI64(12345)), row.Float32Value(1.5), row.BoolValue(true)})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		vals, rest, err := row.DecodeKey(types, data, nil)
		if err != nil {
			return
		}
		re, err := row.AppendKey(nil, types, vals)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) > len(data) {
			t.Fatal("rest longer than input")
		}
		dec2, _, err := row.DecodeKey(types, re, nil)
		if err != nil || compareTuples(dec2, vals) != 0 {
			t.Fatalf("re-encoded key does not decode to the same values: %v", err)
		}
	})
}
