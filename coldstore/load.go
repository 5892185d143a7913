package coldstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hotcold/hotcold/row"
)

// LoadSpec describes one load: which table and version to write, which
// columns form the key, and where the rows come from.
type LoadSpec struct {
	// Table to load, e.g. "orders". Letters, digits, '_', '-', '.', '='.
	Table string
	// Version names the new version, e.g. the Hive partition
	// "dt=2026-11-22". It must not be a version the table already retains.
	Version string
	// Key names the key columns, in key order. Required.
	Key []string
	// Schema, when set, is the schema the input must have: the same column
	// names and types in the same order (its key, if any, is ignored: Key
	// names it). Its nullability wins over the input's, so a null in a
	// column it declares not nullable fails the load. Default nil: the
	// schema of the input (the first Parquet file).
	Schema *row.Schema
	// CoversUntil is the event-time watermark of the data: every row with
	// event time before it is in this version. Zero means unknown (hot
	// state then drops nothing because of this table).
	CoversUntil time.Time
	// AllowSchemaChange lets the input's columns differ from the live
	// version's, as long as the change only appends nullable columns (the
	// schema version is then bumped). Default false: any difference is an
	// error.
	AllowSchemaChange bool
	// Source yields the rows. Required. Load reads it to the end but does
	// not close it.
	Source Source
	// Progress, when set, is called about every ProgressInterval while the
	// load runs and once at the end (Phase "done" or "failed"). Calls come
	// from one goroutine at a time.
	Progress func(LoadProgress)
	// ProgressInterval is the time between Progress calls. Default 1s.
	ProgressInterval time.Duration
	// MemoryBudget bounds the memory holding sorted rows before they spill
	// to disk as sorted runs. Default 256 MiB.
	MemoryBudget int64
	// TempDir is where sorted runs spill. Default: the backend's choice
	// (the Pebble directory, or os.TempDir() for Redis).
	TempDir string

	// MinRows is the fewest distinct rows a version may have to be
	// published. Zero means 1: an empty input is refused. A refused load
	// publishes nothing and its error matches ErrLoadGuard.
	MinRows int64
	// MaxShrink is the largest fraction by which the new version may have
	// fewer rows than the live one: with 0.5 a table of 1,000,000 live rows
	// refuses a version under 500,000. Zero means 0.5; 1 turns the check
	// off. Must be in [0, 1].
	MaxShrink float64
	// Force publishes the version even when MinRows or MaxShrink would
	// refuse it (a table that really became empty or much smaller).
	Force bool
}

// ErrLoadGuard is matched (errors.Is) by the error of a load refused by
// LoadSpec.MinRows or LoadSpec.MaxShrink; nothing was published.
var ErrLoadGuard = errors.New("coldstore: load refused by a guard")

// DefaultMaxShrink is LoadSpec.MaxShrink's default.
const DefaultMaxShrink = 0.5

// guard refuses a version of rows distinct rows by MinRows and MaxShrink
// against live (nil for a new table), unless Force is set.
func (spec *LoadSpec) guard(live *versionMeta, rows int64) error {
	if spec.Force {
		return nil
	}
	minRows := spec.MinRows
	if minRows == 0 {
		minRows = 1
	}
	const tail = "; nothing was published (the live version is unchanged). Check the input, or publish it anyway with --force (LoadSpec.Force)"
	if rows < minRows {
		if rows == 0 {
			return errorOf(ErrLoadGuard, "coldstore: load %s version %s: refused: the input has no rows (at least %d wanted, --min-rows)%s", spec.Table, spec.Version, minRows, tail)
		}
		return errorOf(ErrLoadGuard, "coldstore: load %s version %s: refused: %d rows, fewer than --min-rows %d%s", spec.Table, spec.Version, rows, minRows, tail)
	}
	shrink := spec.MaxShrink
	if shrink == 0 {
		shrink = DefaultMaxShrink
	}
	if live != nil && shrink < 1 {
		floor := int64(float64(live.Rows) * (1 - shrink))
		if rows < floor {
			return errorOf(ErrLoadGuard, "coldstore: load %s version %s: refused: %d rows, %.0f%% fewer than the %d of the live version %s (--max-shrink %g allows at least %d)%s",
				spec.Table, spec.Version, rows, 100*(1-float64(rows)/float64(live.Rows)), live.Rows, live.Version, shrink, floor, tail)
		}
	}
	return nil
}

