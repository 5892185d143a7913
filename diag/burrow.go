package diag

import (
	"fmt"
	"time"
)

// Commit is one committed offset in a [CommitHistory], as Burrow stores
// it: the offset, when it was committed, and the partition's lag then.
type Commit struct {
	// Time is when the offset was committed (or first seen committed).
	Time time.Time
	// Offset is the committed offset.
	Offset int64
	// Lag is the partition's lag at the commit; negative if unknown
	// (Burrow's nil lag), in which case the lag rules skip the commit.
	Lag int64
}

// CommitHistory is the input of Burrow's evaluator for one partition.
type CommitHistory struct {
	// Commits are the partition's commits, oldest first.
	Commits []Commit
	// RecentEnds are the partition's end offsets read in the recent past
	// (Burrow's broker offsets). If one of them is at or below the newest
	// commit, the consumer was caught up recently and is not STOP yet.
	RecentEnds []int64
	// CurrentLag is the partition's lag now.
	CurrentLag int64
	// Now is the time of the evaluation.
	Now time.Time
	// FirstIsBaseline says that Commits[0] is the offset found committed
	// when observation began, not a commit seen when it happened: its time
	// is an upper bound and its lag not a lag right after a commit.
	FirstIsBaseline bool
}

// CommitRules parameterise [EvaluateCommits]. The zero value is Burrow's
// evaluator exactly (allowed-lag 0); every other field is a hotcold
// extension that is off at its zero value.
type CommitRules struct {
	// AllowedLag is Burrow's allowed-lag: a lag at or below it counts as
	// caught up.
	AllowedLag int64
	// StallAfter, if positive, is how long a partition with lag may go
	// without a commit before it is STOP, or keep committing one offset
	// before it is STALL, whatever the span of the history (Burrow's only
	// threshold is that span, so a consumer that caught up and then died
	// is STOP only once the gap since its last commit exceeds the span of
	// its history). StallThreshold applies the 2×CommitInterval floor.
	StallAfter time.Duration
	// CommitInterval, if positive, is the longest normal gap between two
	// commits (Flink commits offsets only when a checkpoint completes):
	// STOP needs a gap longer than two intervals, and WARN needs the lag
	// right after commits to grow by more than AllowedLag, not just to
	// stay level, since a consumer that commits each checkpoint always
	// shows one interval's records as lag.
	CommitInterval time.Duration
	// MinCommits, if positive, is how many commits the history must hold
	// before the span rule (STOP), the all-equal rule (STALL) and the
	// not-decreasing rule (WARN) apply; below it only StallAfter can raise
	// an alarm. Burrow has none, since its history is a ring of real
	// commits; a history built from a few samples says too little.
	MinCommits int
}

// stallThreshold is StallAfter, but at least two commit intervals; 0 if
// StallAfter is off.
func (r CommitRules) stallThreshold() time.Duration {
	if r.StallAfter <= 0 {
		return 0
	}
	if t := 2 * r.CommitInterval; t > r.StallAfter {
		return t
	}
	return r.StallAfter
}

