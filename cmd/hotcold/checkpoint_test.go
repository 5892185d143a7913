package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/internal/runcore"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
	"github.com/hotcold/hotcold/statemigrate"
)

// startCLI runs the hotcold command line in process until the returned
// stop function cancels it; stop returns its error.
func startCLI(t *testing.T, args ...string) (stop func() error, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCmd()
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(args)
	ch := make(chan error, 1)
	go func() { ch <- root.ExecuteContext(ctx) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-ch
		}
		return err
	}
	t.Cleanup(func() { stop() })
	return stop, ch
}

// waitGroupAt waits until group has committed the end offsets of topic.
func waitGroupAt(t *testing.T, brokers, group, topic string, done <-chan error) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ends, err1 := adm.ListEndOffsets(ctx, topic)
		offs, err2 := adm.FetchOffsets(ctx, group)
		cancel()
		at := err1 == nil && err2 == nil
		if at {
			ends.Each(func(o kadm.ListedOffset) {
				if c, ok := offs.Lookup(topic, o.Partition); o.Offset > 0 && (!ok || c.At < o.Offset) {
					at = false
				}
			})
		}
		if at {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s did not reach the end of %s", group, topic)
		}
		select {
		case err := <-done:
			t.Fatalf("the job stopped: %v", err)
		case <-time.After(20 * time.Millisecond): // polling Kafka
		}
	}
}

func produceRefunds(t *testing.T, brokers string, from, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic("refunds"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	codec, _ := row.NewCodec(row.FormatChangelogJSON, migrateRefunds)
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		city := []string{"bj", "sh", "gz", "sz"}[i%4]
		m, _, _ := codec.Encode(row.New(row.StringValue(city), row.Int64Value(int64(i)), row.Int64Value(int64(i))))
		recs = append(recs, &kgo.Record{Key: []byte(city), Value: m.Value})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func stateOffsets(t *testing.T, root string) statemigrate.Offsets {
	t.Helper()
	out := statemigrate.Offsets{}
	for _, p := range []string{"p0", "p1"} {
		db, err := state.Open(filepath.Join(root, p), state.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(out, db.Offsets())
		db.Close()
	}
	return out
}

// TestCheckpointCopiesARunningAggJobsStateThatAJobResumesExactly: hotcold
// agg checkpoint copies the state of a running hotcold agg, which keeps
// running; a second job started on the copy resumes at the copy's offsets
// and ends with the same table; a stopped job's state is copied too.
func TestCheckpointCopiesARunningAggJobsStateThatAJobResumesExactly(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "refunds", "refunds_by_city", "refunds_by_city_copy"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()[0]
	tmp := t.TempDir()
	live := filepath.Join(tmp, "state")
	cfg := migrateAggYAML(t, "old", brokers)
	produceRefunds(t, brokers, 0, 40)
	stop, done := startCLI(t, "agg", "--config", cfg, "--state-dir", live, "--log-level", "warn")
	// Checkpoint while the job works through the input (polling until it
	// has been assigned its partitions).
	ckpt := filepath.Join(tmp, "ckpt")
	deadline := time.Now().Add(30 * time.Second)
	var out string
	for {
		out, err = run(t, "agg", "checkpoint", "--config", cfg, "--state-dir", live, "--out", ckpt)
		if err == nil {
			break
		}
		starting := strings.Contains(err.Error(), "try again") || strings.Contains(err.Error(), "holds no partition state") || strings.Contains(err.Error(), "no such file")
		if !starting || time.Now().After(deadline) {
			t.Fatalf("checkpoint: %v\n%s", err, out)
		}
		time.Sleep(10 * time.Millisecond) // polling the job's start
	}
	if !strings.Contains(out, fmt.Sprintf("taken by the running job (pid %d)", os.Getpid())) || !strings.Contains(out, "checkpoint of 2 partitions") {
		t.Fatalf("checkpoint output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(ckpt, "p0", manifest.FileName)); err != nil {
		t.Fatalf("the checkpoint has no manifest: %v", err)
	}
	// Only the job's user may connect to its control socket.
	if fi, err := os.Stat(runcore.ControlSocket(live)); err != nil {
		t.Fatalf("control socket: %v", err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode %v, want 0600 (the job's user only)", fi.Mode().Perm())
	}
	// The job kept running.
	produceRefunds(t, brokers, 40, 20)
	waitGroupAt(t, brokers, "refunds_by_city", "refunds", done)
	// A job started on the copy resumes at its offsets: with its own
	// output and group it ends with the same table.
	at := stateOffsets(t, ckpt)
	stopCopy, doneCopy := startCLI(t, "agg", "--config", cfg, "--state-dir", ckpt, "--output-topic", "refunds_by_city_copy", "--group", "copy", "--log-level", "warn")
	waitGroupAt(t, brokers, "copy", "refunds", doneCopy)
	if err := stopCopy(); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	schema, err := statemigrate.OutputSchema(mustManifest(t, aggManifestFile(t, cfg)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	orig, err := statemigrate.ReadTable(ctx, []string{brokers}, statemigrate.Output{Topic: "refunds_by_city", Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(orig, "\n"); got != "bj, 15, 420\ngz, 15, 450\nsh, 15, 435\nsz, 15, 465" {
		t.Fatalf("the job's table:\n%s", got)
	}
	if !stateOffsets(t, ckpt).Equal(stateOffsets(t, live)) {
		t.Fatalf("the job on the copy ended at %s, the job at %s", stateOffsets(t, ckpt), stateOffsets(t, live))
	}
	// What the copy's job produced is the changes after the copy's offsets:
	// its last value per city equals the job's.
	cp, err := statemigrate.ReadTable(ctx, []string{brokers}, statemigrate.Output{Topic: "refunds_by_city_copy", Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cp, "\n") != strings.Join(orig, "\n") {
		t.Fatalf("the copy (at %s) ended with:\n%s\nthe job with:\n%s", at, strings.Join(cp, "\n"), strings.Join(orig, "\n"))
	}
	// The stopped state is copied directly, with the same offsets.
	out, err = run(t, "agg", "checkpoint", "--config", cfg, "--state-dir", live, "--out", filepath.Join(tmp, "ckpt2"))
	if err != nil || !strings.Contains(out, "copied from the stopped state") {
		t.Fatalf("checkpoint of the stopped job: %v\n%s", err, out)
	}
	if !stateOffsets(t, filepath.Join(tmp, "ckpt2")).Equal(stateOffsets(t, live)) {
		t.Fatal("the stopped state's checkpoint has other offsets")
	}
	if _, err := run(t, "agg", "checkpoint", "--state-dir", live, "--out", ckpt); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("checkpoint into an existing directory: %v", err)
	}
}
