package coldstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/hotcold/hotcold/internal/pebblelog"
	"github.com/hotcold/hotcold/row"
)

// PebbleOptions configures a Pebble store. The zero value is the defaults.
type PebbleOptions struct {
	// MustExist makes a dir that holds no cold store an ErrNoStore error
	// instead of creating the store there. Default false (create); Open
	// sets it for store URLs unless Options.Create is set.
	MustExist bool
	// CacheSize is the size of the block cache in bytes. Lookups of a
	// version that fits in the cache do not touch the disk. Default 256 MiB.
	CacheSize int64
	// KeepVersions is how many versions of each table are kept (the live
	// one and the most recently loaded others) for rollback; older ones
	// are dropped with range deletions when a load publishes. Default 3.
	KeepVersions int
	// LoadWorkers is the number of goroutines writing sstables during a
	// load. Default GOMAXPROCS, at least 2 and at most 8.
	LoadWorkers int
	// SSTableSize is the target size in bytes of the sstables a load
	// writes and ingests. Default 32 MiB.
	SSTableSize int64
	// PinMemory bounds the memory of pinned versions: the live version of
	// a table that is read, if it fits in what is left of PinMemory, is
	// copied into memory with a hash index, and lookups then skip Pebble
	// (two memory reads per key instead of about ten). A new version of a
	// pinned table is pinned as soon as it is published. Default 256 MiB;
	// -1 disables pinning (every lookup goes through the block cache).
	PinMemory int64
	// Compression is how loads compress sstable blocks: "fastest" (MinLZ,
	// the default), "snappy", "zstd" (smaller files, slower loads) or
	// "none" (fastest loads, largest files). Lookups are unaffected once a
	// version is pinned or its blocks are in the block cache, which holds
	// them uncompressed.
	Compression string
	// Logger receives the store's and Pebble's logs (Pebble's
	// informational messages at Debug level). Default: discard.
	Logger *slog.Logger
	// Registerer registers the store's metrics (hotcold_coldstore_*).
	// Default nil: metrics are kept but not registered.
	Registerer prometheus.Registerer
	// FS is the filesystem the store and its loads' sstables live on
	// (Pebble's vfs). Default nil: the operating system's (vfs.Default).
	// Tests pass an in-memory one (vfs.NewCrashableMem) to crash the
	// store at every sync point. With another FS than the default, a
	// load's sort spills go to LoadSpec.TempDir or the system's temporary
	// directory, on the operating system's files.
	FS vfs.FS
}

