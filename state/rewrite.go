package state

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// RewriteOptions tune Rewrite. The zero value copies the state as is.
type RewriteOptions struct {
	// Row is called with every row of the source, in key order (namespace
	// by namespace): the namespace name, the row's join key (as given to
	// Namespace.Put), its value and a scratch buffer out (empty, reusable
	// capacity). It returns the value to store — value itself, or out with
	// the new value appended (Rewrite reuses that buffer for the next row),
	// never another slice of value — and keep=false to drop the row; an
	// error stops the rewrite. The slices passed in are valid only during
	// the call. It runs on Rewrite's goroutine. Nil copies every row as is.
	Row func(namespace string, key, value, out []byte) (newValue []byte, keep bool, err error)
	// Check is called once the output is complete, with the first row
	// value of every namespace that has rows, read back from the output.
	// An error fails the rewrite. Nil checks nothing.
	Check func(namespace string, value []byte) error
	// Progress receives progress every ProgressEvery keys and once when
	// the rewrite is done. It runs on Rewrite's goroutine. Nil: none.
	Progress func(RewriteProgress)
	// ProgressEvery is how many keys pass between Progress calls. Zero
	// means 1,000,000.
	ProgressEvery int64
	// TableBytes is the target size of one sstable written for ingestion;
	// it bounds the disk space of the files in flight (memory is bounded
	// independent of the state size regardless). Zero means 64 MiB.
	TableBytes uint64
	// Logger receives Pebble's messages. Nil discards them.
	Logger *slog.Logger
}

func (o *RewriteOptions) validate() error {
	var errs []error
	if o.ProgressEvery < 0 {
		errs = append(errs, fmt.Errorf("ProgressEvery is %d, want >= 0", o.ProgressEvery))
	}
	if len(errs) > 0 {
		return fmt.Errorf("state: invalid rewrite options: %w", errors.Join(errs...))
	}
	return nil
}