// LoadProgress is a snapshot of a running load.
type LoadProgress struct {
	// Phase is "read" (reading, encoding and sorting), "write" (merging and
	// writing sorted data), "ingest" (Pebble: linking sstables), "publish",
	// then "done" or "failed".
	Phase string
	// Rows is the number of input rows read so far.
	Rows int64
	// Written is the number of distinct rows written so far.
	Written int64
	// Bytes is the size of the encoded keys and values written so far.
	Bytes int64
	// InputBytes and InputTotal are the bytes of input consumed and in
	// total, when the source knows them (Parquet files do).
	InputBytes, InputTotal int64
	// Elapsed is the time since the load started.
	Elapsed time.Duration
}

// RowsPerSecond returns the input rate so far.
func (p LoadProgress) RowsPerSecond() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Rows) / p.Elapsed.Seconds()
}

// LoadResult reports a published load.
type LoadResult struct {
	Table   string `json:"table"`
	Version string `json:"version"`
	// Rows is the number of distinct keys in the version.
	Rows int64 `json:"rows"`
	// Duplicates is the number of input rows replaced by a later row with
	// the same key (the last one wins). Input rows = Rows + Duplicates.
	Duplicates int64 `json:"duplicates"`
	// Bytes is the size of the encoded keys and values.
	Bytes int64 `json:"bytes"`
	// InputBytes is the size of the input files, when known.
	InputBytes int64 `json:"input_bytes"`
	// Seconds is the wall time of the load.
	Seconds float64 `json:"seconds"`
	// SchemaVersion is the schema version of the new version (bumped by an
	// allowed schema change).
	SchemaVersion uint32 `json:"schema_version"`
	// SpilledRuns is the number of sorted runs written to disk (0 when the
	// input fit in MemoryBudget).
	SpilledRuns int `json:"spilled_runs"`
	// Dropped lists the versions removed by retention.
	Dropped []string `json:"dropped,omitempty"`
	// Schema of the new version.
	Schema *row.Schema `json:"-"`
}

// InputError is a problem with the rows of a load. Position names the
// file, row group and row (as the Source describes it) and Column the
// column, when known. Nothing was published.
type InputError struct {
	Position string
	Column   string
	Err      error
}

