package diag

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Window is a closed time interval [From, To]. A zero From or To is open on
// that side.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Contains reports whether t lies in the window.
func (w Window) Contains(t time.Time) bool {
	if !w.From.IsZero() && t.Before(w.From) {
		return false
	}
	if !w.To.IsZero() && t.After(w.To) {
		return false
	}
	return true
}

// Duration is To - From (zero if either side is open).
func (w Window) Duration() time.Duration {
	if w.From.IsZero() || w.To.IsZero() {
		return 0
	}
	return w.To.Sub(w.From)
}

// Validate reports a window whose end is before its start.
func (w Window) Validate() error {
	if !w.From.IsZero() && !w.To.IsZero() && !w.From.Before(w.To) {
		return fmt.Errorf("diag: window end %s is not after its start %s", w.To.Format(time.RFC3339), w.From.Format(time.RFC3339))
	}
	return nil
}

// String formats the window as "from .. to" in RFC 3339, UTC.
func (w Window) String() string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "*"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return f(w.From) + " .. " + f(w.To)
}

func sortTimes(ts []time.Time) { slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) }) }

func sortSamples(s []PartitionSample) {
	slices.SortStableFunc(s, func(a, b PartitionSample) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Group, b.Group), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
}
