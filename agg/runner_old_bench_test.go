package agg_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/agg"
)

// BenchmarkAggRunner measures agg.Runner (the runner before the shared
// core) end to end on kfake: 30,000 changelog records in 3 partitions,
// consumed from the start by a new job until every record is committed and
// its output delivered (StopAt the end offsets). It reports input
// records/s.
func BenchmarkAggRunner(b *testing.B) {
	brokers := benchAggInput(b, benchAggRecords)
	cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), "refunds")
	cl.Close()
	if err != nil {
		b.Fatal(err)
	}
	stop := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { stop[o.Partition] = o.Offset })
	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		cfg := runnerConfig(brokers, b.TempDir())
		r, err := agg.NewRunner(cfg)
		if err != nil {
			b.Fatal(err)
		}
		r.StopAt(stop)
		start := time.Now()
		if err := r.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		r.Close()
	}
	reportRecordsPerSecond(b, benchAggRecords, elapsed)
}
