package runner_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/agg/runner"
	"github.com/hotcold/hotcold/internal/runtest"
	"github.com/hotcold/hotcold/row"
)

// benchRefunds and the input below are those of agg's former
// BenchmarkAggRunner (the removed agg.Runner, before the shared core), so
// that the two measure the same work (BENCHMARKS.md's recorded section).
var benchRefunds = row.MustSchema([]row.Column{
	{Name: "city", Type: row.String},
	{Name: "refund_id", Type: row.Int64},
	{Name: "amount", Type: row.Int64, Nullable: true},
}, nil, 1)

const benchAggRecords = 30000

// BenchmarkAggRunner measures the agg runner on the shared core end to
// end on kfake: 30,000 changelog records (a tenth retractions) over 50
// cities in 3 partitions, consumed from the start by a new job until every
// record is committed and its output delivered (Run returned). It reports
// input records/s.
func BenchmarkAggRunner(b *testing.B) {
	c := runtest.NewCluster(b, 3, "refunds", "refunds_by_city")
	codec, err := row.NewCodec(row.FormatChangelogJSON, benchRefunds)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	var recs []*kgo.Record
	var kept []row.Row
	for i := 0; len(recs) < benchAggRecords; i++ {
		r := row.New(row.StringValue(fmt.Sprintf("city-%d", rng.IntN(50))), row.Int64Value(int64(i)), row.Int64Value(rng.Int64N(1000)))
		if len(kept) > 0 && rng.IntN(10) == 0 {
			j := rng.IntN(len(kept))
			r = kept[j]
			kept = append(kept[:j], kept[j+1:]...)
			r.Kind = row.Delete
		} else {
			kept = append(kept, r)
		}
		m, _, err := codec.Encode(r)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "refunds", Key: r.Values[0].Bytes(), Value: m.Value})
	}
	runtest.Produce(b, c, recs...)
	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		r, err := runner.New(runner.Config{
			Agg: agg.Config{ID: "refunds_by_city", Input: benchRefunds, GroupBy: []string{"city"},
				Aggregates: []agg.Aggregate{{Name: "n", Func: agg.Count}, {Name: "total", Func: agg.Sum, Arg: "amount"}}},
			InputTopic: "refunds", OutputTopic: "refunds_by_city", Brokers: c.ListenAddrs(),
			Group: fmt.Sprintf("bench-agg-%d", i), StateDir: b.TempDir(), NoSync: true,
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- r.Run(ctx) }()
		for r.Stats().Records < benchAggRecords {
			select {
			case err := <-done:
				cancel()
				b.Fatalf("runner stopped: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
		// Stop and wait, as the old agg.Runner's benchmark waited for Run to
		// return at its stop offsets: the last batch's delivery counts.
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(benchAggRecords)*float64(b.N)/elapsed.Seconds(), "records/s")
}
