package kafkatest_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/internal/kafkatest"
)

// One broker for the whole binary: the subtests share it.
func TestBroker(t *testing.T) {
	b := kafkatest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("ProduceAndFetch", func(t *testing.T) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("roundtrip"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AllowAutoTopicCreation())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "roundtrip", Key: []byte("k1"), Value: []byte("v1")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		recs := fs.Records()
		if len(recs) != 1 || string(recs[0].Key) != "k1" || string(recs[0].Value) != "v1" {
			t.Fatalf("fetched %v, want the one record k1=v1", recs)
		}
	})

	t.Run("GroupsAndDefaults", func(t *testing.T) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		if _, err := adm.CreateTopic(ctx, 3, 1, nil, "three"); err != nil {
			t.Fatal(err)
		}
		cfgs, err := adm.DescribeBrokerConfigs(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"group.initial.rebalance.delay.ms": "0", "offsets.topic.replication.factor": "1", "transaction.state.log.replication.factor": "1"}
		for _, c := range cfgs {
			for _, kv := range c.Configs {
				if w, ok := want[kv.Key]; ok {
					if kv.MaybeValue() != w {
						t.Errorf("%s = %q, want %q", kv.Key, kv.MaybeValue(), w)
					}
					delete(want, kv.Key)
				}
			}
		}
		if len(want) > 0 {
			t.Errorf("broker configs missing: %v", want)
		}
	})

	t.Run("StopEndsTheBroker", func(t *testing.T) {
		b.Stop()
		if c, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
			c.Close()
			t.Fatalf("%s still accepts connections after Stop", b.Addr())
		}
	})
}
