package sidecar

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func TestCacheStaysWithinItsBudgetAndSparesHotEntries(t *testing.T) {
	c := newCache(cacheShards * 4096) // 4 KiB per shard
	entry := func(i int) cacheEntry {
		enc := []byte(fmt.Sprintf("answer-%d", i))
		return cacheEntry{found: true, enc: enc, size: 48 + len(enc)}
	}
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%08d", i)) }
	hot := key(0)
	c.put(c.hash(hot), hot, entry(0))
	evicted := 0
	for i := 1; i < 5000; i++ {
		k := key(i)
		evicted += c.put(c.hash(k), k, entry(i))
		// The hot key is read between every two inserts.
		if e, ok := c.get(c.hash(hot), hot); !ok || string(e.enc) != "answer-0" {
			t.Fatalf("after %d inserts the hot entry is gone (%v)", i, ok)
		}
	}
	if evicted == 0 {
		t.Fatal("nothing was evicted")
	}
	for i := range c.shards {
		s := &c.shards[i]
		if s.bytes > s.maxBytes {
			t.Fatalf("shard %d holds %d bytes, over its %d", i, s.bytes, s.maxBytes)
		}
	}
	if n := c.len(); n == 0 || n >= 5000 {
		t.Fatalf("%d entries", n)
	}
	// An evicted entry is a miss, never another key's answer.
	for i := 1; i < 5000; i++ {
		k := key(i)
		if e, ok := c.get(c.hash(k), k); ok && string(e.enc) != fmt.Sprintf("answer-%d", i) {
			t.Fatalf("key %d answered %q", i, e.enc)
		}
	}
}

func TestCacheComparesFullKeysOnHashCollisions(t *testing.T) {
	c := newCache(1 << 20)
	a, b := []byte("a"), []byte("b")
	h := c.hash(a) // both stored under one hash, as a collision would
	c.put(h, a, cacheEntry{found: true, enc: []byte("A")})
	if _, ok := c.get(h, b); ok {
		t.Fatal("a different key with the same hash hit")
	}
	c.put(h, b, cacheEntry{found: true, enc: []byte("B")})
	if e, ok := c.get(h, b); !ok || string(e.enc) != "B" {
		t.Fatalf("get(b) = %q %v", e.enc, ok)
	}
	// Colliding keys each keep their own answer.
	if e, ok := c.get(h, a); !ok || string(e.enc) != "A" {
		t.Fatalf("get(a) = %q %v after b was stored under the same hash", e.enc, ok)
	}
	c.put(h, a, cacheEntry{found: false, enc: []byte("A2")})
	if e, ok := c.get(h, a); !ok || string(e.enc) != "A2" || e.found {
		t.Fatalf("get(a) = %q %v %v after a was replaced", e.enc, e.found, ok)
	}
	if c.len() != 2 {
		t.Fatalf("%d entries, want 2", c.len())
	}
}

