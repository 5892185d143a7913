package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/internal/pebblelog"
)

// Key layout. Metadata lives under 0x00, rows under 0x01:
//
//	0x00 'n' <name>                       -> namespace id (uint32 BE)
//	0x00 'b' <ns id> <day>                -> bucket marker (empty)
//	0x00 'g' <ns id>                      -> uncovered-until (unix nanos, BE)
//	0x00 's'                              -> row/outbox sequence (uint64 BE)
//	0x00 'o' <topic> 0x00 <partition BE>  -> next offset to consume (int64 BE)
//	0x00 'x' <seq BE>                     -> outbox entry
//	0x01 <ns id> <day> <key> <seq BE>     -> row value
//
// Days are encoded order-preserving, so one bucket of one namespace is one
// contiguous key range and expiring it is a single DeleteRange.
const (
	metaPrefix = 0x00
	rowPrefix  = 0x01
)

var (
	seqKey       = []byte{metaPrefix, 's'}
	outboxPrefix = []byte{metaPrefix, 'x'}
)

// Options configure Open. The zero value is ready to use.
type Options struct {
	// Logger receives warnings about expiry held back by a lagging cold
	// store and Pebble's own messages. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the state metrics (hotcold_state_*). Several DBs
	// may share one Registerer: their gauges add up. Nil registers nothing.
	Registerer prometheus.Registerer
	// Zone is the time zone of the event-time day buckets. Nil means UTC.
	Zone *time.Location
	// CacheBytes is the size of Pebble's block cache. Pebble reserves the
	// memtables' memory in it, so it must exceed 3*MemTableBytes for blocks
	// to be cached at all. Zero means 64 MiB.
	CacheBytes int64
	// MemTableBytes is the size of one Pebble memtable. Zero means 8 MiB.
	MemTableBytes uint64
	// MirrorBytes is the memory budget of each namespace's in-memory
	// mirror: while a namespace's rows fit in it, every row is also kept in
	// a hash map (loaded on Open, updated by Put, Update and DropBucket), and
	// Lookup answers from memory without reaching Pebble; Pebble remains the
	// durable copy. A hot window is small by design, so it normally fits.
	// When the rows outgrow the budget the mirror is dropped (logged) and
	// lookups read Pebble until the DB is reopened. Zero means 64 MiB;
	// negative disables the mirror.
	MirrorBytes int64
	// NoSync skips the fsync of the write-ahead log on Commit: a machine
	// crash may then lose the last commits (a process crash does not). Zero
	// (false) syncs every commit.
	NoSync bool
	// ReadOnly opens existing state without writing to its directory (a
	// missing store is an error, not a new one); Commit then fails. For
	// reading a stopped job's offsets or rows without modifying its files.
	ReadOnly bool
	// FS is the filesystem the state lives on (Pebble's vfs). Nil means
	// the operating system's (vfs.Default). Tests pass an in-memory one
	// (vfs.NewCrashableMem) to crash the state at every sync point; the
	// checkpoint upload and download work on the operating system's files
	// only.
	FS vfs.FS
}

func (o *Options) validate() error {
	var errs []error
	if o.CacheBytes < 0 {
		errs = append(errs, fmt.Errorf("CacheBytes is %d, want >= 0", o.CacheBytes))
	}
	if o.CacheBytes != 0 && o.MemTableBytes != 0 && uint64(o.CacheBytes) <= 3*o.MemTableBytes {
		errs = append(errs, fmt.Errorf("CacheBytes %d must exceed 3*MemTableBytes (%d): Pebble reserves memtable memory in the block cache", o.CacheBytes, 3*o.MemTableBytes))
	}
	if len(errs) > 0 {
		return fmt.Errorf("state: invalid options: %w", errors.Join(errs...))
	}
	return nil
}

// TopicPartition names one source partition whose offset is kept in state.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// DB is the keyed state of one operator instance: namespaces of rows in
// event-time day buckets, the source offsets the state reflects, and an
// outbox of output records produced by the state transitions.
//
// # Concurrency
//
// A DB has one writer: Put, Update, Lookup, Expire, SetOffset, AppendOutbox,
// Commit and the other mutating or reading methods must be called from one
// goroutine at a time (the operator's). Offsets, DiskUsage, Checkpoint and
// the metrics are safe to call concurrently with it.
//
// Mutations accumulate in a pending batch that Lookup already sees; Commit
// writes the batch (state, offsets and outbox together) atomically and
// durably. Close discards uncommitted mutations.
type DB struct {
	pdb   *pebble.DB
	dir   string
	opts  Options
	log   *slog.Logger
	m     *metrics
	cache interface{ Unref() }

	batch     *pebble.Batch // indexed; pending mutations
	iter      *pebble.Iterator
	batchGen  uint64 // bumped on every mutation
	iterGen   uint64 // batchGen the iterator last saw
	pending   int
	seq       uint64
	seqCommit uint64
	outboxMax uint64 // last committed outbox seq, 0 = none
	outboxPen uint64 // highest pending outbox seq

	namespaces  map[string]*Namespace
	nextNS      uint32
	pendingOff  map[TopicPartition]int64
	pendingMeta map[string][]byte

	mu struct {
		sync.Mutex
		offsets map[TopicPartition]int64
		closed  bool
	}
	keyBuf []byte
}