func (o *PebbleOptions) withDefaults() (PebbleOptions, error) {
	var c PebbleOptions
	if o != nil {
		c = *o
	}
	if c.FS == nil {
		c.FS = vfs.Default
	}
	var errs []error
	if c.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("CacheSize is %d, want >= 0", c.CacheSize))
	}
	if c.KeepVersions < 0 {
		errs = append(errs, fmt.Errorf("KeepVersions is %d, want >= 0", c.KeepVersions))
	}
	if c.LoadWorkers < 0 {
		errs = append(errs, fmt.Errorf("LoadWorkers is %d, want >= 0", c.LoadWorkers))
	}
	if c.PinMemory < -1 {
		errs = append(errs, fmt.Errorf("PinMemory is %d, want -1 (off), 0 (default) or a size in bytes", c.PinMemory))
	}
	if _, err := compressionProfile(c.Compression); err != nil {
		errs = append(errs, err)
	}
	if c.SSTableSize < 0 || c.SSTableSize > 1<<31 {
		errs = append(errs, fmt.Errorf("SSTableSize is %d, want 0 (default) to 2 GiB", c.SSTableSize))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("coldstore: invalid PebbleOptions: %w", errors.Join(errs...))
	}
	if c.CacheSize == 0 {
		c.CacheSize = 256 << 20
	}
	switch c.PinMemory {
	case 0:
		c.PinMemory = 256 << 20
	case -1:
		c.PinMemory = 0
	}
	if c.KeepVersions == 0 {
		c.KeepVersions = 3
	}
	if c.LoadWorkers == 0 {
		c.LoadWorkers = defaultWorkers()
	}
	if c.SSTableSize == 0 {
		c.SSTableSize = 32 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Pebble is the embedded cold store: one Pebble database holding many
// tables, each with a live version and a few retained older ones.
//
// Layout (every table and version name is free of '/'):
//
//	c/format                      marker of a hotcold cold store
//	c/next-id                     next version id
//	m/<table>                     table metadata: the live pointer and the retained versions (JSON)
//	s/<table>/<id>                staging marker of a load in progress
//	d/<table>/<id><memcomparable key> -> row value encoding
//
// A load writes sorted sstables outside the database, ingests them under a
// fresh version id and then publishes by rewriting m/<table> in one synced
// batch, which also deletes the staging marker and range-deletes versions
// beyond KeepVersions. A crash before publishing leaves a staging marker;
// OpenPebble removes such versions.
//
// Pebble is safe for concurrent use. Reads answer from the version that
// was live when they started; publishing waits for reads in flight.
// Only one process can open a directory at a time.
type Pebble struct {
	dir        string
	opts       PebbleOptions
	db         *pebble.DB
	writerOpts sstable.WriterOptions
	log        *slog.Logger
	m          *metrics

	ctx    context.Context // canceled by Close: stops loads and pin builds
	cancel context.CancelFunc
	loads  sync.WaitGroup
	pins   sync.WaitGroup // pin builds in progress

	pinMu   sync.Mutex // guards pinUsed and every table's pin reservation
	pinUsed int64

	loadMu sync.Mutex    // serializes id allocation, publish and rollback
	gen    atomic.Uint64 // bumped (under mu) by every publish and rollback
	iters  iterPool
	mu     struct {
		sync.RWMutex
		closed bool
		tables map[string]*pebbleTable
	}
}

// pebbleTable is the immutable read state of a table's live version.
type pebbleTable struct {
	gen     uint64 // store generation at which this state was published
	meta    *tableMeta
	live    *versionMeta
	info    TableInfo
	keys    keyCodec
	prefix  []byte
	lookups prometheus.Counter
	misses  prometheus.Counter

	pin        atomic.Pointer[pinned] // set once the version is pinned
	pinStarted atomic.Bool            // a pin build was started (or refused)
	pinDone    chan struct{}          // closed when the pin build ended, either way
	pinned     int64                  // memory reserved for the pin (under Pebble.pinMu)
	retired    bool                   // no longer live (under Pebble.pinMu)

	lost atomic.Pointer[DataLossError] // set while the version is found incomplete (Verify, read errors)
}

const (
	keyFormat     = "c/format"
	keyNextID     = "c/next-id"
	formatValue   = "hotcold-coldstore/1"
	loadTmpDir    = ".hotcold-load"
	pebbleBackend = "pebble"
)

// isLockError reports whether pebble.Open failed on the directory's lock:
// EAGAIN/EACCES from another process's fcntl lock, or Pebble's own error
// when this process holds it.
func isLockError(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(err.Error(), "lock held by current process")
}

// compressionProfile maps PebbleOptions.Compression to Pebble's profile.
func compressionProfile(name string) (*sstable.CompressionProfile, error) {
	switch strings.ToLower(name) {
	case "", "fastest", "minlz":
		return sstable.FastestCompression, nil
	case "snappy":
		return sstable.SnappyCompression, nil
	case "zstd":
		return sstable.ZstdCompression, nil
	case "none":
		return sstable.NoCompression, nil
	}
	return nil, fmt.Errorf("Compression is %q, want fastest, snappy, zstd or none", name)
}

func metaKey(table string) []byte { return []byte("m/" + table) }

func stagingKey(table string, id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("s/"+table+"/"), id)
}

func dataPrefix(table string, id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("d/"+table+"/"), id)
}