// Error renders "position: column "c": problem"; Load wraps it with the
// table and version.
func (e *InputError) Error() string {
	var b strings.Builder
	if e.Position != "" {
		b.WriteString(e.Position)
		b.WriteString(": ")
	}
	if e.Column != "" {
		fmt.Fprintf(&b, "column %q: ", e.Column)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *InputError) Unwrap() error { return e.Err }

// ErrVersionExists is matched (errors.Is) by the error of a load of a
// version the table retains.
var ErrVersionExists = errors.New("coldstore: version already exists")

// ErrSchemaChanged is matched (errors.Is) by the error of a load whose
// input columns differ from the live version's.
var ErrSchemaChanged = errors.New("coldstore: schema differs from the live version")

// kindError is an error with its own message that matches a sentinel.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func errorOf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

const (
	defaultMemoryBudget     = 256 << 20
	defaultProgressInterval = time.Second
)

// check validates the parts of spec every backend needs, collecting every
// problem.
func (spec *LoadSpec) check() error {
	var errs []error
	if err := validateName("table", spec.Table); err != nil {
		errs = append(errs, err)
	}
	if err := validateName("version", spec.Version); err != nil {
		errs = append(errs, err)
	}
	if len(spec.Key) == 0 {
		errs = append(errs, errors.New("no key columns: set LoadSpec.Key (--key)"))
	}
	if spec.Source == nil {
		errs = append(errs, errors.New("no Source"))
	}
	if spec.MemoryBudget < 0 {
		errs = append(errs, fmt.Errorf("MemoryBudget is %d, want >= 0", spec.MemoryBudget))
	}
	if spec.ProgressInterval < 0 {
		errs = append(errs, fmt.Errorf("ProgressInterval is %v, want >= 0", spec.ProgressInterval))
	}
	if spec.MinRows < 0 {
		errs = append(errs, fmt.Errorf("--min-rows (MinRows) is %d, want >= 0", spec.MinRows))
	}
	if !(spec.MaxShrink >= 0 && spec.MaxShrink <= 1) {
		errs = append(errs, fmt.Errorf("--max-shrink (MaxShrink) is %g, want a fraction from 0 to 1 (1: no limit)", spec.MaxShrink))
	}
	if len(errs) > 0 {
		return fmt.Errorf("coldstore: invalid load: %w", errors.Join(errs...))
	}
	return nil
}

// loadSchema returns the schema of the new version: the input's columns
// with the key, checked against the live version (nil for a new table).
func loadSchema(spec *LoadSpec, live *versionMeta) (*row.Schema, error) {
	in := spec.Source.Schema()
	where := sourceName(spec.Source)
	if want := spec.Schema; want != nil {
		if err := sameColumnTypes(want, in); err != nil {
			return nil, errorOf(ErrSchemaChanged, "coldstore: load %s: %s does not have the schema of LoadSpec.Schema: %v", spec.Table, where, err)
		}
		in = want
	}
	for _, k := range spec.Key {
		if in.Index(k) < 0 {
			return nil, fmt.Errorf("coldstore: load %s: key column %q is not in %s (its columns: %s)", spec.Table, k, where, strings.Join(in.Names(), ", "))
		}
	}
	s, err := in.WithKey(spec.Key)
	if err != nil {
		return nil, fmt.Errorf("coldstore: load %s: %s: %w", spec.Table, where, err)
	}
	if live == nil {
		return s.WithVersion(1), nil
	}
	ls := live.schema
	if sameSchema(ls, s) {
		return ls, nil
	}
	diff := schemaDiff(ls, s)
	if strings.Join(ls.KeyNames(), ",") != strings.Join(s.KeyNames(), ",") {
		return nil, errorOf(ErrSchemaChanged, "coldstore: load %s: the key is (%s), the live version %q has (%s): load a new table to change the key", spec.Table, strings.Join(s.KeyNames(), ", "), live.Version, strings.Join(ls.KeyNames(), ", "))
	}
	if !spec.AllowSchemaChange {
		return nil, errorOf(ErrSchemaChanged, "coldstore: load %s: %s differs from the live version %q: %s; if the change only appends nullable columns, pass --allow-schema-change (LoadSpec.AllowSchemaChange)", spec.Table, where, live.Version, diff)
	}
	if err := ls.AppendOnly(s); err != nil {
		return nil, errorOf(ErrSchemaChanged, "coldstore: load %s: %s differs from the live version %q: %s, which is not an append of nullable columns: load a new table instead", spec.Table, where, live.Version, diff)
	}
	for i := ls.Len(); i < s.Len(); i++ {
		if !s.Column(i).Nullable {
			return nil, errorOf(ErrSchemaChanged, "coldstore: load %s: appended column %q is not nullable: older versions cannot fill it", spec.Table, s.Column(i).Name)
		}
	}
	return s.WithVersion(ls.Version() + 1), nil
}

// sameColumnTypes reports how in differs from want in column names and
// types.
func sameColumnTypes(want, in *row.Schema) error {
	if want.Len() != in.Len() {
		return fmt.Errorf("%d columns (%s), want %d (%s)", in.Len(), strings.Join(in.Names(), ", "), want.Len(), strings.Join(want.Names(), ", "))
	}
	for i := 0; i < want.Len(); i++ {
		w, g := want.Column(i), in.Column(i)
		if w.Name != g.Name || w.Type != g.Type {
			return fmt.Errorf("column %d is %s %s, want %s %s", i, g.Name, g.Type, w.Name, w.Type)
		}
	}
	return nil
}

func sameSchema(a, b *row.Schema) bool {
	if a.Len() != b.Len() || len(a.Key()) != len(b.Key()) {
		return false
	}
	for i := 0; i < a.Len(); i++ {
		x, y := a.Column(i), b.Column(i)
		if x.Name != y.Name || x.Type != y.Type || x.Nullable != y.Nullable {
			return false
		}
	}
	for i := range a.Key() {
		if a.Key()[i] != b.Key()[i] {
			return false
		}
	}
	return true
}

// schemaDiff describes the first difference of b from a, as "column X
// typed T instead of U" etc.
func schemaDiff(a, b *row.Schema) string {
	n := min(a.Len(), b.Len())
	for i := 0; i < n; i++ {
		x, y := a.Column(i), b.Column(i)
		switch {
		case x.Name != y.Name:
			return fmt.Sprintf("column %d is named %q instead of %q", i, y.Name, x.Name)
		case x.Type != y.Type:
			return fmt.Sprintf("column %q is %s instead of %s", y.Name, y.Type, x.Type)
		case x.Nullable != y.Nullable:
			return fmt.Sprintf("column %q has nullable=%v instead of %v", y.Name, y.Nullable, x.Nullable)
		}
	}
	switch {
	case b.Len() > a.Len():
		names := b.Names()[a.Len():]
		return fmt.Sprintf("it has %d more column(s) (%s)", len(names), strings.Join(names, ", "))
	case b.Len() < a.Len():
		names := a.Names()[b.Len():]
		return fmt.Sprintf("it has %d fewer column(s) (missing %s)", len(names), strings.Join(names, ", "))
	}
	return "its key differs"
}

func sourceName(src Source) string {
	if n, ok := src.(namedSource); ok {
		names := n.Names()
		switch {
		case len(names) == 1:
			return names[0]
		case len(names) > 1:
			return fmt.Sprintf("%s (and %d more files)", names[0], len(names)-1)
		}
	}
	return "the input"
}

func sourceNames(src Source) []string {
	if n, ok := src.(namedSource); ok {
		return n.Names()
	}
	return nil
}

// progress tracks a load's counters and reports them to LoadSpec.Progress
// from a goroutine it owns (stopped by finish).
type progress struct {
	fn    func(LoadProgress)
	src   Source
	start time.Time

	phase   atomic.Pointer[string]
	rows    atomic.Int64
	written atomic.Int64
	bytes   atomic.Int64

	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
}

func startProgress(spec *LoadSpec) *progress {
	p := &progress{fn: spec.Progress, src: spec.Source, start: time.Now(), stopCh: make(chan struct{}), done: make(chan struct{})}
	p.setPhase("read")
	if p.fn == nil {
		close(p.done)
		return p
	}
	iv := spec.ProgressInterval
	if iv == 0 {
		iv = defaultProgressInterval
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(iv)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.fn(p.snapshot())
			case <-p.stopCh:
				return
			}
		}
	}()
	return p
}

