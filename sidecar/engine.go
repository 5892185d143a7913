package sidecar

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

// engine answers lookups from a coldstore.Store through the read cache,
// coalescing concurrent fetches of the same key. It is what the gRPC
// handlers call; it knows nothing about the wire.
type engine struct {
	store    coldstore.Store
	cache    *cache
	negative bool
	interval time.Duration
	m        *metrics

	callTimeout time.Duration

	seq      atomic.Uint64 // orders observations of table versions
	describe singleflight.Group

	tables struct {
		sync.RWMutex
		m map[string]*tableState
	}
	flights struct {
		sync.Mutex
		m map[string]*flight
	}
}

// tableState is the engine's view of the live version of one table. It is
// immutable; a newer observation replaces the pointer.
type tableState struct {
	info        coldstore.TableInfo
	keyTypes    []row.Type
	colTypes    []row.Type
	negEntry    cacheEntry // the answer for a missing key
	cachePrefix []byte     // identifies the version in cache keys
	tvEnc       []byte     // encoded TableVersion of this version
	coversEnc   []byte     // LookupResponse.covers_until, tag included
	checkedAt   time.Time
	seq         uint64
}

// flight is one in-progress store fetch of a key that other callers of
// the same (table, version, key) wait for instead of fetching again.
type flight struct {
	done    chan struct{}
	entry   cacheEntry // set when version matched
	version string     // the version that answered
	err     error
}

func newEngine(store coldstore.Store, o Options, m *metrics) *engine {
	e := &engine{store: store, cache: newCache(o.CacheBytes), negative: !o.NoNegativeCache, interval: o.VersionCheckInterval, m: m, callTimeout: o.CallTimeout}
	e.tables.m = map[string]*tableState{}
	e.flights.m = map[string]*flight{}
	return e
}

// state returns the live version of table. With fresh, or when the last
// observation is older than the version check interval, it asks the store.
func (e *engine) state(ctx context.Context, table string, fresh bool) (*tableState, error) {
	if !fresh && e.interval > 0 {
		e.tables.RLock()
		st := e.tables.m[table]
		e.tables.RUnlock()
		if st != nil && time.Since(st.checkedAt) < e.interval {
			return st, nil
		}
		// Coalesce the periodic refresh: every caller may accept an
		// observation made after its call started being older than the
		// interval allows anyway.
		v, err, _ := e.describe.Do(table, func() (any, error) {
			// Shared by every waiter: not canceled with the first caller.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.callTimeout)
			defer cancel()
			return e.observe(dctx, table)
		})
		if err != nil {
			return nil, err
		}
		return v.(*tableState), nil
	}
	return e.observe(ctx, table)
}

// observe asks the store for the live version of table and installs it,
// unless an observation that started later was installed meanwhile.
func (e *engine) observe(ctx context.Context, table string) (*tableState, error) {
	seq := e.seq.Add(1)
	start := time.Now()
	info, err := e.store.Describe(ctx, table)
	e.m.storeCall("describe", start, err)
	if err != nil {
		return nil, storeError(table, err)
	}
	e.tables.Lock()
	defer e.tables.Unlock()
	cur := e.tables.m[table]
	if cur != nil && cur.seq > seq {
		return cur, nil
	}
	if cur != nil && cur.info.Version == info.Version && cur.info.LoadedAt.Equal(info.LoadedAt) && e.interval == 0 {
		// A version is immutable (schema, rows, watermark): keep the
		// converted state.
		return cur, nil
	}
	neg := encodeResult(false, nil, info.Version)
	st := &tableState{
		info:        info,
		checkedAt:   time.Now(),
		seq:         seq,
		negEntry:    cacheEntry{enc: neg, size: 32 + len(neg)},
		cachePrefix: cacheKeyPrefix(table, info.Version, info.LoadedAt),
		tvEnc:       encodeTableVersion(table, info),
		coversEnc:   encodeCoversUntil(info.CoversUntil),
	}
	if info.Schema != nil {
		st.keyTypes = info.Schema.KeyTypes()
		st.colTypes = make([]row.Type, info.Schema.Len())
		for i := range st.colTypes {
			st.colTypes[i] = info.Schema.Column(i).Type
		}
	}
	if cur != nil && (cur.info.Version != info.Version || !cur.info.LoadedAt.Equal(info.LoadedAt)) {
		e.m.versionChanges.WithLabelValues(table).Inc()
	}
	e.tables.m[table] = st
	return st, nil
}

// keyField names key i of a request in error messages, e.g. "keys[3].key".
type keyField func(i int) string

