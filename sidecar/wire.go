package sidecar

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

// This file reads and writes the lookup messages of the hot path
// (BatchLookup and StreamLookup keys, lookup results) directly in the
// protobuf wire format, without building lookuppb message trees: a batch
// of 256 keys would otherwise cost over a thousand small allocations on
// each side. The wire is exactly hotcold.lookup.v1: any protobuf client
// (grpcurl, Python, Java) reads and writes the same bytes. The decoders
// follow protobuf semantics (fields in any order, unknown fields skipped,
// the last of repeated scalar or oneof fields wins, repeated occurrences of
// a message field merge) and are fuzzed against protobuf-go.
//
// Responses are assembled from pre-encoded results: a cache entry holds
// the encoding of one LookupResult (found, row, version) of its table
// version, so serving a hit is a copy of those bytes. The server attaches
// them to the response message as unknown fields with the right field
// numbers; protobuf emits unknown fields verbatim, so on the wire the
// response is the typed one. LookupResponse shares field numbers 1-3 with
// LookupResult, so a unary answer is the entry's bytes as they are.

// Field numbers of hotcold.lookup.v1 used here.
const (
	// Value
	fValueNull      protowire.Number = 1
	fValueBool      protowire.Number = 2
	fValueInt32     protowire.Number = 3
	fValueInt64     protowire.Number = 4
	fValueFloat     protowire.Number = 5
	fValueDouble    protowire.Number = 6
	fValueString    protowire.Number = 7
	fValueBytes     protowire.Number = 8
	fValueDate      protowire.Number = 9
	fValueTsMillis  protowire.Number = 10
	fValueTsMicros  protowire.Number = 11
	fValueDecimal   protowire.Number = 12
	fValueLastField                  = fValueDecimal

	fRowValues protowire.Number = 1 // Row.values, Key.values

	fResultFound   protowire.Number = 1 // LookupResult / LookupResponse
	fResultRow     protowire.Number = 2
	fResultVersion protowire.Number = 3

	fBatchReqTable  protowire.Number = 1 // BatchLookupRequest
	fBatchReqKeys   protowire.Number = 2
	fStreamReqID    protowire.Number = 1 // StreamLookupRequest
	fStreamReqTable protowire.Number = 2
	fStreamReqKeys  protowire.Number = 3
	fKeyRefTable    protowire.Number = 1 // KeyRef
	fKeyRefKey      protowire.Number = 2

	fBatchResults  protowire.Number = 1 // BatchLookupResponse.results
	fStreamResults protowire.Number = 2 // StreamLookupResponse.results
)

// wireTypes are the wire types of the Value fields.
var wireTypes = [fValueLastField + 1]protowire.Type{
	fValueNull: protowire.VarintType, fValueBool: protowire.VarintType, fValueInt32: protowire.VarintType,
	fValueInt64: protowire.VarintType, fValueFloat: protowire.Fixed32Type, fValueDouble: protowire.Fixed64Type,
	fValueString: protowire.BytesType, fValueBytes: protowire.BytesType, fValueDate: protowire.VarintType,
	fValueTsMillis: protowire.VarintType, fValueTsMicros: protowire.VarintType, fValueDecimal: protowire.BytesType,
}

var kindNames = [fValueLastField + 1]string{
	0: "an unset value", fValueNull: "null_value", fValueBool: "bool_value", fValueInt32: "int32_value",
	fValueInt64: "int64_value", fValueFloat: "float_value", fValueDouble: "double_value", fValueString: "string_value",
	fValueBytes: "bytes_value", fValueDate: "date_value", fValueTsMillis: "timestamp_millis",
	fValueTsMicros: "timestamp_micros", fValueDecimal: "decimal_value",
}

// wireValue is one decoded lookuppb.Value: which oneof field is set and
// its payload. b references the decoded input.
type wireValue struct {
	kind protowire.Number // 0 when unset
	u    uint64           // varint, fixed32 or fixed64 payload
	b    []byte           // string, bytes or decimal payload
}