// OpenPebble opens (creating if needed) the cold store in dir. Versions
// left unpublished by a crashed load are removed. The caller must Close
// the store.
func OpenPebble(dir string, opts *PebbleOptions) (*Pebble, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer, pebbleBackend)
	if err != nil {
		return nil, fmt.Errorf("coldstore: open Pebble store %s: %w", dir, err)
	}
	if !o.MustExist {
		if err := o.FS.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("coldstore: create %s: %w", dir, err)
		}
	} else if err := holdsPebble(o.FS, dir); err != nil {
		return nil, err
	}
	cache := pebble.NewCache(o.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:              cache,
		FormatMajorVersion: pebble.FormatNewest,
		MemTableSize:       64 << 20,
		Logger:             pebblelog.New(o.Logger),
		FS:                 o.FS,
	}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.FastestCompression }
		// Cold data is bulk-loaded and read by point lookups from the
		// block cache, where a lookup's cost is its memory misses: 32 KiB
		// data blocks (Pebble's default is 4 KiB) mean fewer blocks and a
		// smaller index to search, and a single-level index (one index
		// block per sstable) spares a second block-cache lookup.
		po.Levels[i].BlockSize = 32 << 10
		po.Levels[i].IndexBlockSize = 512 << 10
	}
	po.ErrorIfNotExists = o.MustExist
	po.EnsureDefaults()
	db, err := pebble.Open(dir, po)
	if err != nil {
		if isLockError(err) {
			return nil, fmt.Errorf("coldstore: open Pebble store %s: %w: another process (e.g. hotcold serve) has it open (%w)", dir, ErrLocked, err)
		}
		if isMissingData(err) {
			return nil, fmt.Errorf("coldstore: open Pebble store %s: %w: its data files are missing or damaged (%w): restore the directory from a backup, or move it aside and reload every table into a new store (hotcold load)", dir, ErrDataLoss, err)
		}
		return nil, fmt.Errorf("coldstore: open Pebble store %s: %w", dir, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pebble{dir: dir, opts: o, db: db, log: o.Logger, m: m, ctx: ctx, cancel: cancel}
	p.writerOpts = po.MakeWriterOptions(0, db.TableFormat())
	p.writerOpts.Compression, _ = compressionProfile(o.Compression)
	p.mu.tables = map[string]*pebbleTable{}
	if err := p.init(); err != nil {
		cancel()
		_ = db.Close()
		return nil, err
	}
	for _, t := range p.mu.tables {
		if err := p.verify(t); err != nil {
			p.log.Error("coldstore: a live version is incomplete; its lookups fail until it is reloaded or rolled back", "err", err)
		}
	}
	return p, nil
}

// holdsPebble returns ErrNoStore unless dir exists and holds a Pebble
// database (its OPTIONS or MANIFEST files).
func holdsPebble(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w at %s: the directory does not exist (check the path; create the store with `hotcold load --store pebble:%s ...` or `hotcold load sample`)", ErrNoStore, dir, dir)
	}
	if err != nil {
		return fmt.Errorf("coldstore: open %s: %w", dir, err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "MANIFEST-") || strings.HasPrefix(n, "OPTIONS-") {
			return nil
		}
	}
	return fmt.Errorf("%w at %s: the directory holds no cold store (check the path; create the store with `hotcold load --store pebble:%s ...` or `hotcold load sample`)", ErrNoStore, dir, dir)
}