// Open opens (creating if needed) the state in dir.
func Open(dir string, opts Options) (*DB, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", dir, err)
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = 64 << 20
	}
	if opts.MemTableBytes == 0 {
		opts.MemTableBytes = 8 << 20
	}
	if uint64(opts.CacheBytes) <= 3*opts.MemTableBytes {
		opts.MemTableBytes = uint64(opts.CacheBytes) / 4
	}
	if opts.MirrorBytes == 0 {
		opts.MirrorBytes = 64 << 20
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cache := pebble.NewCache(opts.CacheBytes)
	popts := storeOptions(log)
	popts.Cache = cache
	popts.MemTableSize = opts.MemTableBytes
	popts.ReadOnly = opts.ReadOnly
	if opts.FS != nil {
		popts.FS = opts.FS
	}
	if opts.ReadOnly {
		popts.ErrorIfNotExists = true
	}
	pdb, err := pebble.Open(dir, popts)
	if err != nil {
		cache.Unref()
		return nil, fmt.Errorf("state: open %s: %w", dir, err)
	}
	db := &DB{pdb: pdb, dir: dir, opts: opts, log: log, cache: cache,
		namespaces: map[string]*Namespace{}, pendingOff: map[TopicPartition]int64{}, pendingMeta: map[string][]byte{}}
	db.mu.offsets = map[TopicPartition]int64{}
	db.m = m
	if err := db.load(); err != nil {
		pdb.Close()
		cache.Unref()
		return nil, err
	}
	db.resetBatch()
	return db, nil
}

func (db *DB) load() error {
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{metaPrefix}, UpperBound: []byte{rowPrefix}})
	if err != nil {
		return fmt.Errorf("state: read metadata: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		switch k[1] {
		case 's':
			if len(v) == 8 {
				db.seq = binary.BigEndian.Uint64(v)
			}
		case 'n':
			if len(v) == 4 {
				id := binary.BigEndian.Uint32(v)
				db.nextNS = max(db.nextNS, id+1)
			}
		case 'o':
			rest := k[2:]
			i := bytes.IndexByte(rest, 0)
			if i < 0 || len(rest) != i+5 || len(v) != 8 {
				return fmt.Errorf("state: corrupt offset key %x", k)
			}
			tp := TopicPartition{Topic: string(rest[:i]), Partition: int32(binary.BigEndian.Uint32(rest[i+1:]))}
			db.mu.offsets[tp] = int64(binary.BigEndian.Uint64(v))
		case 'x':
			if len(k) == 10 {
				db.outboxMax = max(db.outboxMax, binary.BigEndian.Uint64(k[2:]))
			}
		}
	}
	db.seqCommit = db.seq
	return it.Error()
}

// resetBatch starts a new pending batch. It is indexed (so that Lookup
// can read uncommitted rows through Pebble) only while some namespace has
// no in-memory mirror; otherwise appending to a plain batch is cheaper.
func (db *DB) resetBatch() {
	db.iter = nil
	db.pending = 0
	for _, ns := range db.namespaces {
		if !ns.mirrorOn {
			db.batch = db.pdb.NewIndexedBatch()
			return
		}
	}
	db.batch = db.pdb.NewBatch()
}

// ensureIndexed turns the pending batch into an indexed one.
func (db *DB) ensureIndexed() error {
	if db.batch.Indexed() {
		return nil
	}
	nb := db.pdb.NewIndexedBatch()
	if err := nb.Apply(db.batch, nil); err != nil {
		return err
	}
	db.batch.Close()
	db.batch = nb
	db.iter = nil
	return nil
}

// Dir returns the directory of the state.
func (db *DB) Dir() string { return db.dir }

// Zone returns the time zone of the day buckets.
func (db *DB) Zone() *time.Location {
	if db.opts.Zone == nil {
		return time.UTC
	}
	return db.opts.Zone
}

func (db *DB) mutated() { db.batchGen++; db.pending++ }

func (db *DB) nextSeq() uint64 { db.seq++; return db.seq }

