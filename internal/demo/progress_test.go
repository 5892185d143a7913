package demo_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/internal/demo"
)

// On a pipe or file the printer writes a line when a step starts, at each
// quarter, and when it is done.
func ExampleProgressPrinter() {
	pp := demo.NewProgressPrinter(os.Stdout, false)
	for _, done := range []int64{0, 100_000, 300_000, 520_000, 700_000, 999_000} {
		pp.Update(demo.Progress{Step: "join: hot/cold", Done: done, Total: 1_000_000, Unit: "records", Elapsed: time.Duration(done) * time.Microsecond})
	}
	pp.Update(demo.Progress{Step: "join: hot/cold", Done: 1_000_000, Total: 1_000_000, Unit: "records", Elapsed: time.Second, Finished: true})
	// Output:
	// join: hot/cold: started (1,000,000 records)
	// join: hot/cold: 25% (300,000 of 1,000,000 records)
	// join: hot/cold: 50% (520,000 of 1,000,000 records)
	// join: hot/cold: 75% (999,000 of 1,000,000 records)
	// join: hot/cold: done, 1,000,000 records in 1s (1,000,000 records/s)
}

func TestProgressPrinterRedrawsOneBarPerStepOnATerminal(t *testing.T) {
	var b strings.Builder
	pp := demo.NewProgressPrinter(&b, true)
	pp.Update(demo.Progress{Step: "load cold store", Done: 0, Total: 200, Unit: "rows"})
	pp.Update(demo.Progress{Step: "load cold store", Done: 100, Total: 200, Unit: "rows", Elapsed: 1500 * time.Millisecond})
	pp.Update(demo.Progress{Step: "load cold store", Done: 200, Total: 200, Unit: "rows", Elapsed: 3 * time.Second, Finished: true})
	pp.Update(demo.Progress{Step: "compare outputs", Done: 5, Unit: "records"})
	out := b.String()
	if n := strings.Count(out, "\r\033[K"); n != 4 {
		t.Errorf("%d redraws, want 4: %q", n, out)
	}
	for _, want := range []string{"[##############..............]  50%  100/200 rows  1.5s", "100%  200/200 rows  3s\n", "compare outputs        5 records"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q: %q", want, out)
		}
	}
	if strings.HasSuffix(out, "\n") {
		t.Errorf("an unfinished bar ends the line: %q", out)
	}
}