// init checks the format marker, removes unpublished versions and reads
// the table metadata.
func (p *Pebble) init() error {
	v, closer, err := p.db.Get([]byte(keyFormat))
	switch {
	case err == nil:
		ok := string(v) == formatValue
		got := string(v)
		closer.Close()
		if !ok {
			return fmt.Errorf("coldstore: %s holds cold store format %q, this hotcold reads %q: upgrade hotcold", p.dir, got, formatValue)
		}
	case errors.Is(err, pebble.ErrNotFound):
		it, err := p.db.NewIter(nil)
		if err != nil {
			return err
		}
		empty := !it.First()
		if err := it.Close(); err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("coldstore: %s is a Pebble database but not a hotcold cold store: point --store at an empty or new directory", p.dir)
		}
		if p.opts.MustExist {
			return fmt.Errorf("%w at %s: an empty Pebble database without the cold store marker (create the store with `hotcold load --store pebble:%s ...`)", ErrNoStore, p.dir, p.dir)
		}
		if err := p.db.Set([]byte(keyFormat), []byte(formatValue), pebble.Sync); err != nil {
			return err
		}
	default:
		return err
	}

	// unpublished loads
	b := p.db.NewBatch()
	defer b.Close()
	n := 0
	err = p.scan([]byte("s/"), func(k, v []byte) error {
		rest := k[2:]
		i := bytes.LastIndexByte(rest, '/')
		if i < 0 || len(rest)-i-1 != 8 {
			return fmt.Errorf("coldstore: %s: malformed staging key %q", p.dir, k)
		}
		table, id := string(rest[:i]), binary.BigEndian.Uint64(rest[i+1:])
		pre := dataPrefix(table, id)
		if err := b.DeleteRange(pre, row.PrefixEnd(pre), nil); err != nil {
			return err
		}
		if err := b.Delete(k, nil); err != nil {
			return err
		}
		p.log.Warn("coldstore: removing a load that was not published (crashed or failed)", "table", table, "id", id, "staged", string(v))
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n > 0 {
		if err := b.Commit(pebble.Sync); err != nil {
			return fmt.Errorf("coldstore: remove unpublished loads: %w", err)
		}
	}
	if err := p.opts.FS.RemoveAll(filepath.Join(p.dir, loadTmpDir)); err != nil {
		return fmt.Errorf("coldstore: remove load leftovers: %w", err)
	}

	return p.scan([]byte("m/"), func(k, v []byte) error {
		table := string(k[2:])
		m, err := decodeTableMeta(table, v)
		if err != nil {
			return fmt.Errorf("%w (in %s)", err, p.dir)
		}
		p.mu.tables[table] = p.newTable(m)
		return nil
	})
}

func (p *Pebble) scan(prefix []byte, f func(k, v []byte) error) error {
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: row.PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return err
		}
		if err := f(slices.Clone(it.Key()), slices.Clone(v)); err != nil {
			_ = it.Close()
			return err
		}
	}
	return it.Close()
}

func (p *Pebble) newTable(m *tableMeta) *pebbleTable {
	live := m.live()
	t := &pebbleTable{meta: m, live: live, info: live.info(m.Table), keys: newKeyCodec(live.schema), prefix: dataPrefix(m.Table, live.ID), pinDone: make(chan struct{})}
	t.lookups, t.misses = p.m.tableCounters(m.Table)
	return t
}

// Dir returns the store's directory.
func (p *Pebble) Dir() string { return p.dir }

var keyBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 128); return &b }}

// readTable returns the live state of table; the caller holds p.mu.RLock.
func (p *Pebble) readTable(table string) (*pebbleTable, error) {
	if p.mu.closed {
		return nil, ErrClosed
	}
	t := p.mu.tables[table]
	if t == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoTable, table)
	}
	return t, nil
}

// Get implements Store.
func (p *Pebble) Get(ctx context.Context, table string, key []row.Value) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	t, err := p.readTable(table)
	if err != nil {
		return Result{}, err
	}
	if l := t.lost.Load(); l != nil {
		return Result{}, l
	}
	bp := keyBufPool.Get().(*[]byte)
	defer keyBufPool.Put(bp)
	k, err := t.keys.append(append((*bp)[:0], t.prefix...), table, 0, key)
	*bp = k
	if err != nil {
		return Result{}, err
	}
	res := Result{Version: t.live.Version}
	if pv := t.pin.Load(); pv != nil {
		if v := pv.get(k[len(t.prefix):]); v != nil {
			if err := p.decode(t, v, &res, true); err != nil {
				return Result{}, err
			}
		}
	} else {
		p.maybePin(t)
		if err := p.lookup(t, k, &res); err != nil {
			return Result{}, err
		}
	}
	t.lookups.Inc()
	if !res.Found {
		t.misses.Inc()
	}
	return res, nil
}

