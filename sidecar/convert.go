package sidecar

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

// This file converts between the row data model and the lookup proto. The
// proto side is typed per value (see lookup.proto); the row side is typed
// per column, so conversions into row take the column type.

var pbNull = &lookuppb.Value{Kind: &lookuppb.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}}

// valueToProto converts v, a value of a column of type t, to its proto
// form. Null becomes null_value. The returned message may be shared (nulls
// are); callers must not modify it.
func valueToProto(t row.Type, v row.Value) *lookuppb.Value {
	if v.IsNull() {
		return pbNull
	}
	switch v.Type() {
	case row.TypeBool:
		return &lookuppb.Value{Kind: &lookuppb.Value_BoolValue{BoolValue: v.Bool()}}
	case row.TypeInt32:
		return &lookuppb.Value{Kind: &lookuppb.Value_Int32Value{Int32Value: int32(v.Int64())}}
	case row.TypeInt64:
		return &lookuppb.Value{Kind: &lookuppb.Value_Int64Value{Int64Value: v.Int64()}}
	case row.TypeFloat32:
		return &lookuppb.Value{Kind: &lookuppb.Value_FloatValue{FloatValue: float32(v.Float64())}}
	case row.TypeFloat64:
		return &lookuppb.Value{Kind: &lookuppb.Value_DoubleValue{DoubleValue: v.Float64()}}
	case row.TypeString:
		return &lookuppb.Value{Kind: &lookuppb.Value_StringValue{StringValue: string(v.Bytes())}}
	case row.TypeBinary:
		return &lookuppb.Value{Kind: &lookuppb.Value_BytesValue{BytesValue: v.Bytes()}}
	case row.TypeDate32:
		return &lookuppb.Value{Kind: &lookuppb.Value_DateValue{DateValue: int32(v.Int64())}}
	case row.TypeTimestamp:
		if t.ID == row.TypeTimestamp && t.Unit == row.Microsecond {
			return &lookuppb.Value{Kind: &lookuppb.Value_TimestampMicros{TimestampMicros: v.Int64()}}
		}
		return &lookuppb.Value{Kind: &lookuppb.Value_TimestampMillis{TimestampMillis: v.Int64()}}
	case row.TypeDecimal128:
		return &lookuppb.Value{Kind: &lookuppb.Value_DecimalValue{DecimalValue: row.FormatDecimal(v.Decimal(), t.Scale)}}
	}
	return pbNull
}

// rowToProto converts r, a row of schema columns cols, to its proto form.
func rowToProto(cols []row.Type, r row.Row) *lookuppb.Row {
	out := &lookuppb.Row{Values: make([]*lookuppb.Value, len(r.Values))}
	for i, v := range r.Values {
		var t row.Type
		if i < len(cols) {
			t = cols[i]
		}
		out.Values[i] = valueToProto(t, v)
	}
	return out
}

// valueFromProto converts a proto value to a value of a column of type t,
// as the server does for key values. The value must have the column's type,
// except that int32 and int64 convert into each other when the number
// fits, and timestamps convert to the column's unit when nothing is lost.
// An unset value is an error; null_value is the null Value. The returned
// Value may reference the bytes of pv.
func valueFromProto(t row.Type, pv *lookuppb.Value) (row.Value, error) {
	return valueFromWire(t, protoToWire(pv))
}

// keyToProto converts key values (typed as the key columns types) to a
// proto Key.
func keyToProto(types []row.Type, key []row.Value) *lookuppb.Key {
	out := &lookuppb.Key{Values: make([]*lookuppb.Value, len(key))}
	for i, v := range key {
		var t row.Type
		if i < len(types) {
			t = types[i]
		}
		out.Values[i] = valueToProto(t, v)
	}
	return out
}

// schemaToProto converts a schema.
func schemaToProto(s *row.Schema) *lookuppb.Schema {
	if s == nil {
		return nil
	}
	out := &lookuppb.Schema{Key: s.KeyNames(), Version: s.Version()}
	for _, c := range s.Columns() {
		out.Columns = append(out.Columns, &lookuppb.Column{Name: c.Name, Type: c.Type.String(), Nullable: c.Nullable})
	}
	return out
}

// schemaFromProto converts a proto schema back; a type it cannot parse is
// an error naming the column.
func schemaFromProto(ps *lookuppb.Schema) (*row.Schema, error) {
	if ps == nil {
		return nil, fmt.Errorf("schema is not set")
	}
	cols := make([]row.Column, len(ps.GetColumns()))
	for i, c := range ps.GetColumns() {
		t, err := row.ParseType(c.GetType())
		if err != nil {
			return nil, fmt.Errorf("schema column %q: %w", c.GetName(), err)
		}
		cols[i] = row.Column{Name: c.GetName(), Type: t, Nullable: c.GetNullable()}
	}
	return row.NewSchema(cols, ps.GetKey(), ps.GetVersion())
}

// tableInfoToProto converts table metadata.
func tableInfoToProto(ti coldstore.TableInfo) *lookuppb.TableInfo {
	return &lookuppb.TableInfo{
		Name:        ti.Name,
		Schema:      schemaToProto(ti.Schema),
		Version:     ti.Version,
		CoversUntil: timeToProto(ti.CoversUntil),
		RowCount:    ti.Rows,
		LoadedAt:    timeToProto(ti.LoadedAt),
	}
}

// tableInfoFromProto converts table metadata back.
func tableInfoFromProto(pt *lookuppb.TableInfo) (coldstore.TableInfo, error) {
	s, err := schemaFromProto(pt.GetSchema())
	if err != nil {
		return coldstore.TableInfo{}, fmt.Errorf("table %q: %w", pt.GetName(), err)
	}
	return coldstore.TableInfo{
		Name:        pt.GetName(),
		Schema:      s,
		Version:     pt.GetVersion(),
		Rows:        pt.GetRowCount(),
		CoversUntil: timeFromProto(pt.GetCoversUntil()),
		LoadedAt:    timeFromProto(pt.GetLoadedAt()),
	}, nil
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
