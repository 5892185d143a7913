package coldstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hotcold/hotcold/row"
)

// A pinned version is a read-only copy of one table version in memory,
// laid out for point lookups: every key and value in one byte arena, and
// an open-addressing hash index over it.
//
// A Pebble lookup is a chain of dependent memory reads (iterator stack,
// file metadata, block cache, index block, data block, value) — about ten
// cache misses on a warm cache. A pinned lookup makes two: the index slot
// and the record. Cold versions are immutable once published, so the copy
// never changes; it is built from Pebble (the source of truth) when the
// version is first read, or right after a publish replaces a pinned
// version, and dropped when the version stops being live. Versions larger
// than what is left of PebbleOptions.PinMemory are not pinned and are read
// through Pebble's block cache.
//
// The idea is Flink's "full cache" for lookup joins, bounded by memory and
// refreshed by each publish rather than by a timer.
type pinned struct {
	seed  maphash.Seed
	mask  uint64
	index []uint64 // 0 empty, else tag<<pinOffBits | (record offset + 1)
	arena []byte   // records: uvarint key length, key, uvarint value length, value
	rows  int64
}

const (
	pinOffBits = 40 // arena offsets up to 1 TiB
	pinOffMask = 1<<pinOffBits - 1
)

// pinSize estimates the memory a pinned copy of vm needs: keys and values,
// their length prefixes, and an index at most 70% full.
func pinSize(vm *versionMeta) int64 {
	return vm.Bytes + 4*vm.Rows + 8*int64(pinSlots(vm.Rows))
}

func pinSlots(rows int64) int {
	n := max(rows*10/7, 16)
	return 1 << bits.Len64(uint64(n-1))
}

func pinTag(h uint64) uint64 { return h >> pinOffBits }

// buildPinned copies the data under prefix (one version) into a pinned
// copy. sizeHint is the expected arena size.
func buildPinned(ctx context.Context, db *pebble.DB, prefix []byte, rows, sizeHint int64) (*pinned, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: row.PrefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	slots := pinSlots(rows)
	pv := &pinned{
		seed:  maphash.MakeSeed(),
		mask:  uint64(slots - 1),
		index: make([]uint64, slots),
		arena: make([]byte, 0, sizeHint+4*rows+64),
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(prefix):]
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		if pv.rows&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if pv.rows >= int64(slots)*9/10 {
			return nil, fmt.Errorf("version has more rows than its metadata says (%d)", rows)
		}
		off := uint64(len(pv.arena))
		if off > pinOffMask-1 {
			return nil, fmt.Errorf("version too large to pin")
		}
		pv.arena = binary.AppendUvarint(pv.arena, uint64(len(k)))
		pv.arena = append(pv.arena, k...)
		pv.arena = binary.AppendUvarint(pv.arena, uint64(len(v)))
		pv.arena = append(pv.arena, v...)
		h := maphash.Bytes(pv.seed, k)
		e := pinTag(h)<<pinOffBits | (off + 1)
		for i := h & pv.mask; ; i = (i + 1) & pv.mask {
			if pv.index[i] == 0 {
				pv.index[i] = e
				break
			}
		}
		pv.rows++
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	return pv, nil
}

// size is the memory the pinned copy holds.
func (pv *pinned) size() int64 { return int64(cap(pv.arena)) + 8*int64(len(pv.index)) }

// record splits the record at off into key and value. The arena is
// written by buildPinned only, so records are well formed.
func (pv *pinned) record(off uint64) (k, v []byte) {
	a := pv.arena[off:]
	kl, n := binary.Uvarint(a)
	a = a[n:]
	k, a = a[:kl], a[kl:]
	vl, n := binary.Uvarint(a)
	return k, a[n : n+int(vl)]
}

// find returns the value of key k, starting the probe at slot entry e of
// hash h; nil if absent.
func (pv *pinned) find(k []byte, h uint64) []byte {
	tag := pinTag(h)
	for i := h & pv.mask; ; i = (i + 1) & pv.mask {
		e := pv.index[i]
		if e == 0 {
			return nil
		}
		if e>>pinOffBits != tag {
			continue
		}
		rk, rv := pv.record(e&pinOffMask - 1)
		if bytes.Equal(rk, k) {
			return rv
		}
	}
}

// get returns the value of key k, or nil.
func (pv *pinned) get(k []byte) []byte { return pv.find(k, maphash.Bytes(pv.seed, k)) }

