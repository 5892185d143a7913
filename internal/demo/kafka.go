package demo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/row"
)

// topics are the Kafka topics of one job: its own copy of the inputs (so
// that each job is fed the stream live, see feed), its joined output, the
// output of its bootstrap run, and the aggregate.
type topics struct {
	orders, refunds, joined, bootstrap, agg string
}

func topicsOf(job string) topics {
	return topics{
		orders:    "orders." + job,
		refunds:   "refunds." + job,
		joined:    "orders_refunds." + job,
		bootstrap: "orders_refunds." + job + ".bootstrap",
		agg:       "refunds_by_city." + job,
	}
}

func (t topics) all() []string { return []string{t.orders, t.refunds, t.joined, t.bootstrap, t.agg} }

// startKafka starts an in-process Kafka (kfake) with the topics of jobs,
// each with the given number of partitions except the joined topics,
// which have one: the join runner writes each input partition's output to
// the same-numbered output partition (modulo the output's partitions), so
// its output is partitioned by order_id, while the aggregation groups by
// city and refund day and keeps state per input partition; with a single
// joined partition every row of a group reaches the same aggregation
// state. The caller must Close it.
func startKafka(partitions int, jobs ...topics) (*kfake.Cluster, error) {
	var names, joined []string
	for _, j := range jobs {
		for _, t := range j.all() {
			if t == j.joined {
				joined = append(joined, t)
			} else {
				names = append(names, t)
			}
		}
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), names...), kfake.SeedTopics(1, joined...))
	if err != nil {
		return nil, fmt.Errorf("start in-process kafka: %w", err)
	}
	return c, nil
}

// record is one input record, encoded once and produced once per job.
type record struct {
	refund     bool
	key, value []byte
	ts         time.Time
}

// encodeWorkload encodes the orders and refunds as JSON messages keyed by
// order_id (so that the default partitioner co-partitions the topics),
// timestamped with the event time, in event-time order across both
// topics.
func encodeWorkload(w *Workload) []record {
	recs := make([]record, 0, len(w.Orders)+len(w.Refunds))
	oi, ri := 0, 0
	for oi < len(w.Orders) || ri < len(w.Refunds) {
		if ri >= len(w.Refunds) || (oi < len(w.Orders) && !w.Orders[oi].At.After(w.Refunds[ri].At)) {
			o := &w.Orders[oi]
			recs = append(recs, record{key: strconv.AppendInt(nil, o.ID, 10), value: OrdersSchema.AppendJSON(nil, o.Row()), ts: o.At})
			oi++
		} else {
			r := &w.Refunds[ri]
			recs = append(recs, record{refund: true, key: strconv.AppendInt(nil, r.OrderID, 10), value: RefundsSchema.AppendJSON(nil, r.Row()), ts: r.At})
			ri++
		}
	}
	return recs
}

// feed produces recs, in order, to the job's input topics while the job
// runs, keeping at most backlog records produced but not yet consumed
// (consumed reports the job's committed records). So the job reads the
// two topics as a live job would: in step, with orders and refunds at
// most one backlog of event time apart. (A job that reads a backlog of
// two topics fetches them by bytes, not by event time, so the sparser
// refunds would race days ahead of their orders; see the package doc.)
func feed(ctx context.Context, brokers []string, t topics, recs []record, backlog int64, consumed func() int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	chunk := max(backlog/4, 1)
	batch := make([]*kgo.Record, 0, chunk)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for sent := int64(0); sent < int64(len(recs)); {
		for sent+chunk-consumed() > backlog {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
		batch = batch[:0]
		for _, r := range recs[sent:min(sent+chunk, int64(len(recs)))] {
			topic := t.orders
			if r.refund {
				topic = t.refunds
			}
			batch = append(batch, &kgo.Record{Topic: topic, Key: r.key, Value: r.value, Timestamp: r.ts})
		}
		if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			return fmt.Errorf("produce to %s/%s: %w", t.orders, t.refunds, err)
		}
		sent += int64(len(batch))
	}
	return nil
}

// endOffsets returns the end offset of every partition of topic and their
// sum.
func endOffsets(ctx context.Context, brokers []string, topic string) (map[int32]int64, int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, 0, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		out[o.Partition] = o.Offset
		total += o.Offset
	})
	return out, total, nil
}

// deleteTopics deletes topics.
func deleteTopics(ctx context.Context, brokers []string, names ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).DeleteTopics(ctx, names...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		return fmt.Errorf("delete topics %v: %w", names, err)
	}
	return nil
}

// readChangelog reads topic from the start to its current end, decodes
// every record with codec and passes the rows to fn. It returns the number
// of records read.
func readChangelog(ctx context.Context, brokers []string, topic string, codec *row.Codec, st *step, base int64, fn func(row.Row)) (int64, error) {
	ends, total, err := endOffsets(ctx, brokers, topic)
	if err != nil {
		return 0, err
	}
	if total == 0 {
		return 0, nil
	}
	parts := map[int32]kgo.Offset{}
	for p := range ends {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var n int64
	var rows []row.Row
	for n < total {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("read %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return n, ferr
		}
		fs.EachRecord(func(rec *kgo.Record) {
			if ferr != nil || rec.Offset >= ends[rec.Partition] {
				return
			}
			n++
			rows, err = codec.Decode(rows[:0], row.Message{Key: rec.Key, Value: rec.Value})
			if err != nil {
				ferr = fmt.Errorf("%s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
				return
			}
			for _, r := range rows {
				fn(r)
			}
		})
		if ferr != nil {
			return n, ferr
		}
		if st != nil {
			st.set(base + n)
		}
	}
	return n, nil
}
