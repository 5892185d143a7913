package diag

import (
	"fmt"
	"strings"
	"time"
)

// Sample is one observation of a consumer group partition: the group's
// committed offset and the partition's end offset (high watermark) at Time.
type Sample struct {
	// Time is when the offsets were read.
	Time time.Time `json:"time"`
	// Committed is the group's committed offset, the next offset it will
	// consume; -1 if the group has no commit for the partition.
	Committed int64 `json:"committed"`
	// End is the partition's end offset, one past the last message.
	End int64 `json:"end"`
	// Live reports that a live group member had the partition assigned.
	// Consumers that assign partitions themselves, as Flink's Kafka source
	// does, never show as live.
	Live bool `json:"live,omitempty"`
	// CommitTime is when the group last committed the partition, if the
	// source knows it (Kafka's OffsetFetch does not tell; a reader of
	// __consumer_offsets does). Zero means unknown.
	CommitTime time.Time `json:"commit_time,omitzero"`
}

// Lag returns End - Committed, or 0 if there is no commit or the commit is
// ahead of the end offset.
func (s Sample) Lag() int64 {
	if s.Committed < 0 || s.End <= s.Committed {
		return 0
	}
	return s.End - s.Committed
}

// LagConfig holds the window and thresholds of the lag evaluation. The zero
// value is usable: every zero field means its documented default.
type LagConfig struct {
	// Window is how much history is evaluated. Default 10 minutes.
	Window time.Duration
	// MinSamples is the number of samples (with a committed offset) below
	// which a partition is reported OK and incomplete, and the number of
	// commits the window must show before Burrow's span, stall and trend
	// rules apply (CommitRules.MinCommits). Default 3.
	MinSamples int
	// MaxSamples caps the samples kept per partition by a Tracker; the
	// oldest are dropped first. Default 256.
	MaxSamples int
	// OKLag is the lag at or below which a partition counts as caught up
	// (Burrow's allowed-lag). Default 0.
	OKLag int64
	// CommitInterval is the longest normal gap between two commits. Flink
	// commits offsets only when a checkpoint completes, so set it to the
	// checkpoint interval plus the usual checkpoint duration. Default 0:
	// the consumer commits more often than it is sampled.
	CommitInterval time.Duration
	// StallAfter is how long a partition with lag may go without a commit
	// before it is STOP, or keep committing one offset before it is STALL
	// (Burrow waits instead until the gap outgrows the span of the window's
	// commits, half the window for a consumer that committed all along). The
	// effective threshold is at least 2×CommitInterval, so one late
	// checkpoint never raises an alarm. Default 5 minutes.
	StallAfter time.Duration
	// WarnTimeLag makes a partition WARN when its oldest unconsumed message
	// is older than this, whatever the trend. Default 0: off.
	WarnTimeLag time.Duration
}

// WithDefaults returns c with every zero field set to its default.
func (c LagConfig) WithDefaults() LagConfig {
	if c.Window <= 0 {
		c.Window = 10 * time.Minute
	}
	if c.MinSamples <= 0 {
		c.MinSamples = 3
	}
	if c.MaxSamples <= 0 {
		c.MaxSamples = 256
	}
	if c.StallAfter <= 0 {
		c.StallAfter = 5 * time.Minute
	}
	return c
}

