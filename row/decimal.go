package row

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// FormatDecimal renders the unscaled number n with scale digits after the
// point, exactly ("-1234.50" for -123450 at scale 2): the text that
// ParseDecimal reads back to n, used wherever hotcold writes a decimal as
// text (JSON rows, Value.Format, the sidecar's wire values).
func FormatDecimal(n decimal128.Num, scale int32) string {
	digits := n.BigInt().String()
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	if scale > 0 {
		if len(digits) <= int(scale) {
			digits = strings.Repeat("0", int(scale)-len(digits)+1) + digits
		}
		p := len(digits) - int(scale)
		digits = digits[:p] + "." + digits[p:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// ParseDecimal reads decimal text ("-1234.5", "+7", "0.25", ".5", and the
// exponent forms "3E+1", "1.25e2" that Flink's json format writes for
// DECIMAL values) as an unscaled decimal128 of the given precision and
// scale. It is the one decimal rule of hotcold, used by JSON rows, the
// lookup keys of the CLI and the sidecar's wire values, and it is exact:
// text with more fraction digits than scale is an error unless the extra
// digits are zeros ("1.235" and "1.235E0" at scale 2 are refused, never
// rounded to 1.24), and a number that does not fit precision is an error.
func ParseDecimal(s string, precision, scale int32) (decimal128.Num, error) {
	if precision < 1 || precision > 38 || scale < 0 || scale > precision {
		return decimal128.Num{}, fmt.Errorf("decimal(%d, %d) is not a valid type", precision, scale)
	}
	orig := s
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || s[i+1:] == "" || strings.HasPrefix(s[i+1:], "+-") {
			return decimal128.Num{}, fmt.Errorf("%q is not a decimal number", orig)
		}
		if e > 100 || e < -100 {
			return decimal128.Num{}, fmt.Errorf("%q does not fit decimal(%d, %d)", orig, precision, scale)
		}
		exp, s = e, s[:i]
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if intPart == "" && (!hasPoint || frac == "") {
		return decimal128.Num{}, fmt.Errorf("%q is not a decimal number", orig)
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return decimal128.Num{}, fmt.Errorf("%q is not a decimal number", orig)
			}
		}
	}
	// Move the point by the exponent: 1.25e2 is 125, 3e-2 is .03.
	switch {
	case exp > 0:
		frac += strings.Repeat("0", max(0, exp-len(frac)))
		intPart, frac = intPart+frac[:exp], frac[exp:]
	case exp < 0:
		intPart = strings.Repeat("0", max(0, -exp-len(intPart))) + intPart
		cut := len(intPart) + exp
		intPart, frac = intPart[:cut], intPart[cut:]+frac
	}
	if len(frac) > int(scale) {
		extra := frac[scale:]
		if strings.Trim(extra, "0") != "" {
			return decimal128.Num{}, fmt.Errorf("%q has more than %d digits after the point: decimal(%d, %d) holds %d; round it in the source (it is never rounded here)", orig, scale, precision, scale, scale)
		}
		frac = frac[:scale]
	}
	frac += strings.Repeat("0", int(scale)-len(frac))
	digits := strings.TrimLeft(intPart+frac, "0")
	if len(digits) > int(precision) {
		return decimal128.Num{}, fmt.Errorf("%q does not fit decimal(%d, %d)", orig, precision, scale)
	}
	if digits == "" {
		return decimal128.Num{}, nil
	}
	var b big.Int
	b.SetString(digits, 10)
	if neg {
		b.Neg(&b)
	}
	return decimal128.FromBigInt(&b), nil
}