var errBadWire = errors.New("malformed protobuf")

// decodeWireValue parses an encoded lookuppb.Value.
func decodeWireValue(b []byte) (wireValue, error) {
	var wv wireValue
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return wv, errBadWire
		}
		b = b[n:]
		if num >= 1 && num <= fValueLastField && typ == wireTypes[num] {
			switch typ {
			case protowire.VarintType:
				v, n := protowire.ConsumeVarint(b)
				if n < 0 {
					return wv, errBadWire
				}
				wv, b = wireValue{kind: num, u: v}, b[n:]
			case protowire.Fixed32Type:
				v, n := protowire.ConsumeFixed32(b)
				if n < 0 {
					return wv, errBadWire
				}
				wv, b = wireValue{kind: num, u: uint64(v)}, b[n:]
			case protowire.Fixed64Type:
				v, n := protowire.ConsumeFixed64(b)
				if n < 0 {
					return wv, errBadWire
				}
				wv, b = wireValue{kind: num, u: v}, b[n:]
			case protowire.BytesType:
				v, n := protowire.ConsumeBytes(b)
				if n < 0 {
					return wv, errBadWire
				}
				if (num == fValueString || num == fValueDecimal) && !utf8.Valid(v) {
					return wv, fmt.Errorf("%s is not valid UTF-8", kindNames[num])
				}
				wv, b = wireValue{kind: num, b: v}, b[n:]
			}
			continue
		}
		// Unknown field, or a known one with another wire type (which
		// protobuf also treats as unknown): skip it.
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return wv, errBadWire
		}
		b = b[n:]
	}
	return wv, nil
}

// protoToWire is the wireValue of a lookuppb.Value message.
func protoToWire(pv *lookuppb.Value) wireValue {
	if pv == nil {
		return wireValue{}
	}
	switch k := pv.Kind.(type) {
	case *lookuppb.Value_NullValue:
		return wireValue{kind: fValueNull, u: uint64(k.NullValue)}
	case *lookuppb.Value_BoolValue:
		return wireValue{kind: fValueBool, u: boolBits(k.BoolValue)}
	case *lookuppb.Value_Int32Value:
		return wireValue{kind: fValueInt32, u: uint64(int64(k.Int32Value))}
	case *lookuppb.Value_Int64Value:
		return wireValue{kind: fValueInt64, u: uint64(k.Int64Value)}
	case *lookuppb.Value_FloatValue:
		return wireValue{kind: fValueFloat, u: uint64(math.Float32bits(k.FloatValue))}
	case *lookuppb.Value_DoubleValue:
		return wireValue{kind: fValueDouble, u: math.Float64bits(k.DoubleValue)}
	case *lookuppb.Value_StringValue:
		return wireValue{kind: fValueString, b: []byte(k.StringValue)}
	case *lookuppb.Value_BytesValue:
		return wireValue{kind: fValueBytes, b: k.BytesValue}
	case *lookuppb.Value_DateValue:
		return wireValue{kind: fValueDate, u: uint64(int64(k.DateValue))}
	case *lookuppb.Value_TimestampMillis:
		return wireValue{kind: fValueTsMillis, u: uint64(k.TimestampMillis)}
	case *lookuppb.Value_TimestampMicros:
		return wireValue{kind: fValueTsMicros, u: uint64(k.TimestampMicros)}
	case *lookuppb.Value_DecimalValue:
		return wireValue{kind: fValueDecimal, b: []byte(k.DecimalValue)}
	}
	return wireValue{}
}

