package state_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/state"
)

// writeRewriteSource commits two namespaces of rows over two days plus
// offsets, a meta value and an outbox entry, and closes the state.
func writeRewriteSource(t *testing.T, dir string) {
	t.Helper()
	db, err := state.Open(dir, state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	left, err := db.Namespace("j/left", state.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	right, err := db.Namespace("j/right", state.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, left, day("2026-11-01"), "k1", "a")
	mustPut(t, left, day("2026-11-02"), "k1", "b")
	mustPut(t, left, day("2026-11-02"), "drop", "x")
	mustPut(t, right, day("2026-11-02"), "k1", "r")
	db.SetOffset("orders", 3, 42)
	if err := db.SetMeta("watermark", []byte("w1")); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendOutbox([]byte("out1")); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRewriteRewritesAndDropsRowsAndCopiesEverythingElse(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "out")
	writeRewriteSource(t, src)
	var seen []string
	var progress []state.RewriteProgress
	var checked []string
	res, err := state.Rewrite(context.Background(), src, dst, state.RewriteOptions{
		ProgressEvery: 1,
		Progress:      func(p state.RewriteProgress) { progress = append(progress, p) },
		Row: func(ns string, key, value, out []byte) ([]byte, bool, error) {
			seen = append(seen, fmt.Sprintf("%s/%s=%s", ns, key, value))
			switch {
			case string(key) == "drop":
				return nil, false, nil
			case ns == "j/left":
				return append(append(out, value...), '!'), true, nil
			}
			return value, true, nil
		},
		Check: func(ns string, value []byte) error {
			checked = append(checked, ns+"="+string(value))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(seen), "[j/left/k1=a j/left/drop=x j/left/k1=b j/right/k1=r]"; got != want {
		t.Fatalf("Row saw %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(res.Rows), "map[j/left:2 j/right:1]"; got != want {
		t.Fatalf("Rows = %s, want %s", got, want)
	}
	if got := strings.Join(checked, " "); !strings.Contains(got, "j/left=a!") || !strings.Contains(got, "j/right=r") || len(checked) != 2 {
		t.Fatalf("Check saw %q, want the first row of each namespace", got)
	}
	if len(progress) == 0 || !progress[len(progress)-1].Done || progress[len(progress)-1].Rows != 4 {
		t.Fatalf("progress = %+v, want a last report with Done and 4 rows read", progress)
	}
	if last := progress[len(progress)-1]; last.Keys != res.Keys+1 {
		t.Fatalf("last progress read %d keys, want %d (written %d plus the dropped row)", last.Keys, res.Keys+1, res.Keys)
	}

	db := open(t, dst, state.Options{})
	left, err := db.Namespace("j/left", state.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	right, err := db.Namespace("j/right", state.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(values(t, left, "k1")), "[2026-11-01:a! 2026-11-02:b!]"; got != want {
		t.Fatalf("left k1 = %s, want %s", got, want)
	}
	if got := values(t, left, "drop"); len(got) != 0 {
		t.Fatalf("dropped row still there: %s", got)
	}
	if got, want := fmt.Sprint(values(t, right, "k1")), "[2026-11-02:r]"; got != want {
		t.Fatalf("right k1 = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(left.Buckets()), "[2026-11-01 2026-11-02]"; got != want {
		t.Fatalf("buckets = %s, want %s", got, want)
	}
	if got := db.Offsets()[state.TopicPartition{Topic: "orders", Partition: 3}]; got != 42 {
		t.Fatalf("offset = %d, want 42", got)
	}
	if v, ok, err := db.Meta("watermark"); err != nil || !ok || string(v) != "w1" {
		t.Fatalf("meta = %q %v %v, want w1", v, ok, err)
	}
	var outbox []string
	if err := db.Outbox(func(v []byte) error { outbox = append(outbox, string(v)); return nil }); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(outbox); got != "[out1]" {
		t.Fatalf("outbox = %s, want [out1]", got)
	}
	// New writes continue the source's sequence: no row key collides.
	mustPut(t, left, day("2026-11-02"), "k1", "c")
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(values(t, left, "k1")), "[2026-11-01:a! 2026-11-02:b! 2026-11-02:c]"; got != want {
		t.Fatalf("left k1 after a new put = %s, want %s", got, want)
	}
}

func TestRewriteWithoutRowFunctionCopiesTheStateAndLeavesTheSourceAlone(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "out")
	writeRewriteSource(t, src)
	res, err := state.Rewrite(context.Background(), src, dst, state.RewriteOptions{TableBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(res.Rows), "map[j/left:3 j/right:1]"; got != want {
		t.Fatalf("Rows = %s, want %s", got, want)
	}
	for _, dir := range []string{src, dst} {
		db := open(t, dir, state.Options{})
		left, err := db.Namespace("j/left", state.Retention{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(values(t, left, "k1")), "[2026-11-01:a 2026-11-02:b]"; got != want {
			t.Fatalf("%s: left k1 = %s, want %s", dir, got, want)
		}
	}
}

func TestRewriteOfACheckpoint(t *testing.T) {
	src, cp, dst := t.TempDir(), filepath.Join(t.TempDir(), "cp"), filepath.Join(t.TempDir(), "out")
	writeRewriteSource(t, src)
	db := open(t, src, state.Options{})
	if err := db.Checkpoint(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
	res, err := state.Rewrite(context.Background(), cp, dst, state.RewriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows["j/left"] != 3 {
		t.Fatalf("Rows = %v, want 3 rows of j/left", res.Rows)
	}
}

func TestRewriteRefusesAnExistingOutput(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeRewriteSource(t, src)
	_, err := state.Rewrite(context.Background(), src, dst, state.RewriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v, want an error saying the output exists", err)
	}
}

func TestRewriteFailsOnARowOrCheckError(t *testing.T) {
	src := t.TempDir()
	writeRewriteSource(t, src)
	boom := errors.New("boom")
	for name, opts := range map[string]state.RewriteOptions{
		"row": {Row: func(string, []byte, []byte, []byte) ([]byte, bool, error) { return nil, false, boom }},
		"check": {Check: func(ns string, _ []byte) error {
			if ns == "j/right" {
				return boom
			}
			return nil
		}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := state.Rewrite(context.Background(), src, filepath.Join(t.TempDir(), "out"), opts)
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want boom", err)
			}
		})
	}
}

func TestRewriteStopsWhenCanceled(t *testing.T) {
	src := t.TempDir()
	writeRewriteSource(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := state.Rewrite(ctx, src, filepath.Join(t.TempDir(), "out"), state.RewriteOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestRewriteRejectsInvalidOptionsAndMissingSource(t *testing.T) {
	_, err := state.Rewrite(context.Background(), t.TempDir(), filepath.Join(t.TempDir(), "out"), state.RewriteOptions{ProgressEvery: -1})
	if err == nil || !strings.Contains(err.Error(), "ProgressEvery") {
		t.Fatalf("err = %v, want an error naming ProgressEvery", err)
	}
	_, err = state.Rewrite(context.Background(), filepath.Join(t.TempDir(), "missing"), filepath.Join(t.TempDir(), "out"), state.RewriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("err = %v, want an error opening the source", err)
	}
}