func (p *Pebble) lookup(t *pebbleTable, k []byte, res *Result) error {
	pi, err := p.getIter(t.gen)
	if err != nil {
		return fmt.Errorf("coldstore: table %q: %w", t.info.Name, err)
	}
	err = p.seek(pi.it, t, k, res)
	p.putIter(pi)
	return err
}

// MultiGet implements Store. All keys are checked before any is read.
func (p *Pebble) MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	t, err := p.readTable(table)
	if err != nil {
		return nil, err
	}
	if l := t.lost.Load(); l != nil {
		return nil, l
	}
	bp := keyBufPool.Get().(*[]byte)
	defer keyBufPool.Put(bp)
	buf := (*bp)[:0]
	ends := make([]int, len(keys))
	for i, key := range keys {
		buf = append(buf, t.prefix...)
		buf, err = t.keys.append(buf, table, i, key)
		if err != nil {
			*bp = buf
			return nil, err
		}
		ends[i] = len(buf)
	}
	*bp = buf
	out := make([]Result, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	// key returns encoded key i, with the version prefix.
	key := func(i int) []byte {
		s := 0
		if i > 0 {
			s = ends[i-1]
		}
		return buf[s:ends[i]]
	}
	if pv := t.pin.Load(); pv != nil {
		if err := p.multiGetPinned(t, pv, key, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	p.maybePin(t)
	// Seek in key order: the iterator moves forward through the files.
	order := make([]int32, len(keys))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return bytes.Compare(key(int(a)), key(int(b))) })
	// One slab for every row's values: one allocation instead of one per row.
	ncol := t.info.Schema.Len()
	slab := make([]row.Value, len(keys)*ncol)
	// A lookup mostly waits for memory; large batches are cut into
	// key-ordered parts looked up in parallel, each with its own iterator.
	parts := min(runtime.GOMAXPROCS(0), len(keys)/multiGetPart, maxMultiGetParts)
	if parts < 2 {
		parts = 1
	}
	var misses atomic.Int64
	part := func(order []int32) error {
		pi, err := p.getIter(t.gen)
		if err != nil {
			return fmt.Errorf("coldstore: table %q: %w", table, err)
		}
		defer p.putIter(pi)
		m := 0
		for _, i := range order {
			out[i].Version = t.live.Version
			out[i].Row.Values = slab[int(i)*ncol : int(i)*ncol : (int(i)+1)*ncol]
			if err := p.seek(pi.it, t, key(int(i)), &out[i]); err != nil {
				return err
			}
			if !out[i].Found {
				out[i].Row.Values = nil
				m++
			}
		}
		misses.Add(int64(m))
		return nil
	}
	if parts == 1 {
		if err := part(order); err != nil {
			return nil, err
		}
	} else {
		var g errgroup.Group
		for j := 0; j < parts; j++ {
			g.Go(func() error { return part(order[j*len(order)/parts : (j+1)*len(order)/parts]) })
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	t.lookups.Add(float64(len(keys)))
	t.misses.Add(float64(misses.Load()))
	return out, nil
}

// A MultiGet of at least 2*multiGetPart keys runs in parallel parts of at
// least multiGetPart keys, at most maxMultiGetParts of them.
const (
	multiGetPart     = 64
	maxMultiGetParts = 8
)

// Tables implements Store.
func (p *Pebble) Tables(ctx context.Context) ([]TableInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.mu.closed {
		return nil, ErrClosed
	}
	out := make([]TableInfo, 0, len(p.mu.tables))
	for _, t := range p.mu.tables {
		out = append(out, t.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Describe implements Store.
func (p *Pebble) Describe(ctx context.Context, table string) (TableInfo, error) {
	if err := ctx.Err(); err != nil {
		return TableInfo{}, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	t, err := p.readTable(table)
	if err != nil {
		return TableInfo{}, err
	}
	return t.info, nil
}

// Versions lists the retained versions of table, most recently loaded
// first.
func (p *Pebble) Versions(ctx context.Context, table string) ([]VersionInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	t, err := p.readTable(table)
	if err != nil {
		return nil, err
	}
	out := make([]VersionInfo, len(t.meta.Versions))
	for i := range t.meta.Versions {
		v := &t.meta.Versions[i]
		out[i] = v.versionInfo(table, v.Version == t.meta.Live)
	}
	return out, nil
}

// Rollback makes a retained version of table live again: to, or when to
// is empty the version loaded just before the live one. Newer versions
// stay retained (a later Rollback can return to them). It returns the new
// live version's description.
func (p *Pebble) Rollback(ctx context.Context, table, to string) (TableInfo, error) {
	if err := ctx.Err(); err != nil {
		return TableInfo{}, err
	}
	p.loadMu.Lock()
	defer p.loadMu.Unlock()
	p.mu.RLock()
	t, err := p.readTable(table)
	p.mu.RUnlock()
	if err != nil {
		return TableInfo{}, err
	}
	target, err := rollbackTarget(t.meta, to)
	if err != nil {
		return TableInfo{}, err
	}
	m := *t.meta
	m.Versions = slices.Clone(m.Versions)
	m.Live = target
	nt := p.newTable(&m)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return TableInfo{}, ErrClosed
	}
	if err := p.db.Set(metaKey(table), m.encode(), pebble.Sync); err != nil {
		return TableInfo{}, fmt.Errorf("coldstore: rollback %s: %w", table, err)
	}
	p.gen.Add(1)
	nt.gen = p.gen.Load()
	p.mu.tables[table] = nt
	p.replaced(t, nt)
	p.log.Info("coldstore: rolled back", "table", table, "from", t.meta.Live, "to", target)
	return nt.info, nil
}

// rollbackTarget picks the version a rollback makes live.
func rollbackTarget(m *tableMeta, to string) (string, error) {
	names := make([]string, len(m.Versions))
	for i, v := range m.Versions {
		names[i] = v.Version
	}
	if to != "" {
		if m.find(to) == nil {
			return "", fmt.Errorf("coldstore: rollback %s: version %q is not retained (retained: %s)", m.Table, to, strings.Join(names, ", "))
		}
		return to, nil
	}
	for i, v := range m.Versions {
		if v.Version == m.Live {
			if i+1 < len(m.Versions) {
				return m.Versions[i+1].Version, nil
			}
			break
		}
	}
	return "", fmt.Errorf("coldstore: rollback %s: no version older than the live %q is retained (retained: %s)", m.Table, m.Live, strings.Join(names, ", "))
}

// Close implements Store. It stops loads in progress (they fail and leave
// nothing) and closes the database. Calling it again returns nil.
func (p *Pebble) Close() error {
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		return nil
	}
	p.mu.closed = true
	p.mu.Unlock()
	p.cancel()
	p.loads.Wait()
	p.pins.Wait()
	p.closeIters()
	return p.db.Close()
}

// Load reads spec.Source, writes a new version of spec.Table through
// sorted sstables and Pebble ingestion, and publishes it atomically. On
// error nothing is published and the live version is untouched.
func (p *Pebble) Load(ctx context.Context, spec LoadSpec) (res LoadResult, err error) {
	start := time.Now()
	if err := spec.check(); err != nil {
		return res, err
	}
	p.mu.RLock()
	if p.mu.closed {
		p.mu.RUnlock()
		return res, ErrClosed
	}
	p.loads.Add(1)
	p.mu.RUnlock()
	defer p.loads.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()

	prog := startProgress(&spec)
	defer func() {
		prog.finish(err)
		p.m.loaded(res, err)
	}()

	// Check the schema against the live version and reserve an id.
	p.loadMu.Lock()
	p.mu.RLock()
	cur := p.mu.tables[spec.Table]
	p.mu.RUnlock()
	var live *versionMeta
	if cur != nil {
		live = cur.live
		if cur.meta.find(spec.Version) != nil {
			p.loadMu.Unlock()
			return res, errorOf(ErrVersionExists, "coldstore: load %s: version %q is already retained: pick a new version name, or roll back to it with hotcold load rollback", spec.Table, spec.Version)
		}
	}
	schema, err := loadSchema(&spec, live)
	if err != nil {
		p.loadMu.Unlock()
		return res, err
	}
	id, err := p.stage(spec.Table, spec.Version)
	p.loadMu.Unlock()
	if err != nil {
		return res, err
	}
	tmp := filepath.Join(p.dir, loadTmpDir, fmt.Sprint(id))
	published := false
	defer func() {
		if !published {
			p.unstage(spec.Table, id)
		}
		_ = p.opts.FS.RemoveAll(tmp)
	}()
	if err := p.opts.FS.MkdirAll(tmp, 0o755); err != nil {
		return res, fmt.Errorf("coldstore: load %s: %w", spec.Table, err)
	}

	spillDir := tmp // sort spills use the operating system's files
	if p.opts.FS != vfs.Default {
		spillDir = ""
	}
	ssts := &sstSet{p: p, dir: tmp, prefix: dataPrefix(spec.Table, id), target: p.opts.SSTableSize}
	pl := &pipeline{
		spec: &spec, schema: schema, workers: p.opts.LoadWorkers, tempDir: spillDir, prog: prog,
		newWriter: func(ctx context.Context, part int) (pairWriter, error) {
			return &sstWriter{set: ssts, part: part}, nil
		},
	}
	if err := pl.run(ctx); err != nil {
		return res, fmt.Errorf("coldstore: load %s version %s: %w", spec.Table, spec.Version, err)
	}
	if err := spec.guard(live, pl.pairs.Load()); err != nil {
		return res, err
	}
	prog.setPhase("ingest")
	if paths := ssts.sorted(); len(paths) > 0 {
		if err := p.db.Ingest(ctx, paths); err != nil {
			return res, fmt.Errorf("coldstore: load %s: ingest: %w", spec.Table, err)
		}
	}
	if h := testHooks.beforePublish; h != nil {
		h()
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	prog.setPhase("publish")
	vm := versionMeta{
		Version: spec.Version, ID: id, Schema: schemaToJSON(schema), schema: schema,
		Rows: pl.pairs.Load(), Duplicates: pl.dups.Load(), Bytes: pl.bytes.Load(),
		CoversUntil: spec.CoversUntil.UTC(), LoadedAt: time.Now().UTC().Truncate(time.Millisecond),
		Sources: sourceNames(spec.Source), Samples: mergeSamples(pl.samples),
	}
	if spec.CoversUntil.IsZero() {
		vm.CoversUntil = time.Time{}
	}
	dropped, err := p.publish(spec.Table, id, live, vm)
	if err != nil {
		return res, err
	}
	published = true
	res = LoadResult{
		Table: spec.Table, Version: spec.Version, Rows: vm.Rows, Duplicates: vm.Duplicates, Bytes: vm.Bytes,
		Seconds: time.Since(start).Seconds(), SchemaVersion: schema.Version(), SpilledRuns: pl.runs,
		Dropped: dropped, Schema: schema,
	}
	if s, ok := spec.Source.(sizedSource); ok {
		_, res.InputBytes = s.InputBytes()
	}
	p.log.Info("coldstore: published", "table", spec.Table, "version", spec.Version, "rows", res.Rows, "duplicates", res.Duplicates, "seconds", res.Seconds, "dropped", dropped)
	return res, nil
}

// stage reserves a version id and writes the staging marker before any
// data. The caller holds loadMu.
func (p *Pebble) stage(table, version string) (uint64, error) {
	var id uint64 = 1
	v, closer, err := p.db.Get([]byte(keyNextID))
	switch {
	case err == nil:
		if len(v) != 8 {
			closer.Close()
			return 0, fmt.Errorf("coldstore: %s: corrupt %s", p.dir, keyNextID)
		}
		id = binary.BigEndian.Uint64(v)
		closer.Close()
	case !errors.Is(err, pebble.ErrNotFound):
		return 0, err
	}
	b := p.db.NewBatch()
	defer b.Close()
	_ = b.Set([]byte(keyNextID), binary.BigEndian.AppendUint64(nil, id+1), nil)
	marker := fmt.Sprintf(`{"version":%q,"started":%q,"pid":%d}`, version, time.Now().UTC().Format(time.RFC3339), os.Getpid())
	_ = b.Set(stagingKey(table, id), []byte(marker), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("coldstore: load %s: stage: %w", table, err)
	}
	return id, nil
}

// unstage removes the data and marker of a failed load (best effort; the
// next OpenPebble finishes the job).
func (p *Pebble) unstage(table string, id uint64) {
	b := p.db.NewBatch()
	defer b.Close()
	pre := dataPrefix(table, id)
	_ = b.DeleteRange(pre, row.PrefixEnd(pre), nil)
	_ = b.Delete(stagingKey(table, id), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		p.log.Warn("coldstore: could not remove a failed load; it will be removed on next open", "table", table, "id", id, "err", err)
	}
}

// publish makes vm the live version of table in one synced batch that also
// removes the staging marker and range-deletes versions beyond
// KeepVersions. live is the version the load's schema was checked against.
func (p *Pebble) publish(table string, id uint64, live *versionMeta, vm versionMeta) ([]string, error) {
	p.loadMu.Lock()
	defer p.loadMu.Unlock()
	p.mu.RLock()
	cur := p.mu.tables[table]
	p.mu.RUnlock()
	m, dropped, err := nextMeta(table, cur.metaOrNil(), live, vm, p.opts.KeepVersions)
	if err != nil {
		return nil, err
	}
	b := p.db.NewBatch()
	defer b.Close()
	_ = b.Set(metaKey(table), m.encode(), nil)
	_ = b.Delete(stagingKey(table, id), nil)
	var names []string
	for _, d := range dropped {
		pre := dataPrefix(table, d.ID)
		_ = b.DeleteRange(pre, row.PrefixEnd(pre), nil)
		names = append(names, d.Version)
	}
	nt := p.newTable(m)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return nil, ErrClosed
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, fmt.Errorf("coldstore: publish %s: %w", table, err)
	}
	p.gen.Add(1)
	nt.gen = p.gen.Load()
	p.mu.tables[table] = nt
	p.replaced(cur, nt)
	return names, nil
}

func (t *pebbleTable) metaOrNil() *tableMeta {
	if t == nil {
		return nil
	}
	return t.meta
}

// nextMeta returns the metadata after publishing vm over cur, and the
// versions retention drops. checked is the live version the load was
// checked against: if another load published in between with a different
// schema, the load fails rather than publish data of a stale schema.
func nextMeta(table string, cur *tableMeta, checked *versionMeta, vm versionMeta, keep int) (*tableMeta, []versionMeta, error) {
	m := &tableMeta{Format: metaFormat, Table: table}
	if cur != nil {
		if cur.find(vm.Version) != nil {
			return nil, nil, errorOf(ErrVersionExists, "coldstore: load %s: version %q was published by another load meanwhile", table, vm.Version)
		}
		if l := cur.live(); !(checked != nil && l.ID == checked.ID) && !sameSchema(l.schema, vm.schema) {
			return nil, nil, errorOf(ErrSchemaChanged, "coldstore: load %s: another load published version %q with another schema while this one ran: rerun the load", table, l.Version)
		}
		m.Versions = append(m.Versions, cur.Versions...)
	}
	m.Versions = append([]versionMeta{vm}, m.Versions...)
	m.Live = vm.Version
	var dropped []versionMeta
	if len(m.Versions) > keep {
		dropped = slices.Clone(m.Versions[keep:])
		m.Versions = m.Versions[:keep]
	}
	return m, dropped, nil
}

// testHooks lets crash tests stop a load at a chosen point.
var testHooks struct {
	afterSST      func(n int) // after the n-th sstable of a load is written
	beforePublish func()      // after ingestion, before publishing
}

var (
	_ Store     = (*Pebble)(nil)
	_ Backend   = (*Pebble)(nil)
	_ io.Closer = (*Pebble)(nil)
)