func boolBits(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// valueFromWire converts a wire value to a value of a column of type t
// (see valueFromProto). A binary result references wv.b.
func valueFromWire(t row.Type, wv wireValue) (row.Value, error) {
	switch wv.kind {
	case 0:
		return row.Value{}, fmt.Errorf("value is not set (use null_value for null)")
	case fValueNull:
		return row.NullValue(), nil
	}
	mismatch := func() (row.Value, error) {
		return row.Value{}, fmt.Errorf("column is %s, got %s", t, kindNames[wv.kind])
	}
	switch t.ID {
	case row.TypeBool:
		if wv.kind == fValueBool {
			return row.BoolValue(wv.u != 0), nil
		}
	case row.TypeInt32, row.TypeInt64:
		var n int64
		switch wv.kind {
		case fValueInt32:
			n = int64(int32(wv.u))
		case fValueInt64:
			n = int64(wv.u)
		default:
			return mismatch()
		}
		if t.ID == row.TypeInt64 {
			return row.Int64Value(n), nil
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return row.Value{}, fmt.Errorf("column is int32, %d is out of range", n)
		}
		return row.Int32Value(int32(n)), nil
	case row.TypeFloat32:
		if wv.kind == fValueFloat {
			return row.Float32Value(math.Float32frombits(uint32(wv.u))), nil
		}
	case row.TypeFloat64:
		if wv.kind == fValueDouble {
			return row.Float64Value(math.Float64frombits(wv.u)), nil
		}
	case row.TypeString:
		if wv.kind == fValueString {
			return row.StringValue(string(wv.b)), nil
		}
	case row.TypeBinary:
		if wv.kind == fValueBytes {
			return row.BinaryValue(wv.b), nil
		}
	case row.TypeDate32:
		if wv.kind == fValueDate {
			return row.Date32Value(int32(wv.u)), nil
		}
	case row.TypeTimestamp:
		n := int64(wv.u)
		switch {
		case wv.kind == fValueTsMillis && t.Unit == row.Microsecond:
			if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
				return row.Value{}, fmt.Errorf("timestamp_millis %d overflows a timestamp[us]", n)
			}
			return row.TimestampValue(n * 1000), nil
		case wv.kind == fValueTsMillis:
			return row.TimestampValue(n), nil
		case wv.kind == fValueTsMicros && t.Unit == row.Microsecond:
			return row.TimestampValue(n), nil
		case wv.kind == fValueTsMicros:
			if n%1000 != 0 {
				return row.Value{}, fmt.Errorf("column is %s, timestamp_micros %d has sub-millisecond digits", t, n)
			}
			return row.TimestampValue(n / 1000), nil
		}
	case row.TypeDecimal128:
		if wv.kind == fValueDecimal {
			n, err := row.ParseDecimal(string(wv.b), t.Precision, t.Scale)
			if err != nil {
				return row.Value{}, fmt.Errorf("column is %s: %w", t, err)
			}
			return row.DecimalValue(n), nil
		}
	}
	return mismatch()
}

// valueFromWireSelf converts a wire value without a column type, as the Go
// client does for rows in responses: every field says its own type, and
// decimal text carries its scale in the digits after the point. A binary
// result references wv.b.
func valueFromWireSelf(wv wireValue) (row.Value, error) {
	switch wv.kind {
	case fValueNull:
		return row.NullValue(), nil
	case fValueBool:
		return row.BoolValue(wv.u != 0), nil
	case fValueInt32:
		return row.Int32Value(int32(wv.u)), nil
	case fValueInt64:
		return row.Int64Value(int64(wv.u)), nil
	case fValueFloat:
		return row.Float32Value(math.Float32frombits(uint32(wv.u))), nil
	case fValueDouble:
		return row.Float64Value(math.Float64frombits(wv.u)), nil
	case fValueString:
		return row.StringValue(string(wv.b)), nil
	case fValueBytes:
		return row.BinaryValue(wv.b), nil
	case fValueDate:
		return row.Date32Value(int32(wv.u)), nil
	case fValueTsMillis, fValueTsMicros:
		return row.TimestampValue(int64(wv.u)), nil
	case fValueDecimal:
		s := string(wv.b)
		scale := int32(0)
		for i := 0; i < len(s); i++ {
			if s[i] == '.' {
				scale = int32(len(s) - i - 1)
				break
			}
		}
		if scale > 38 {
			return row.Value{}, fmt.Errorf("decimal_value %q has more than 38 digits after the point", s)
		}
		n, err := row.ParseDecimal(s, 38, scale)
		if err != nil {
			return row.Value{}, err
		}
		return row.DecimalValue(n), nil
	}
	return row.Value{}, fmt.Errorf("value is not set")
}

