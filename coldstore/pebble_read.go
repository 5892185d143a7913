package coldstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
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
		if err := it.Error(); err != nil {
			return p.readError(t, err)
		}
		return nil
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return p.readError(t, err)
	}
	return p.decode(t, v, res, true)
}

// isMissingData reports whether a Pebble error means that data the
// database refers to is gone or damaged (a deleted or corrupt file).
func isMissingData(err error) bool {
	return errors.Is(err, pebble.ErrCorruption) || errors.Is(err, os.ErrNotExist)
}

// readError wraps an error of reading t's data: missing or damaged data
// becomes a DataLossError (recorded, so that later lookups fail at once).
func (p *Pebble) readError(t *pebbleTable, err error) error {
	if isMissingData(err) {
		l := &DataLossError{Table: t.info.Name, Version: t.live.Version, Reason: "reading its data failed: " + err.Error()}
		t.lost.Store(l)
		return l
	}
	return fmt.Errorf("coldstore: table %q: %w", t.info.Name, err)
}

// Verify implements Verifier: every key sampled by the version's load
// must be present.
func (p *Pebble) Verify(ctx context.Context, table string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.RLock() // held while reading: Close waits
	defer p.mu.RUnlock()
	t, err := p.readTable(table)
	if err != nil {
		return err
	}
	return p.verify(t)
}

func (p *Pebble) verify(t *pebbleTable) error {
	samples, err := t.live.sampleKeys()
	if err != nil {
		return err // checked by decodeTableMeta: unreachable
	}
	missing := 0
	k := make([]byte, 0, 64)
	for _, s := range samples {
		k = append(append(k[:0], t.prefix...), s...)
		_, closer, err := p.db.Get(k)
		switch {
		case err == nil:
			closer.Close()
		case errors.Is(err, pebble.ErrNotFound):
			missing++
		default:
			return p.readError(t, err)
		}
	}
	if missing > 0 {
		l := &DataLossError{Table: t.info.Name, Version: t.live.Version, Reason: fmt.Sprintf("%d of %d keys sampled when it was loaded are missing", missing, len(samples))}
		t.lost.Store(l)
		return l
	}
	t.lost.Store(nil)
	return nil
}

var _ Verifier = (*Pebble)(nil)
