package row_test

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/hotcold/hotcold/row"
)

func TestSchemaKeyNamingMissingColumnIsAnError(t *testing.T) {
	_, err := row.NewSchema([]row.Column{{Name: "id", Type: row.Int64}}, []string{"order_id"}, 1)
	if err == nil || !strings.Contains(err.Error(), `key column "order_id" is not a column`) {
		t.Fatalf("got %v", err)
	}
}

func TestSchemaReportsEveryProblem(t *testing.T) {
	_, err := row.NewSchema([]row.Column{
		{Name: "a", Type: row.Int64},
		{Name: "a", Type: row.String},
		{Name: "d", Type: row.Decimal(50, 2)},
		{Name: "", Type: row.Int64},
	}, []string{"a", "zz"}, 1)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"a" appears twice`, `column "d"`, "column 3 has no name", `"zz"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestKeyColumnsAreNotNullable(t *testing.T) {
	s := row.MustSchema([]row.Column{{Name: "id", Type: row.Int64, Nullable: true}}, []string{"id"}, 1)
	if s.Column(0).Nullable {
		t.Fatal("key column stayed nullable")
	}
}

func TestParseTypeRoundTrips(t *testing.T) {
	for _, ty := range []row.Type{row.Null, row.Bool, row.Int32, row.Int64, row.Float32, row.Float64,
		row.String, row.Binary, row.Date32, row.Timestamp(row.Millisecond, ""), row.Timestamp(row.Microsecond, "Asia/Shanghai"),
		row.Decimal(18, 2)} {
		got, err := row.ParseType(ty.String())
		if err != nil || got != ty {
			t.Errorf("ParseType(%q) = %v, %v", ty.String(), got, err)
		}
	}
	sql := map[string]row.Type{"BIGINT": row.Int64, "VARCHAR": row.String, "DECIMAL(10, 2)": row.Decimal(10, 2),
		"TIMESTAMP(3)": row.Timestamp(row.Millisecond, ""), "TIMESTAMP_LTZ(6)": row.Timestamp(row.Microsecond, "UTC"), "DOUBLE": row.Float64}
	for in, want := range sql {
		if got, err := row.ParseType(in); err != nil || got != want {
			t.Errorf("ParseType(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := row.ParseType("map<string,int>"); err == nil || !strings.Contains(err.Error(), "map<string,int>") {
		t.Errorf("unknown type error %v", err)
	}
}

func TestFromArrowConvertsAndRejectsUnsupported(t *testing.T) {
	as := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "amt", Type: &arrow.Decimal128Type{Precision: 12, Scale: 3}, Nullable: true},
	}, nil)
	s, err := row.FromArrow(as, []string{"id"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Column(1).Type != row.Timestamp(row.Microsecond, "UTC") || s.Column(2).Type != row.Decimal(12, 3) {
		t.Fatalf("converted %v", s)
	}
	if !arrow.TypeEqual(s.Arrow().Field(1).Type, as.Field(1).Type) {
		t.Fatal("Arrow() does not round trip")
	}
	bad := arrow.NewSchema([]arrow.Field{{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)}}, nil)
	if _, err := row.FromArrow(bad, nil, 1); err == nil || !strings.Contains(err.Error(), `"tags"`) {
		t.Fatalf("unsupported type: %v", err)
	}
}

func TestKindStringsAndBytesMatchFlink(t *testing.T) {
	want := map[row.Kind]struct {
		s string
		b byte
	}{row.Insert: {"+I", 0}, row.UpdateBefore: {"-U", 1}, row.UpdateAfter: {"+U", 2}, row.Delete: {"-D", 3}}
	for k, w := range want {
		if k.String() != w.s || byte(k) != w.b {
			t.Errorf("%v: %q %d", k, k.String(), byte(k))
		}
		p, err := row.ParseKind(w.s)
		if err != nil || p != k {
			t.Errorf("ParseKind(%q) = %v %v", w.s, p, err)
		}
	}
	if _, err := row.ParseKind("+X"); err == nil {
		t.Error("ParseKind(+X) no error")
	}
}
