package mock_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/mock"
)

// benchCase writes a case with n messages split over two sources, sent in
// runs of run messages per source (run = n: one source after the other).
func benchCase(b *testing.B, n, run int) *mock.Case {
	b.Helper()
	dir := b.TempDir()
	for _, src := range []string{"a", "b"} {
		var sb strings.Builder
		for i := 0; i < n/2; i++ {
			fmt.Fprintf(&sb, `{"key":{"id":%d},"value":{"id":%d,"src":"%s","payload":"0123456789abcdef"}}`+"\n", i, i, src)
		}
		if err := os.WriteFile(filepath.Join(dir, src+".jsonl"), []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	order := "[a*, b*]"
	if run < n/2 {
		var items []string
		for i := 0; i < n/2; i += run {
			items = append(items, fmt.Sprintf("a*%d", run), fmt.Sprintf("b*%d", run))
		}
		order = "[" + strings.Join(items, ", ") + "]"
	}
	caseYAML := `sources:
  - {name: a, topic: ta, messages: a.jsonl}
  - {name: b, topic: tb, messages: b.jsonl}
schedule: {order: ` + order + `}
sink: {topic: out, format: json, columns: {id: BIGINT}}
expect: {rows: [], quiet: 1ms}
`
	if err := os.WriteFile(filepath.Join(dir, "case.yaml"), []byte(caseYAML), 0o644); err != nil {
		b.Fatal(err)
	}
	c, err := mock.LoadCase(dir)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkReplay measures a full-speed replay into kfake with mock.Run
// (topic creation, ordered sending, reading the empty sink until quiet,
// topic deletion) and, alternating with it in the same loop so that both
// see the same machine load, a raw kgo baseline: a fresh client that
// creates the topics, Produces the same records asynchronously in the same
// order, flushes once and deletes the topics. The baseline does not keep
// the order across topics, which Run does by waiting for the
// acknowledgement of each run of messages to one partition before the
// next. Metrics: msgs/s (Run), baseline-msgs/s, and their ratio.
func BenchmarkReplay(b *testing.B) {
	const n = 100_000
	for _, bc := range []struct {
		name string
		n    int
		run  int
	}{
		{"sources-one-after-the-other", n, n},
		{"interleaved-runs-of-1000", n, 1000},
		{"interleaved-every-message", 10_000, 1},
	} {
		c := benchCase(b, bc.n, bc.run)
		b.Run(bc.name, func(b *testing.B) {
			kopts := newCluster(b) // a fresh cluster per scenario
			ctx := ctxFor(b)
			var runTime, baseTime time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				res, err := mock.Run(ctx, c, mock.Options{Kafka: kopts, FullSpeed: true})
				// no job runs: the empty sink is no evidence, so Unknown
				if err != nil || res.Verdict != mock.Unknown {
					b.Fatalf("%v %s", err, res.Report())
				}
				runTime += time.Since(start)
				start = time.Now()
				rawProduce(b, ctx, kopts, c, fmt.Sprintf("%s-%d", bc.name, i))
				baseTime += time.Since(start)
			}
			run := float64(bc.n*b.N) / runTime.Seconds()
			base := float64(bc.n*b.N) / baseTime.Seconds()
			b.ReportMetric(run, "msgs/s")
			b.ReportMetric(base, "baseline-msgs/s")
			b.ReportMetric(run/base, "ratio")
		})
	}
}

// rawProduce is the baseline: what Run does around the records, with a
// plain asynchronous produce loop.
func rawProduce(b *testing.B, ctx context.Context, kopts []kgo.Opt, c *mock.Case, prefix string) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, kopts...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := map[string]string{"a": prefix + ".ta", "b": prefix + ".tb"}
	if _, err := adm.CreateTopics(ctx, 1, -1, nil, topics["a"], topics["b"]); err != nil {
		b.Fatal(err)
	}
	var failed atomic.Int64
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
		}
	}
	for _, st := range c.Steps() {
		m := st.Message()
		cl.Produce(ctx, &kgo.Record{Topic: topics[st.Source.Name], Key: m.Key, Value: m.Value}, promise)
	}
	if err := cl.Flush(ctx); err != nil || failed.Load() > 0 {
		b.Fatal(err, failed.Load())
	}
	if _, err := adm.DeleteTopics(ctx, topics["a"], topics["b"]); err != nil {
		b.Fatal(err)
	}
}