// iterator returns an iterator over committed state plus the pending batch,
// refreshed to see every mutation so far.
func (db *DB) iterator() (*pebble.Iterator, error) {
	if err := db.ensureIndexed(); err != nil {
		return nil, err
	}
	if db.iter == nil {
		it, err := db.batch.NewIter(&pebble.IterOptions{LowerBound: []byte{rowPrefix}, UpperBound: []byte{rowPrefix + 1}})
		if err != nil {
			return nil, err
		}
		db.iter = it
		db.iterGen = db.batchGen
	} else if db.iterGen != db.batchGen {
		db.iter.SetOptions(&pebble.IterOptions{LowerBound: []byte{rowPrefix}, UpperBound: []byte{rowPrefix + 1}})
		db.iterGen = db.batchGen
	}
	return db.iter, nil
}

// Namespace returns the namespace called name (e.g. "orders_refunds/left"),
// creating it on first use. ret says how its buckets expire. The id of a new
// namespace is written with the next Commit.
func (db *DB) Namespace(name string, ret Retention) (*Namespace, error) {
	if name == "" {
		return nil, errors.New("state: namespace name is empty")
	}
	if err := ret.validate(); err != nil {
		return nil, fmt.Errorf("state: namespace %q: %w", name, err)
	}
	if ns, ok := db.namespaces[name]; ok {
		ns.ret = ret.withDefaults()
		return ns, nil
	}
	nk := append([]byte{metaPrefix, 'n'}, name...)
	var id uint32
	v, closer, err := db.pdb.Get(nk)
	switch {
	case err == nil:
		if len(v) != 4 {
			closer.Close()
			return nil, fmt.Errorf("state: corrupt namespace id for %q", name)
		}
		id = binary.BigEndian.Uint32(v)
		closer.Close()
	case errors.Is(err, pebble.ErrNotFound):
		id = db.nextNS
		db.nextNS++
		if err := db.batch.Set(nk, binary.BigEndian.AppendUint32(nil, id), nil); err != nil {
			return nil, err
		}
		db.mutated()
	default:
		return nil, fmt.Errorf("state: namespace %q: %w", name, err)
	}
	ns := &Namespace{db: db, name: name, id: id, ret: ret.withDefaults(), buckets: map[Day]struct{}{}}
	ns.prefix = binary.BigEndian.AppendUint32([]byte{rowPrefix}, id)
	if err := ns.load(); err != nil {
		return nil, err
	}
	db.namespaces[name] = ns
	if !ns.mirrorOn {
		if err := db.ensureIndexed(); err != nil {
			return nil, err
		}
	}
	ns.initMetrics()
	return ns, nil
}

// SetOffset records that the state now reflects partition tp up to (not
// including) offset next. It is written with the next Commit.
func (db *DB) SetOffset(topic string, partition int32, next int64) {
	db.pendingOff[TopicPartition{topic, partition}] = next
}

// PendingOffset returns the next-offset of tp as of the pending batch (the
// committed one when the batch has not set it).
func (db *DB) PendingOffset(tp TopicPartition) (int64, bool) {
	if off, ok := db.pendingOff[tp]; ok {
		return off, true
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	off, ok := db.mu.offsets[tp]
	return off, ok
}

// Offsets returns the committed next-offset of every source partition (a
// copy). After Open it is where consumption resumes.
func (db *DB) Offsets() map[TopicPartition]int64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	return maps.Clone(db.mu.offsets)
}

// AppendOutbox adds one output record to the outbox. It is written with the
// next Commit, atomically with the state transition that produced it.
func (db *DB) AppendOutbox(v []byte) error {
	s := db.nextSeq()
	k := binary.BigEndian.AppendUint64(append([]byte(nil), outboxPrefix...), s)
	if err := db.batch.Set(k, v, nil); err != nil {
		return err
	}
	db.outboxPen = s
	db.mutated()
	return nil
}

