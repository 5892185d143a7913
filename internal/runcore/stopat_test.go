package runcore

import (
	"strings"
	"testing"
)

func TestParseStopAtReadsEveryPartitionAndNamesMistakes(t *testing.T) {
	s, err := ParseStopAt(" orders/0=12, orders/1=0,re/funds/2=7")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "orders/0=12,orders/1=0,re/funds/2=7" {
		t.Fatalf("parsed %s", got)
	}
	if s, err := ParseStopAt(""); s != nil || err != nil {
		t.Fatalf(`"" = %v, %v: want no stop`, s, err)
	}
	for in, want := range map[string]string{
		"orders=12":             "want topic/partition=offset",
		"orders/x=1":            `the partition "x" is not a partition number`,
		"orders/0=-1":           `the offset "-1" is not an offset`,
		"orders/0=1,orders/0=2": "orders/0 is given twice",
	} {
		if _, err := ParseStopAt(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseStopAt(%q) = %v, want %q", in, err, want)
		}
	}
}

// FuzzParseStopAt: never a panic, and what parses renders to a string that
// parses to the same offsets.
func FuzzParseStopAt(f *testing.F) {
	for _, s := range []string{"", "orders/0=12", "a/b/1=2,a/b/0=3", "x/=1", "/0=1", "t/0=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseStopAt(s)
		if err != nil || a == nil {
			return
		}
		b, err := ParseStopAt(a.String())
		if err != nil {
			t.Fatalf("%q parsed to %v, whose rendering %q does not parse: %v", s, a, a.String(), err)
		}
		if a.String() != b.String() {
			t.Fatalf("%q: %q then %q", s, a.String(), b.String())
		}
	})
}
