package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// OverCapPolicy says what happens to a bucket that is past the hard cap
// while the cold store still does not cover it.
type OverCapPolicy uint8

const (
	// KeepOverCap keeps the bucket (state grows while the cold side lags;
	// no match is lost). The default.
	KeepOverCap OverCapPolicy = iota
	// DropOverCap drops the bucket and records the gap (UncoveredUntil), so
	// that misses in it are counted as possibly-missed matches.
	DropOverCap
)

// ParseOverCapPolicy reads "keep" or "drop".
func ParseOverCapPolicy(s string) (OverCapPolicy, error) {
	switch s {
	case "", "keep":
		return KeepOverCap, nil
	case "drop":
		return DropOverCap, nil
	}
	return 0, fmt.Errorf("state: over-cap policy %q: want keep or drop", s)
}

func (p OverCapPolicy) String() string {
	if p == DropOverCap {
		return "drop"
	}
	return "keep"
}

// Retention says when a namespace's buckets expire. The zero value keeps
// today and yesterday and does not wait for a cold store.
type Retention struct {
	// Days is the hot window: the buckets of the current day and the
	// Days-1 days before it are always kept. Zero means 2 (today and
	// yesterday).
	Days int
	// ColdBacked says that a cold table backs this side: a bucket older
	// than the window is dropped only once the cold store's covers-until is
	// at or after the bucket's end. False drops on age alone. Default false.
	ColdBacked bool
	// HardCapDays bounds how many days (counting the current one) are kept
	// while the cold store lags; past it OverCap applies. Zero means
	// Days+5. Ignored unless ColdBacked.
	HardCapDays int
	// OverCap is applied to buckets past the hard cap that the cold store
	// does not cover yet. Zero means KeepOverCap.
	OverCap OverCapPolicy
}

func (r Retention) withDefaults() Retention {
	if r.Days == 0 {
		r.Days = 2
	}
	if r.HardCapDays == 0 {
		r.HardCapDays = r.Days + 5
	}
	return r
}

func (r Retention) validate() error {
	var errs []error
	if r.Days < 0 {
		errs = append(errs, fmt.Errorf("Days is %d, want >= 1 (or 0 for the default 2)", r.Days))
	}
	d := r.withDefaults()
	if r.HardCapDays != 0 && d.HardCapDays < d.Days {
		errs = append(errs, fmt.Errorf("HardCapDays %d is below Days %d", d.HardCapDays, d.Days))
	}
	if r.OverCap > DropOverCap {
		errs = append(errs, fmt.Errorf("OverCap %d is not a policy", r.OverCap))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid retention: %w", errors.Join(errs...))
	}
	return nil
}

// WindowStart returns the oldest day of the hot window when current is the
// newest event-time day seen. Records of earlier days are late.
func (r Retention) WindowStart(current Day) Day {
	return current - Day(r.withDefaults().Days) + 1
}

// ExpireResult reports what one Expire call did.
type ExpireResult struct {
	// Dropped are the buckets dropped because they aged out (and, for a
	// cold-backed namespace, the cold store covers them).
	Dropped []Day
	// Lagging are buckets past the window kept because the cold store does
	// not cover them yet.
	Lagging []Day
	// DroppedUncovered are buckets dropped past the hard cap although the
	// cold store does not cover them (policy DropOverCap).
	DroppedUncovered []Day
}

// Expire drops the buckets that have expired when current is the newest
// event-time day seen and coversUntil is the cold table's covers-until (zero:
// unknown, nothing is covered). The drops are written with the next Commit.
//
// A bucket older than the window is dropped if the namespace is not cold
// backed, or if coversUntil is at or after the bucket's end. Otherwise it is
// kept while younger than the hard cap, with a WARN log and the
// hotcold_state_lagging_buckets gauge; past the cap OverCap applies.
func (ns *Namespace) Expire(current Day, coversUntil time.Time) (ExpireResult, error) {
	var res ExpireResult
	r := ns.ret
	start := r.WindowStart(current)
	capStart := current - Day(r.HardCapDays) + 1
	loc := ns.db.Zone()
	for _, d := range ns.Buckets() {
		if d >= start {
			break
		}
		switch {
		case !r.ColdBacked:
			res.Dropped = append(res.Dropped, d)
		case !coversUntil.IsZero() && !d.End(loc).After(coversUntil):
			res.Dropped = append(res.Dropped, d)
		case d >= capStart || r.OverCap == KeepOverCap:
			res.Lagging = append(res.Lagging, d)
		default:
			res.DroppedUncovered = append(res.DroppedUncovered, d)
		}
	}
	for _, d := range res.Dropped {
		if err := ns.DropBucket(d); err != nil {
			return res, err
		}
	}
	ns.db.m.expired.WithLabelValues(ns.name, "aged").Add(float64(len(res.Dropped)))
	for _, d := range res.DroppedUncovered {
		if err := ns.DropBucket(d); err != nil {
			return res, err
		}
		if end := d.End(loc); end.After(ns.uncoveredUntil) {
			ns.uncoveredUntil = end
			ns.uncoveredDirty = true
		}
	}
	if len(res.DroppedUncovered) > 0 {
		ns.db.m.expired.WithLabelValues(ns.name, "over_cap_uncovered").Add(float64(len(res.DroppedUncovered)))
		if err := ns.db.batch.Set(ns.gapKey(), binary.BigEndian.AppendUint64(nil, uint64(ns.uncoveredUntil.UnixNano())), nil); err != nil {
			return res, err
		}
		ns.db.mutated()
		ns.db.log.Warn("state: dropped hot buckets the cold store does not cover; matches in them may be missed until the cold store catches up",
			"namespace", ns.name, "days", fmt.Sprint(res.DroppedUncovered), "covers_until", coversUntil, "hard_cap_days", r.HardCapDays)
	}
	ns.lagging = int64(len(res.Lagging))
	if len(res.Lagging) > 0 && ns.laggingLogged != res.Lagging[len(res.Lagging)-1]+1 {
		ns.laggingLogged = res.Lagging[len(res.Lagging)-1] + 1
		ns.db.log.Warn("state: cold store lags, keeping expired hot buckets until it covers them",
			"namespace", ns.name, "buckets", len(res.Lagging), "oldest", res.Lagging[0].String(),
			"covers_until", coversUntil, "hard_cap_days", r.HardCapDays, "over_cap", r.OverCap.String())
	}
	if len(res.Lagging) == 0 {
		ns.laggingLogged = 0
	}
	ns.refreshBytes()
	ns.reportMetrics()
	return res, nil
}