// maxAttempts bounds how often a lookup restarts because the table's
// version changed under it.
const maxAttempts = 4

// lookup answers keys of one table, all from one version, into out (one
// entry per key; the entries are shared and read-only).
func (e *engine) lookup(ctx context.Context, table string, keys keySet, field keyField, out []cacheEntry) (*tableState, error) {
	sc := scratchPool.Get().(*lookupScratch)
	defer sc.release()
	var forVer *row.Schema
	for attempt := 0; attempt < maxAttempts; attempt++ {
		st, err := e.state(ctx, table, attempt > 0)
		if err != nil {
			return nil, err
		}
		if st.info.Schema == nil {
			return nil, status.Errorf(codes.Internal, "table %q: the store reported no schema", table)
		}
		if forVer != st.info.Schema {
			if err := convertKeys(table, st, keys, field, sc); err != nil {
				return nil, err
			}
			forVer = st.info.Schema
		}
		ok, err := e.fetch(ctx, table, st, keys, sc, out)
		if err != nil {
			return nil, err
		}
		if ok {
			return st, nil
		}
		e.m.versionRetries.Inc()
	}
	return nil, status.Errorf(codes.Unavailable, "table %q changed versions %d times during the call; retry", table, maxAttempts)
}

// lookupScratch holds the per-call buffers of lookup; they are reused
// through scratchPool so that a call of cache hits allocates nothing here.
type lookupScratch struct {
	encBuf []byte      // the encoded keys, back to back
	encs   [][]byte    // key i's encoding, into encBuf
	rk     []row.Value // one decoded key
	kb     []byte      // the keys' cache keys, back to back
	hashes []uint64    // each cache key's hash
	ckeys  [][]byte    // each cache key, into kb
	hit    []bool      // whether each key was in the cache
	order  []int32     // the cache's scratch
	miss   []int
}

var scratchPool = sync.Pool{New: func() any { return new(lookupScratch) }}

func (sc *lookupScratch) release() {
	clear(sc.encs)
	sc.encBuf, sc.encs, sc.kb, sc.miss = sc.encBuf[:0], sc.encs[:0], sc.kb[:0], sc.miss[:0]
	sc.hashes, sc.hit, sc.order = sc.hashes[:0], sc.hit[:0], sc.order[:0]
	clear(sc.rk)
	scratchPool.Put(sc)
}

// convertKeys checks every key against the key columns of st and encodes
// it into sc.encs. Problems are InvalidArgument naming the field.
func convertKeys(table string, st *tableState, keys keySet, field keyField, sc *lookupScratch) error {
	s := st.info.Schema
	nk := len(st.keyTypes)
	if cap(sc.rk) < nk {
		sc.rk = make([]row.Value, nk)
	}
	rk := sc.rk[:nk]
	buf := sc.encBuf[:0]
	encs := sc.encs[:0]
	for i := 0; i < keys.len(); i++ {
		n, bad, err := keys.values(i, st.keyTypes, rk)
		if n != nk {
			if err != nil {
				return invalidArg(field(i)+".values", "%v", err)
			}
			return invalidArg(field(i)+".values", "table %q has key (%s): want %d values, got %d", table, joinNames(s.KeyNames()), nk, n)
		}
		if err != nil {
			return invalidArg(fmt.Sprintf("%s.values[%d]", field(i), bad), "key column %q: %v", s.KeyNames()[bad], err)
		}
		for j, v := range rk {
			if v.IsNull() {
				return invalidArg(fmt.Sprintf("%s.values[%d]", field(i), j), "key column %q: a key value must not be null", s.KeyNames()[j])
			}
		}
		// The values have the key column types and are not null (checked
		// above, as coldstore.EncodeKey would), so encode directly.
		start := len(buf)
		buf, err = row.AppendKey(buf, st.keyTypes, rk)
		if err != nil {
			return invalidArg(field(i)+".values", "%v", &coldstore.KeyError{Table: table, Index: i, Reason: err.Error()})
		}
		// Record the length now, the position at the end: buf may move.
		encs = append(encs, buf[start:len(buf):len(buf)])
	}
	off := 0
	for i := range encs {
		n := len(encs[i])
		encs[i] = buf[off : off+n : off+n]
		off += n
	}
	sc.encBuf, sc.encs = buf, encs
	return nil
}

