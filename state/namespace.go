package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
)

// Namespace is the rows of one operator side (e.g. "orders_refunds/left"),
// kept in event-time day buckets. Get one with DB.Namespace; it shares its
// DB's single-writer contract.
type Namespace struct {
	db      *DB
	name    string
	id      uint32
	prefix  []byte // rowPrefix + id
	ret     Retention
	buckets map[Day]struct{}
	sorted  []Day // live buckets ascending

	uncoveredUntil    time.Time // end of the newest bucket dropped before cold covered it
	uncoveredDirty    bool
	laggingLogged     Day
	bucketCount       atomic.Int64
	bytes             atomic.Int64
	reportedBuckets   int64
	reportedBytes     int64
	reportedLagging   int64
	lagging           int64
	lastBytesEstimate time.Time

	// mirror holds every row of the namespace by join key while it fits
	// in Options.MirrorBytes (mirrorOn); see there.
	mirror      map[string]*mirrorEntry
	mirrorOn    bool
	mirrorBytes int64
	putBuf      []byte
}

type mirrorEntry struct {
	rows []mirrorRow
	one  [1]mirrorRow // backing of rows for the common one-row key
}

type mirrorRow struct {
	day        Day
	key, value []byte
}

// Entry is one stored row found by Lookup. Key and Value are valid only
// during the callback.
type Entry struct {
	// Day is the bucket the row is stored in.
	Day Day
	// Key is the full state key of the row; pass it to Update to rewrite
	// the value in place.
	Key []byte
	// Value is the stored value.
	Value []byte
}

