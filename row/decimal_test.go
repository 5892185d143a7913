package row_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/row"
)

func TestJSONDecimalsAreExactAndNameTheColumn(t *testing.T) {
	s := row.MustSchema([]row.Column{{Name: "amount", Type: row.Decimal(10, 2)}}, nil, 1)
	var r row.Row
	for in, want := range map[string]string{
		`{"amount":"1.235"}`:       "more than 2 digits after the point",
		`{"amount":1.235}`:         "more than 2 digits after the point",
		`{"amount":"1e2"}`:         "exponent forms are not accepted",
		`{"amount":1e2}`:           "exponent forms are not accepted",
		`{"amount":"123456789.1"}`: "does not fit decimal(10, 2)",
		`{"amount":"12,5"}`:        "is not a decimal number",
	} {
		err := s.RowFromJSON([]byte(in), &r)
		var fe *row.FieldError
		if !errors.As(err, &fe) || fe.Column != "amount" || !strings.Contains(err.Error(), want) {
			t.Errorf("RowFromJSON(%s) = %v, want a FieldError of column amount saying %q", in, err, want)
		}
	}
	for in, want := range map[string]string{
		`{"amount":"1.230"}`: "+I[1.23]", // extra zeros are exact
		`{"amount":".5"}`:    "+I[0.50]",
		`{"amount":-7}`:      "+I[-7.00]",
	} {
		if err := s.RowFromJSON([]byte(in), &r); err != nil || r.Format(s) != want {
			t.Errorf("RowFromJSON(%s) = %s, %v; want %s", in, r.Format(s), err, want)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"1.235", "1e2", "-0.00", "+7", ".5", "5.", "99999999.99", "123456789012345678901234567890123456789", "", "-", "1.2.3"} {
		f.Add(s, int32(10), int32(2))
	}
	f.Fuzz(func(t *testing.T, s string, p, sc int32) {
		n, err := row.ParseDecimal(s, p, sc)
		if err != nil {
			return
		}
		if strings.ContainsAny(s, "eE") {
			t.Fatalf("ParseDecimal(%q) accepted an exponent form", s)
		}
		// Exact: the value reads back from its own rendering, and the input
		// has no nonzero digit beyond the scale.
		text := row.DecimalValue(n).Format(row.Decimal(p, sc))
		again, err := row.ParseDecimal(text, p, sc)
		if err != nil || again != n {
			t.Fatalf("ParseDecimal(%q, %d, %d) = %v, rendered %q, read back as %v, %v", s, p, sc, n, text, again, err)
		}
		if _, frac, ok := strings.Cut(s, "."); ok && len(frac) > int(sc) && strings.Trim(frac[sc:], "0") != "" {
			t.Fatalf("ParseDecimal(%q, %d, %d) accepted digits beyond the scale", s, p, sc)
		}
	})
}