func (p *progress) setPhase(s string) { p.phase.Store(&s) }

func (p *progress) snapshot() LoadProgress {
	lp := LoadProgress{Phase: *p.phase.Load(), Rows: p.rows.Load(), Written: p.written.Load(), Bytes: p.bytes.Load(), Elapsed: time.Since(p.start)}
	if s, ok := p.src.(sizedSource); ok {
		lp.InputBytes, lp.InputTotal = s.InputBytes()
	}
	return lp
}

// finish stops the reporter and makes the final call.
func (p *progress) finish(err error) {
	p.stopOnce.Do(func() {
		close(p.stopCh)
		<-p.done
		if err != nil {
			p.setPhase("failed")
		} else {
			p.setPhase("done")
		}
		if p.fn != nil {
			p.fn(p.snapshot())
		}
	})
}

// pipeline is the backend-agnostic core of a load: it reads the source,
// encodes every row to (memcomparable key, value), sorts externally,
// removes duplicate keys (the last wins) and writes the sorted, distinct
// pairs through pairWriters: the key space is cut into one range per
// worker, and each worker merges its range of every sorted chunk and run
// straight into its own writer, without copying the data again.
type pipeline struct {
	spec      *LoadSpec
	schema    *row.Schema
	newWriter func(ctx context.Context, part int) (pairWriter, error)
	workers   int
	tempDir   string
	prog      *progress

	budget     int64
	chunkBytes int
	chunkFree  chan *chunk // recycled sort chunks

	// results
	pairs, dups, bytes atomic.Int64
	runs               int
	samples            []*sampler // one per key range, for versionMeta.Samples
}

