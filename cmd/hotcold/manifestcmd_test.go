package main

import (
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

	"github.com/hotcold/hotcold/manifest"
)

func TestJoinManifestPrintsTheManifestTheConfigDescribes(t *testing.T) {
	out, err := run(t, "join", "manifest", "--config", "../../join/testdata/join.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m, err := manifest.Parse("stdout", []byte(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if m.Job != "orders_refunds" || len(m.Operators) != 1 || m.Operators[0].Kind != manifest.KindJoin || m.Operators[0].Output != "orders_refunds" {
		t.Fatalf("manifest:\n%s", out)
	}
	help, err := run(t, "join", "manifest", "--help")
	if err != nil || !strings.Contains(help, "hotcold join manifest --config join.yaml") || !strings.Contains(help, "hotcold migrate plan") {
		t.Fatalf("join manifest --help = %v\n%s", err, help)
	}
	if _, err := run(t, "join", "manifest"); err == nil || !strings.Contains(err.Error(), "--config is required") {
		t.Fatalf("no --config: %v", err)
	}
}

func TestAggManifestRecordsInputColumnsAndRejectsAnUnknownArgument(t *testing.T) {
	out, err := run(t, "agg", "manifest", "--config", "../../agg/testdata/agg.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m, err := manifest.Parse("stdout", []byte(out))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if op := m.Operators[0]; op.Kind != manifest.KindAgg || len(op.InputColumns) == 0 {
		t.Fatalf("manifest:\n%s", out)
	}
	help, err := run(t, "agg", "manifest", "--help")
	if err != nil || !strings.Contains(help, "hotcold agg manifest --config agg.yaml") {
		t.Fatalf("agg manifest --help = %v\n%s", err, help)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agg.yaml")
	bad := strings.Replace(fmt.Sprintf(aggTestConfig, "localhost:9092", filepath.Join(dir, "state")), "arg: amount", "arg: amont", 1)
	joinMust(t, os.WriteFile(cfg, []byte(bad), 0o644))
	_, err = run(t, "agg", "manifest", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), `aggregates[1].arg: "amont" is not a column of input.columns (city, refund_id, amount)`) {
		t.Fatalf("sum(amont): %v", err)
	}
	// The same manifest, hand-edited, is refused too.
	edited := strings.Replace(out, "arg: refund\n", "arg: refnd\n", 1)
	if _, err := manifest.Parse("m.yaml", []byte(edited)); err == nil || !strings.Contains(err.Error(), `"refnd" is not an input column`) {
		t.Fatalf("hand-edited arg: %v", err)
	}
}

const joinAmountConfig = `
name: orders_refunds
kafka:
  brokers: [%s]
  group: cli-manifest-test
  start_from: earliest
left:
  name: orders
  topic: orders
  key: [order_id]
  event_time: order_ts
  columns:
    - {name: order_id, type: bigint}
    - {name: order_ts, type: timestamp(3)}
    - {name: amount, type: %s, nullable: true}
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
  columns:
    - {from: left.order_id}
    - {from: left.amount}
    - {from: right.refund_id}
state:
  dir: %s
`

// TestJoinRestartedWithARetypedColumnIsRefused is issue #18 point 1 with
// the shipped command: `hotcold join` restarted with amount retyped
// bigint -> timestamp(3) on the old state stops at start, naming the
// change and the next step, and produces nothing.
func TestJoinRestartedWithARetypedColumnIsRefused(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders", "refunds", "out"))
	joinMust(t, err)
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ", ")
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	joinMust(t, err)
	defer cl.Close()
	ctx := context.Background()
	ts := time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC).Format("2006-01-02 15:04:05")
	joinMust(t, cl.ProduceSync(ctx,
		&kgo.Record{Topic: "orders", Key: []byte("1"), Value: []byte(fmt.Sprintf(`{"order_id": 1, "order_ts": %q, "amount": 10}`, ts))},
		&kgo.Record{Topic: "refunds", Key: []byte("1"), Value: []byte(fmt.Sprintf(`{"refund_id": 11, "order_id": 1, "refund_ts": %q}`, ts))},
	).FirstErr())
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	v1, v2 := filepath.Join(dir, "join.yaml"), filepath.Join(dir, "join-v2.yaml")
	joinMust(t, os.WriteFile(v1, []byte(fmt.Sprintf(joinAmountConfig, brokers, "bigint", stateDir)), 0o644))
	joinMust(t, os.WriteFile(v2, []byte(fmt.Sprintf(joinAmountConfig, brokers, "timestamp(3)", stateDir)), 0o644))

	if out, err := run(t, "join", "--config", v1, "--log-level", "warn", "--stop-at", "orders/0=1,refunds/0=1"); err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	if _, err := manifest.Read(filepath.Join(stateDir, "p0", manifest.FileName)); err != nil {
		t.Fatalf("the join wrote no manifest: %v", err)
	}
	outputs := endSumOf(t, cl, "out")

	_, err = run(t, "join", "--config", v2, "--log-level", "warn")
	if err == nil {
		t.Fatal("restart with amount retyped was accepted")
	}
	for _, s := range []string{
		"column orders.amount: type bigint in state, timestamp(3) in config [rebuild]",
		"hotcold join manifest --config " + v2 + " > new-manifest.yaml",
		"hotcold migrate plan --from " + stateDir,
		"hotcold migrate bypass",
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
	if n := endSumOf(t, cl, "out"); n != outputs {
		t.Fatalf("the refused job produced %d records", n-outputs)
	}
	// The old config still starts on its state.
	if out, err := run(t, "join", "--config", v1, "--log-level", "warn", "--stop-at", "orders/0=1,refunds/0=1"); err != nil {
		t.Fatalf("old config on its state: %v\n%s", err, out)
	}
}

func endSumOf(t *testing.T, cl *kgo.Client, topic string) int64 {
	t.Helper()
	var n int64
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	joinMust(t, err)
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}
