package sidecar

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
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
// Each shard is one open-addressing table (linear probing, deletion by
// backward shift) whose slots hold the key's 64-bit hash, the answer's
// flags and sizes, and a pointer to one allocation with the full key
// followed by the answer: a hit reads one slot and that allocation, two
// places in memory (a Go map to a slot array to the key was four, and the
// lookup of a warm cache is bound by memory latency). The CLOCK hand
// sweeps the table's slots themselves. Keys whose hashes collide each
// keep their own slot.

// cacheEntry is one answer. It is immutable once created and passed by
// value; enc is shared.
type cacheEntry struct {
	found bool
	enc   []byte // encoded lookuppb.LookupResult, version included
	size  int    // approximate bytes held, for the byte budget
}

// cacheShards spreads lock contention; a power of two.
const cacheShards = 32

// slotOverhead approximates the bookkeeping bytes of one entry (its slot
// and the table's spare capacity).
const slotOverhead = 64

// minTable is a shard table's first size (a power of two).
const minTable = 64

type cache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu       sync.RWMutex
	maxBytes int
	bytes    int
	n        int // slots in use
	tab      []cacheSlot
	hand     int
}

// cacheSlot is one table slot; data == nil marks it free. The slot is
// written only under the shard's write lock, except ref, which a hit sets
// under the read lock (atomically).
type cacheSlot struct {
	hash  uint64
	data  *byte // klen key bytes, then elen answer bytes
	klen  uint32
	elen  uint32
	size  uint32 // the entry's size, for the byte budget
	ref   uint32 // CLOCK reference bit (atomic)
	found bool
}

func (sl *cacheSlot) key() []byte { return unsafe.Slice(sl.data, sl.klen) }

func (sl *cacheSlot) entry() cacheEntry {
	all := unsafe.Slice(sl.data, int(sl.klen)+int(sl.elen))
	return cacheEntry{found: sl.found, enc: all[sl.klen:len(all):len(all)], size: int(sl.size)}
}

// touch marks the slot recently used (under the shard's read lock: the
// store only when the bit is clear, so hits on hot keys do not write).
func (sl *cacheSlot) touch() {
	if atomic.LoadUint32(&sl.ref) == 0 {
		atomic.StoreUint32(&sl.ref, 1)
	}
}

// bytes is what the slot's entry counts against the budget.
func (sl *cacheSlot) bytes() int { return int(sl.size) + int(sl.klen) + slotOverhead }

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
		c.shards[i].tab = make([]cacheSlot, minTable)
	}
	return c
}

func (c *cache) hash(key []byte) uint64 {
	if c == nil {
		return 0
	}
	return maphash.Bytes(c.seed, key)
}

// The shard is chosen by the hash's top bits, the slot by its low bits.
func (c *cache) shard(h uint64) *cacheShard { return &c.shards[h>>59&(cacheShards-1)] }

// find returns the slot of key (of hash h), or -1. The caller holds a lock.
func (s *cacheShard) find(h uint64, key []byte) int {
	mask := len(s.tab) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		sl := &s.tab[i]
		if sl.data == nil {
			return -1
		}
		if sl.hash == h && int(sl.klen) == len(key) && bytes.Equal(sl.key(), key) {
			return i
		}
	}
}

// get returns the entry for key (of hash h) and marks it recently used.
func (c *cache) get(h uint64, key []byte) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	s := c.shard(h)
	s.mu.RLock()
	i := s.find(h, key)
	if i < 0 {
		s.mu.RUnlock()
		return cacheEntry{}, false
	}
	sl := &s.tab[i]
	e := sl.entry()
	sl.touch()
	s.mu.RUnlock()
	return e, true
}

