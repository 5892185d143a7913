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

const migrateJoinConfig = `
name: orders_refunds
%s
kafka:
  brokers: [%s]
  group: cli-migrate-join
  start_from: earliest
left:
  name: orders
  topic: orders
  key: [order_id]
  event_time: order_ts
  columns:
    - {name: order_id, type: bigint}
    - {name: order_ts, type: timestamp(3)}
%s
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
  format: changelog-json
  columns:
    - {from: left.order_id}
%s
    - {from: right.refund_id}
state:
  dir: %s
`

// TestJoinMigratePlanApplyRestart drives the shipped commands through a
// logic change of `hotcold join` (issue #18 points 3 and 4): the new
// config drops orders.note, widens orders.qty int -> bigint and adds
// orders.channel with default unknown, at version 2. `hotcold join
// manifest` prints the new manifest, `migrate plan` says migrate,
// `migrate apply` rewrites the state root, and the new join restarted on
// it joins a new refund with an order stored before the change, emitting
// the widened qty and the default (never null), and nothing old again.
func TestJoinMigratePlanApplyRestart(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders", "refunds", "out"))
	joinMust(t, err)
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ", ")
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	joinMust(t, err)
	defer cl.Close()
	ctx := context.Background()
	ts := time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC).Format("2006-01-02 15:04:05")
	order := func(id int) *kgo.Record {
		return &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprint(id)), Value: []byte(fmt.Sprintf(`{"order_id": %d, "order_ts": %q, "note": "n%d", "qty": %d}`, id, ts, id, 10*id))}
	}
	refund := func(id, order int) *kgo.Record {
		return &kgo.Record{Topic: "refunds", Key: []byte(fmt.Sprint(order)), Value: []byte(fmt.Sprintf(`{"refund_id": %d, "order_id": %d, "refund_ts": %q}`, id, order, ts))}
	}
	joinMust(t, cl.ProduceSync(ctx, order(1), order(2), refund(11, 1)).FirstErr())

	dir := t.TempDir()
	stateDir, newState := filepath.Join(dir, "state"), filepath.Join(dir, "state-v2")
	v1, v2 := filepath.Join(dir, "join.yaml"), filepath.Join(dir, "join-v2.yaml")
	joinMust(t, os.WriteFile(v1, []byte(fmt.Sprintf(migrateJoinConfig, "", brokers,
		"    - {name: note, type: string, nullable: true}\n    - {name: qty, type: int, nullable: true}",
		"    - {from: left.note}\n    - {from: left.qty}", stateDir)), 0o644))
	joinMust(t, os.WriteFile(v2, []byte(fmt.Sprintf(migrateJoinConfig, "version: 2", brokers,
		"    - {name: qty, type: bigint, nullable: true}\n    - {name: channel, type: string, default: unknown}",
		"    - {from: left.qty}\n    - {from: left.channel}", stateDir)), 0o644))

	if out, err := run(t, "join", "--config", v1, "--log-level", "warn", "--stop-at", "orders/0=2,refunds/0=1"); err != nil {
		t.Fatalf("old job: %v\n%s", err, out)
	}
	// The new logic on the old state is refused, naming the migration.
	if _, err := run(t, "join", "--config", v2, "--log-level", "warn"); err == nil || !strings.Contains(err.Error(), "hotcold migrate apply --state "+stateDir) {
		t.Fatalf("new logic on old state: %v", err)
	}
	man, err := run(t, "join", "manifest", "--config", v2)
	if err != nil {
		t.Fatalf("%v\n%s", err, man)
	}
	newYAML := filepath.Join(dir, "new-manifest.yaml")
	joinMust(t, os.WriteFile(newYAML, []byte(man), 0o644))
	plan, err := run(t, "migrate", "plan", "--from", stateDir, "--to", newYAML)
	if err != nil || !strings.Contains(plan, "migrate (rewrite)") || !strings.Contains(plan, "type widened from int32 to int64") {
		t.Fatalf("plan: %v\n%s", err, plan)
	}
	if out, err := run(t, "migrate", "apply", "--state", stateDir, "--to", newYAML, "--out", newState); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}

	joinMust(t, cl.ProduceSync(ctx, refund(12, 2)).FirstErr())
	if out, err := run(t, "join", "--config", v2, "--state-dir", newState, "--log-level", "warn", "--stop-at", "orders/0=2,refunds/0=2"); err != nil {
		t.Fatalf("new job on the migrated state: %v\n%s", err, out)
	}
	var recs []string
	for _, r := range readAll(t, c.ListenAddrs(), int(endSumOf(t, cl, "out")), "out") {
		recs = append(recs, string(r.Value))
	}
	if len(recs) != 2 {
		t.Fatalf("output records %q, want the old job's one and the new job's one", recs)
	}
	if !strings.Contains(recs[0], `"note":"n1"`) || !strings.Contains(recs[0], `"qty":10`) {
		t.Fatalf("old job's output %s", recs[0])
	}
	if got := recs[1]; !strings.Contains(got, `"order_id":2`) || !strings.Contains(got, `"qty":20`) || !strings.Contains(got, `"channel":"unknown"`) || !strings.Contains(got, `"refund_id":12`) || strings.Contains(got, "note") {
		t.Fatalf("new job's output %s", got)
	}
}