// Validate reports every invalid field in one error.
func (c LagConfig) Validate() error {
	var errs []string
	if c.Window < 0 {
		errs = append(errs, "Window is negative")
	}
	if c.MinSamples < 0 {
		errs = append(errs, "MinSamples is negative")
	}
	if c.MaxSamples < 0 {
		errs = append(errs, "MaxSamples is negative")
	}
	if c.MaxSamples > 0 && c.MinSamples > c.MaxSamples {
		errs = append(errs, "MinSamples exceeds MaxSamples")
	}
	if c.OKLag < 0 {
		errs = append(errs, "OKLag is negative")
	}
	if c.CommitInterval < 0 {
		errs = append(errs, "CommitInterval is negative")
	}
	if c.StallAfter < 0 {
		errs = append(errs, "StallAfter is negative")
	}
	if c.WarnTimeLag < 0 {
		errs = append(errs, "WarnTimeLag is negative")
	}
	if len(errs) > 0 {
		return fmt.Errorf("diag: invalid lag config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// StallThreshold is the effective stand-still threshold: StallAfter, but at
// least two commit intervals.
func (c LagConfig) StallThreshold() time.Duration {
	c = c.WithDefaults()
	if t := 2 * c.CommitInterval; t > c.StallAfter {
		return t
	}
	return c.StallAfter
}

// PartitionStatus is the evaluation of one partition's window.
type PartitionStatus struct {
	Topic     string `json:"topic,omitempty"`
	Partition int32  `json:"partition"`
	Status    Status `json:"status"`
	// Reason says in words why Status was chosen.
	Reason string `json:"reason"`
	// Committed and End are the offsets of the newest sample.
	Committed int64 `json:"committed"`
	End       int64 `json:"end"`
	// Lag is End - Committed in the newest sample.
	Lag int64 `json:"lag"`
	// TimeLag is how old the oldest unconsumed message is, from the time
	// the end offset passed it (interpolated between samples).
	TimeLag Duration `json:"time_lag"`
	// TimeLagExtrapolated is set when that message is older than the
	// window, so TimeLag was extrapolated from the window's produce rate.
	TimeLagExtrapolated bool `json:"time_lag_extrapolated,omitempty"`
	// StandStill is how long the committed offset has not moved; if it did
	// not move in the whole window this is a lower bound.
	StandStill Duration `json:"stand_still"`
	// Samples is the number of samples evaluated.
	Samples int `json:"samples"`
	// Complete is false when there were fewer than MinSamples samples.
	Complete bool `json:"complete"`
}

// Evaluate computes the status of one partition from its window of samples,
// oldest first. It is pure: no I/O, no shared state, safe to call
// concurrently. Samples older than cfg.Window before the newest one are
// ignored, as are leading samples without a committed offset.
//
// The verdict is Burrow's ([EvaluateCommits], rules and order as in
// linkedin/Burrow's evaluator) on the commit history that the samples show:
//
//   - the first sample's committed offset, at the sample's time (the offset
//     was committed then or earlier);
//   - every sample whose committed offset differs from the previous
//     sample's: a commit at the sample's time;
//   - every sample with the same offset that shows a new commit: its
//     CommitTime is later than the previous commit's, or, with no
//     CommitTime known, a live member has the partition assigned (a live
//     Kafka consumer commits its position every auto-commit interval);
//   - the lag of each commit is the sample's; the recent end offsets are
//     those of the samples in the last StallThreshold.
//
// with the [CommitRules] extensions on: StallAfter (STOP after StallThreshold
// without a commit, STALL after StallThreshold of re-committing one offset,
// even when the history's span is longer), CommitInterval (the Flink
// checkpoint tolerance) and MinCommits = MinSamples. An OK from those rules
// becomes WARN if the oldest unconsumed message is older than WarnTimeLag.
func Evaluate(window []Sample, cfg LagConfig) PartitionStatus {
	cfg = cfg.WithDefaults()
	st := PartitionStatus{Status: StatusOK, Committed: -1, End: -1}
	n := len(window)
	if n == 0 {
		st.Reason = "no samples"
		return st
	}
	last := window[n-1]
	st.Committed, st.End, st.Lag = last.Committed, last.End, last.Lag()

	// Only the window before the newest sample, from the first commit on.
	first := 0
	cut := last.Time.Add(-cfg.Window)
	for first < n && (window[first].Time.Before(cut) || window[first].Committed < 0) {
		first++
	}
	w := window[first:]
	st.Samples = len(w)
	if last.Committed < 0 {
		st.Reason = "the group has no committed offset for this partition"
		return st
	}
	st.TimeLag, st.TimeLagExtrapolated = timeLag(w)

	// How long the committed offset has stood still.
	since := len(w) - 1
	for since > 0 && w[since-1].Committed == last.Committed {
		since--
	}
	st.StandStill = Duration(last.Time.Sub(w[since].Time))

	if len(w) < cfg.MinSamples {
		st.Reason = fmt.Sprintf("%d of %d samples needed", len(w), cfg.MinSamples)
		return st
	}
	st.Complete = true

	thr := cfg.StallThreshold()
	st.Status, st.Reason = EvaluateCommits(commitHistory(w, thr), CommitRules{
		AllowedLag:     cfg.OKLag,
		StallAfter:     cfg.StallAfter,
		CommitInterval: cfg.CommitInterval,
		MinCommits:     cfg.MinSamples,
	})
	if st.Status == StatusOK && cfg.WarnTimeLag > 0 && time.Duration(st.TimeLag) > cfg.WarnTimeLag {
		st.Status = StatusWarn
		st.Reason = fmt.Sprintf("oldest unconsumed message is %s old (threshold %s)", time.Duration(st.TimeLag).Round(time.Second), cfg.WarnTimeLag)
	}
	return st
}

// commitHistory turns a window of samples (all with a committed offset) into
// the commit history Burrow's rules read; see Evaluate.
func commitHistory(w []Sample, thr time.Duration) CommitHistory {
	last := w[len(w)-1]
	at := func(s Sample) time.Time {
		if !s.CommitTime.IsZero() && !s.CommitTime.After(s.Time) {
			return s.CommitTime
		}
		return s.Time
	}
	h := CommitHistory{
		Now:             last.Time,
		CurrentLag:      last.Lag(),
		FirstIsBaseline: w[0].CommitTime.IsZero(),
		Commits:         []Commit{{Time: at(w[0]), Offset: w[0].Committed, Lag: w[0].Lag()}},
	}
	for i := 1; i < len(w); i++ {
		s, prev := w[i], h.Commits[len(h.Commits)-1]
		switch {
		case s.Committed != w[i-1].Committed:
		case !s.CommitTime.IsZero() && at(s).After(prev.Time):
		case s.CommitTime.IsZero() && s.Live:
		default:
			continue
		}
		t := at(s)
		if t.Before(prev.Time) {
			t = prev.Time
		}
		h.Commits = append(h.Commits, Commit{Time: t, Offset: s.Committed, Lag: s.Lag()})
	}
	recent := last.Time.Add(-thr)
	for _, s := range w {
		if s.Time.After(recent) || s.Time.Equal(last.Time) {
			h.RecentEnds = append(h.RecentEnds, s.End)
		}
	}
	return h
}

// timeLag estimates how old the message at the newest committed offset is:
// the time the end offset passed it, interpolated between samples, or
// extrapolated from the window's produce rate if it is older than w[0].
func timeLag(w []Sample) (Duration, bool) {
	last := w[len(w)-1]
	c := last.Committed
	if c < 0 || c >= last.End {
		return 0, false
	}
	target := c + 1 // the message at offset c exists once End >= c+1
	k := 0
	for k < len(w) && w[k].End < target {
		k++
	}
	var at time.Time
	extrapolated := false
	switch {
	case k == 0:
		first := w[0]
		span := last.Time.Sub(first.Time)
		grown := last.End - first.End
		at = first.Time
		if span > 0 && grown > 0 {
			back := float64(first.End-target) / float64(grown) * float64(span)
			at = first.Time.Add(-time.Duration(back))
		}
		extrapolated = true
	case k == len(w): // cannot happen as target <= last.End; keep for safety
		at = last.Time
	default:
		a, b := w[k-1], w[k]
		frac := float64(target-a.End) / float64(b.End-a.End)
		at = a.Time.Add(time.Duration(frac * float64(b.Time.Sub(a.Time))))
	}
	d := last.Time.Sub(at)
	if d < 0 {
		d = 0
	}
	return Duration(d), extrapolated
}
