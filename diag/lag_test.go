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

// parseCommits reads commit lines "TIMESTAMP_MS OFFSET LAG|nil".
func parseCommits(t *testing.T, td *datadriven.TestData) []diag.Commit {
	t.Helper()
	var out []diag.Commit
	for _, line := range strings.Split(td.Input, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			t.Fatalf("%s: commit line %q: want TIMESTAMP_MS OFFSET LAG|nil", td.Pos, line)
		}
		ms, err1 := strconv.ParseInt(f[0], 10, 64)
		off, err2 := strconv.ParseInt(f[1], 10, 64)
		lag, err3 := int64(-1), error(nil)
		if f[2] != "nil" {
			lag, err3 = strconv.ParseInt(f[2], 10, 64)
		}
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("%s: commit line %q: bad number", td.Pos, line)
		}
		out = append(out, diag.Commit{Time: time.UnixMilli(ms), Offset: off, Lag: lag})
	}
	return out
}

// TestEvaluateCommitsGivesBurrowsAnswers runs Burrow's own evaluator cases
// (testdata/burrow_evaluator, ported from linkedin/Burrow's caching_test.go)
// through EvaluateCommits: with the zero rules, which are Burrow's, and with
// the Flink extensions on, which must not change Burrow's answers.
func TestEvaluateCommitsGivesBurrowsAnswers(t *testing.T) {
	datadriven.RunTest(t, "testdata/burrow_evaluator", func(t *testing.T, td *datadriven.TestData) string {
		if td.Cmd != "burrow" {
			t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
		}
		h := diag.CommitHistory{Commits: parseCommits(t, td)}
		var rules diag.CommitRules
		for _, a := range td.CmdArgs {
			num := func(v string) int64 {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatalf("%s: %s=%s: %v", td.Pos, a.Key, v, err)
				}
				return n
			}
			switch a.Key {
			case "now":
				h.Now = time.Unix(num(a.FirstVal(t)), 0)
			case "current-lag":
				h.CurrentLag = num(a.FirstVal(t))
			case "allowed-lag":
				rules.AllowedLag = num(a.FirstVal(t))
			case "broker-offsets":
				for _, v := range a.Vals {
					h.RecentEnds = append(h.RecentEnds, num(v))
				}
			case "stall-after":
				d, err := time.ParseDuration(a.FirstVal(t))
				if err != nil {
					t.Fatalf("%s: %v", td.Pos, err)
				}
				rules.StallAfter = d
			default:
				t.Fatalf("%s: unknown argument %q", td.Pos, a.Key)
			}
		}
		st, reason := diag.EvaluateCommits(h, rules)
		if rules == (diag.CommitRules{AllowedLag: rules.AllowedLag}) {
			ext := rules
			ext.MinCommits = 3
			for i := 1; i < len(h.Commits); i++ {
				ext.CommitInterval = max(ext.CommitInterval, h.Commits[i].Time.Sub(h.Commits[i-1].Time))
			}
			if got, why := diag.EvaluateCommits(h, ext); got != st {
				t.Errorf("%s: with commit-interval=%s min-commits=3: %s (%s), Burrow says %s", td.Pos, ext.CommitInterval, got, why, st)
			}
		}
		return fmt.Sprintf("%s\n%s\n", st, reason)
	})
}

// firstStatus feeds samples every step to Evaluate, the consumer caught up
// (or, if behind, 50 to 55 messages behind) and committing until diedAt, after
// which it commits nothing while the producer goes on at 10 messages a
// step. It returns how long after diedAt the partition first had want.
func firstStatus(t *testing.T, cfg diag.LagConfig, step, diedAt time.Duration, behind bool, want diag.Status) time.Duration {
	t.Helper()
	var window []diag.Sample
	committed := int64(0)
	for at := time.Duration(0); at <= diedAt+cfg.Window+time.Hour; at += step {
		end := 1000 + int64(at/step)*10
		if at <= diedAt {
			committed = end
			if behind { // 50 or 60 behind: the lag at commits goes down now and then
				committed = end - 50 - 5*(int64(at/step)%2)
			}
		}
		window = append(window, diag.Sample{Time: t0.Add(at), Committed: committed, End: end})
		if st := diag.Evaluate(window, cfg); st.Status == want {
			return at - diedAt
		} else if at > diedAt && st.Status != diag.StatusOK {
			t.Fatalf("at +%s: %s (%s) before %s", at-diedAt, st.Status, st.Reason, want)
		}
	}
	t.Fatalf("never %s", want)
	return 0
}

// The case: a consumer that was caught up and then died was OK for
// a whole window. Following Burrow's order (STOP is checked before "the lag
// was zero somewhere"), with the StallAfter extension it is STOP as soon as
// the gap passes StallAfter, like a consumer that never caught up.
func TestCaughtUpThenDiedIsStopAfterStallAfter(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  diag.LagConfig
		step time.Duration
		died time.Duration
	}{
		{"defaults", diag.LagConfig{}, 10 * time.Second, 20 * time.Minute},
		{"window 30s stall-after 8s", diag.LagConfig{Window: 30 * time.Second, StallAfter: 8 * time.Second}, time.Second, 2 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			thr := tc.cfg.StallThreshold()
			caughtUp := firstStatus(t, tc.cfg, tc.step, tc.died, false, diag.StatusStop)
			behind := firstStatus(t, tc.cfg, tc.step, tc.died, true, diag.StatusStop)
			if caughtUp <= thr || caughtUp > thr+tc.step {
				t.Errorf("caught-up consumer STOP %s after it died, want in (%s, %s]", caughtUp, thr, thr+tc.step)
			}
			if behind != caughtUp {
				t.Errorf("consumer that never caught up STOP after %s, the caught-up one after %s", behind, caughtUp)
			}
		})
	}
}

// Burrow clears REWIND once the consumer is back at the offset it had
// before the rewind; hotcold kept REWIND for the whole window.
func TestRewindClearsOnceRecovered(t *testing.T) {
	var window []diag.Sample
	add := func(sec int, committed, end int64) diag.PartitionStatus {
		window = append(window, diag.Sample{Time: t0.Add(time.Duration(sec) * time.Second), Committed: committed, End: end})
		return diag.Evaluate(window, diag.LagConfig{})
	}
	add(0, 1000, 1100)
	add(10, 1100, 1200)
	if st := add(20, 500, 1300); st.Status != diag.StatusRewind {
		t.Fatalf("after the rewind: %s (%s), want REWIND", st.Status, st.Reason)
	}
	if st := add(30, 900, 1400); st.Status != diag.StatusRewind {
		t.Fatalf("below the offset before the rewind: %s (%s), want REWIND", st.Status, st.Reason)
	}
	if st := add(40, 1150, 1450); st.Status == diag.StatusRewind {
		t.Fatalf("back past the offset before the rewind: still REWIND (%s)", st.Reason)
	}
}
