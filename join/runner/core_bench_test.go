package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/hotcold/hotcold/join/runner"
)

// BenchmarkJoinRunner measures the join runner end to end on kfake: a
// 10-day orders/refunds workload (3 partitions) already in the topics,
// consumed from the earliest offsets by a new job until every record is
// committed. It reports input records/s. It is the baseline of the shared
// runner core (BENCHMARKS.md, "runner core").
func BenchmarkJoinRunner(b *testing.B) {
	c := newCluster(b)
	brokers := c.ListenAddrs()
	w := genWorkload(1000)
	produceWorkload(b, brokers, w)
	total := int64(len(w.orders) + len(w.refunds))
	cold := w.coldStore(b, 7)
	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		cfg := runnerConfig(brokers, b.TempDir(), cold)
		cfg.Group = "bench-join-" + time.Now().Format("150405.000000000")
		cfg.MaxPollRecords = 10000
		r, err := runner.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- r.Run(ctx) }()
		for r.Stats().Records < total {
			select {
			case err := <-done:
				cancel()
				b.Fatalf("runner stopped: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
		elapsed += time.Since(start)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total)*float64(b.N)/elapsed.Seconds(), "records/s")
}