func (ns *Namespace) load() error {
	lo := binary.BigEndian.AppendUint32([]byte{metaPrefix, 'b'}, ns.id)
	hi := binary.BigEndian.AppendUint32([]byte{metaPrefix, 'b'}, ns.id+1)
	it, err := ns.db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if len(it.Key()) == len(lo)+4 {
			ns.buckets[decodeDay(it.Key()[len(lo):])] = struct{}{}
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("state: namespace %q: read buckets: %w", ns.name, err)
	}
	v, closer, err := ns.db.pdb.Get(ns.gapKey())
	if err == nil {
		if len(v) == 8 {
			ns.uncoveredUntil = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
		}
		closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	ns.resort()
	return ns.loadMirror()
}

func (ns *Namespace) gapKey() []byte {
	return binary.BigEndian.AppendUint32([]byte{metaPrefix, 'g'}, ns.id)
}

func (ns *Namespace) bucketKey(d Day) []byte {
	k := binary.BigEndian.AppendUint32([]byte{metaPrefix, 'b'}, ns.id)
	return appendDay(k, d)
}

func (ns *Namespace) resort() {
	ns.sorted = ns.sorted[:0]
	for d := range ns.buckets {
		ns.sorted = append(ns.sorted, d)
	}
	slices.Sort(ns.sorted)
	ns.bucketCount.Store(int64(len(ns.sorted)))
}

// Name returns the namespace name.
func (ns *Namespace) Name() string { return ns.name }

// Retention returns the expiry rules of the namespace (with defaults).
func (ns *Namespace) Retention() Retention { return ns.ret }

// Buckets returns the live day buckets in ascending order (a copy).
func (ns *Namespace) Buckets() []Day { return slices.Clone(ns.sorted) }

// BucketCount returns the number of live buckets. Safe for concurrent use.
func (ns *Namespace) BucketCount() int { return int(ns.bucketCount.Load()) }

// UncoveredUntil returns the end of the newest bucket that was dropped
// (over the hard cap, policy DropOverCap) before the cold store covered it;
// zero if none. A miss on a key whose rows may be older than this may be a
// missed match while the cold store's covers-until is before it.
func (ns *Namespace) UncoveredUntil() time.Time { return ns.uncoveredUntil }

// Put stores value under key (the memcomparable join key) in bucket day and
// returns the row's full state key, valid until the next Put (copy it to
// keep it). Several rows may share a key: each gets its own sequence number.
func (ns *Namespace) Put(day Day, key, value []byte) ([]byte, error) {
	db := ns.db
	if _, ok := ns.buckets[day]; !ok {
		if err := db.batch.Set(ns.bucketKey(day), nil, nil); err != nil {
			return nil, err
		}
		ns.buckets[day] = struct{}{}
		ns.resort()
	}
	k := ns.putBuf[:0]
	k = append(k, ns.prefix...)
	k = appendDay(k, day)
	k = append(k, key...)
	k = binary.BigEndian.AppendUint64(k, db.nextSeq())
	if err := db.batch.Set(k, value, nil); err != nil {
		return nil, err
	}
	db.mutated()
	ns.mirrorPut(day, key, k, value)
	ns.putBuf = k
	return k, nil
}

// Update rewrites the value of the row stored under stateKey (from Put or
// Entry.Key; the slice may be reused by the caller after the call).
func (ns *Namespace) Update(stateKey, value []byte) error {
	if !bytes.HasPrefix(stateKey, ns.prefix) {
		return fmt.Errorf("state: namespace %q: key %x is not in this namespace", ns.name, stateKey)
	}
	if err := ns.db.batch.Set(stateKey, value, nil); err != nil {
		return err
	}
	ns.db.mutated()
	ns.mirrorUpdate(stateKey, value)
	return nil
}

// Lookup calls fn for every stored row with the given join key, bucket by
// bucket in ascending day order and in insertion order within a bucket.
// It sees uncommitted mutations. fn must not mutate the DB; returning an
// error stops the lookup and returns it.
func (ns *Namespace) Lookup(key []byte, fn func(Entry) error) error {
	if len(ns.sorted) == 0 {
		return nil
	}
	if ns.mirrorOn {
		e := ns.mirror[string(key)]
		if e == nil {
			return nil
		}
		for _, r := range e.rows {
			if err := fn(Entry{Day: r.day, Key: r.key, Value: r.value}); err != nil {
				return err
			}
		}
		return nil
	}
	return ns.lookupPebble(key, fn)
}

// rowCost is the memory a mirrored row takes, roughly.
func rowCost(key, value []byte) int64 { return int64(len(key)+len(value)) + 64 }

func (ns *Namespace) mirrorPut(day Day, joinKey, stateKey, value []byte) {
	if !ns.mirrorOn {
		return
	}
	ns.mirrorBytes += rowCost(stateKey, value)
	if ns.mirrorBytes > ns.db.opts.MirrorBytes {
		ns.dropMirror()
		return
	}
	buf := make([]byte, len(stateKey)+len(value))
	copy(buf, stateKey)
	copy(buf[len(stateKey):], value)
	r := mirrorRow{day: day, key: buf[:len(stateKey):len(stateKey)], value: buf[len(stateKey):]}
	e := ns.mirror[string(joinKey)]
	if e == nil {
		e = &mirrorEntry{}
		e.rows = e.one[:0:1]
		// The map key shares the row's bytes: the join key part of a state
		// key is never written again (mirrorUpdate rewrites values only),
		// and the string is not used after the row's entry is deleted.
		off := len(ns.prefix) + 4
		ns.mirror[unsafe.String(&buf[off], len(joinKey))] = e
		ns.mirrorBytes += 48
	}
	i := len(e.rows)
	for i > 0 && e.rows[i-1].day > day {
		i--
	}
	e.rows = slices.Insert(e.rows, i, r)
}

func (ns *Namespace) mirrorUpdate(stateKey, value []byte) {
	if !ns.mirrorOn || len(stateKey) < len(ns.prefix)+4+8 {
		return
	}
	e := ns.mirror[string(stateKey[len(ns.prefix)+4:len(stateKey)-8])]
	if e == nil {
		return
	}
	for i := range e.rows {
		if bytes.Equal(e.rows[i].key, stateKey) {
			if len(e.rows[i].value) == len(value) {
				copy(e.rows[i].value, value)
			} else {
				e.rows[i].value = bytes.Clone(value)
			}
		}
	}
}

func (ns *Namespace) mirrorDropDay(day Day) {
	if !ns.mirrorOn {
		return
	}
	for k, e := range ns.mirror {
		rows := e.rows[:0]
		for _, r := range e.rows {
			if r.day == day {
				ns.mirrorBytes -= rowCost(r.key, r.value)
				continue
			}
			rows = append(rows, r)
		}
		clear(e.rows[len(rows):])
		e.rows = rows
		if len(rows) == 0 {
			delete(ns.mirror, k)
			ns.mirrorBytes -= 48
		}
	}
}

func (ns *Namespace) dropMirror() {
	ns.db.log.Info("state: namespace outgrew its in-memory mirror; lookups read Pebble until reopened",
		"namespace", ns.name, "mirror_bytes", ns.db.opts.MirrorBytes)
	ns.mirrorOn, ns.mirror, ns.mirrorBytes = false, nil, 0
	// Lookups now read the pending batch through Pebble.
	if err := ns.db.ensureIndexed(); err != nil {
		ns.db.log.Error("state: index the pending batch", "err", err)
	}
}

// loadMirror reads every committed row into the mirror, unless the
// namespace is larger than the budget.
func (ns *Namespace) loadMirror() error {
	if ns.db.opts.MirrorBytes < 0 {
		return nil
	}
	ns.mirror, ns.mirrorOn, ns.mirrorBytes = map[string]*mirrorEntry{}, true, 0
	hi := binary.BigEndian.AppendUint32([]byte{rowPrefix}, ns.id+1)
	it, err := ns.db.pdb.NewIter(&pebble.IterOptions{LowerBound: ns.prefix, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid() && ns.mirrorOn; it.Next() {
		k := it.Key()
		if len(k) < len(ns.prefix)+4+8 {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		ns.mirrorPut(decodeDay(k[len(ns.prefix):]), k[len(ns.prefix)+4:len(k)-8], k, v)
	}
	return it.Error()
}

func (ns *Namespace) lookupPebble(key []byte, fn func(Entry) error) error {
	it, err := ns.db.iterator()
	if err != nil {
		return err
	}
	seek := ns.db.keyBuf[:0]
	for _, d := range ns.sorted {
		seek = append(seek[:0], ns.prefix...)
		seek = appendDay(seek, d)
		seek = append(seek, key...)
		for ok := it.SeekGE(seek); ok; ok = it.Next() {
			k := it.Key()
			if len(k) != len(seek)+8 || !bytes.HasPrefix(k, seek) {
				break
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			if err := fn(Entry{Day: d, Key: k, Value: v}); err != nil {
				ns.db.keyBuf = seek
				return err
			}
		}
		if err := it.Error(); err != nil {
			return err
		}
	}
	ns.db.keyBuf = seek
	return nil
}

// DropBucket deletes every row of bucket day with one range deletion (with
// the next Commit; Lookup stops seeing them at once).
func (ns *Namespace) DropBucket(day Day) error {
	if _, ok := ns.buckets[day]; !ok {
		return nil
	}
	lo := appendDay(append([]byte(nil), ns.prefix...), day)
	hi := appendDay(append([]byte(nil), ns.prefix...), day+1)
	if err := ns.db.batch.DeleteRange(lo, hi, nil); err != nil {
		return err
	}
	if err := ns.db.batch.Delete(ns.bucketKey(day), nil); err != nil {
		return err
	}
	ns.db.mutated()
	ns.mirrorDropDay(day)
	delete(ns.buckets, day)
	ns.resort()
	return nil
}

// Bytes returns the estimated on-disk bytes of the namespace's committed
// rows (sstables; rows still in the memtable count after a flush). Safe for
// concurrent use; the value is refreshed by Expire and Commit.
func (ns *Namespace) Bytes() int64 { return ns.bytes.Load() }

func (ns *Namespace) refreshBytes() {
	hi := binary.BigEndian.AppendUint32([]byte{rowPrefix}, ns.id+1)
	n, err := ns.db.pdb.EstimateDiskUsage(ns.prefix, hi)
	if err == nil {
		ns.bytes.Store(int64(n))
	}
	ns.lastBytesEstimate = time.Now()
}

func (ns *Namespace) committed() {
	if ns.uncoveredDirty {
		ns.uncoveredDirty = false
	}
	if time.Since(ns.lastBytesEstimate) > time.Second {
		ns.refreshBytes()
	}
	ns.reportMetrics()
}

// RefreshBytes recomputes Bytes now.
func (ns *Namespace) RefreshBytes() { ns.refreshBytes(); ns.reportMetrics() }
