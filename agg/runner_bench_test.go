package agg_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/row"
)

// benchAggInput produces n changelog-json refunds (+I, a tenth of them
// retracted later) over 50 cities, keyed by city, to topic "refunds" of a
// 3-partition kfake cluster.
func benchAggInput(b *testing.B, n int) (brokers []string) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "refunds", "refunds_by_city"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	brokers = c.ListenAddrs()
	codec, err := row.NewCodec(row.FormatChangelogJSON, refunds)
	if err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("refunds"))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(3, 5))
	var recs []*kgo.Record
	var kept []row.Row
	for i := 0; len(recs) < n; i++ {
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
		recs = append(recs, &kgo.Record{Key: r.Values[0].Bytes(), Value: m.Value})
	}
	for len(recs) > 0 {
		k := min(len(recs), 5000)
		if err := cl.ProduceSync(context.Background(), recs[:k]...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		recs = recs[k:]
	}
	return brokers
}

const benchAggRecords = 30000

func reportRecordsPerSecond(b *testing.B, total int64, elapsed time.Duration) {
	b.ReportMetric(float64(total)*float64(b.N)/elapsed.Seconds(), "records/s")
}