// multiGet looks up every key (key(i) for i < n) and calls hit for the
// ones present. It works in stages over the whole batch — hash every key,
// touch every first index slot, touch every candidate record, then compare
// and decode — so that the memory reads of different keys overlap instead
// of waiting for each other.
func (pv *pinned) multiGet(n int, key func(i int) []byte, hs []uint64, hit func(i int, v []byte) error) error {
	var sink uint64
	for i := 0; i < n; i++ {
		hs[i] = maphash.Bytes(pv.seed, key(i))
	}
	for i := 0; i < n; i++ {
		sink += pv.index[hs[i]&pv.mask]
	}
	for i := 0; i < n; i++ {
		e := pv.index[hs[i]&pv.mask]
		if e != 0 {
			sink += uint64(pv.arena[e&pinOffMask-1])
		}
	}
	pinSink.Store(sink)
	for i := 0; i < n; i++ {
		if v := pv.find(key(i), hs[i]); v != nil {
			if err := hit(i, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// pinSink keeps the touching loads of multiGet from being optimised away.
var pinSink atomic.Uint64

// maybePin starts pinning t's version in the background, once per table
// state, if pinning is on. The caller holds p.mu (read or write) and has
// checked that the store is open, so that Close waits for the build.
func (p *Pebble) maybePin(t *pebbleTable) {
	if t.pinStarted.Load() || !t.pinStarted.CompareAndSwap(false, true) {
		return
	}
	if p.opts.PinMemory <= 0 {
		close(t.pinDone)
		return
	}
	p.pins.Add(1)
	go func() {
		defer p.pins.Done()
		defer close(t.pinDone)
		p.buildPin(t)
	}()
}

// buildPin reserves memory for t's version, copies it, and publishes the
// copy unless t stopped being live meanwhile.
func (p *Pebble) buildPin(t *pebbleTable) {
	name, version := t.info.Name, t.live.Version
	need := pinSize(t.live)
	p.pinMu.Lock()
	if t.retired {
		p.pinMu.Unlock()
		return
	}
	if p.pinUsed+need > p.opts.PinMemory {
		used := p.pinUsed
		p.pinMu.Unlock()
		p.log.Info("coldstore: version not pinned in memory: it does not fit in what is left of PinMemory; lookups go through the block cache",
			"table", name, "version", version, "needs_bytes", need, "pinned_bytes", used, "pin_memory", p.opts.PinMemory)
		p.m.pinRefused.Inc()
		return
	}
	p.pinUsed += need
	t.pinned = need
	p.pinMu.Unlock()

	start := time.Now()
	pv, err := buildPinned(p.ctx, p.db, t.prefix, t.live.Rows, t.live.Bytes)
	p.pinMu.Lock()
	defer p.pinMu.Unlock()
	if err != nil || t.retired {
		p.pinUsed -= t.pinned
		t.pinned = 0
		if err != nil && p.ctx.Err() == nil {
			p.log.Warn("coldstore: could not pin a version in memory; lookups go through the block cache", "table", name, "version", version, "err", err)
		}
		return
	}
	p.pinUsed += pv.size() - t.pinned
	t.pinned = pv.size()
	t.pin.Store(pv)
	p.m.pinnedBytes.Set(float64(p.pinUsed))
	p.log.Info("coldstore: version pinned in memory", "table", name, "version", version, "rows", pv.rows, "bytes", pv.size(), "seconds", time.Since(start).Seconds())
}

// replaced retires old (the table state nt replaced; nil for a new
// table) and frees its pin. A table that was pinned, or being pinned,
// gets its new version pinned right away. The caller holds p.mu.
func (p *Pebble) replaced(old, nt *pebbleTable) {
	if old == nil {
		return
	}
	p.pinMu.Lock()
	old.retired = true
	p.pinUsed -= old.pinned
	old.pinned = 0
	p.m.pinnedBytes.Set(float64(p.pinUsed))
	p.pinMu.Unlock()
	if old.pinStarted.Load() && p.opts.PinMemory > 0 {
		p.maybePin(nt)
	}
}

// Pin pins the live version of table in memory, if it fits in what is
// left of PebbleOptions.PinMemory, and waits until that is done. It
// reports whether the version is pinned. Lookups pin a table on first use
// by themselves; Pin lets a server warm its tables before it serves.
func (p *Pebble) Pin(ctx context.Context, table string) (bool, error) {
	p.mu.RLock()
	t, err := p.readTable(table)
	if err == nil {
		p.maybePin(t) // under p.mu, so that Close waits for the build
	}
	p.mu.RUnlock()
	if err != nil {
		return false, err
	}
	select {
	case <-t.pinDone:
		return t.pin.Load() != nil, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// decode decodes the value v of a hit into res; copyBytes false makes
// string values alias v.
func (p *Pebble) decode(t *pebbleTable, v []byte, res *Result, copyBytes bool) error {
	var err error
	if copyBytes {
		err = t.info.Schema.DecodeValue(v, &res.Row)
	} else {
		err = t.info.Schema.DecodeValueShared(v, &res.Row)
	}
	if err != nil {
		return fmt.Errorf("coldstore: table %q version %q: corrupt value: %w", t.info.Name, t.live.Version, err)
	}
	res.Row.Kind = row.Insert
	res.Found = true
	return nil
}

// multiGetPinned answers a MultiGet from a pinned version. key(i) is
// encoded key i with the version prefix. The values of the hits are copied
// into one buffer the results share, so the batch allocates a few slabs
// instead of two objects per row.
func (p *Pebble) multiGetPinned(t *pebbleTable, pv *pinned, key func(int) []byte, out []Result) error {
	n := len(out)
	plen := len(t.prefix)
	unprefixed := func(i int) []byte { return key(i)[plen:] }
	hs := make([]uint64, n)
	vals := make([][]byte, n)
	total := 0
	hits := 0
	if err := pv.multiGet(n, unprefixed, hs, func(i int, v []byte) error {
		vals[i] = v
		total += len(v)
		hits++
		return nil
	}); err != nil {
		return err
	}
	ncol := t.info.Schema.Len()
	slab := make([]row.Value, hits*ncol)
	data := make([]byte, 0, total)
	version := t.live.Version
	for i := range out {
		out[i].Version = version
		v := vals[i]
		if v == nil {
			continue
		}
		start := len(data)
		data = append(data, v...)
		out[i].Row.Values = slab[:0:ncol]
		slab = slab[ncol:]
		if err := p.decode(t, data[start:len(data):len(data)], &out[i], false); err != nil {
			return err
		}
	}
	t.lookups.Add(float64(n))
	t.misses.Add(float64(n - hits))
	return nil
}
