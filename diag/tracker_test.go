package diag_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/diag"
)

func observe(tr *diag.Tracker, group string, p int32, at time.Time, committed, end int64) {
	tr.Observe(diag.PartitionSample{Group: group, Topic: "orders", Partition: p, Sample: diag.Sample{Time: at, Committed: committed, End: end}})
}

// TestTrackerEmitsStartUpdateEnd drives one group through an anomaly: a
// lagging partition stops, then a second one, then both recover.
func TestTrackerEmitsStartUpdateEnd(t *testing.T) {
	tr, err := diag.NewTracker(diag.LagConfig{Window: 2 * time.Minute, StallAfter: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	step := func(i int, c0, e0, c1, e1 int64) {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		observe(tr, "g", 0, at, c0, e0)
		observe(tr, "g", 1, at, c1, e1)
		_, evs := tr.Evaluate(at)
		for _, ev := range evs {
			kinds = append(kinds, ev.Kind.String()+":"+ev.Status.String()+":"+itoa(len(ev.Partitions)))
		}
	}
	// Partition 0 always lags a little and stops committing after step 1;
	// partition 1 keeps up until it stops at step 5.
	step(0, 100, 150, 100, 100)
	step(1, 200, 250, 200, 200)
	step(2, 200, 350, 300, 300)
	step(3, 200, 450, 400, 400) // partition 0 still for 1m0s: not yet
	step(4, 200, 550, 500, 500) // 1m30s > 1m: STOP
	step(5, 200, 650, 600, 600)
	step(6, 200, 750, 600, 700)
	step(7, 200, 850, 600, 800)
	step(8, 200, 950, 600, 900)
	step(9, 200, 1050, 600, 1000)
	step(10, 200, 1150, 600, 1100) // partition 1's zero lag left the window: STOP too
	step(11, 1200, 1200, 1100, 1100)
	got := strings.Join(kinds, " ")
	if got != "start:STOP:1 update:STOP:2 end:OK:0" {
		t.Fatalf("events %q, want start:STOP:1 update:STOP:2 end:OK:0", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestTrackerDropsPartitionsWithoutRecentSamples(t *testing.T) {
	tr, err := diag.NewTracker(diag.LagConfig{Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	observe(tr, "g", 0, t0, 10, 20)
	observe(tr, "g", 1, t0, 10, 20)
	observe(tr, "g", 1, t0.Add(50*time.Second), 20, 30)
	st, _ := tr.Evaluate(t0.Add(90 * time.Second))
	if len(st) != 1 || len(st[0].Partitions) != 1 || st[0].Partitions[0].Partition != 1 {
		t.Fatalf("statuses %+v, want only partition 1", st)
	}
	st, _ = tr.Evaluate(t0.Add(10 * time.Minute))
	if len(st) != 1 || len(st[0].Partitions) != 0 {
		t.Fatalf("statuses %+v, want the group with no partitions", st)
	}
	if len(tr.Groups()) != 0 {
		t.Fatalf("groups %v left after all samples expired", tr.Groups())
	}
}

func TestTrackerIgnoresOutOfOrderSamples(t *testing.T) {
	tr, err := diag.NewTracker(diag.LagConfig{})
	if err != nil {
		t.Fatal(err)
	}
	observe(tr, "g", 0, t0.Add(time.Minute), 100, 100)
	observe(tr, "g", 0, t0, 5, 100) // older: dropped, so no rewind is seen
	observe(tr, "g", 0, t0.Add(2*time.Minute), 200, 200)
	observe(tr, "g", 0, t0.Add(3*time.Minute), 300, 300)
	st, _ := tr.Evaluate(t0.Add(3 * time.Minute))
	if p := st[0].Partitions[0]; p.Status != diag.StatusOK || p.Samples != 3 {
		t.Fatalf("partition %+v, want OK from 3 samples", p)
	}
}

func TestEventKindTextRoundTrips(t *testing.T) {
	for _, k := range []diag.EventKind{diag.EventStart, diag.EventUpdate, diag.EventEnd} {
		b, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back diag.EventKind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Fatalf("%s round-trips to %s, %v", k, back, err)
		}
	}
}