// pairWriter receives the sorted, distinct pairs of one key range. add
// must not keep k or v after it returns. finish is called once after the
// last add; abort instead when the load fails.
type pairWriter interface {
	add(k, v []byte) error
	finish() error
	abort()
}

func (p *pipeline) run(ctx context.Context) (err error) {
	p.budget = p.spec.MemoryBudget
	if p.budget == 0 {
		p.budget = defaultMemoryBudget
	}
	p.chunkBytes = int(min(max(p.budget/16, 64<<10), 16<<20))
	if p.workers < 1 {
		p.workers = 1
	}
	p.chunkFree = make(chan *chunk, p.budget/int64(p.chunkBytes)+2)
	tmp := ""
	defer func() {
		if tmp != "" {
			_ = os.RemoveAll(tmp)
		}
	}()
	mkTemp := func() (string, error) {
		if tmp == "" {
			dir := p.tempDir
			if p.spec.TempDir != "" {
				dir = p.spec.TempDir
			}
			if dir == "" {
				dir = os.TempDir()
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return "", fmt.Errorf("coldstore: sort spill directory: %w", err)
			}
			d, err := os.MkdirTemp(dir, "hotcold-sort-")
			if err != nil {
				return "", fmt.Errorf("coldstore: sort spill directory: %w", err)
			}
			tmp = d
		}
		return tmp, nil
	}

	// Read, encode and sort.
	var mem []*chunk
	defer func() {
		// The writers copied every pair: the chunks are free again.
		recycle(mem)
		for {
			select {
			case c := <-p.chunkFree:
				recycle([]*chunk{c})
				continue
			default:
			}
			break
		}
	}()
	var runs []runFile
	g, gctx := errgroup.WithContext(ctx)
	sorted := make(chan *chunk, 1)
	g.Go(func() error {
		defer close(sorted)
		return p.encode(gctx, sorted)
	})
	g.Go(func() error {
		var err error
		mem, runs, err = p.collect(gctx, sorted, mkTemp)
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	p.runs = len(runs)

	// Merge and write, one key range per worker.
	p.prog.setPhase("write")
	split := splitters(mem, runs, p.workers)
	parts := len(split) + 1
	p.samples = make([]*sampler, parts)
	bufSize := int(min(max(p.budget/int64(2*parts*len(runs)+1), 32<<10), 1<<20))
	g, gctx = errgroup.WithContext(ctx)
	for i := 0; i < parts; i++ {
		var lo, hi []byte
		if i > 0 {
			lo = split[i-1]
		}
		if i < len(split) {
			hi = split[i]
		}
		g.Go(func() error { return p.writePart(gctx, i, lo, hi, mem, runs, bufSize) })
	}
	return g.Wait()
}

// writePart merges the pairs with keys in [lo, hi) into a new writer.
func (p *pipeline) writePart(ctx context.Context, part int, lo, hi []byte, mem []*chunk, runs []runFile, bufSize int) (err error) {
	var cs []cursor
	defer func() {
		for _, c := range cs {
			c.close()
		}
	}()
	for _, r := range runs {
		rc, err := openRun(r, lo, hi, bufSize)
		if err != nil {
			return err
		}
		cs = append(cs, rc)
	}
	for _, c := range mem {
		start, end := c.lowerBound(lo), len(c.ents)
		if hi != nil {
			end = c.lowerBound(hi)
		}
		cs = append(cs, &chunkCursor{c: c, i: start - 1, end: end})
	}
	m, err := newMerger(cs)
	if err != nil {
		return err
	}
	w, err := p.newWriter(ctx, part)
	if err != nil {
		return err
	}
	var n, nb, un, ub int64
	smp := newSampler(part, versionSamples)
	p.samples[part] = smp // each part writes its own slot
	dups, err := m.dedupe(func(k, v []byte) error {
		if err := w.add(k, v); err != nil {
			return err
		}
		smp.add(k)
		n++
		nb += int64(len(k) + len(v))
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			p.prog.written.Add(n - un)
			p.prog.bytes.Add(nb - ub)
			un, ub = n, nb
		}
		return nil
	})
	if err == nil {
		err = w.finish()
	}
	if err != nil {
		w.abort()
		return err
	}
	p.prog.written.Add(n - un)
	p.prog.bytes.Add(nb - ub)
	p.pairs.Add(n)
	p.bytes.Add(nb)
	p.dups.Add(dups)
	return nil
}

// encode reads every row and sends full chunks.
func (p *pipeline) encode(ctx context.Context, out chan<- *chunk) error {
	f := &chunkFiller{p: p, ctx: ctx, out: out, c: p.newChunk()}
	if rs, ok := p.spec.Source.(recordSource); ok {
		if err := p.encodeRecords(ctx, rs, f); err != nil {
			return err
		}
		return f.finish()
	}
	src, s := p.spec.Source, p.schema
	var r row.Row
	for {
		err := src.Next(ctx, &r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return sourceError(ctx, src, err)
		}
		if len(r.Values) != s.Len() {
			return &InputError{Position: src.Position(), Err: fmt.Errorf("row has %d values, the table has %d columns", len(r.Values), s.Len())}
		}
		c := f.c
		off := len(c.arena)
		c.arena, err = s.AppendKey(c.arena, r)
		if err != nil {
			return p.rowError(r, err)
		}
		klen := len(c.arena) - off
		c.arena, err = s.AppendValue(c.arena, r)
		if err != nil {
			return p.rowError(r, err)
		}
		if err := f.added(off, klen); err != nil {
			return err
		}
	}
	return f.finish()
}

// encodeRecords is encode for sources of Arrow records: keys and values
// are encoded straight from the columns, without building rows.
func (p *pipeline) encodeRecords(ctx context.Context, rs recordSource, f *chunkFiller) error {
	var rr *row.RecordReader
	for {
		rec, err := rs.nextRecord(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return sourceError(ctx, rs, err)
		}
		if rr == nil {
			rr, err = p.schema.NewRecordReader(rec)
		} else {
			err = rr.Reset(rec)
		}
		if err != nil {
			return &InputError{Position: rs.Position(), Err: err}
		}
		rows := int(rec.NumRows())
		for i := 0; i < rows; i++ {
			c := f.c
			off := len(c.arena)
			c.arena, err = rr.AppendKey(c.arena, i)
			klen := len(c.arena) - off
			if err == nil {
				c.arena, err = rr.AppendValue(c.arena, i)
			}
			if err != nil {
				rs.seekRow(i)
				var r row.Row
				if rerr := rr.Row(i, &r); rerr != nil {
					return &InputError{Position: rs.Position(), Err: rerr}
				}
				return p.rowError(r, err)
			}
			if err := f.added(off, klen); err != nil {
				return err
			}
		}
	}
}

// sourceError turns an error of reading src into the load's error: the
// context's, an InputError as it is, anything else an InputError at the
// source's position.
func sourceError(ctx context.Context, src Source, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ie *InputError
	if errors.As(err, &ie) {
		return err
	}
	return &InputError{Position: src.Position(), Err: err}
}

// chunkFiller collects the encoded pairs of the input into chunks and
// sends every full chunk to the sorter.
type chunkFiller struct {
	p   *pipeline
	ctx context.Context
	out chan<- *chunk
	c   *chunk // being filled
	n   int64  // rows so far
}

// added indexes the pair just appended to c.arena at off, whose key is
// klen bytes long, and sends the chunk once it is full.
func (f *chunkFiller) added(off, klen int) error {
	c := f.c
	c.ents = append(c.ents, entry{pfx: keyPrefix(c.arena[off : off+klen]), off: uint32(off), klen: uint32(klen), vlen: uint32(len(c.arena) - off - klen)})
	f.n++
	if f.n&1023 == 0 {
		f.p.prog.rows.Store(f.n)
	}
	if len(c.arena) < f.p.chunkBytes {
		return nil
	}
	if err := f.send(); err != nil {
		return err
	}
	select {
	case f.c = <-f.p.chunkFree:
	default:
		f.c = f.p.newChunk()
	}
	return nil
}

func (f *chunkFiller) send() error {
	select {
	case f.out <- f.c:
		return nil
	case <-f.ctx.Done():
		return f.ctx.Err()
	}
}

// finish reports the row count and sends the last, partial chunk.
func (f *chunkFiller) finish() error {
	f.p.prog.rows.Store(f.n)
	if len(f.c.ents) > 0 {
		return f.send()
	}
	return nil
}

func (p *pipeline) newChunk() *chunk {
	size := p.chunkBytes
	if c, ok := chunkPool.Get().(*chunk); ok && cap(c.arena) >= size+size/8 && cap(c.ents) >= size/64 {
		return c
	}
	return &chunk{arena: make([]byte, 0, size+size/8), ents: make([]entry, 0, size/64)}
}

// chunkPool recycles sort chunks from one load to the next: a fresh chunk
// costs zeroing and page faults that showed up as a tenth of a load's CPU
// time. The pool empties itself over two garbage collections.
var chunkPool sync.Pool

// recycle returns chunks to chunkPool once nothing reads them any more.
func recycle(cs []*chunk) {
	for _, c := range cs {
		c.arena, c.ents = c.arena[:0], c.ents[:0]
		chunkPool.Put(c)
	}
}

// rowError turns an encoding error into an InputError naming the column.
func (p *pipeline) rowError(r row.Row, err error) error {
	s := p.schema
	ie := &InputError{Position: p.spec.Source.Position(), Err: err}
	if errors.Is(err, row.ErrKeyNull) {
		for _, k := range s.Key() {
			if r.Values[k].IsNull() {
				ie.Column = s.Column(k).Name
				ie.Err = errors.New("key column is null: every row needs a key; filter such rows out of the export")
				break
			}
		}
		return ie
	}
	for i, v := range r.Values {
		c := s.Column(i)
		if v.IsNull() && !c.Nullable {
			ie.Column, ie.Err = c.Name, errors.New("null in a non-nullable column")
			return ie
		}
		if !v.IsNull() && v.Type() != c.Type.ID {
			ie.Column, ie.Err = c.Name, fmt.Errorf("value %s is %s, the column is %s", v, v.Type(), c.Type)
			return ie
		}
	}
	return ie
}

// collect sorts incoming chunks and keeps them in memory up to the budget,
// merging them into a run file on disk beyond it.
func (p *pipeline) collect(ctx context.Context, in <-chan *chunk, mkTemp func() (string, error)) ([]*chunk, []runFile, error) {
	var mem []*chunk
	var memBytes int64
	var runs []runFile
	var spare []byte
	var tmp []entry
	for c := range in {
		spare, tmp = c.sort(spare, tmp)
		mem = append(mem, c)
		memBytes += c.size()
		if memBytes < p.budget {
			continue
		}
		dir, err := mkTemp()
		if err != nil {
			return nil, nil, err
		}
		run, err := spill(ctx, dir, len(runs), mem)
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, run)
		for _, c := range mem {
			c.arena, c.ents = c.arena[:0], c.ents[:0]
			select {
			case p.chunkFree <- c: // the encoder reuses it
			default:
			}
		}
		clear(mem)
		mem, memBytes = mem[:0], 0
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return mem, runs, nil
}

// spill merges sorted chunks into one run file (duplicates stay: the
// final merge resolves them in input order).
func spill(ctx context.Context, dir string, n int, mem []*chunk) (runFile, error) {
	cs := make([]cursor, len(mem))
	for i, c := range mem {
		cs[i] = &chunkCursor{c: c, i: -1, end: len(c.ents)}
	}
	m, err := newMerger(cs)
	if err != nil {
		return runFile{}, err
	}
	rw, err := createRun(dir, n)
	if err != nil {
		return runFile{}, err
	}
	i := 0
	for {
		c, ok := m.top()
		if !ok {
			break
		}
		if i++; i&4095 == 0 && ctx.Err() != nil {
			_, _ = rw.finish()
			return runFile{}, ctx.Err()
		}
		if err := rw.add(c.key(), c.value()); err != nil {
			_, _ = rw.finish()
			return runFile{}, fmt.Errorf("coldstore: spill sorted run: %w", err)
		}
		m.advance()
	}
	return rw.finish()
}

func defaultWorkers() int { return min(max(runtime.GOMAXPROCS(0), 2), 8) }