// rowKeys decodes the keys at idx as row values for the store (they were
// checked by convertKeys).
func rowKeys(st *tableState, keys keySet, idx []int) ([][]row.Value, error) {
	nk := len(st.keyTypes)
	vals := make([]row.Value, len(idx)*nk)
	out := make([][]row.Value, len(idx))
	for j, i := range idx {
		rk := vals[j*nk : (j+1)*nk : (j+1)*nk]
		if _, _, err := keys.values(i, st.keyTypes, rk); err != nil {
			return nil, status.Errorf(codes.Internal, "key %d: %v", i, err)
		}
		// Binary values reference the request; the store call ends before
		// the request is released, but copy anyway for stores that keep
		// keys (a cache of their own).
		for k := range rk {
			rk[k] = rk[k].Clone()
		}
		out[j] = rk
	}
	return out, nil
}

type waiter struct {
	i int
	f *flight
}

// fetch answers the encoded keys from the cache, from fetches other calls
// have in flight, and from one store MultiGet for the rest, into out. ok is
// false when the store answered from another version than st: the caller
// refreshes the table state and tries again.
func (e *engine) fetch(ctx context.Context, table string, st *tableState, keys keySet, sc *lookupScratch, out []cacheEntry) (ok bool, err error) {
	miss := sc.miss[:0]
	hits, negHits := 0, 0
	if e.cache == nil {
		for i := range sc.encs {
			miss = append(miss, i)
		}
	} else {
		// The cache keys of all the keys, back to back (kb sized first, so
		// that each key's slice of it stays valid), then one read of the
		// cache for all of them.
		n := len(sc.encs) * len(st.cachePrefix)
		for _, enc := range sc.encs {
			n += len(enc)
		}
		kb, ckeys, hs := slices.Grow(sc.kb[:0], n), sc.ckeys[:0], sc.hashes[:0]
		for _, enc := range sc.encs {
			start := len(kb)
			kb = cacheKey(kb, st.cachePrefix, enc)
			ckeys = append(ckeys, kb[start:len(kb):len(kb)])
			hs = append(hs, e.cache.hash(kb[start:]))
		}
		hit := append(sc.hit[:0], make([]bool, len(ckeys))...)
		sc.order = e.cache.getMany(hs, ckeys, out, hit, sc.order)
		for i, h := range hit {
			switch {
			case !h:
				miss = append(miss, i)
			case out[i].found:
				hits++
			default:
				negHits++
			}
		}
		clear(ckeys)
		sc.kb, sc.hashes, sc.ckeys, sc.hit = kb, hs, ckeys, hit
	}
	sc.miss = miss
	e.m.cacheHits.Add(float64(hits))
	e.m.cacheNegHits.Add(float64(negHits))
	e.m.cacheMisses.Add(float64(len(miss)))
	if len(miss) == 0 {
		return true, nil
	}

	ckeys := make(map[int]string, len(miss))
	var lead []int
	var leadF []*flight
	var waits []waiter
	e.flights.Lock()
	for _, i := range miss {
		ck := string(cacheKey(nil, st.cachePrefix, sc.encs[i]))
		ckeys[i] = ck
		if f, inFlight := e.flights.m[ck]; inFlight {
			waits = append(waits, waiter{i, f})
			continue
		}
		f := &flight{done: make(chan struct{})}
		e.flights.m[ck] = f
		lead = append(lead, i)
		leadF = append(leadF, f)
	}
	e.flights.Unlock()
	e.m.coalesced.Add(float64(len(waits)))

	if len(lead) > 0 {
		ver, ferr := e.lead(ctx, table, st, keys, ckeys, lead, leadF, out)
		if ferr != nil {
			return false, ferr
		}
		if ver != st.info.Version {
			return false, nil
		}
	}

	var again []int
	for _, w := range waits {
		select {
		case <-w.f.done:
		case <-ctx.Done():
			return false, ctxError(ctx.Err())
		}
		switch {
		case w.f.err != nil && isContextError(w.f.err):
			// The leader's caller went away; fetch it ourselves.
			again = append(again, w.i)
		case w.f.err != nil:
			return false, w.f.err
		case w.f.version != st.info.Version:
			return false, nil
		default:
			out[w.i] = w.f.entry
		}
	}
	if len(again) > 0 {
		rks, err := rowKeys(st, keys, again)
		if err != nil {
			return false, err
		}
		ver, ferr := e.fetchStore(ctx, table, st, rks, func(j int, ent cacheEntry) { out[again[j]] = ent })
		if ferr != nil {
			return false, ferr
		}
		if ver != st.info.Version {
			return false, nil
		}
	}
	return true, nil
}

