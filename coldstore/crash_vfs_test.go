package coldstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/fixture"
	"github.com/hotcold/hotcold/row"
)

var crashSchema = row.MustSchema([]row.Column{
	{Name: "id", Type: row.Int64},
	{Name: "v", Type: row.String},
}, nil, 1)

// crashRows are version name's rows: ids 0..n-1, each valued with the
// version name, so a lookup tells which version answered.
func crashRows(name string, n int) []row.Row {
	rows := make([]row.Row, n)
	for i := range rows {
		rows[i] = row.New(row.Int64Value(int64(i)), row.StringValue(fmt.Sprintf("%s-%d", name, i)))
	}
	return rows
}

// The store crashes (loses everything not synced) at every sync point of
// two loads, sstables, ingestion and publish alike; each crash image
// reopens with no live version, v1 or v2, as many as had been published
// or one more (the load in flight), and every key of the live version
// answers with that version's row: never a mix, never a lost publish.
func TestPebbleReopensWithTheOldOrTheNewVersionAfterACrashAtEverySync(t *testing.T) {
	ctx := context.Background()
	crash := fixture.NewCrashPoints()
	var (
		mu        sync.Mutex
		published int // versions whose Load returned
		loading   int // versions whose Load started
		at        = map[*vfs.MemFS][2]int{}
	)
	crash.Mark = func(img *vfs.MemFS, _ bool) {
		mu.Lock()
		at[img] = [2]int{published, loading}
		mu.Unlock()
	}
	p, err := coldstore.OpenPebble("/cold", &coldstore.PebbleOptions{FS: crash.FS()})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{300, 500}
	for i, n := range sizes {
		name := fmt.Sprintf("v%d", i+1)
		mu.Lock()
		loading = i + 1
		mu.Unlock()
		if _, err := p.Load(ctx, coldstore.LoadSpec{Table: "t", Version: name, Key: []string{"id"},
			Source: coldstore.RowSource(crashSchema, crashRows(name, n))}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		published = i + 1
		mu.Unlock()
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	images := crash.Images()
	if len(images) < 4 {
		t.Fatalf("only %d sync points in two loads", len(images))
	}
	keys := make([][]row.Value, sizes[1])
	for i := range keys {
		keys[i] = []row.Value{row.Int64Value(int64(i))}
	}
	seen := map[int]bool{}
	for i, img := range images {
		mu.Lock()
		b := at[img]
		mu.Unlock()
		s, err := coldstore.OpenPebble("/cold", &coldstore.PebbleOptions{FS: img})
		if err != nil {
			t.Fatalf("image %d (published %d, loading %d): reopen: %v", i, b[0], b[1], err)
		}
		live := 0
		info, err := s.Describe(ctx, "t")
		switch {
		case errors.Is(err, coldstore.ErrNoTable):
		case err != nil:
			t.Fatalf("image %d: describe: %v", i, err)
		default:
			if _, err := fmt.Sscanf(info.Version, "v%d", &live); err != nil {
				t.Fatalf("image %d: live version %q", i, info.Version)
			}
		}
		if live < b[0] || live > b[1] {
			s.Close()
			t.Fatalf("image %d: live version %d after a crash with %d published and %d loading", i, live, b[0], b[1])
		}
		seen[live] = true
		if live > 0 {
			n := sizes[live-1]
			res, err := s.MultiGet(ctx, "t", keys)
			if err != nil {
				s.Close()
				t.Fatalf("image %d: lookups of v%d: %v", i, live, err)
			}
			for k, r := range res {
				want := fmt.Sprintf("v%d-%d", live, k)
				if found := k < n; r.Found != found || (found && r.Row.Values[1].String() != want) {
					s.Close()
					t.Fatalf("image %d: key %d in v%d: found %v %v, want %v %q (torn)", i, k, live, r.Found, r.Row, found, want)
				}
			}
		}
		if err := s.Close(); err != nil {
			t.Fatalf("image %d: close: %v", i, err)
		}
	}
	if !seen[1] || !seen[2] {
		t.Fatalf("live versions seen across the crash points %v: want v1 and v2 among them", seen)
	}
	t.Logf("%d crash points checked", len(images))
}