// Outbox calls fn with every committed outbox entry in append order. The
// slice passed to fn is valid only during the call.
func (db *DB) Outbox(fn func(v []byte) error) error {
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: outboxPrefix, UpperBound: []byte{metaPrefix, 'x' + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

// ClearOutbox deletes, with the next Commit, every outbox entry committed so
// far (call it once they have been delivered).
func (db *DB) ClearOutbox() error {
	if db.outboxMax == 0 {
		return nil
	}
	end := binary.BigEndian.AppendUint64(append([]byte(nil), outboxPrefix...), db.outboxMax+1)
	if err := db.batch.DeleteRange(outboxPrefix, end, nil); err != nil {
		return err
	}
	db.outboxMax = 0
	db.mutated()
	return nil
}

// Pending returns the number of uncommitted mutations.
func (db *DB) Pending() int { return db.pending }

// Commit writes every pending mutation, the offsets given to SetOffset and
// the outbox entries in one atomic, durable (unless Options.NoSync) batch.
func (db *DB) Commit() error {
	if db.seq != db.seqCommit {
		if err := db.batch.Set(seqKey, binary.BigEndian.AppendUint64(nil, db.seq), nil); err != nil {
			return err
		}
	}
	for tp, off := range db.pendingOff {
		k := append([]byte{metaPrefix, 'o'}, tp.Topic...)
		k = append(k, 0)
		k = binary.BigEndian.AppendUint32(k, uint32(tp.Partition))
		if err := db.batch.Set(k, binary.BigEndian.AppendUint64(nil, uint64(off)), nil); err != nil {
			return err
		}
	}
	if db.iter != nil {
		if err := db.iter.Close(); err != nil {
			return fmt.Errorf("state: commit: %w", err)
		}
		db.iter = nil
	}
	wo := pebble.Sync
	if db.opts.NoSync {
		wo = pebble.NoSync
	}
	start := time.Now()
	if err := db.batch.Commit(wo); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	db.m.commitSeconds.Observe(time.Since(start).Seconds())
	db.batch.Close()
	db.seqCommit = db.seq
	if db.outboxPen > db.outboxMax {
		db.outboxMax = db.outboxPen
	}
	db.outboxPen = 0
	db.mu.Lock()
	for tp, off := range db.pendingOff {
		db.mu.offsets[tp] = off
	}
	db.mu.Unlock()
	clear(db.pendingOff)
	clear(db.pendingMeta)
	for _, ns := range db.namespaces {
		ns.committed()
	}
	db.resetBatch()
	return nil
}

// DiskUsage returns the bytes the state occupies on disk (sstables, WAL,
// manifests).
func (db *DB) DiskUsage() uint64 { return db.pdb.Metrics().DiskSpaceUsage() }

// TableBytes returns the bytes of the live sstables: the committed state
// itself, without write-ahead logs and manifests (rows still in the
// memtable count after Flush).
func (db *DB) TableBytes() uint64 {
	var n int64
	m := db.pdb.Metrics()
	for _, l := range m.Levels {
		n += l.TablesSize
	}
	return uint64(n)
}

// Flush writes the memtable to sstables, so that DiskUsage and the
// namespaces' Bytes reflect all committed state (used by benchmarks).
func (db *DB) Flush() error { return db.pdb.Flush() }

// Compact compacts all committed state, so that dropped buckets release
// their disk space now rather than at Pebble's leisure.
func (db *DB) Compact(ctx context.Context) error {
	return db.pdb.Compact(ctx, []byte{metaPrefix}, []byte{rowPrefix + 1}, true)
}

// Close discards uncommitted mutations and closes the state.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.mu.closed {
		db.mu.Unlock()
		return nil
	}
	db.mu.closed = true
	db.mu.Unlock()
	var errs []error
	if db.iter != nil {
		errs = append(errs, db.iter.Close())
	}
	errs = append(errs, db.batch.Close())
	for _, ns := range db.namespaces {
		ns.closeMetrics()
	}
	errs = append(errs, db.pdb.Close())
	db.cache.Unref()
	return errors.Join(errs...)
}

// Namespaces returns the namespaces opened so far, sorted by name.
func (db *DB) Namespaces() []*Namespace {
	out := slices.Collect(maps.Values(db.namespaces))
	slices.SortFunc(out, func(a, b *Namespace) int { return cmpString(a.name, b.name) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// storeOptions returns the Pebble options that fix the on-disk format of
// a state store (comparer, filters, logger). Open and Rewrite both use it,
// so a store Rewrite builds opens with Open and vice versa.
func storeOptions(log *slog.Logger) *pebble.Options {
	return &pebble.Options{Logger: pebblelog.New(log)}
}

func metaKey(name string) []byte { return append([]byte{metaPrefix, 'm'}, name...) }

// SetMeta stores a small named value (e.g. an operator's watermark) with
// the next Commit.
func (db *DB) SetMeta(name string, value []byte) error {
	if err := db.batch.Set(metaKey(name), value, nil); err != nil {
		return err
	}
	db.mutated()
	db.pendingMeta[name] = bytes.Clone(value)
	return nil
}

// Meta returns the named value (pending or committed) and whether it exists.
// The returned slice is a copy.
func (db *DB) Meta(name string) ([]byte, bool, error) {
	if v, ok := db.pendingMeta[name]; ok {
		return bytes.Clone(v), true, nil
	}
	v, closer, err := db.pdb.Get(metaKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, true, nil
}
