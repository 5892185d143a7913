package sidecar

import (
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"google.golang.org/protobuf/proto"

	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

var convertTypes = []row.Type{
	row.Bool, row.Int32, row.Int64, row.Float32, row.Float64, row.String, row.Binary, row.Date32,
	row.Timestamp(row.Millisecond, ""), row.Timestamp(row.Microsecond, "UTC"), row.Decimal(18, 2), row.Decimal(38, 0), row.Decimal(5, 5),
}

func TestValuesRoundTripThroughProto(t *testing.T) {
	cases := []struct {
		t row.Type
		v row.Value
	}{
		{row.Bool, row.BoolValue(true)},
		{row.Int32, row.Int32Value(math.MinInt32)},
		{row.Int64, row.Int64Value(math.MaxInt64)},
		{row.Float32, row.Float32Value(-1.5)},
		{row.Float64, row.Float64Value(math.Inf(-1))},
		{row.String, row.StringValue("héllo")},
		{row.Binary, row.BinaryValue([]byte{0, 1, 255})},
		{row.Date32, row.Date32Value(-3)},
		{row.Timestamp(row.Millisecond, ""), row.TimestampValue(1_763_800_000_123)},
		{row.Timestamp(row.Microsecond, "UTC"), row.TimestampValue(-1)},
		{row.Decimal(18, 2), row.DecimalValue(decimal128.FromI64(-5))},
		{row.Decimal(38, 10), row.DecimalValue(decimal128.GetMaxValue(38))},
		{row.Int64, row.NullValue()},
	}
	for _, c := range cases {
		pv := valueToProto(c.t, c.v)
		got, err := valueFromProto(c.t, pv)
		if err != nil || !row.Equal(got, c.v) {
			t.Errorf("%s %v: proto %v back to %v, %v", c.t, c.v, pv, got, err)
		}
	}
}

func TestKeyValuesConvertToTheColumnType(t *testing.T) {
	ms := &lookuppb.Value{Kind: &lookuppb.Value_TimestampMillis{TimestampMillis: 1500}}
	us := &lookuppb.Value{Kind: &lookuppb.Value_TimestampMicros{TimestampMicros: 1_500_000}}
	usOdd := &lookuppb.Value{Kind: &lookuppb.Value_TimestampMicros{TimestampMicros: 1_500_001}}
	big := &lookuppb.Value{Kind: &lookuppb.Value_Int64Value{Int64Value: 1 << 40}}
	small := &lookuppb.Value{Kind: &lookuppb.Value_Int32Value{Int32Value: 7}}
	for _, c := range []struct {
		t    row.Type
		in   *lookuppb.Value
		want row.Value
		err  string
	}{
		{t: row.Timestamp(row.Microsecond, ""), in: ms, want: row.TimestampValue(1_500_000)},
		{t: row.Timestamp(row.Millisecond, ""), in: us, want: row.TimestampValue(1500)},
		{t: row.Timestamp(row.Millisecond, ""), in: usOdd, err: "sub-millisecond"},
		{t: row.Int64, in: small, want: row.Int64Value(7)},
		{t: row.Int32, in: big, err: "out of range"},
		{t: row.Decimal(5, 2), in: &lookuppb.Value{Kind: &lookuppb.Value_DecimalValue{DecimalValue: "12.3"}}, want: row.DecimalValue(decimal128.FromI64(1230))},
		{t: row.Decimal(5, 2), in: &lookuppb.Value{Kind: &lookuppb.Value_DecimalValue{DecimalValue: "1.234"}}, err: "more than 2 digits"},
		{t: row.Decimal(5, 2), in: &lookuppb.Value{Kind: &lookuppb.Value_DecimalValue{DecimalValue: "1234"}}, err: "does not fit"},
		{t: row.String, in: small, err: "column is string, got int32_value"},
		{t: row.String, in: &lookuppb.Value{}, err: "not set"},
	} {
		got, err := valueFromProto(c.t, c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s from %v: %v, want error %q", c.t, c.in, err, c.err)
			}
			continue
		}
		if err != nil || !row.Equal(got, c.want) {
			t.Errorf("%s from %v = %v, %v; want %v", c.t, c.in, got, err, c.want)
		}
	}
}

// FuzzValueFromProto feeds arbitrary proto bytes as a key and converts
// each value to every column type: never a panic, and what converts
// round-trips.
func FuzzValueFromProto(f *testing.F) {
	seed := func(vals ...*lookuppb.Value) {
		b, err := proto.Marshal(&lookuppb.Key{Values: vals})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, t := range convertTypes {
		seed(valueToProto(t, zeroish(t)))
	}
	seed(&lookuppb.Value{Kind: &lookuppb.Value_DecimalValue{DecimalValue: "-99999999999999999999.99"}})
	seed(&lookuppb.Value{Kind: &lookuppb.Value_TimestampMicros{TimestampMicros: math.MinInt64}})
	seed(&lookuppb.Value{Kind: &lookuppb.Value_TimestampMillis{TimestampMillis: math.MaxInt64}})
	seed(&lookuppb.Value{})
	f.Add([]byte{0x0a, 0x02, 0x60, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		var k lookuppb.Key
		if err := proto.Unmarshal(data, &k); err != nil {
			return
		}
		for _, pv := range k.Values {
			for _, ct := range convertTypes {
				v, err := valueFromProto(ct, pv)
				if err != nil {
					continue
				}
				back, err := valueFromProto(ct, valueToProto(ct, v))
				if err != nil || !row.Equal(back, v) {
					t.Fatalf("%s: %v -> %v -> %v, %v", ct, pv, v, back, err)
				}
			}
		}
	})
}

func zeroish(t row.Type) row.Value {
	switch t.ID {
	case row.TypeBool:
		return row.BoolValue(true)
	case row.TypeInt32:
		return row.Int32Value(-2)
	case row.TypeInt64:
		return row.Int64Value(3)
	case row.TypeFloat32:
		return row.Float32Value(0.25)
	case row.TypeFloat64:
		return row.Float64Value(math.NaN())
	case row.TypeString:
		return row.StringValue("s")
	case row.TypeBinary:
		return row.BinaryValue([]byte("b"))
	case row.TypeDate32:
		return row.Date32Value(19000)
	case row.TypeTimestamp:
		return row.TimestampValue(1_700_000_000_000)
	case row.TypeDecimal128:
		return row.DecimalValue(decimal128.FromI64(12345))
	}
	return row.NullValue()
}
