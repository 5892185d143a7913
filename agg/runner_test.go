package agg_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/row"
)

func newCluster(t *testing.T, topics ...string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

var refunds = row.MustSchema([]row.Column{
	{Name: "city", Type: row.String},
	{Name: "refund_id", Type: row.Int64},
	{Name: "amount", Type: row.Int64, Nullable: true},
}, nil, 1)

func produce(t *testing.T, brokers []string, topic string, s *row.Schema, rows ...string) {
	t.Helper()
	codec, err := row.NewCodec(row.FormatChangelogJSON, s)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, line := range rows {
		r, err := parseRow(s, line)
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := codec.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		// Key by the first column so that a group's rows stay in order.
		recs = append(recs, &kgo.Record{Key: r.Values[0].Bytes(), Value: m.Value})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readTable consumes topic from the start until n records were read and
// merges the changelog into a table keyed by the schema key.
func readTable(t *testing.T, brokers []string, topic string, s *row.Schema, n int) map[string]string {
	t.Helper()
	codec, err := row.NewCodec(row.FormatChangelogJSON, s)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	table := map[string]string{}
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: got %d of %d records before the deadline", topic, got, n)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			got++
			rows, err := codec.Decode(nil, row.Message{Key: rec.Key, Value: rec.Value})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				k := fmt.Sprint(r.KeyValues(s))
				if r.Kind.IsAccumulate() {
					table[k] = r.Format(s)[2:]
				} else {
					delete(table, k)
				}
			}
		})
	}
	return table
}

func tableString(m map[string]string) string {
	var rows []string
	for _, v := range m {
		rows = append(rows, v)
	}
	sort.Strings(rows)
	return strings.Join(rows, "\n")
}

func runnerConfig(brokers []string, dir string) agg.RunnerConfig {
	return agg.RunnerConfig{
		Agg: agg.Config{ID: "refunds_by_city", Input: refunds, GroupBy: []string{"city"},
			Aggregates: []agg.Aggregate{{Name: "n", Func: agg.Count}, {Name: "total", Func: agg.Sum, Arg: "amount"}}},
		Brokers: brokers, InputTopic: "refunds", OutputTopic: "refunds_by_city", StateDir: dir, NoSync: true,
	}
}

func TestRunnerResumesFromItsStateWithoutRecounting(t *testing.T) {
	brokers := newCluster(t, "refunds", "refunds_by_city")
	dir := t.TempDir()
	produce(t, brokers, "refunds", refunds, "+I[bj, 1, 10]", "+I[sh, 2, 5]", "+I[bj, 3, 7]")

	run := func(wantOut int) {
		t.Helper()
		r, err := agg.NewRunner(runnerConfig(brokers, dir))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		readTable(t, brokers, "refunds_by_city", r.Operator().OutputSchema(), wantOut)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v", err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	run(4) // +I bj, +I sh, -U/+U bj
	produce(t, brokers, "refunds", refunds, "-D[bj, 1, 10]", "+I[gz, 4, 1]")
	run(7) // -U/+U bj, +I gz

	r, err := agg.NewRunner(runnerConfig(brokers, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := tableString(readTable(t, brokers, "refunds_by_city", r.Operator().OutputSchema(), 7))
	want := "[bj, 1, 7]\n[gz, 1, 1]\n[sh, 1, 5]"
	if got != want {
		t.Fatalf("table after restart:\n%s\nwant:\n%s", got, want)
	}
	if off := r.Offsets(); off[0]+off[1] != 5 {
		t.Fatalf("committed offsets %v, want 5 records in total", off)
	}
}

func TestRunnerStopsExactlyAtStopOffsets(t *testing.T) {
	brokers := newCluster(t, "refunds", "refunds_by_city")
	produce(t, brokers, "refunds", refunds, "+I[bj, 1, 10]", "+I[bj, 2, 5]", "+I[bj, 3, 7]", "+I[bj, 4, 1]")
	r, err := agg.NewRunner(runnerConfig(brokers, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// All rows of bj hash to one partition; stop after two of them.
	cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), "refunds")
	if err != nil {
		t.Fatal(err)
	}
	stop := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		stop[o.Partition] = min(o.Offset, 2)
	})
	r.StopAt(stop)
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.Offsets(); fmt.Sprint(got) != fmt.Sprint(stop) {
		t.Fatalf("stopped at %v, want %v", got, stop)
	}
	got := tableString(readTable(t, brokers, "refunds_by_city", r.Operator().OutputSchema(), 3))
	if got != "[bj, 2, 15]" {
		t.Fatalf("table %q", got)
	}
}

func TestRunnerRefusesStateOfAnotherSchema(t *testing.T) {
	brokers := newCluster(t, "refunds", "refunds_by_city")
	dir := t.TempDir()
	r, err := agg.NewRunner(runnerConfig(brokers, dir))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cfg := runnerConfig(brokers, dir)
	cfg.Agg.Aggregates = append(cfg.Agg.Aggregates, agg.Aggregate{Name: "biggest", Func: agg.Max, Arg: "amount"})
	cfg.Agg.Version = 2
	_, err = agg.NewRunner(cfg)
	if err == nil || !strings.Contains(err.Error(), "hotcold migrate plan") || !strings.Contains(err.Error(), `column "biggest": aggregate max(amount) added`) {
		t.Fatalf("NewRunner on old state: %v", err)
	}
}

func TestRunnerFailsOnDirtyInputOrSkipsItWhenAsked(t *testing.T) {
	brokers := newCluster(t, "refunds", "refunds_by_city")
	produce(t, brokers, "refunds", refunds, "+I[bj, 1, 10]")
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("refunds"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("bj"), Value: []byte(`{"data":{"city":"bj","refund_id":2,"amount":"ten"},"op":"+I"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	produce(t, brokers, "refunds", refunds, "+I[bj, 3, 7]")

	r, err := agg.NewRunner(runnerConfig(brokers, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	err = r.Run(context.Background())
	r.Close()
	if err == nil || !strings.Contains(err.Error(), "refunds partition") || !strings.Contains(err.Error(), `"amount"`) || !strings.Contains(err.Error(), "SkipDirty") {
		t.Fatalf("Run on dirty input: %v", err)
	}

	cfg := runnerConfig(brokers, t.TempDir())
	cfg.SkipDirty = true
	r, err = agg.NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	got := tableString(readTable(t, brokers, "refunds_by_city", r.Operator().OutputSchema(), 3))
	cancel()
	<-done
	if got != "[bj, 2, 17]" || r.Skipped() != 1 {
		t.Fatalf("table %q, skipped %d", got, r.Skipped())
	}
}
