package row

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// ParseDecimal reads plain decimal text ("-1234.5", "+7", "0.25", ".5") as
// an unscaled decimal128 of the given precision and scale. It is the one
// decimal rule of hotcold, used by JSON rows, the lookup keys of the CLI
// and the sidecar's wire values, and it is exact: text with more fraction
// digits than scale is an error unless the extra digits are zeros ("1.235"
// at scale 2 is refused, never rounded to 1.24), exponent forms ("1e2")
// are refused, and a number that does not fit precision is an error.
func ParseDecimal(s string, precision, scale int32) (decimal128.Num, error) {
	if precision < 1 || precision > 38 || scale < 0 || scale > precision {
		return decimal128.Num{}, fmt.Errorf("decimal(%d, %d) is not a valid type", precision, scale)
	}
	orig := s
	if strings.ContainsAny(s, "eE") {
		return decimal128.Num{}, fmt.Errorf("%q: exponent forms are not accepted for decimals: write the digits out (1e2 as 100)", orig)
	}
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
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
