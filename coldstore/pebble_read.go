package coldstore

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Reads go through pooled Pebble iterators instead of DB.Get, which builds
// and tears down a tree of iterators for every key: a pooled iterator is
// positioned with SeekPrefixGE (bloom filters skip files without the key).
//
// An iterator sees the database as of its creation. Every publish or
// rollback bumps the store's generation (under p.mu), and a table state
// remembers the generation it was published at; an iterator older than the
// table state it serves is closed and replaced, so that it sees the
// ingested data of that version.

type pooledIter struct {
	it  *pebble.Iterator
	gen uint64
}

// iterPool holds idle iterators. Idle iterators pin the files of the
// database state they were created on; the pool is small and refreshed at
// every publish, and Close closes them all.
type iterPool struct {
	mu     sync.Mutex
	closed bool
	free   []*pooledIter
}

const maxIdleIters = 16

// getIter returns an iterator that sees generation gen or later.
func (p *Pebble) getIter(gen uint64) (*pooledIter, error) {
	ip := &p.iters
	ip.mu.Lock()
	for len(ip.free) > 0 {
		pi := ip.free[len(ip.free)-1]
		ip.free = ip.free[:len(ip.free)-1]
		if pi.gen >= gen {
			ip.mu.Unlock()
			return pi, nil
		}
		_ = pi.it.Close()
	}
	ip.mu.Unlock()
	cur := p.gen.Load() // read before creating: the iterator sees at least this
	it, err := p.db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	return &pooledIter{it: it, gen: cur}, nil
}

func (p *Pebble) putIter(pi *pooledIter) {
	ip := &p.iters
	ip.mu.Lock()
	if !ip.closed && len(ip.free) < maxIdleIters && pi.gen == p.gen.Load() {
		ip.free = append(ip.free, pi)
		ip.mu.Unlock()
		return
	}
	ip.mu.Unlock()
	_ = pi.it.Close()
}

// closeIters closes the idle iterators; later puts close theirs.
func (p *Pebble) closeIters() {
	ip := &p.iters
	ip.mu.Lock()
	defer ip.mu.Unlock()
	ip.closed = true
	for _, pi := range ip.free {
		_ = pi.it.Close()
	}
	ip.free = nil
}

// seek looks up key k with it and decodes a hit into res.
func (p *Pebble) seek(it *pebble.Iterator, t *pebbleTable, k []byte, res *Result) error {
	if !it.SeekPrefixGE(k) || !bytes.Equal(it.Key(), k) {
		return it.Error()
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return fmt.Errorf("coldstore: table %q: %w", t.info.Name, err)
	}
	return p.decode(t, v, res, true)
}
