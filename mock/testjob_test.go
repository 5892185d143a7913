package mock_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
)

// IN-TEST JOB. refundJoin is a small stand-in job used to test the replay
// machinery itself: an inner join of orders and refunds on order_id that
// emits (order_id, amount, refund_amount). With lookupOnly it is a buggy
// lookup join that drops a refund arriving before its order, which the
// refund-before-order case must catch. The end-to-end test of the real
// join runner is in join_e2e_test.go.
type refundJoin struct {
	lookupOnly bool
	orders     *row.Codec
	refunds    *row.Codec
	sink       *row.Schema

	byOrder   map[int64]row.Row   // orders by order_id
	pending   map[int64][]row.Row // refunds waiting for their order
	processed atomic.Int64
}

func newRefundJoin(t testing.TB, c *mock.Case, lookupOnly bool) *refundJoin {
	t.Helper()
	oc, err := row.NewCodec(row.FormatJSON, c.Source("orders").Schema)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := row.NewCodec(row.FormatJSON, c.Source("refunds").Schema)
	if err != nil {
		t.Fatal(err)
	}
	return &refundJoin{lookupOnly: lookupOnly, orders: oc, refunds: rc, sink: c.Sink.Schema, byOrder: map[int64]row.Row{}, pending: map[int64][]row.Row{}}
}

func (j *refundJoin) Process(_ context.Context, in mock.Input) ([]row.Row, error) {
	defer j.processed.Add(1)
	var out []row.Row
	emit := func(o, r row.Row) {
		// orders: order_id, user_id, amount, order_time; refunds: refund_id, order_id, refund_amount, refund_time
		out = append(out, row.New(o.Values[0], o.Values[2], r.Values[2]))
	}
	switch in.Source {
	case "orders":
		rows, err := j.orders.Decode(nil, row.Message{Key: in.Key, Value: in.Value})
		if err != nil {
			return nil, err
		}
		for _, o := range rows {
			id := o.Values[0].Int64()
			j.byOrder[id] = o
			if !j.lookupOnly {
				for _, r := range j.pending[id] {
					emit(o, r)
				}
			}
		}
	case "refunds":
		rows, err := j.refunds.Decode(nil, row.Message{Key: in.Key, Value: in.Value})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			id := r.Values[1].Int64()
			j.pending[id] = append(j.pending[id], r)
			if o, ok := j.byOrder[id]; ok {
				emit(o, r)
			}
		}
	default:
		return nil, fmt.Errorf("unknown source %q", in.Source)
	}
	return out, nil
}

// kafkaJob runs a Job against Kafka: it reads the run's source topics
// (with one client, no group), calls Process and writes the rows to the
// sink topic in the sink format. Its goroutine is owned by the stop
// function it returns.
func kafkaJob(t testing.TB, kopts []kgo.Opt, job mock.Job) mock.StartFunc {
	return func(ctx context.Context, run mock.RunInfo) (func() error, error) {
		c := run.Case
		sourceOf := map[string]string{}
		var topics []string
		for _, s := range c.Sources {
			sourceOf[run.Topics[s.Topic]] = s.Name
			topics = append(topics, run.Topics[s.Topic])
		}
		cl, err := kgo.NewClient(append(append([]kgo.Opt{}, kopts...),
			kgo.ConsumeTopics(topics...),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(50*time.Millisecond),
		)...)
		if err != nil {
			return nil, err
		}
		jctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var jobErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				fs := cl.PollFetches(jctx)
				if jctx.Err() != nil {
					return
				}
				var recs []*kgo.Record
				fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
				for _, r := range recs {
					in := mock.Input{Source: sourceOf[r.Topic], Record: mock.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}}
					by := map[string][]row.Row{}
					var err error
					if sj, ok := job.(mock.SinksJob); ok {
						by, err = sj.ProcessSinks(jctx, in)
					} else {
						by[c.Sink.Name], err = job.Process(jctx, in)
					}
					if err != nil {
						jobErr = err
						return
					}
					for _, sk := range c.Sinks {
						for _, out := range by[sk.Name] {
							m, ok, err := sk.Codec().Encode(out)
							if err != nil {
								jobErr = err
								return
							}
							if ok {
								if err := cl.ProduceSync(jctx, &kgo.Record{Topic: run.Topics[sk.Topic], Key: m.Key, Value: m.Value}).FirstErr(); err != nil && jctx.Err() == nil {
									jobErr = err
									return
								}
							}
						}
					}
				}
			}
		}()
		return func() error {
			cancel()
			wg.Wait()
			cl.Close()
			return jobErr
		}, nil
	}
}

func newCluster(t testing.TB) []kgo.Opt {
	t.Helper()
	kopts, _ := newClusterAddrs(t)
	return kopts
}

// newClusterAddrs starts an in-process Kafka (kfake) closed at the end of
// the test and returns client options and the broker addresses.
func newClusterAddrs(t testing.TB) ([]kgo.Opt, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, c.ListenAddrs()
}

// barrier is a Sleeper that, instead of sleeping, waits until the job has
// processed every message sent so far: it makes the arrival order at a
// job reading several topics deterministic without real sleeps.
func barrier(t testing.TB, processed func() int64) mock.Sleeper {
	var calls atomic.Int64
	return mock.SleeperFunc(func(ctx context.Context, d time.Duration) error {
		sent := calls.Add(1) // Sleep is called before every message but the first
		deadline := time.Now().Add(20 * time.Second)
		for processed() < sent {
			if time.Now().After(deadline) {
				return errors.New("barrier: the job did not catch up within 20s")
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Millisecond):
			}
		}
		return nil
	})
}
