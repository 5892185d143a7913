package state_test

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/hotcold/hotcold/internal/fixture"
	"github.com/hotcold/hotcold/state"
)

// payload is what generation g commits beside its offset.
func payload(g int64) []byte { return bytes.Repeat([]byte(fmt.Sprintf("gen %06d;", g)), 100) }

// The state crashes (loses everything not synced) at every sync point of
// 40 commits, WAL and flushes alike; each crash image reopens with the
// offsets and the row of one commit between the last that returned and the
// one in flight, both from the same commit: never torn, never lost once
// Commit returned.
func TestStateReopensWithTheOldOrTheNewCommitAfterACrashAtEverySync(t *testing.T) {
	const commits = 40
	crash := fixture.NewCrashPoints()
	var started, done atomic.Int64
	type bounds struct{ lo, hi int64 }
	var mu sync.Mutex
	at := map[*vfs.MemFS]bounds{}
	crash.Mark = func(img *vfs.MemFS, _ bool) {
		b := bounds{lo: done.Load(), hi: started.Load()}
		mu.Lock()
		at[img] = b
		mu.Unlock()
	}
	// small memtables, so that flushes (and their syncs) happen too
	db, err := state.Open("/db", state.Options{FS: crash.FS(), CacheBytes: 1 << 20, MemTableBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for g := int64(1); g <= commits; g++ {
		if err := db.SetMeta("gen", payload(g)); err != nil {
			t.Fatal(err)
		}
		db.SetOffset("orders", 0, g)
		started.Store(g)
		if err := db.Commit(); err != nil {
			t.Fatal(err)
		}
		done.Store(g)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	images := crash.Images()
	if len(images) < commits {
		t.Fatalf("%d sync points for %d synced commits", len(images), commits)
	}
	for i, img := range images {
		mu.Lock()
		b := at[img]
		mu.Unlock()
		db, err := state.Open("/db", state.Options{FS: img})
		if err != nil {
			t.Fatalf("image %d (commits %d..%d): reopen: %v", i, b.lo, b.hi, err)
		}
		g := db.Offsets()[state.TopicPartition{Topic: "orders", Partition: 0}]
		v, ok, err := db.Meta("gen")
		db.Close()
		if err != nil {
			t.Fatalf("image %d: %v", i, err)
		}
		if g < b.lo || g > b.hi {
			t.Fatalf("image %d: offset %d after a crash between commits %d and %d", i, g, b.lo, b.hi)
		}
		if g == 0 {
			if ok {
				t.Fatalf("image %d: a row without its offset", i)
			}
			continue
		}
		if !ok || !bytes.Equal(v, payload(g)) {
			t.Fatalf("image %d: offset %d with another commit's row (torn): %.20q", i, g, v)
		}
	}
	t.Logf("%d crash points checked", len(images))
}
