package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
)

const joinTestConfig = `
name: orders_refunds
kafka:
  brokers: [%s]
  group: cli-test
  start_from: earliest
left:
  name: orders
  topic: orders
  key: [order_id]
  event_time: order_ts
  columns:
    - {name: order_id, type: bigint}
    - {name: order_ts, type: timestamp(3)}
    - {name: customer, type: string, nullable: true}
right:
  name: refunds
  topic: refunds
  key: [order_id]
  event_time: refund_ts
  columns:
    - {name: refund_id, type: bigint}
    - {name: order_id, type: bigint}
    - {name: refund_ts, type: timestamp(3)}
output:
  topic: out
  format: upsert-kafka
  key: [refund_id]
  columns:
    - {from: left.order_id}
    - {from: left.customer}
    - {from: right.refund_id}
state:
  dir: %s
metrics:
  listen: 127.0.0.1:0
`

func TestJoinCommandJoinsTopicsUntilCanceled(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders", "refunds", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		ts := time.Date(2026, 11, 1, i, 0, 0, 0, time.UTC).Format("2006-01-02 15:04:05")
		joinMust(t, cl.ProduceSync(ctx,
			&kgo.Record{Topic: "orders", Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf(`{"order_id": %d, "order_ts": %q, "customer": "c%d"}`, i, ts, i))},
			&kgo.Record{Topic: "refunds", Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf(`{"refund_id": %d, "order_id": %d, "refund_ts": %q}`, 10+i, i, ts))},
		).FirstErr())
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "join.yaml")
	joinMust(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(joinTestConfig, strings.Join(brokers, ", "), filepath.Join(dir, "state"))), 0o644))

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs([]string{"join", "--config", cfgPath, "--log-level", "warn"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(runCtx) }()

	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(ctx, "out")
		var n int64
		if err == nil {
			ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		}
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d output records", n)
		}
		select {
		case err := <-done:
			t.Fatalf("join stopped early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "produced 3 changes") || !strings.Contains(out.String(), "6 joined, 0 skipped as dirty, 0 dead-lettered") {
		t.Fatalf("summary = %q", out.String())
	}
}

func TestJoinCommandExplainsAMissingConfig(t *testing.T) {
	_, err := run(t, "join")
	if err == nil || !strings.Contains(err.Error(), "--config is required") {
		t.Fatalf("err = %v", err)
	}
	_, err = run(t, "join", "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func joinMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestJoinCommandFailsClosedOnTheColdSide(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders", "refunds", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	empty := "pebble:" + filepath.Join(dir, "empty")
	st, err := coldstore.Open(context.Background(), empty, &coldstore.Options{Create: true})
	joinMust(t, err)
	st.Close()
	base := fmt.Sprintf(joinTestConfig, strings.Join(c.ListenAddrs(), ", "), filepath.Join(dir, "state"))
	base = strings.Replace(base, "  event_time: order_ts\n", "  event_time: order_ts\n  cold_table: orders\n", 1)
	for _, tc := range []struct {
		name, cold string
		args       []string
		want       []string
	}{
		{"store path typo", "store: pebble:" + filepath.Join(dir, "colld"), nil, []string{"no store", "colld"}},
		{"unknown cold table", "store: " + empty, nil, []string{`cold table "orders"`, "does not exist"}},
		{"nothing behind the sidecar", "sidecar: unix://" + filepath.Join(dir, "none.sock"), nil, []string{"cold side is not usable", "--wait-cold"}},
		{"sidecar still down after --wait-cold", "sidecar: unix://" + filepath.Join(dir, "none.sock"), []string{"--wait-cold", "300ms"}, []string{"cold side is not usable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath := filepath.Join(t.TempDir(), "join.yaml")
			joinMust(t, os.WriteFile(cfgPath, []byte(base+"cold:\n  "+tc.cold+"\n"), 0o644))
			_, err := run(t, append([]string{"join", "--config", cfgPath, "--log-level", "error"}, tc.args...)...)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("join = %v, want an error containing %q", err, w)
				}
			}
		})
	}
}

// The documented join.yaml fits the cold table that the quickstart loads
// from `hotcold load sample`, so the quickstart job starts with its cold
// side (the join fails closed on a cold table that does not fit).
func TestTheExampleJoinConfigFitsTheSampleColdTable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "orders.parquet")
	store := "pebble:" + filepath.Join(dir, "cold")
	if out, err := run(t, "load", "sample", "--rows", "50", file); err != nil {
		t.Fatalf("load sample: %v\n%s", err, out)
	}
	if out, err := run(t, "load", "--store", store, "--table", "orders", "--version", "2026-11-22", "--key", "order_id", file); err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	f, err := runner.ReadFile("../../join/testdata/join.yaml")
	joinMust(t, err)
	st, err := coldstore.Open(context.Background(), store, nil)
	joinMust(t, err)
	defer st.Close()
	cfg, err := f.Config(st)
	joinMust(t, err)
	if err := join.CheckCold(context.Background(), cfg.Join); err != nil {
		t.Fatalf("the example config does not fit the sample's cold table: %v", err)
	}
}