// appendValue appends the encoding of the lookuppb.Value of v, a value of
// a column of type t (see valueToProto). A string that is not valid UTF-8
// is an error: protobuf strings must be.
func appendValue(b []byte, t row.Type, v row.Value) ([]byte, error) {
	if v.IsNull() {
		b = protowire.AppendTag(b, fValueNull, protowire.VarintType)
		return protowire.AppendVarint(b, 0), nil
	}
	switch v.Type() {
	case row.TypeBool:
		b = protowire.AppendTag(b, fValueBool, protowire.VarintType)
		b = protowire.AppendVarint(b, boolBits(v.Bool()))
	case row.TypeInt32:
		b = protowire.AppendTag(b, fValueInt32, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v.Int64()))
	case row.TypeInt64:
		b = protowire.AppendTag(b, fValueInt64, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v.Int64()))
	case row.TypeFloat32:
		b = protowire.AppendTag(b, fValueFloat, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(float32(v.Float64())))
	case row.TypeFloat64:
		b = protowire.AppendTag(b, fValueDouble, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(v.Float64()))
	case row.TypeString:
		if !utf8.Valid(v.Bytes()) {
			return b, fmt.Errorf("string value %q is not valid UTF-8", v.Bytes())
		}
		b = protowire.AppendTag(b, fValueString, protowire.BytesType)
		b = protowire.AppendBytes(b, v.Bytes())
	case row.TypeBinary:
		b = protowire.AppendTag(b, fValueBytes, protowire.BytesType)
		b = protowire.AppendBytes(b, v.Bytes())
	case row.TypeDate32:
		b = protowire.AppendTag(b, fValueDate, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v.Int64()))
	case row.TypeTimestamp:
		f := fValueTsMillis
		if t.ID == row.TypeTimestamp && t.Unit == row.Microsecond {
			f = fValueTsMicros
		}
		b = protowire.AppendTag(b, f, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v.Int64()))
	case row.TypeDecimal128:
		b = protowire.AppendTag(b, fValueDecimal, protowire.BytesType)
		b = protowire.AppendString(b, row.FormatDecimal(v.Decimal(), t.Scale))
	default:
		return b, fmt.Errorf("unsupported value type %s", v.Type())
	}
	return b, nil
}

// appendValues appends vals as the repeated Value field 1 of a Row or
// Key message (without the message's own tag and length).
func appendValues(b []byte, types []row.Type, vals []row.Value) ([]byte, error) {
	var scratch [64]byte
	for i, v := range vals {
		var t row.Type
		if i < len(types) {
			t = types[i]
		}
		enc, err := appendValue(scratch[:0], t, v)
		if err != nil {
			return b, fmt.Errorf("value %d: %w", i, err)
		}
		b = protowire.AppendTag(b, fRowValues, protowire.BytesType)
		b = protowire.AppendBytes(b, enc)
	}
	return b, nil
}

// nextValue returns the next Value of an encoded Row or Key message
// content and the rest; ok is false at the end. Unknown fields are
// skipped.
func nextValue(b []byte) (v, rest []byte, ok bool, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, false, errBadWire
		}
		b = b[n:]
		if num == fRowValues && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, nil, false, errBadWire
			}
			return v, b[n:], true, nil
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return nil, nil, false, errBadWire
		}
		b = b[n:]
	}
	return nil, nil, false, nil
}

// countValues returns the number of Values of an encoded Row or Key
// message content.
func countValues(b []byte) (int, error) {
	n := 0
	for {
		_, rest, ok, err := nextValue(b)
		if err != nil || !ok {
			return n, err
		}
		n++
		b = rest
	}
}

// ---- results ----