// lead fetches the keys this call leads flights for, fills out, caches
// the entries and releases the waiters. Even if the store panics, every
// flight is completed (with an error) so that no waiter hangs.
func (e *engine) lead(ctx context.Context, table string, st *tableState, keys keySet, ckeys map[int]string, lead []int, leadF []*flight, out []cacheEntry) (ver string, err error) {
	defer func() {
		p := recover()
		if p != nil {
			err = status.Errorf(codes.Internal, "internal error: the cold store panicked: %v", p)
		}
		e.flights.Lock()
		for j, i := range lead {
			f := leadF[j]
			f.version, f.err = ver, err
			if e.flights.m[ckeys[i]] == f {
				delete(e.flights.m, ckeys[i])
			}
		}
		e.flights.Unlock()
		for _, f := range leadF {
			close(f.done)
		}
		if p != nil {
			panic(p) // let the recovery middleware log it and answer Internal
		}
	}()
	rks, err := rowKeys(st, keys, lead)
	if err != nil {
		return "", err
	}
	return e.fetchStore(ctx, table, st, rks, func(j int, ent cacheEntry) {
		i := lead[j]
		leadF[j].entry = ent
		out[i] = ent
		if ent.found || e.negative {
			k := []byte(ckeys[i])
			if ev := e.cache.put(e.cache.hash(k), k, ent); ev > 0 {
				e.m.cacheEvictions.Add(float64(ev))
			}
		}
	})
}

// fetchStore reads keys from the store. When the answering version is
// st's, it calls set for every key with its (new, immutable) entry. It
// returns the answering version.
func (e *engine) fetchStore(ctx context.Context, table string, st *tableState, keys [][]row.Value, set func(j int, ent cacheEntry)) (string, error) {
	start := time.Now()
	res, err := e.store.MultiGet(ctx, table, keys)
	e.m.storeCall("multiget", start, err)
	if err != nil {
		return "", storeError(table, err)
	}
	if len(res) != len(keys) {
		return "", status.Errorf(codes.Internal, "table %q: the store answered %d keys with %d results", table, len(keys), len(res))
	}
	if len(res) == 0 {
		return st.info.Version, nil
	}
	ver := res[0].Version
	for _, r := range res[1:] {
		if r.Version != ver {
			return "", status.Errorf(codes.Internal, "table %q: the store mixed versions %q and %q in one MultiGet", table, ver, r.Version)
		}
	}
	if ver != st.info.Version {
		return ver, nil
	}
	for j, r := range res {
		ent, err := newEntry(st, r)
		if err != nil {
			return "", status.Errorf(codes.Internal, "table %q version %q: key %d: %v", table, ver, j, err)
		}
		set(j, ent)
	}
	return ver, nil
}

func newEntry(st *tableState, r coldstore.Result) (cacheEntry, error) {
	if !r.Found {
		return st.negEntry, nil
	}
	rb, err := appendValues(make([]byte, 0, 16+12*len(r.Row.Values)), st.colTypes, r.Row.Values)
	if err != nil {
		return cacheEntry{}, fmt.Errorf("cannot encode the row: %w", err)
	}
	enc := encodeResult(true, rb, st.info.Version)
	return cacheEntry{found: true, enc: enc, size: 48 + len(enc)}, nil
}

// storeError maps a store error to a gRPC status.
func storeError(table string, err error) error {
	if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
		return err
	}
	var ke *coldstore.KeyError
	var dl *coldstore.DataLossError
	switch {
	case errors.As(err, &dl):
		return status.Errorf(codes.DataLoss, "%v", strings.TrimPrefix(dl.Error(), "coldstore: "))
	case errors.Is(err, coldstore.ErrDataLoss):
		return status.Errorf(codes.DataLoss, "table %q: %v", table, err)
	case errors.Is(err, coldstore.ErrNoTable):
		return status.Errorf(codes.NotFound, "table %q has no live version: load it with `hotcold load` or check the name with ListTables", table)
	case errors.As(err, &ke):
		return invalidArg("key", "%v", err)
	case errors.Is(err, coldstore.ErrClosed):
		return status.Errorf(codes.Unavailable, "the cold store is closed (the sidecar is shutting down); retry on another sidecar")
	case isContextError(err):
		return ctxError(err)
	}
	return status.Errorf(codes.Unavailable, "cold store: table %q: %v", table, err)
}

func isContextError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	c := status.Code(err)
	return c == codes.Canceled || c == codes.DeadlineExceeded
}

func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
		return status.Error(codes.DeadlineExceeded, "deadline exceeded before the cold store answered")
	}
	return status.Error(codes.Canceled, "call canceled")
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
