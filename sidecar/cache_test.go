package sidecar

import (
	"fmt"
	"testing"
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
	if _, ok := c.get(h, a); ok {
		t.Fatal("the replaced key still hits")
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