// encodeResult returns the encoding of LookupResult{found, row, version}
// where rowBytes is the content of an encoded lookuppb.Row.
func encodeResult(found bool, rowBytes []byte, version string) []byte {
	n := 0
	if found {
		n += 2 + protowire.SizeTag(fResultRow) + protowire.SizeBytes(len(rowBytes))
	}
	if version != "" {
		n += protowire.SizeTag(fResultVersion) + protowire.SizeBytes(len(version))
	}
	b := make([]byte, 0, n)
	if found {
		b = protowire.AppendTag(b, fResultFound, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
		b = protowire.AppendTag(b, fResultRow, protowire.BytesType)
		b = protowire.AppendBytes(b, rowBytes)
	}
	if version != "" {
		b = protowire.AppendTag(b, fResultVersion, protowire.BytesType)
		b = protowire.AppendString(b, version)
	}
	return b
}

// appendResults appends each entry as one element of the repeated
// LookupResult field with the given number.
func appendResults(b []byte, field protowire.Number, entries []cacheEntry) []byte {
	for _, e := range entries {
		b = protowire.AppendTag(b, field, protowire.BytesType)
		b = protowire.AppendBytes(b, e.enc)
	}
	return b
}

// sizeResults is the length appendResults adds.
func sizeResults(field protowire.Number, entries []cacheEntry) int {
	n := 0
	for _, e := range entries {
		n += protowire.SizeTag(field) + protowire.SizeBytes(len(e.enc))
	}
	return n
}

// ---- responses ----

const (
	fLookupRespCovers protowire.Number = 4 // LookupResponse.covers_until
	fBatchRespTables  protowire.Number = 2 // BatchLookupResponse.tables
	fStreamRespID     protowire.Number = 1 // StreamLookupResponse.id
	fStreamRespTables protowire.Number = 3 // StreamLookupResponse.tables
)

// encodeTableVersion returns the encoding of the TableVersion of a table's
// live version.
func encodeTableVersion(table string, info coldstore.TableInfo) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&lookuppb.TableVersion{Table: table, Version: info.Version, CoversUntil: timeToProto(info.CoversUntil)})
	if err != nil {
		return nil // only for invalid UTF-8 names, which the store never holds
	}
	return b
}

// encodeCoversUntil returns LookupResponse.covers_until (tag included), or
// nothing when the watermark is unknown.
func encodeCoversUntil(t time.Time) []byte {
	ts := timeToProto(t)
	if ts == nil {
		return nil
	}
	m, err := proto.Marshal(ts)
	if err != nil {
		return nil
	}
	b := protowire.AppendTag(nil, fLookupRespCovers, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// encodeBatchResponse encodes a BatchLookupResponse (or, with stream, a
// StreamLookupResponse with id) of results and table versions into a
// pooled buffer.
func encodeBatchResponse(stream bool, id uint64, results []cacheEntry, tables [][]byte) *rawResponse {
	fResults, fTables := fBatchResults, fBatchRespTables
	n := 0
	if stream {
		fResults, fTables = fStreamResults, fStreamRespTables
		if id != 0 {
			n += protowire.SizeTag(fStreamRespID) + protowire.SizeVarint(id)
		}
	}
	n += sizeResults(fResults, results)
	for _, t := range tables {
		n += protowire.SizeTag(fTables) + protowire.SizeBytes(len(t))
	}
	return newRawResponse(n, func(b []byte) []byte {
		if stream && id != 0 {
			b = protowire.AppendTag(b, fStreamRespID, protowire.VarintType)
			b = protowire.AppendVarint(b, id)
		}
		b = appendResults(b, fResults, results)
		for _, t := range tables {
			b = protowire.AppendTag(b, fTables, protowire.BytesType)
			b = protowire.AppendBytes(b, t)
		}
		return b
	})
}

// encodeLookupResponse encodes a LookupResponse: the result's fields 1-3
// and covers_until.
func encodeLookupResponse(e cacheEntry, st *tableState) *rawResponse {
	return newRawResponse(len(e.enc)+len(st.coversEnc), func(b []byte) []byte {
		return append(append(b, e.enc...), st.coversEnc...)
	})
}
