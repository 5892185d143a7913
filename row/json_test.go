package row_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hotcold/hotcold/row"
)

func TestJSONRoundTrips(t *testing.T) {
	s := allTypesSchema(t)
	rng := rand.New(rand.NewPCG(7, 8))
	var got row.Row
	for i := 0; i < 2000; i++ {
		r := randRow(rng, s)
		b := s.AppendJSON(nil, r)
		if err := s.RowFromJSON(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		for c := range r.Values {
			want := r.Values[c]
			if want.Type() == row.TypeString && !utf8.Valid(want.Bytes()) {
				continue // JSON text cannot carry invalid UTF-8; it is replaced
			}
			if row.Compare(got.Values[c], want) != 0 {
				t.Fatalf("column %s: %s -> %v want %v", s.Column(c).Name, b, got.Values[c], want)
			}
		}
	}
}

func TestJSONWrongTypeNamesColumnAndValue(t *testing.T) {
	s := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "amount", Type: row.Decimal(10, 2), Nullable: true},
	}, []string{"order_id"}, 1)
	var r row.Row
	err := s.RowFromJSON([]byte(`{"order_id": "abc", "amount": 1}`), &r)
	var fe *row.FieldError
	if !errors.As(err, &fe) || fe.Column != "order_id" || fe.Value != `"abc"` {
		t.Fatalf("got %v", err)
	}
	err = s.RowFromJSON([]byte(`{"order_id": 1, "amount": {"x":1}}`), &r)
	if !errors.As(err, &fe) || fe.Column != "amount" || !strings.Contains(err.Error(), `{"x":1}`) {
		t.Fatalf("got %v", err)
	}
	err = s.RowFromJSON([]byte(`{"amount": 1}`), &r)
	if !errors.As(err, &fe) || fe.Column != "order_id" || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing key: %v", err)
	}
	err = s.RowFromJSON([]byte(`{"order_id": 1.5}`), &r)
	if !errors.As(err, &fe) || fe.Column != "order_id" {
		t.Fatalf("fractional int: %v", err)
	}
	if err := s.RowFromJSON([]byte(`[1,2]`), &r); err == nil {
		t.Fatal("array accepted as object")
	}
}

func TestJSONAcceptsFlinkSpellings(t *testing.T) {
	s := row.MustSchema([]row.Column{
		{Name: "ts", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "d", Type: row.Date32},
		{Name: "n", Type: row.Int64},
		{Name: "amt", Type: row.Decimal(10, 2)},
	}, nil, 1)
	var r row.Row
	if err := s.RowFromJSON([]byte(`{"ts":"2026-11-22 10:00:00.123","d":"2026-11-22","n":"42","amt":"12.30"}`), &r); err != nil {
		t.Fatal(err)
	}
	if got := r.Format(s); got != "+I[2026-11-22 10:00:00.123, 2026-11-22, 42, 12.30]" {
		t.Fatalf("got %s", got)
	}
	if err := s.RowFromJSON([]byte(`{"ts":"2026-11-22T10:00:00.123Z","d":20414,"n":42,"amt":12.3}`), &r); err != nil {
		t.Fatal(err)
	}
	if got := r.Format(s); got != "+I[2026-11-22 10:00:00.123, 2025-11-22, 42, 12.30]" {
		t.Fatalf("got %s", got)
	}
}

func FuzzRowFromJSON(f *testing.F) {
	s := allTypesSchema(f)
	rng := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 5; i++ {
		f.Add(s.AppendJSON(nil, randRow(rng, s)))
	}
	f.Add([]byte(`{"k":1,"ca":"x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r row.Row
		if err := s.RowFromJSON(data, &r); err != nil {
			return
		}
		// anything accepted writes back as JSON that reads the same
		var again row.Row
		out := s.AppendJSON(nil, r)
		if err := s.RowFromJSON(out, &again); err != nil {
			t.Fatalf("re-read %s: %v", out, err)
		}
	})
}