func (o RewriteOptions) withDefaults() RewriteOptions {
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 1_000_000
	}
	if o.TableBytes == 0 {
		o.TableBytes = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// RewriteProgress is a progress report of Rewrite.
type RewriteProgress struct {
	// Keys is the number of source keys (rows and metadata) read so far.
	Keys int64
	// Rows is the number of source rows read so far.
	Rows int64
	// Done is set on the last report, after the output is verified.
	Done bool
}

// RewriteResult is what Rewrite wrote.
type RewriteResult struct {
	// Keys is the number of keys written, rows and metadata.
	Keys int64
	// Rows is the number of rows written per namespace name (namespaces
	// without rows are absent).
	Rows map[string]int64
}

// Rewrite copies the committed state in src into a new state store dst,
// passing every row through opts.Row (to re-encode or drop it). Everything
// else — namespace ids, day buckets, offsets, outbox, meta values — is
// copied as is, so dst opens with Open as the same state with rewritten
// rows.
//
// src is opened read-only and never modified; it must not be open by a
// running DB (migrate a stopped job's directory or a checkpoint). dst must
// not exist. Keys are streamed in order into sstables of at most
// opts.TableBytes (cut at every namespace boundary) that are ingested into
// dst as they complete, so memory is bounded regardless of the state size.
// Before returning, Rewrite checks from dst's sstable properties that the
// keys and the rows of each namespace written are all there, then calls
// opts.Check. On error dst may hold a partial store; the caller removes it.
func Rewrite(ctx context.Context, src, dst string, opts RewriteOptions) (RewriteResult, error) {
	res := RewriteResult{Rows: map[string]int64{}}
	if err := opts.validate(); err != nil {
		return res, err
	}
	opts = opts.withDefaults()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if _, err := os.Stat(dst); err == nil {
		return res, fmt.Errorf("state: rewrite into %s: it already exists; remove it or choose another output", dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("state: rewrite into %s: %w", dst, err)
	}
	sopts := storeOptions(opts.Logger)
	sopts.ReadOnly = true
	sdb, err := pebble.Open(src, sopts)
	if err != nil {
		return res, fmt.Errorf("state: open %s read-only: %w (is the job still running? stop it, or take a checkpoint of its state with 'hotcold join checkpoint --config join.yaml --out DIR' ('hotcold agg checkpoint' for an aggregation) and migrate DIR)", src, err)
	}
	defer sdb.Close()
	dopts := storeOptions(opts.Logger)
	dopts.EnsureDefaults()
	ddb, err := pebble.Open(dst, dopts)
	if err != nil {
		return res, fmt.Errorf("state: create %s: %w", dst, err)
	}
	sink := &sstSink{db: ddb, dir: dst, wopts: dopts.MakeWriterOptions(6, ddb.TableFormat()), max: opts.TableBytes, seg: -1}
	defer func() {
		if ddb != nil {
			sink.abort()
			ddb.Close()
		}
	}()
	it, err := sdb.NewIter(nil)
	if err != nil {
		return res, err
	}
	defer it.Close()

	names := map[uint32]string{} // namespace id -> name
	written := map[uint32]int64{}
	var keysRead, rowsRead int64
	var buf []byte
	next := opts.ProgressEvery
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return res, fmt.Errorf("state: read %s: %w", src, err)
		}
		keysRead++
		out, keep := v, true
		seg := int64(-1)
		switch {
		case len(key) >= 2 && key[0] == metaPrefix && key[1] == 'n':
			// Namespace ids sort before every row.
			if len(v) != 4 {
				return res, fmt.Errorf("state: %s: corrupt namespace id for %q", src, key[2:])
			}
			names[binary.BigEndian.Uint32(v)] = string(key[2:])
		case len(key) > 0 && key[0] == rowPrefix:
			rowsRead++
			if len(key) < 1+4+4+8 {
				return res, fmt.Errorf("state: %s: corrupt row key %x", src, key)
			}
			id := binary.BigEndian.Uint32(key[1:5])
			name, ok := names[id]
			if !ok {
				return res, fmt.Errorf("state: %s: row key %x of unknown namespace id %d", src, key, id)
			}
			if opts.Row != nil {
				out, keep, err = opts.Row(name, key[9:len(key)-8], v, buf[:0])
				if err != nil {
					return res, err
				}
				if len(out) > 0 && (len(v) == 0 || &out[0] != &v[0]) {
					buf = out[:0] // out grown by appends: reuse it
				}
			}
			seg = int64(id)
			if keep {
				written[id]++
			}
		}
		if keep {
			// One namespace (or the metadata) per sstable, so that the
			// output's rows can be counted per namespace.
			if seg != sink.seg {
				if err := sink.flush(ctx); err != nil {
					return res, err
				}
				sink.seg = seg
			}
			if err := sink.set(ctx, key, out); err != nil {
				return res, err
			}
			res.Keys++
		}
		if keysRead%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
		if keysRead >= next {
			next += opts.ProgressEvery
			if opts.Progress != nil {
				opts.Progress(RewriteProgress{Keys: keysRead, Rows: rowsRead})
			}
		}
	}
	if err := it.Error(); err != nil {
		return res, fmt.Errorf("state: read %s: %w", src, err)
	}
	if err := sink.flush(ctx); err != nil {
		return res, err
	}
	if err := ddb.Flush(); err != nil {
		return res, err
	}
	if err := verifyRewrite(ddb, res.Keys, written, names, opts.Check); err != nil {
		return res, err
	}
	err = ddb.Close()
	ddb = nil
	if err != nil {
		return res, fmt.Errorf("state: close %s: %w", dst, err)
	}
	for id, n := range written {
		res.Rows[names[id]] = n
	}
	if opts.Progress != nil {
		opts.Progress(RewriteProgress{Keys: keysRead, Rows: rowsRead, Done: true})
	}
	return res, nil
}

// tableNamespace returns the namespace id of a row key.
func tableNamespace(key []byte) (uint32, bool) {
	if len(key) < 5 || key[0] != rowPrefix {
		return 0, false
	}
	return binary.BigEndian.Uint32(key[1:5]), true
}

