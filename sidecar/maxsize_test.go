package sidecar_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// wideStore holds table "wide": 64 rows of 100 KB each, so a batch of all
// of them is 6.4 MB, over gRPC's default 4 MiB receive limit.
func wideStore(t *testing.T) *coldstore.Memory {
	t.Helper()
	s := row.MustSchema([]row.Column{{Name: "id", Type: row.Int64}, {Name: "blob", Type: row.String}}, []string{"id"}, 1)
	rows := make([]row.Row, 64)
	for i := range rows {
		rows[i] = row.New(row.Int64Value(int64(i)), row.StringValue(strings.Repeat("x", 100_000)))
	}
	m := coldstore.NewMemory()
	t.Cleanup(func() { m.Close() })
	if err := m.Publish("wide", "v1", s, time.Time{}, rows); err != nil {
		t.Fatal(err)
	}
	return m
}

func allWideKeys() [][]row.Value {
	keys := make([][]row.Value, 64)
	for i := range keys {
		keys[i] = []row.Value{row.Int64Value(int64(i))}
	}
	return keys
}

func TestGoClientReceivesAnswersLargerThanGRPCsDefault4MiB(t *testing.T) {
	sc := startSidecar(t, wideStore(t), sidecar.Options{CacheBytes: -1})
	c, err := sidecar.Dial(sc.tcp, sidecar.WithMaxBatch(64))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.MultiGet(context.Background(), "wide", allWideKeys())
	if err != nil {
		t.Fatalf("a 6.4 MB answer with the default receive limit: %v", err)
	}
	for i, r := range res {
		if !r.Found {
			t.Fatalf("key %d not found", i)
		}
	}
	// A smaller receive limit is the client's to choose.
	small, err := sidecar.Dial(sc.tcp, sidecar.WithMaxBatch(64), sidecar.WithMaxReceiveSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := small.MultiGet(context.Background(), "wide", allWideKeys()); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("over WithMaxReceiveSize(1MiB): %v, want ResourceExhausted", err)
	}
	if _, err := sidecar.Dial(sc.tcp, sidecar.WithMaxReceiveSize(0)); err == nil || !strings.Contains(err.Error(), "WithMaxReceiveSize(0)") {
		t.Fatalf("WithMaxReceiveSize(0): %v", err)
	}
}

func TestServerRefusesAnAnswerOverItsLimitNamingTheLimit(t *testing.T) {
	sc := startSidecar(t, wideStore(t), sidecar.Options{CacheBytes: -1, MaxAnswerBytes: 1 << 20})
	c, err := sidecar.Dial(sc.tcp, sidecar.WithMaxBatch(64))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.MultiGet(context.Background(), "wide", allWideKeys())
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "over the sidecar's answer limit of 1MiB") || !strings.Contains(err.Error(), "fewer keys") {
		t.Fatalf("a 6.4 MB answer over a 1 MiB limit: %v, want ResourceExhausted naming the limit", err)
	}
	// A batch under the limit is answered.
	if res, err := c.MultiGet(context.Background(), "wide", allWideKeys()[:5]); err != nil || !res[4].Found {
		t.Fatalf("5 rows under the limit: %v, %v", res, err)
	}
	if _, err := sidecar.NewServer(wideStore(t), sidecar.Options{MaxAnswerBytes: -1}); err == nil || !strings.Contains(err.Error(), "MaxAnswerBytes") {
		t.Fatalf("MaxAnswerBytes -1: %v", err)
	}
}