// EvaluateCommits is Burrow's partition evaluator (linkedin/Burrow,
// core/internal/evaluator/caching.go, calculatePartitionStatus), with its
// rules in its order:
//
//  0. if the current lag is at or below AllowedLag: OK;
//  1. STOP if the time since the newest commit exceeds the time between the
//     oldest and the newest commit, unless a recent end offset shows the
//     consumer caught up ([CommitHistory].RecentEnds);
//  2. REWIND if the committed offset went back and has not since come back
//     to where it was before the first rewind;
//  3. if the lag at some commit was at or below AllowedLag: OK;
//  4. STALL if every commit has the same offset;
//  5. WARN if the lag at the commits never decreases;
//  6. otherwise OK.
//
// The extensions in [CommitRules] only add: StallAfter makes rule 1 also
// fire after StallAfter without a commit, and adds before rule 3 a STALL
// when the consumer has kept committing one offset, with lag at each of
// those commits, for longer than StallAfter; CommitInterval delays rule 1
// to two intervals and needs rule 5's lag to grow; MinCommits holds rules 1
// (the span part), 4 and 5 back on short histories.
//
// The string says in words why the status was chosen.
func EvaluateCommits(h CommitHistory, r CommitRules) (Status, string) {
	c := h.Commits
	if len(c) == 0 {
		return StatusOK, "no commits"
	}
	if h.CurrentLag <= r.AllowedLag {
		return StatusOK, fmt.Sprintf("current lag %d is at most the allowed lag %d", h.CurrentLag, r.AllowedLag)
	}
	last := c[len(c)-1]
	enough := r.MinCommits <= 0 || len(c) >= r.MinCommits
	thr := r.stallThreshold()

	// Rule 1: stopped committing.
	gap := h.Now.Sub(last.Time)
	span := last.Time.Sub(c[0].Time)
	spanStop := enough && gap > span && gap > 2*r.CommitInterval
	thrStop := thr > 0 && gap > thr
	if (spanStop || thrStop) && !recentLagZero(last.Offset, h.RecentEnds) {
		why := fmt.Sprintf("the history of %d commits spans %s", len(c), span)
		if !spanStop {
			why = fmt.Sprintf("the stall threshold is %s", thr)
		}
		return StatusStop, fmt.Sprintf("no commit for %s (%s); lag %d; the consumer is stopped or not committing",
			gap, why, h.CurrentLag)
	}

	// Rule 2: rewind, unless recovered.
	if i := rewindIndex(c); i > 0 && !rewindRecovered(c, i) {
		return StatusRewind, fmt.Sprintf("committed offset went back from %d to %d at %s and has not come back",
			c[i-1].Offset, c[i].Offset, c[i].Time.UTC().Format(time.RFC3339))
	}

	// Extension: committing one offset with lag for longer than StallAfter.
	if thr > 0 {
		j := len(c) - 1
		for j > 0 && c[j-1].Offset == last.Offset && (c[j-1].Lag < 0 || c[j-1].Lag > r.AllowedLag) {
			j--
		}
		if len(c)-1 > j && last.Time.Sub(c[j].Time) > thr && (c[j].Lag < 0 || c[j].Lag > r.AllowedLag) {
			return StatusStall, fmt.Sprintf("offset %d committed again and again for %s (threshold %s) although there is lag %d",
				last.Offset, last.Time.Sub(c[j].Time), thr, h.CurrentLag)
		}
	}

	// Rule 3: caught up at some commit.
	for _, x := range c {
		if x.Lag >= 0 && x.Lag <= r.AllowedLag {
			return StatusOK, fmt.Sprintf("lag was %d at the commit at %s", x.Lag, x.Time.UTC().Format(time.RFC3339))
		}
	}
	if !enough {
		return StatusOK, fmt.Sprintf("%d of %d commits needed for the stall and trend rules", len(c), r.MinCommits)
	}

	// Rule 4: committing without moving.
	stalled := true
	for i := 1; i < len(c); i++ {
		if c[i].Offset != c[i-1].Offset {
			stalled = false
			break
		}
	}
	if stalled {
		return StatusStall, fmt.Sprintf("every one of %d commits is offset %d; lag %d", len(c), last.Offset, h.CurrentLag)
	}

	// Rule 5: lag never decreasing.
	lags := c
	if r.CommitInterval > 0 && h.FirstIsBaseline {
		lags = c[1:]
	}
	if n, first, lastLag, ok := lagNotDecreasing(lags); ok {
		if r.CommitInterval <= 0 {
			return StatusWarn, fmt.Sprintf("lag at each of %d commits never decreased (%d -> %d)", n, first, lastLag)
		}
		if n >= 2 && lastLag > first+r.AllowedLag {
			return StatusWarn, fmt.Sprintf("lag after each of %d commits never decreased and grew (%d -> %d)", n, first, lastLag)
		}
		return StatusOK, fmt.Sprintf("the offset moves and the lag after commits is level (%d -> %d), not rising", first, lastLag)
	}
	return StatusOK, "the offset moves and the lag at commits decreased"
}

// recentLagZero is Burrow's checkIfRecentLagZero.
func recentLagZero(lastOffset int64, ends []int64) bool {
	for _, e := range ends {
		if e <= lastOffset {
			return true
		}
	}
	return false
}

// rewindIndex is Burrow's checkIfOffsetsRewind: the index of the first
// commit below its predecessor, or -1.
func rewindIndex(c []Commit) int {
	for i := 1; i < len(c); i++ {
		if c[i].Offset < c[i-1].Offset {
			return i
		}
	}
	return -1
}

// rewindRecovered is Burrow's checkIfRewindRecovered.
func rewindRecovered(c []Commit, i int) bool {
	prev := c[i-1].Offset
	for ; i < len(c); i++ {
		if c[i].Offset >= prev {
			return true
		}
	}
	return false
}

// lagNotDecreasing is Burrow's checkIfLagNotDecreasing; it also returns how
// many commits had a lag and the first and last of those lags.
func lagNotDecreasing(c []Commit) (n int, first, last int64, ok bool) {
	for _, x := range c {
		if x.Lag < 0 {
			continue
		}
		if n > 0 && x.Lag < last {
			return n, first, last, false
		}
		if n == 0 {
			first = x.Lag
		}
		last = x.Lag
		n++
	}
	return n, first, last, true
}