// verifyRewrite reads the output's tables from its LSM and checks that
// their entry counts (from the sstables' properties) add up to the keys
// written and, per namespace, to the rows written; then it passes the
// first row of every namespace to check.
func verifyRewrite(db *pebble.DB, keys int64, written map[uint32]int64, names map[uint32]string, check func(string, []byte) error) error {
	levels, err := db.SSTables(pebble.WithProperties())
	if err != nil {
		return fmt.Errorf("state: verify rewrite: %w", err)
	}
	var got int64
	rows := map[uint32]int64{}
	for _, level := range levels {
		for _, t := range level {
			if t.Properties == nil {
				return fmt.Errorf("state: verify rewrite: table %s has no properties", t.FileNum)
			}
			n := int64(t.Properties.NumEntries)
			got += n
			lo, okLo := tableNamespace(t.Smallest.UserKey)
			hi, okHi := tableNamespace(t.Largest.UserKey)
			if okLo != okHi || lo != hi {
				return fmt.Errorf("state: verify rewrite: table %s spans namespaces", t.FileNum)
			}
			if okLo {
				rows[lo] += n
			}
		}
	}
	if got != keys {
		return fmt.Errorf("state: rewrite verification failed: %d keys written, %d in the output", keys, got)
	}
	for id, n := range written {
		if rows[id] != n {
			return fmt.Errorf("state: rewrite verification failed: namespace %q: %d rows written, %d in the output", names[id], n, rows[id])
		}
	}
	if check == nil {
		return nil
	}
	for id, n := range written {
		if n == 0 {
			continue
		}
		lo := binary.BigEndian.AppendUint32([]byte{rowPrefix}, id)
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: binary.BigEndian.AppendUint32([]byte{rowPrefix}, id+1)})
		if err != nil {
			return err
		}
		if it.First() {
			err = check(names[id], it.Value())
		}
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("state: rewrite verification failed: %w", err)
		}
	}
	return nil
}

// sstSink writes sorted keys into sstables of bounded size and ingests
// each into db as it completes.
type sstSink struct {
	db    *pebble.DB
	dir   string
	wopts sstable.WriterOptions
	max   uint64
	w     *sstable.Writer
	path  string
	n     int
	seg   int64 // namespace id of the open table, -1 for metadata
}

func (s *sstSink) set(ctx context.Context, k, v []byte) error {
	if s.w == nil {
		s.n++
		s.path = filepath.Join(s.dir, fmt.Sprintf("rewrite-%06d.sst", s.n))
		f, err := os.Create(s.path)
		if err != nil {
			return fmt.Errorf("state: create %s: %w", s.path, err)
		}
		s.w = sstable.NewWriter(&fileWritable{f: f, bw: bufio.NewWriterSize(f, 1<<20)}, s.wopts)
	}
	if err := s.w.Set(k, v); err != nil {
		return fmt.Errorf("state: write sstable: %w", err)
	}
	if s.w.Raw().EstimatedSize() >= s.max {
		return s.flush(ctx)
	}
	return nil
}

func (s *sstSink) flush(ctx context.Context) error {
	if s.w == nil {
		return ctx.Err()
	}
	err := s.w.Close()
	s.w = nil
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = os.Remove(s.path)
		return fmt.Errorf("state: finish sstable: %w", err)
	}
	if err := s.db.Ingest(ctx, []string{s.path}); err != nil {
		return fmt.Errorf("state: ingest sstable: %w", err)
	}
	_ = os.Remove(s.path)
	return nil
}

func (s *sstSink) abort() {
	if s.w != nil {
		s.w.Close()
		s.w = nil
		os.Remove(s.path)
	}
}

// fileWritable is an sstable destination with a large write buffer (Pebble's
// own buffers 4 KiB, one write call per block).
type fileWritable struct {
	f  *os.File
	bw *bufio.Writer
}

func (w *fileWritable) Write(p []byte) error {
	_, err := w.bw.Write(p)
	return err
}

func (w *fileWritable) Finish() error {
	err := w.bw.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *fileWritable) Abort() { w.f.Close() }
