package row_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/hotcold/hotcold/row"
)

func TestJSONDecimalsAreExactAndNameTheColumn(t *testing.T) {
	s := row.MustSchema([]row.Column{{Name: "amount", Type: row.Decimal(10, 2)}}, nil, 1)
	var r row.Row
	for in, want := range map[string]string{
		`{"amount":"1.235"}`:       "more than 2 digits after the point",
		`{"amount":1.235}`:         "more than 2 digits after the point",
		`{"amount":1.235E0}`:       "more than 2 digits after the point",
		`{"amount":5e-3}`:          "more than 2 digits after the point",
		`{"amount":1e9}`:           "does not fit decimal(10, 2)",
		`{"amount":"1e"}`:          "is not a decimal number",
		`{"amount":"1e+-2"}`:       "is not a decimal number",
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
		// Flink's json format writes DECIMAL 30.00 as 3E+1 and 7.50 as 7.5.
		`{"amount":3E+1}`:    "+I[30.00]",
		`{"amount":"1e2"}`:   "+I[100.00]",
		`{"amount":1.25e1}`:  "+I[12.50]",
		`{"amount":-125E-2}`: "+I[-1.25]",
		`{"amount":0.5E-1}`:  "+I[0.05]",
		`{"amount":123E-1}`:  "+I[12.30]",
	} {
		if err := s.RowFromJSON([]byte(in), &r); err != nil || r.Format(s) != want {
			t.Errorf("RowFromJSON(%s) = %s, %v; want %s", in, r.Format(s), err, want)
		}
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"1.235", "1e2", "-0.00", "+7", ".5", "5.", "99999999.99", "123456789012345678901234567890123456789", "", "-", "1.2.3", "3E+1", "1.25e-1", "-7.5E2", "1e+"} {
		f.Add(s, int32(10), int32(2))
	}
	f.Fuzz(func(t *testing.T, s string, p, sc int32) {
		n, err := row.ParseDecimal(s, p, sc)
		if err != nil {
			return
		}
		// Exact: the value reads back from its own rendering, and the input
		// has no nonzero digit beyond the scale.
		text := row.DecimalValue(n).Format(row.Decimal(p, sc))
		again, err := row.ParseDecimal(text, p, sc)
		if err != nil || again != n {
			t.Fatalf("ParseDecimal(%q, %d, %d) = %v, rendered %q, read back as %v, %v", s, p, sc, n, text, again, err)
		}
		if _, frac, ok := strings.Cut(s, "."); ok && !strings.ContainsAny(s, "eE") && len(frac) > int(sc) && strings.Trim(frac[sc:], "0") != "" {
			t.Fatalf("ParseDecimal(%q, %d, %d) accepted digits beyond the scale", s, p, sc)
		}
	})
}
func TestFormatDecimalReadsBack(t *testing.T) {
	for _, c := range []struct {
		in    string
		p, s  int32
		out   string
		wantN int64
	}{
		{"-1234.5", 10, 2, "-1234.50", -123450},
		{"+0.05", 3, 2, "0.05", 5},
		{".5", 3, 1, "0.5", 5},
		{"7.", 3, 0, "7", 7},
		{"1.2000", 5, 1, "1.2", 12},
		{"-0", 5, 2, "0.00", 0},
		{"1e5", 10, 2, "100000.00", 10000000}, // exponent forms, as Flink's json writes them
		{"-7.5E-1", 3, 2, "-0.75", -75},
	} {
		n, err := row.ParseDecimal(c.in, c.p, c.s)
		if err != nil || n != decimal128.FromI64(c.wantN) {
			t.Errorf("ParseDecimal(%q, %d, %d) = %v, %v; want %d", c.in, c.p, c.s, n, err, c.wantN)
			continue
		}
		if got := row.FormatDecimal(n, c.s); got != c.out {
			t.Errorf("FormatDecimal(%v, %d) = %q, want %q", n, c.s, got, c.out)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e9", "1e-3", "1e", "1,5", "0x10", "1.2.3", " 1", "--1"} {
		if _, err := row.ParseDecimal(bad, 10, 2); err == nil {
			t.Errorf("ParseDecimal(%q) accepted", bad)
		}
	}
}

func FuzzFormatDecimal(f *testing.F) {
	for _, s := range []string{"0", "-1.5", "123456789012345678901234567890.12345678", ".1", "1.", "+7.000", "99999"} {
		f.Add(s, int32(38), int32(8))
		f.Add(s, int32(5), int32(2))
	}
	f.Fuzz(func(t *testing.T, s string, p, sc int32) {
		n, err := row.ParseDecimal(s, p, sc)
		if err != nil {
			return
		}
		if !n.FitsInPrecision(p) {
			t.Fatalf("ParseDecimal(%q, %d, %d) = %v does not fit the precision", s, p, sc, n)
		}
		text := row.FormatDecimal(n, sc)
		again, err := row.ParseDecimal(text, p, sc)
		if err != nil || again != n {
			t.Fatalf("ParseDecimal(%q) = %v, formatted %q, read back %v, %v", s, n, text, again, err)
		}
	})
}
