package sidecar

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// The read cache holds answers for hot cold keys. An entry is keyed by
// (table, version, encoded key): a version never changes once published, so
// an entry can never become stale; when a table flips to a new version the
// old entries simply stop matching and age out.
//
// Entries are either found rows or negative answers (the key is not in
// that version), both already in wire form (see wire.go), shared read-only
// by every response that uses them.
//
// The cache is sharded; each shard is a CLOCK (second chance) cache
// bounded by bytes: a hit only sets a reference bit under a read lock, and
// eviction sweeps a hand over the slots, sparing (and unmarking) the ones
// read since it last passed. New entries start unmarked, so a scan of
// one-off keys does not push out the hot ones.
// Lookups are by a 64-bit hash of the key with the full key stored next to
// the answer and compared, so that a hit touches little memory.

// cacheEntry is one answer. It is immutable once created and passed by
// value; enc is shared.
type cacheEntry struct {
	found bool
	enc   []byte // encoded lookuppb.LookupResult, version included
	size  int    // approximate bytes held, for the byte budget
}

// cacheShards spreads lock contention; a power of two.
const cacheShards = 32

// slotOverhead approximates the bookkeeping bytes of one entry.
const slotOverhead = 64

type cache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu       sync.RWMutex
	maxBytes int
	bytes    int
	items    map[uint64]int32 // key hash -> slot
	slots    []cacheSlot
	free     []int32
	hand     int
}

type cacheSlot struct {
	hash  uint64
	key   []byte // the full cache key; nil when the slot is free
	entry cacheEntry
	ref   atomic.Bool
}

// newCache returns a cache bounded to maxBytes in total, or nil (a cache
// that holds nothing) when maxBytes <= 0.
func newCache(maxBytes int64) *cache {
	if maxBytes <= 0 {
		return nil
	}
	c := &cache{seed: maphash.MakeSeed()}
	per := int(maxBytes / cacheShards)
	if per < 1 {
		per = 1
	}
	for i := range c.shards {
		c.shards[i].maxBytes = per
		c.shards[i].items = map[uint64]int32{}
	}
	return c
}

func (c *cache) hash(key []byte) uint64 {
	if c == nil {
		return 0
	}
	return maphash.Bytes(c.seed, key)
}

func (c *cache) shard(h uint64) *cacheShard { return &c.shards[h>>59&(cacheShards-1)] }

// get returns the entry for key (of hash h) and marks it recently used.
func (c *cache) get(h uint64, key []byte) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	s := c.shard(h)
	s.mu.RLock()
	i, ok := s.items[h]
	if !ok {
		s.mu.RUnlock()
		return cacheEntry{}, false
	}
	sl := &s.slots[i]
	if !bytes.Equal(sl.key, key) {
		s.mu.RUnlock()
		return cacheEntry{}, false
	}
	e := sl.entry
	if !sl.ref.Load() {
		sl.ref.Store(true)
	}
	s.mu.RUnlock()
	return e, true
}

// put inserts or replaces the entry for key (of hash h) and returns how
// many entries were evicted to make room. It copies key and e.enc.
func (c *cache) put(h uint64, key []byte, e cacheEntry) (evicted int) {
	if c == nil {
		return 0
	}
	size := e.size + len(key) + slotOverhead
	// Keep the key and the answer in one allocation: a hit then touches
	// one place in memory to compare the key and copy the answer.
	buf := make([]byte, 0, len(key)+len(e.enc))
	buf = append(append(buf, key...), e.enc...)
	key, e.enc = buf[:len(key):len(key)], buf[len(key):]
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if size > s.maxBytes {
		return 0
	}
	if i, ok := s.items[h]; ok {
		// Same key, or a hash collision: either way the newer answer
		// takes the slot.
		sl := &s.slots[i]
		s.bytes += size - (sl.entry.size + len(sl.key) + slotOverhead)
		sl.key, sl.entry = key, e
		sl.ref.Store(true)
	} else {
		var i int32
		if n := len(s.free); n > 0 {
			i, s.free = s.free[n-1], s.free[:n-1]
		} else {
			s.slots = append(s.slots, cacheSlot{})
			i = int32(len(s.slots) - 1)
		}
		sl := &s.slots[i]
		sl.hash, sl.key, sl.entry = h, key, e
		// New entries start unreferenced (as in SIEVE): a key read once
		// goes before the keys read again since the hand last passed.
		sl.ref.Store(false)
		s.items[h] = i
		s.bytes += size
	}
	for s.bytes > s.maxBytes {
		if s.hand >= len(s.slots) {
			s.hand = 0
		}
		sl := &s.slots[s.hand]
		switch {
		case sl.key == nil:
		case sl.ref.Load():
			sl.ref.Store(false)
		default:
			delete(s.items, sl.hash)
			s.bytes -= sl.entry.size + len(sl.key) + slotOverhead
			sl.key, sl.entry = nil, cacheEntry{}
			s.free = append(s.free, int32(s.hand))
			evicted++
		}
		s.hand++
	}
	return evicted
}

// len returns the number of entries (for metrics and tests).
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.items)
		s.mu.RUnlock()
	}
	return n
}

// cacheKeyPrefix identifies a table version in cache keys: the table and
// version names, length-prefixed so that no two pairs collide, and the
// version's publish time, so that a version name reused for new data
// after the old one expired can never match the old entries.
func cacheKeyPrefix(table, version string, loadedAt time.Time) []byte {
	b := appendLenPrefixed(nil, table)
	b = appendLenPrefixed(b, version)
	return binary.BigEndian.AppendUint64(b, uint64(loadedAt.UnixNano()))
}

// cacheKey appends the cache key of an encoded key of the table version
// with the given prefix to dst.
func cacheKey(dst, prefix, enc []byte) []byte {
	return append(append(dst, prefix...), enc...)
}

func appendLenPrefixed(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