// getMany looks up keys[i] (of hash hs[i]) for every i: where hit[i]
// (false on entry) becomes true, out[i] is its entry. Each shard's lock is
// taken once for all of its keys, so the lookups of a batch do not each
// pay a lock's atomic operations, and the memory loads of one shard's
// lookups overlap. order is scratch space (returned for reuse).
func (c *cache) getMany(hs []uint64, keys [][]byte, out []cacheEntry, hit []bool, order []int32) []int32 {
	if c == nil || len(keys) == 0 {
		return order
	}
	if len(keys) == 1 {
		out[0], hit[0] = c.get(hs[0], keys[0])
		return order
	}
	// Counting sort of the key indexes by shard.
	var starts [cacheShards + 1]int32
	for _, h := range hs {
		starts[h>>59&(cacheShards-1)+1]++
	}
	for i := 1; i <= cacheShards; i++ {
		starts[i] += starts[i-1]
	}
	next := starts
	order = append(order[:0], make([]int32, len(keys))...)
	for i, h := range hs {
		sh := h >> 59 & (cacheShards - 1)
		order[next[sh]] = int32(i)
		next[sh]++
	}
	for sh := 0; sh < cacheShards; sh++ {
		idx := order[starts[sh]:starts[sh+1]]
		if len(idx) == 0 {
			continue
		}
		s := &c.shards[sh]
		s.mu.RLock()
		for _, i := range idx {
			j := s.find(hs[i], keys[i])
			if j < 0 {
				continue
			}
			sl := &s.tab[j]
			out[i], hit[i] = sl.entry(), true
			sl.touch()
		}
		s.mu.RUnlock()
	}
	return order
}

// put inserts or replaces the entry for key (of hash h) and returns how
// many entries were evicted to make room. It copies key and e.enc.
func (c *cache) put(h uint64, key []byte, e cacheEntry) (evicted int) {
	if c == nil {
		return 0
	}
	if len(key)+len(e.enc) == 0 || len(key) > math.MaxUint32 || len(e.enc) > math.MaxUint32 || e.size < 0 || e.size > math.MaxUint32 {
		return 0 // nothing to point at (never the case: keys carry a version prefix), or too large to hold
	}
	size := e.size + len(key) + slotOverhead
	// Keep the key and the answer in one allocation: a hit then touches
	// one place in memory to compare the key and copy the answer.
	buf := make([]byte, 0, len(key)+len(e.enc))
	buf = append(append(buf, key...), e.enc...)
	nsl := cacheSlot{hash: h, data: &buf[0], klen: uint32(len(key)), elen: uint32(len(e.enc)), size: uint32(e.size), found: e.found}
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if size > s.maxBytes {
		return 0
	}
	if i := s.find(h, key); i >= 0 {
		// The same key: the newer answer takes the slot.
		s.bytes += size - s.tab[i].bytes()
		nsl.ref = 1
		s.tab[i] = nsl
	} else {
		if (s.n+1)*4 > len(s.tab)*3 {
			s.grow()
		}
		// New entries start unreferenced (as in SIEVE): a key read once
		// goes before the keys read again since the hand last passed.
		mask := len(s.tab) - 1
		i := int(h) & mask
		for s.tab[i].data != nil {
			i = (i + 1) & mask
		}
		s.tab[i] = nsl
		s.n++
		s.bytes += size
	}
	for s.bytes > s.maxBytes {
		if s.hand >= len(s.tab) {
			s.hand = 0
		}
		sl := &s.tab[s.hand]
		switch {
		case sl.data == nil:
		case sl.ref != 0:
			sl.ref = 0
		default:
			s.bytes -= sl.bytes()
			s.remove(s.hand)
			evicted++
			// remove may have shifted a later entry into the hand's
			// slot: look at it next.
			continue
		}
		s.hand++
	}
	return evicted
}

// grow doubles the table. The caller holds the write lock.
func (s *cacheShard) grow() {
	old := s.tab
	s.tab = make([]cacheSlot, 2*len(old))
	mask := len(s.tab) - 1
	for _, sl := range old {
		if sl.data == nil {
			continue
		}
		i := int(sl.hash) & mask
		for s.tab[i].data != nil {
			i = (i + 1) & mask
		}
		s.tab[i] = sl
	}
	s.hand = 0
}

// remove frees slot i, shifting back the entries after it that would
// otherwise no longer be found (linear probing's deletion without
// tombstones). The caller holds the write lock.
func (s *cacheShard) remove(i int) {
	mask := len(s.tab) - 1
	for j := (i + 1) & mask; s.tab[j].data != nil; j = (j + 1) & mask {
		home := int(s.tab[j].hash) & mask
		// The entry at j may move to i when its home is not in (i, j]
		// (cyclically): its probe from home passes i.
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			s.tab[i] = s.tab[j]
			i = j
		}
	}
	s.tab[i] = cacheSlot{}
	s.n--
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
		n += s.n
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
