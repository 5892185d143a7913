package diag_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/hotcold/hotcold/diag"
)

// BenchmarkEvaluate10kPartitions measures one tick of a Tracker that holds
// 10,000 partitions (100 groups of 100) with a full 10-minute window of
// samples every 10 seconds (60 per partition): observing the new samples and
// evaluating every partition.
func BenchmarkEvaluate10kPartitions(b *testing.B) {
	const groups, parts, window = 100, 100, 60
	tr, err := diag.NewTracker(diag.LagConfig{Window: 10 * time.Minute, CommitInterval: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, groups)
	for g := range names {
		names[g] = "group-" + strconv.Itoa(g)
	}
	at := t0
	tick := func(i int) {
		for g := 0; g < groups; g++ {
			for p := 0; p < parts; p++ {
				end := int64(i*100 + p)
				committed := end - int64(50+(i%6)*20) // a checkpointing consumer's saw tooth
				tr.Observe(diag.PartitionSample{Group: names[g], Topic: "orders", Partition: int32(p), Sample: diag.Sample{Time: at, Committed: committed, End: end}})
			}
		}
	}
	for i := 0; i < window; i++ {
		tick(i)
		at = at.Add(10 * time.Second)
	}
	tr.Evaluate(at)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at = at.Add(10 * time.Second)
		tick(window + i)
		st, _ := tr.Evaluate(at)
		if len(st) != groups {
			b.Fatalf("%d groups", len(st))
		}
	}
}
