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
	// which a partition is reported OK and incomplete. Default 3.
	MinSamples int
	// MaxSamples caps the samples kept per partition by a Tracker; the
	// oldest are dropped first. Default 256.
	MaxSamples int
	// OKLag is the lag at or below which a partition counts as caught up.
	// Default 0.
	OKLag int64
	// CommitInterval is the longest normal gap between two commits. Flink
	// commits offsets only when a checkpoint completes, so set it to the
	// checkpoint interval plus the usual checkpoint duration. Default 0:
	// the consumer commits more often than it is sampled.
	CommitInterval time.Duration
	// StallAfter is how long the committed offset may stand still while
	// there is lag before the partition is STALL or STOP. The effective
	// threshold is at least 2×CommitInterval, so one late checkpoint never
	// raises an alarm. Default 5 minutes.
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
// oldest first. It is pure: no I/O, no shared state, safe to call concurrently. Samples older than
// cfg.Window before the newest one are ignored, as are leading samples
// without a committed offset.
//
// The rules are Burrow's, in order, adapted to commits that come only every
// CommitInterval (Flink checkpoints):
//
//  1. the committed offset went back between two samples: REWIND;
//  2. the lag was at or below OKLag at some sample: OK;
//  3. the committed offset stood still for longer than StallThreshold:
//     STALL if a consumer is known to be alive, otherwise STOP;
//  4. the lag measured right after each commit never decreased across at
//     least two commits and grew by more than OKLag: WARN. Between commits
//     a checkpointing consumer's lag always grows, so only post-commit lags
//     are compared; and unlike Burrow a constant post-commit lag is OK, as
//     a consumer that commits every checkpoint always shows the records of
//     the last checkpoint interval as lag;
//  5. the oldest unconsumed message is older than WarnTimeLag: WARN;
//  6. otherwise OK.
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

	// Rule 1: rewind.
	for i := 1; i < len(w); i++ {
		if w[i].Committed < w[i-1].Committed {
			st.Status = StatusRewind
			st.Reason = fmt.Sprintf("committed offset went back from %d to %d at %s",
				w[i-1].Committed, w[i].Committed, w[i].Time.UTC().Format(time.RFC3339))
			return st
		}
	}
	// Rule 2: caught up at some point.
	for i := range w {
		if w[i].Lag() <= cfg.OKLag {
			st.Reason = fmt.Sprintf("lag was %d at %s", w[i].Lag(), w[i].Time.UTC().Format(time.RFC3339))
			return st
		}
	}
	// Rule 3: standing still.
	thr := cfg.StallThreshold()
	if time.Duration(st.StandStill) > thr {
		committing := last.Live || (!last.CommitTime.IsZero() && last.Time.Sub(last.CommitTime) <= thr)
		if committing {
			st.Status = StatusStall
			st.Reason = fmt.Sprintf("offset %d has not moved for %s (threshold %s) although the consumer is alive; lag %d",
				last.Committed, st.StandStill, thr, st.Lag)
		} else {
			st.Status = StatusStop
			st.Reason = fmt.Sprintf("no progress committed for %s (threshold %s); lag %d; the consumer is stopped or not committing",
				st.StandStill, thr, st.Lag)
		}
		return st
	}
	// Rule 4: lag right after each commit never decreases and grows. The
	// first sample is no commit point: when it was committed is unknown.
	points, firstLag, prevLag := 0, int64(0), int64(0)
	rising := true
	for i := 1; i < len(w); i++ {
		if w[i].Committed == w[i-1].Committed {
			continue
		}
		l := w[i].Lag()
		if points > 0 && l < prevLag {
			rising = false
			break
		}
		if points == 0 {
			firstLag = l
		}
		prevLag = l
		points++
	}
	if rising && points >= 2 && prevLag > firstLag+cfg.OKLag {
		st.Status = StatusWarn
		st.Reason = fmt.Sprintf("lag after each of %d commits never decreased (%d -> %d)", points, firstLag, prevLag)
		return st
	}
	// Rule 5: absolute time-lag threshold.
	if cfg.WarnTimeLag > 0 && time.Duration(st.TimeLag) > cfg.WarnTimeLag {
		st.Status = StatusWarn
		st.Reason = fmt.Sprintf("oldest unconsumed message is %s old (threshold %s)", time.Duration(st.TimeLag).Round(time.Second), cfg.WarnTimeLag)
		return st
	}
	if since == 0 && len(w) > 1 {
		st.Reason = fmt.Sprintf("offset stood still for %s, within the stall threshold %s", st.StandStill, thr)
	} else {
		st.Reason = "the offset moves and the lag after commits is not rising"
	}
	return st
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