// TestCacheAgreesWithAMap runs random puts and gets over few hash values
// (long probe runs, collisions, evictions that shift entries back) and
// checks every answer against a map, and after each step that every entry
// in a table is found where a get looks.
func TestCacheAgreesWithAMap(t *testing.T) {
	for _, budget := range []int64{1 << 30, cacheShards * 2048} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			c := newCache(budget)
			rng := rand.New(rand.NewPCG(7, uint64(budget)))
			model := map[string]string{}
			evicted := 0
			for step := 0; step < 20000; step++ {
				k := fmt.Sprintf("key-%d", rng.IntN(3000))
				// 64 hash values over 3 shards: long runs and collisions.
				h := uint64(rng.IntN(3))<<59 | uint64(len(k)*7+int(k[len(k)-1]))%64
				if rng.IntN(3) == 0 {
					v := fmt.Sprintf("v%d-%d", step, rng.IntN(1000))
					evicted += c.put(h, []byte(k), cacheEntry{found: step%2 == 0, enc: []byte(v), size: 48 + len(v)})
					model[k+"\x00"+fmt.Sprint(h)] = v
					continue
				}
				e, ok := c.get(h, []byte(k))
				want, stored := model[k+"\x00"+fmt.Sprint(h)]
				switch {
				case ok && !stored:
					t.Fatalf("step %d: %s hit (%q) but was never stored", step, k, e.enc)
				case ok && string(e.enc) != want:
					t.Fatalf("step %d: %s answered %q, want %q", step, k, e.enc, want)
				case !ok && stored && budget == 1<<30:
					t.Fatalf("step %d: %s missed with no eviction", step, k)
				}
				if step%50 == 0 {
					// The same reads through getMany, 40 keys at once.
					var hs []uint64
					var ks [][]byte
					for range 40 {
						k := fmt.Sprintf("key-%d", rng.IntN(3000))
						hs = append(hs, uint64(rng.IntN(3))<<59|uint64(len(k)*7+int(k[len(k)-1]))%64)
						ks = append(ks, []byte(k))
					}
					out, hit := make([]cacheEntry, len(ks)), make([]bool, len(ks))
					c.getMany(hs, ks, out, hit, nil)
					for i := range ks {
						want, stored := model[string(ks[i])+"\x00"+fmt.Sprint(hs[i])]
						if hit[i] && (!stored || string(out[i].enc) != want) || !hit[i] && stored && budget == 1<<30 {
							t.Fatalf("step %d: getMany of %s = %q %v, want %q %v", step, ks[i], out[i].enc, hit[i], want, stored)
						}
					}
				}
				if step%500 == 0 {
					checkCacheTables(t, c)
				}
			}
			checkCacheTables(t, c)
			if budget == 1<<30 && evicted != 0 || budget != 1<<30 && evicted == 0 {
				t.Fatalf("budget %d: %d evictions", budget, evicted)
			}
		})
	}
}

func checkCacheTables(t *testing.T, c *cache) {
	t.Helper()
	for si := range c.shards {
		s := &c.shards[si]
		n, b := 0, 0
		for i := range s.tab {
			sl := &s.tab[i]
			if sl.data == nil {
				continue
			}
			n++
			b += sl.bytes()
			if j := s.find(sl.hash, sl.key()); j != i {
				t.Fatalf("shard %d: the entry in slot %d is found at %d", si, i, j)
			}
		}
		if n != s.n || b != s.bytes || s.bytes > s.maxBytes {
			t.Fatalf("shard %d: %d entries of %d bytes counted as %d of %d (budget %d)", si, n, b, s.n, s.bytes, s.maxBytes)
		}
	}
}

func TestNilCacheHoldsNothing(t *testing.T) {
	var c *cache = newCache(-1)
	k := []byte("k")
	c.put(0, k, cacheEntry{found: true})
	if _, ok := c.get(0, k); ok || c.len() != 0 {
		t.Fatal("a disabled cache answered")
	}
}

// BenchmarkCacheGetRandom100k reads random keys of a cache of 100,000
// entries shaped like the sidecar's (a version prefix, an encoded int64
// key, a ~100-byte answer): the memory-bound lookup of a warm cache.
func BenchmarkCacheGetRandom100k(b *testing.B) {
	c := newCache(1 << 30)
	prefix := cacheKeyPrefix("items", "20261203T101500Z-3f2a9c", time.Unix(1764756900, 0))
	const n = 100000
	keys := make([][]byte, n)
	hashes := make([]uint64, n)
	for i := range keys {
		keys[i] = cacheKey(nil, prefix, []byte(fmt.Sprintf("\x08%08d", i)))
		hashes[i] = c.hash(keys[i])
		enc := make([]byte, 100)
		c.put(hashes[i], keys[i], cacheEntry{found: true, enc: enc, size: 48 + len(enc)})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	order := make([]int32, 1<<16)
	for i := range order {
		order[i] = int32(rng.IntN(n))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := order[i&(len(order)-1)]
		if _, ok := c.get(hashes[j], keys[j]); !ok {
			b.Fatal("miss")
		}
	}
}
