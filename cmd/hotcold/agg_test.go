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

	aggrunner "github.com/hotcold/hotcold/agg/runner"
	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
)

const aggTestConfig = `
name: refunds_by_city
kafka:
  brokers: [%s]
  group: cli-agg-test
input:
  topic: refunds
  columns:
    - {name: city, type: string}
    - {name: refund_id, type: bigint}
    - {name: amount, type: bigint, nullable: true}
group_by: [city]
aggregates:
  - {name: refunds, func: count}
  - {name: total, func: sum, arg: amount}
output:
  topic: refunds_by_city
state:
  dir: %s
metrics:
  listen: 127.0.0.1:0
`

func TestAggCommandAggregatesUntilCanceled(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "refunds", "refunds_by_city"))
	joinMust(t, err)
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	joinMust(t, err)
	defer cl.Close()
	ctx := context.Background()
	for i, city := range []string{"bj", "sh", "bj"} {
		joinMust(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "refunds", Key: []byte(city),
			Value: []byte(fmt.Sprintf(`{"data":{"city":%q,"refund_id":%d,"amount":%d},"op":"+I"}`, city, i, 10*i))}).FirstErr())
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agg.yaml")
	joinMust(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(aggTestConfig, strings.Join(c.ListenAddrs(), ", "), filepath.Join(dir, "state"))), 0o644))
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs([]string{"agg", "--config", cfgPath, "--log-level", "warn"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(runCtx) }()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// +I bj, +I sh, -U/+U bj
		ends, err := adm.ListEndOffsets(ctx, "refunds_by_city")
		var n int64
		if err == nil {
			ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		}
		if n >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d output records", n)
		}
		select {
		case err := <-done:
			t.Fatalf("agg stopped early: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "read 3 records") || !strings.Contains(out.String(), "3 aggregated, 0 skipped as dirty, 0 dead-lettered; produced 4 changes") {
		t.Fatalf("summary = %q", out.String())
	}
}

func TestAggCommandExplainsAMissingConfig(t *testing.T) {
	_, err := run(t, "agg")
	if err == nil || !strings.Contains(err.Error(), "--config is required") {
		t.Fatalf("err = %v", err)
	}
	_, err = run(t, "agg", "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestAggHelpHasAnExample(t *testing.T) {
	out, err := run(t, "agg", "--help")
	if err != nil || !strings.Contains(out, "Examples:") || !strings.Contains(out, "hotcold agg --config agg.yaml") {
		t.Fatalf("agg --help = %v\n%s", err, out)
	}
}

// The documented agg.yaml builds a runner configuration.
func TestTheExampleAggConfigIsValid(t *testing.T) {
	f, err := aggrunner.ReadFile("../../agg/testdata/agg.yaml")
	joinMust(t, err)
	cfg, err := f.Config()
	joinMust(t, err)
	if _, err := aggrunner.New(cfg); err != nil {
		t.Fatal(err)
	}
}

// The documented agg.yaml reads the documented join.yaml's output: its
// input columns are the join's output columns with their types, its topic
// is the join's output topic, and it groups by the join key (the join's
// output is partitioned like its inputs, by the join key).
func TestTheExampleAggConfigReadsTheExampleJoinsOutput(t *testing.T) {
	jf, err := runner.ReadFile("../../join/testdata/join.yaml")
	joinMust(t, err)
	jc, err := jf.Config(coldstore.NewMemory())
	joinMust(t, err)
	af, err := aggrunner.ReadFile("../../agg/testdata/agg.yaml")
	joinMust(t, err)
	ac, err := af.Config()
	joinMust(t, err)
	if ac.InputTopic != jc.OutputTopic {
		t.Errorf("agg reads %q, the join writes %q", ac.InputTopic, jc.OutputTopic)
	}
	var want []string
	for _, c := range jc.Join.Output {
		s := jc.Join.Left.Schema
		if c.Side == join.Right {
			s = jc.Join.Right.Schema
		}
		name := c.Name
		if name == "" {
			name = c.Source
		}
		want = append(want, fmt.Sprintf("%s %s", name, s.Column(s.Index(c.Source)).Type))
	}
	var got []string
	for i := 0; i < ac.Agg.Input.Len(); i++ {
		c := ac.Agg.Input.Column(i)
		got = append(got, fmt.Sprintf("%s %s", c.Name, c.Type))
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("agg input columns\n  %s\nthe join's output columns\n  %s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
	for _, k := range jc.Join.Left.Key {
		found := false
		for _, g := range ac.Agg.GroupBy {
			found = found || g == k
		}
		if !found {
			t.Errorf("agg groups by %v, which does not hold the join key column %q its input is partitioned by", ac.Agg.GroupBy, k)
		}
	}
}

// TestAggCommandStopsByItselfAtStopAt: with --stop-at the command
// processes each partition up to its offset, commits and exits 0 on its
// own; a malformed --stop-at is an error naming the flag.
func TestAggCommandStopsByItselfAtStopAt(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "refunds", "refunds_by_city"))
	joinMust(t, err)
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	joinMust(t, err)
	defer cl.Close()
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		city := []string{"bj", "sh"}[i%2]
		joinMust(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "refunds", Partition: int32(i % 2), Key: []byte(city),
			Value: []byte(fmt.Sprintf(`{"data":{"city":%q,"refund_id":%d,"amount":%d},"op":"+I"}`, city, i, 10*i))}).FirstErr())
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agg.yaml")
	joinMust(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(aggTestConfig, strings.Join(c.ListenAddrs(), ", "), filepath.Join(dir, "state"))), 0o644))
	runCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	// Partition 0 holds refunds 0, 2, 4 and partition 1 refunds 1, 3, 5:
	// stop before the last of each.
	root.SetArgs([]string{"agg", "--config", cfgPath, "--log-level", "warn", "--stop-at", "refunds/0=2,refunds/1=2"})
	if err := root.ExecuteContext(runCtx); err != nil {
		t.Fatal(err)
	}
	if runCtx.Err() != nil {
		t.Fatal("agg --stop-at ran until the test's timeout instead of stopping by itself")
	}
	if !strings.Contains(out.String(), "read 4 records") {
		t.Fatalf("summary = %q, want the 4 records before the stop offsets", out.String())
	}
	root = newRootCmd()
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	root.SetArgs([]string{"agg", "--config", cfgPath, "--stop-at", "refunds/0"})
	if err := root.ExecuteContext(runCtx); err == nil || !strings.Contains(err.Error(), "--stop-at") || !strings.Contains(err.Error(), "topic/partition=offset") {
		t.Fatalf("a malformed --stop-at: %v", err)
	}
}
