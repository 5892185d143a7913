package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestProduceWritesAFileKeyedAndTimestampedByColumns(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders", "refunds"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	var orders, refunds strings.Builder
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&orders, `{"order_id": %d, "created_at": "2026-11-22 10:%02d:00.000", "amount": "1.50"}`+"\n", i, i%60)
		fmt.Fprintf(&refunds, `{"refund_id": %d, "order_id": %d, "refund_ts": %d}`+"\n", 100+i, i, time.Date(2026, 11, 23, 0, 0, i, 0, time.UTC).UnixMilli())
	}
	of, rf := filepath.Join(dir, "orders.jsonl"), filepath.Join(dir, "refunds.jsonl")
	joinMust(t, os.WriteFile(of, []byte(orders.String()), 0o644))
	joinMust(t, os.WriteFile(rf, []byte(refunds.String()+"\n"), 0o644)) // a trailing blank line is skipped
	brokers := strings.Join(c.ListenAddrs(), ",")
	out, err := run(t, "produce", "--brokers", brokers, "--topic", "orders", "--key", "order_id", "--timestamp", "created_at", of)
	if err != nil || !strings.Contains(out, "produced 50 records to orders (3 partitions)") {
		t.Fatalf("produce orders: %v\n%s", err, out)
	}
	if out, err := run(t, "produce", "--brokers", brokers, "--topic", "refunds", "--key", "order_id", "--timestamp", "refund_ts", rf); err != nil {
		t.Fatalf("produce refunds: %v\n%s", err, out)
	}
	recs := readAll(t, c.ListenAddrs(), 100, "orders", "refunds")
	part := map[string]int32{}
	for _, r := range recs {
		if r.Topic == "orders" {
			part[string(r.Key)] = r.Partition
			want := fmt.Sprintf("2026-11-22T10:%02d:00Z", mustAtoi(t, string(r.Key))%60)
			if got := r.Timestamp.UTC().Format(time.RFC3339); got != want {
				t.Errorf("order %s: timestamp %s, want %s", r.Key, got, want)
			}
		}
	}
	for _, r := range recs {
		if r.Topic == "refunds" {
			if p, ok := part[string(r.Key)]; !ok || p != r.Partition {
				t.Errorf("refund of order %s is on partition %d, its order on %d: not co-partitioned", r.Key, r.Partition, p)
			}
			if r.Timestamp.UTC().Day() != 23 {
				t.Errorf("refund timestamp %s", r.Timestamp)
			}
		}
	}
}

func TestProduceStopsAtABadLineNamingIt(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := filepath.Join(t.TempDir(), "in.jsonl")
	joinMust(t, os.WriteFile(f, []byte(`{"id": 1, "ts": "2026-11-22 00:00:00"}`+"\n"+`{"id": 2}`+"\n"+`{"id": 3, "ts": "yesterday"}`+"\n"), 0o644))
	brokers := strings.Join(c.ListenAddrs(), ",")
	_, err = run(t, "produce", "--brokers", brokers, "--topic", "t", "--key", "id", "--timestamp", "ts", f)
	if err == nil || !strings.Contains(err.Error(), "in.jsonl:2: no timestamp column \"ts\"") || !strings.Contains(err.Error(), "1 records before it were produced") {
		t.Fatalf("err = %v", err)
	}
	_, err = run(t, "produce", "--brokers", brokers, "--topic", "nope", f)
	if err == nil || !strings.Contains(err.Error(), `topic "nope" does not exist`) {
		t.Fatalf("err = %v", err)
	}
	out, err := run(t, "produce", "--help")
	if err != nil || !strings.Contains(out, "hotcold produce --brokers localhost:9092 --topic orders --key order_id --timestamp created_at orders.jsonl") {
		t.Fatalf("help: %v\n%s", err, out)
	}
}

func readAll(t *testing.T, brokers []string, n int, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records", len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
