package runcore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/state"
)

// countOp counts the records it handles and emits nothing.
type countOp struct{}

type countHandler struct{}

func (countOp) Open(context.Context, int32, *state.DB, func(key, value []byte) error) (Handler, error) {
	return countHandler{}, nil
}
func (countHandler) Handle(context.Context, *kgo.Record) (Fate, error) { return Processed, nil }
func (countHandler) Flush(context.Context) error                       { return nil }
func (countHandler) Close() error                                      { return nil }

func stopAtRunner(t *testing.T, brokers []string, dir string, stop StopAt) *Runner {
	t.Helper()
	r, err := New(Config{Kind: "test", Operator: countOp{}, Inputs: []string{"in"}, OutputTopic: "out", Brokers: brokers,
		Group: "g", StateDir: dir, NoSync: true, StopAt: stop, ClientOpts: []kgo.Opt{kgo.FetchMaxWait(50 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestStopAtPastTheEndIsAnErrorAndAGapBeforeItIsCrossed: a stop offset
// past the partition's end fails at start; one behind a transaction's
// commit marker is reached once a later record shows nothing is left
// before it, and the state commits exactly the stop offset.
func TestStopAtPastTheEndIsAnErrorAndAGapBeforeItIsCrossed(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Offsets 0..2 in a transaction, its commit marker at 3, then 4.
	tx, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("tx"), kgo.DefaultProduceTopic("in"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := tx.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	err = stopAtRunner(t, brokers, dir, StopAt{"in": {0: 9}}).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "in/0=9 is past the partition's end offset 4") {
		t.Fatalf("Run with a stop offset past the end = %v", err)
	}
	// A record after the marker.
	pl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	if err := pl.ProduceSync(ctx, &kgo.Record{Topic: "in", Value: []byte("y")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := stopAtRunner(t, brokers, dir, StopAt{"in": {0: 4}})
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run to offset 4 behind the commit marker: %v", err)
	}
	db, err := state.Open(dir+"/p0", state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Offsets()[state.TopicPartition{Topic: "in", Partition: 0}]; got != 4 {
		t.Fatalf("state offset %d, want 4", got)
	}
	if st := r.Stats(); st.Records != 3 {
		t.Fatalf("processed %d records, want the 3 before the stop offset", st.Records)
	}
}
