package diag_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/hotcold/hotcold/diag"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// parseSamples reads sample lines "SECONDS COMMITTED END [live] [commit=SECONDS]".
func parseSamples(t *testing.T, input string) []diag.Sample {
	t.Helper()
	var out []diag.Sample
	for _, line := range strings.Split(input, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 3 {
			t.Fatalf("sample line %q: want SECONDS COMMITTED END [live] [commit=SECONDS]", line)
		}
		sec, err1 := strconv.ParseFloat(f[0], 64)
		c, err2 := strconv.ParseInt(f[1], 10, 64)
		e, err3 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("sample line %q: bad number", line)
		}
		s := diag.Sample{Time: t0.Add(time.Duration(sec * float64(time.Second))), Committed: c, End: e}
		for _, x := range f[3:] {
			switch {
			case x == "live":
				s.Live = true
			case strings.HasPrefix(x, "commit="):
				cs, err := strconv.ParseFloat(strings.TrimPrefix(x, "commit="), 64)
				if err != nil {
					t.Fatalf("sample line %q: bad commit time", line)
				}
				s.CommitTime = t0.Add(time.Duration(cs * float64(time.Second)))
			default:
				t.Fatalf("sample line %q: unknown field %q", line, x)
			}
		}
		out = append(out, s)
	}
	return out
}

func lagConfig(t *testing.T, td *datadriven.TestData) diag.LagConfig {
	t.Helper()
	var cfg diag.LagConfig
	dur := func(v string) time.Duration {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s: %v", td.Pos, err)
		}
		return d
	}
	for _, a := range td.CmdArgs {
		v := a.FirstVal(t)
		switch a.Key {
		case "window":
			cfg.Window = dur(v)
		case "commit-interval":
			cfg.CommitInterval = dur(v)
		case "stall-after":
			cfg.StallAfter = dur(v)
		case "warn-time-lag":
			cfg.WarnTimeLag = dur(v)
		case "ok-lag":
			cfg.OKLag, _ = strconv.ParseInt(v, 10, 64)
		case "min-samples":
			cfg.MinSamples, _ = strconv.Atoi(v)
		default:
			t.Fatalf("%s: unknown argument %q", td.Pos, a.Key)
		}
	}
	return cfg
}

// TestEvaluateScenarios runs the lag scenarios in testdata/lag: Burrow's
// classic cases, Flink checkpoint-interval commits and rewinds. Each case
// is a window of samples and the expected status, lag figures and reason.
func TestEvaluateScenarios(t *testing.T) {
	datadriven.RunTest(t, "testdata/lag", func(t *testing.T, td *datadriven.TestData) string {
		switch td.Cmd {
		case "evaluate":
			st := diag.Evaluate(parseSamples(t, td.Input), lagConfig(t, td))
			extra := ""
			if st.TimeLagExtrapolated {
				extra = " (extrapolated)"
			}
			return fmt.Sprintf("%s lag=%d time-lag=%s%s stand-still=%s samples=%d complete=%t\n%s\n",
				st.Status, st.Lag, time.Duration(st.TimeLag).Round(time.Second), extra, time.Duration(st.StandStill), st.Samples, st.Complete, st.Reason)
		default:
			t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
			return ""
		}
	})
}

func TestStatusTextRoundTrips(t *testing.T) {
	for _, s := range []diag.Status{diag.StatusOK, diag.StatusWarn, diag.StatusStall, diag.StatusStop, diag.StatusRewind} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back diag.Status
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Fatalf("%s round-trips to %s, %v", s, back, err)
		}
	}
	var s diag.Status
	if err := s.UnmarshalText([]byte("err")); err != nil || s != diag.StatusStall {
		t.Fatalf("Burrow's ERR parses as %s, %v; want STALL", s, err)
	}
	if err := s.UnmarshalText([]byte("BROKEN")); err == nil {
		t.Fatal("an unknown status parses without error")
	}
}

func TestLagConfigValidateNamesEveryBadField(t *testing.T) {
	err := diag.LagConfig{Window: -1, StallAfter: -1, OKLag: -5}.Validate()
	if err == nil {
		t.Fatal("negative fields validate")
	}
	for _, field := range []string{"Window", "StallAfter", "OKLag"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

func TestStallThresholdIsAtLeastTwoCommitIntervals(t *testing.T) {
	if got := (diag.LagConfig{CommitInterval: 4 * time.Minute, StallAfter: time.Minute}).StallThreshold(); got != 8*time.Minute {
		t.Fatalf("threshold %s, want 8m", got)
	}
	if got := (diag.LagConfig{CommitInterval: time.Second}).StallThreshold(); got != 5*time.Minute {
		t.Fatalf("threshold %s, want the 5m default", got)
	}
}
