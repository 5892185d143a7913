package coldstore

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// sstSet collects the sstables the writers of one load produce.
type sstSet struct {
	p      *Pebble
	dir    string
	prefix []byte
	target int64

	mu    sync.Mutex
	paths []string
}

func (s *sstSet) done(path string) {
	s.mu.Lock()
	s.paths = append(s.paths, path)
	n := len(s.paths)
	s.mu.Unlock()
	if h := testHooks.afterSST; h != nil {
		h(n)
	}
}

// sorted returns the paths in key order (file names sort like their keys).
func (s *sstSet) sorted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]string(nil), s.paths...)
	sort.Strings(out)
	return out
}

// sstWriter writes the pairs of one key range into sstables of about
// set.target bytes, named <part>-<n>.sst so that names sort like keys.
type sstWriter struct {
	set  *sstSet
	part int
	n    int
	w    *sstable.Writer
	path string
	size int64
	kb   []byte
}

func (w *sstWriter) add(k, v []byte) error {
	if w.w == nil {
		w.path = filepath.Join(w.set.dir, fmt.Sprintf("%04d-%06d.sst", w.part, w.n))
		w.n++
		f, err := w.set.p.opts.FS.Create(w.path, vfs.WriteCategoryUnspecified)
		if err != nil {
			return fmt.Errorf("write sstable: %w", err)
		}
		w.w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), w.set.p.writerOpts)
	}
	w.kb = append(append(w.kb[:0], w.set.prefix...), k...)
	if err := w.w.Set(w.kb, v); err != nil {
		return fmt.Errorf("write sstable %s: %w", w.path, err)
	}
	w.size += int64(len(w.kb) + len(v))
	if w.size >= w.set.target {
		return w.closeFile()
	}
	return nil
}

func (w *sstWriter) closeFile() error {
	err := w.w.Close()
	w.w, w.size = nil, 0
	if err != nil {
		return fmt.Errorf("write sstable %s: %w", w.path, err)
	}
	w.set.done(w.path)
	return nil
}

func (w *sstWriter) finish() error {
	if w.w != nil {
		return w.closeFile()
	}
	return nil
}

func (w *sstWriter) abort() {
	if w.w != nil {
		_ = w.w.Close() // the load's directory is removed
		w.w = nil
	}
}
