// Command 02-kafka-join runs the hot/cold join between Kafka topics of an
// in-process kfake cluster: orders and refunds in, the joined changelog out,
// the orders older than the hot window read from a cold store. StopAt makes
// the runner return once the records produced are processed and committed.
//
//	go run ./examples/go/02-kafka-join
package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/row"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "02-kafka-join:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders", "refunds", "orders_refunds"))
	if err != nil {
		return err
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	dir, err := os.MkdirTemp("", "join-runner-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	orders := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "order_ts", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "customer", Type: row.String},
	}, []string{"order_id"}, 1)
	refunds := row.MustSchema([]row.Column{
		{Name: "refund_id", Type: row.Int64},
		{Name: "order_id", Type: row.Int64},
		{Name: "refund_ts", Type: row.Timestamp(row.Millisecond, "")},
	}, []string{"refund_id"}, 1)
	// Order 1 is ten days old: it is in the cold store, not on the topic.
	cold := coldstore.NewMemory()
	defer cold.Close()
	old := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	if err := cold.Publish("orders", "dt=2026-11-05", orders, time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC),
		[]row.Row{row.New(row.Int64Value(1), row.TimestampValue(old.UnixMilli()), row.StringValue("ada"))}); err != nil {
		return err
	}

	// Today's records, 2026-11-10.
	at := func(h, m int) time.Time { return time.Date(2026, 11, 10, h, m, 0, 0, time.UTC) }
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: "orders", Key: []byte("2"), Timestamp: at(10, 0), Value: []byte(`{"order_id": 2, "order_ts": "2026-11-10 10:00:00.000", "customer": "bob"}`)},
		&kgo.Record{Topic: "refunds", Key: []byte("2"), Timestamp: at(11, 0), Value: []byte(`{"refund_id": 20, "order_id": 2, "refund_ts": "2026-11-10 11:00:00.000"}`)},
		&kgo.Record{Topic: "refunds", Key: []byte("1"), Timestamp: at(11, 30), Value: []byte(`{"refund_id": 10, "order_id": 1, "refund_ts": "2026-11-10 11:30:00.000"}`)},
	).FirstErr(); err != nil {
		return err
	}
	cl.Close()

	r, err := runner.New(runner.Config{
		Join: join.Config{
			Name:      "orders_refunds",
			Left:      join.Input{Name: "orders", Schema: orders, Key: []string{"order_id"}, EventTime: "order_ts", ColdTable: "orders"},
			Right:     join.Input{Name: "refunds", Schema: refunds, Key: []string{"order_id"}, EventTime: "refund_ts"},
			Output:    []join.Column{{Side: join.Left, Source: "order_id"}, {Side: join.Left, Source: "customer"}, {Side: join.Right, Source: "refund_id"}},
			OutputKey: []string{"refund_id"},
			Cold:      cold,
		},
		LeftTopic: "orders", RightTopic: "refunds", OutputTopic: "orders_refunds",
		OutputFormat: row.FormatChangelogJSON,
		Brokers:      brokers, Group: "orders-refunds-join",
		StateDir: dir,
		// A new job reads the hot window (2026-11-09 and today) from Kafka:
		// older rows are the cold store's.
		StartFrom: runner.StartRetention,
		StopAt:    map[string]map[int32]int64{"orders": {0: 1}, "refunds": {0: 2}},
		Now:       func() time.Time { return at(12, 0) },
	})
	if err != nil {
		return err
	}
	if err := r.Run(ctx); err != nil {
		return err
	}
	st := r.Stats()
	fmt.Printf("records %d, outputs %d, cold hits %d\n", st.Records, st.Outputs, st.ColdHits)

	// Read the changelog back.
	out := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64}, {Name: "customer", Type: row.String}, {Name: "refund_id", Type: row.Int64},
	}, []string{"refund_id"}, 1)
	codec, err := row.NewCodec(row.FormatChangelogJSON, out)
	if err != nil {
		return err
	}
	cl, err = kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("orders_refunds"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	readCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var lines []string
	for len(lines) < int(st.Outputs) {
		fs := cl.PollFetches(readCtx)
		if err := readCtx.Err(); err != nil {
			return fmt.Errorf("reading orders_refunds: %w", err)
		}
		for _, rec := range fs.Records() {
			rows, err := codec.Decode(nil, row.Message{Key: rec.Key, Value: rec.Value})
			if err != nil {
				return fmt.Errorf("orders_refunds offset %d: %w", rec.Offset, err)
			}
			for _, r := range rows {
				lines = append(lines, r.Format(out))
			}
		}
	}
	slices.Sort(lines) // the cold lookup may finish after the hot join
	for _, l := range lines {
		fmt.Println(l)
	}
	return nil
}
