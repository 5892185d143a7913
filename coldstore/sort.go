package coldstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// The loader's sort is an external merge sort of (key, value) pairs:
//
//   - encoded pairs are appended to a chunk (one arena of bytes plus an
//     index of entries); a full chunk is sorted in memory (radix sort on
//     abbreviated keys) and rewritten in key order;
//   - while the sorted chunks fit the memory budget they stay in memory;
//     beyond it they are merged into a run file on disk (with a sparse key
//     index) and their memory is reused;
//   - at the end the key space is cut into one range per writer (splitters
//     sampled from the chunks and run indexes), and each writer merges its
//     range of every run and chunk (a loser tree) into one stream sorted by
//     key, in which equal keys arrive in input order, so that the last one
//     wins.
//
// Input order is kept by tie-breaking on the position in the input: runs
// are older than chunks, earlier runs and chunks older than later ones, and
// inside a chunk the arena offset grows with the input.

// entry indexes one pair in a chunk's arena: key at off, value right after.
type entry struct {
	pfx  uint64 // abbreviated key (keyPrefix): most comparisons stop here
	off  uint32
	klen uint32
	vlen uint32
}

type chunk struct {
	arena []byte
	ents  []entry
}

// keyPrefix abbreviates a memcomparable key for comparisons: bytes 1 to 8,
// big-endian, zero padded. Byte 0 is skipped because every key the loader
// sorts starts with the same tag (0x01: the first key column is not null),
// so the abbreviation orders keys like their bytes do; ties fall back to a
// full comparison.
func keyPrefix(k []byte) uint64 {
	if len(k) >= 9 {
		return binary.BigEndian.Uint64(k[1:9])
	}
	var b [8]byte
	if len(k) > 1 {
		copy(b[:], k[1:])
	}
	return binary.BigEndian.Uint64(b[:])
}

func (c *chunk) key(e *entry) []byte {
	return c.arena[e.off : e.off+e.klen : e.off+e.klen]
}

func (c *chunk) value(e *entry) []byte {
	s := e.off + e.klen
	return c.arena[s : s+e.vlen : s+e.vlen]
}

// sort orders the entries by key, then by input order, and rewrites the
// arena in that order into spare, so that the merge reads every chunk
// sequentially. It returns the old arena and entry slice for reuse as the
// next call's spare and tmp.
//
// The order is a stable LSD radix sort on the abbreviated keys, skipping
// the bytes that are equal in every entry (for integer ids most of them),
// then a comparison sort of each run of equal abbreviations by full key
// and input position.
func (c *chunk) sort(spare []byte, tmp []entry) ([]byte, []entry) {
	src := c.ents
	if cap(tmp) < len(src) {
		tmp = make([]entry, len(src), cap(src))
	}
	dst := tmp[:len(src)]
	and, or := ^uint64(0), uint64(0)
	for i := range src {
		and &= src[i].pfx
		or |= src[i].pfx
	}
	varying := and ^ or
	for shift := uint(0); shift < 64; shift += 8 {
		if (varying>>shift)&0xff == 0 {
			continue
		}
		var count [256]int
		for i := range src {
			count[(src[i].pfx>>shift)&0xff]++
		}
		sum := 0
		for b := range count {
			n := count[b]
			count[b] = sum
			sum += n
		}
		for i := range src {
			b := (src[i].pfx >> shift) & 0xff
			dst[count[b]] = src[i]
			count[b]++
		}
		src, dst = dst, src
	}
	a := c.arena
	for i := 0; i < len(src); {
		j := i + 1
		for j < len(src) && src[j].pfx == src[i].pfx {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(src[i:j], func(x, y entry) int {
				if r := bytes.Compare(a[x.off:x.off+x.klen], a[y.off:y.off+y.klen]); r != 0 {
					return r
				}
				if x.off < y.off {
					return -1
				}
				return 1
			})
		}
		i = j
	}
	c.ents = src
	if cap(spare) < len(a) {
		spare = make([]byte, 0, cap(a))
	}
	out := spare[:0]
	for i := range c.ents {
		e := &c.ents[i]
		n := e.klen + e.vlen
		off := len(out)
		out = append(out, a[e.off:e.off+n]...)
		e.off = uint32(off)
	}
	c.arena = out
	return a[:0], dst[:0]
}

func (c *chunk) size() int64 { return int64(cap(c.arena)) + int64(cap(c.ents))*int64(entrySize) }

const entrySize = 24

// lowerBound returns the first entry whose key is >= k (len(ents) if
// none); k nil means the start.
func (c *chunk) lowerBound(k []byte) int {
	if k == nil {
		return 0
	}
	return sort.Search(len(c.ents), func(i int) bool { return bytes.Compare(c.key(&c.ents[i]), k) >= 0 })
}

// cursor is one sorted input of a merge.
type cursor interface {
	// next advances; it returns false at the end or on error (see err).
	next() bool
	key() []byte
	value() []byte
	err() error
	close()
	// stable reports whether key and value stay valid after next.
	stable() bool
}

// chunkCursor walks entries [i+1, end) of a sorted, gathered chunk.
type chunkCursor struct {
	c   *chunk
	i   int
	end int
}

func (cc *chunkCursor) next() bool    { cc.i++; return cc.i < cc.end }
func (cc *chunkCursor) key() []byte   { return cc.c.key(&cc.c.ents[cc.i]) }
func (cc *chunkCursor) value() []byte { return cc.c.value(&cc.c.ents[cc.i]) }
func (cc *chunkCursor) err() error    { return nil }
func (cc *chunkCursor) close()        {}
func (cc *chunkCursor) stable() bool  { return true }

// A run file is a sequence of records: uvarint key length, uvarint value
// length, key, value. It is written and read by this process only, but is
// parsed defensively: a truncated or damaged run is an error. A sparse
// index (every runIndexEvery records: key and offset) kept in memory lets a
// reader start at any key range.
type runFile struct {
	name  string
	index []runIndexEntry
}

type runIndexEntry struct {
	key []byte
	off int64
}

const runIndexEvery = 1024

type runWriter struct {
	f   *os.File
	w   *bufio.Writer
	run runFile
	n   int64
	off int64
	hdr [2 * binary.MaxVarintLen64]byte
}

func createRun(dir string, n int) (*runWriter, error) {
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("run-%06d", n)))
	if err != nil {
		return nil, fmt.Errorf("coldstore: spill sorted run: %w", err)
	}
	return &runWriter{f: f, w: bufio.NewWriterSize(f, 1<<20), run: runFile{name: f.Name()}}, nil
}

func (rw *runWriter) add(k, v []byte) error {
	if rw.n%runIndexEvery == 0 {
		rw.run.index = append(rw.run.index, runIndexEntry{key: bytes.Clone(k), off: rw.off})
	}
	rw.n++
	n := binary.PutUvarint(rw.hdr[:], uint64(len(k)))
	n += binary.PutUvarint(rw.hdr[n:], uint64(len(v)))
	rw.off += int64(n + len(k) + len(v))
	if _, err := rw.w.Write(rw.hdr[:n]); err != nil {
		return err
	}
	if _, err := rw.w.Write(k); err != nil {
		return err
	}
	_, err := rw.w.Write(v)
	return err
}

func (rw *runWriter) finish() (runFile, error) {
	err := rw.w.Flush()
	if cerr := rw.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return runFile{}, fmt.Errorf("coldstore: spill sorted run: %w", err)
	}
	return rw.run, nil
}

// runCursor reads the records of a run with keys in [lo, hi) (nil: open).
type runCursor struct {
	name string
	f    io.Closer
	r    *bufio.Reader
	lo   []byte
	hi   []byte
	buf  []byte
	k, v []byte
	e    error
}

// openRun opens a run positioned before the first key >= lo.
func openRun(run runFile, lo, hi []byte, bufSize int) (*runCursor, error) {
	f, err := os.Open(run.name)
	if err != nil {
		return nil, fmt.Errorf("coldstore: read sorted run: %w", err)
	}
	var off int64
	if lo != nil {
		// last index entry with key < lo: every key >= lo comes after it
		i := sort.Search(len(run.index), func(i int) bool { return bytes.Compare(run.index[i].key, lo) >= 0 })
		if i > 0 {
			off = run.index[i-1].off
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("coldstore: read sorted run: %w", err)
	}
	rc := newRunCursor(run.name, f, bufio.NewReaderSize(f, bufSize))
	rc.lo, rc.hi = lo, hi
	return rc, nil
}

func newRunCursor(name string, c io.Closer, r *bufio.Reader) *runCursor {
	return &runCursor{name: name, f: c, r: r}
}

// maxRunRecord bounds one record of a run; larger is damage, not data.
const maxRunRecord = 1 << 30

func (rc *runCursor) next() bool {
	for {
		if !rc.read() {
			return false
		}
		if rc.hi != nil && bytes.Compare(rc.k, rc.hi) >= 0 {
			rc.close()
			return false
		}
		if rc.lo == nil || bytes.Compare(rc.k, rc.lo) >= 0 {
			rc.lo = nil
			return true
		}
	}
}

func (rc *runCursor) read() bool {
	if rc.e != nil || rc.r == nil {
		return false
	}
	kl, err := binary.ReadUvarint(rc.r)
	if err == io.EOF {
		return false
	}
	if err != nil {
		rc.e = fmt.Errorf("coldstore: sorted run %s: %w", rc.name, err)
		return false
	}
	vl, err := binary.ReadUvarint(rc.r)
	if err != nil || kl > maxRunRecord || vl > maxRunRecord {
		rc.e = fmt.Errorf("coldstore: sorted run %s: damaged record header", rc.name)
		return false
	}
	n := int(kl + vl)
	if cap(rc.buf) < n {
		rc.buf = make([]byte, n)
	}
	rc.buf = rc.buf[:n]
	if _, err := io.ReadFull(rc.r, rc.buf); err != nil {
		rc.e = fmt.Errorf("coldstore: sorted run %s: truncated record: %w", rc.name, err)
		return false
	}
	rc.k, rc.v = rc.buf[:kl:kl], rc.buf[kl:]
	return true
}

func (rc *runCursor) key() []byte   { return rc.k }
func (rc *runCursor) value() []byte { return rc.v }
func (rc *runCursor) err() error    { return rc.e }
func (rc *runCursor) stable() bool  { return false }
func (rc *runCursor) close() {
	if rc.f != nil {
		_ = rc.f.Close()
		rc.f = nil
		rc.r = nil
	}
}

// merger merges sorted cursors into one stream ordered by key and, for
// equal keys, by cursor index (input order). It is a loser tree: each pop
// replays one leaf-to-root path, log2(k) comparisons, most of them on the
// abbreviated keys.
type merger struct {
	k    int      // leaves, a power of two (padding leaves are exhausted)
	cs   []cursor // per leaf; nil when exhausted
	pfx  []uint64 // abbreviated current key per leaf
	tree []int32  // tree[0] is the winner, tree[1:] the losers of each match
	err  error
}

func newMerger(cs []cursor) (*merger, error) {
	k := 1
	for k < len(cs) {
		k *= 2
	}
	m := &merger{k: k, cs: make([]cursor, k), pfx: make([]uint64, k), tree: make([]int32, k)}
	for i, c := range cs {
		if c.next() {
			m.cs[i], m.pfx[i] = c, keyPrefix(c.key())
		} else if err := c.err(); err != nil {
			return nil, err
		} else {
			c.close()
		}
	}
	if k == 1 {
		m.tree[0] = 0
	} else {
		m.tree[0] = m.build(1)
	}
	return m, nil
}

// build plays the matches of the subtree at node and returns its winner.
func (m *merger) build(node int) int32 {
	if node >= m.k {
		return int32(node - m.k)
	}
	a, b := m.build(2*node), m.build(2*node+1)
	if m.less(a, b) {
		m.tree[node] = b
		return a
	}
	m.tree[node] = a
	return b
}

// less orders leaves: exhausted last, then by key, then by index.
func (m *merger) less(a, b int32) bool {
	ca, cb := m.cs[a], m.cs[b]
	if ca == nil || cb == nil {
		return cb == nil && ca != nil
	}
	if m.pfx[a] != m.pfx[b] {
		return m.pfx[a] < m.pfx[b]
	}
	if r := bytes.Compare(ca.key(), cb.key()); r != 0 {
		return r < 0
	}
	return a < b
}

// top returns the smallest cursor; valid until advance. ok is false at the
// end.
func (m *merger) top() (cursor, bool) {
	c := m.cs[m.tree[0]]
	return c, c != nil
}

// advance moves the smallest cursor forward and replays its path.
func (m *merger) advance() {
	w := m.tree[0]
	c := m.cs[w]
	if c.next() {
		m.pfx[w] = keyPrefix(c.key())
	} else {
		if err := c.err(); err != nil && m.err == nil {
			m.err = err
		}
		c.close()
		m.cs[w] = nil
	}
	for n := (int(w) + m.k) / 2; n >= 1; n /= 2 {
		if m.less(m.tree[n], w) {
			m.tree[n], w = w, m.tree[n]
		}
	}
	m.tree[0] = w
}

// dedupe feeds the distinct keys of m to add, each with the last value
// given for it, and returns how many pairs it dropped. add must not keep
// k or v after it returns.
func (m *merger) dedupe(add func(k, v []byte) error) (dups int64, err error) {
	var kb, vb []byte
	for {
		c, ok := m.top()
		if !ok {
			break
		}
		k, v := c.key(), c.value()
		stable := c.stable()
		if !stable {
			kb, vb = append(kb[:0], k...), append(vb[:0], v...)
			k, v = kb, vb
		}
		m.advance()
		for {
			n, ok := m.top()
			if !ok || !bytes.Equal(n.key(), k) {
				break
			}
			dups++
			if v = n.value(); !n.stable() {
				vb = append(vb[:0], v...)
				v = vb
			}
			m.advance()
		}
		if err := add(k, v); err != nil {
			return dups, err
		}
	}
	return dups, m.err
}

// splitters picks up to n-1 distinct keys that cut the sorted inputs into
// n parts of about equal size, from samples of every chunk and the index
// of every run.
func splitters(mem []*chunk, runs []runFile, n int) [][]byte {
	if n <= 1 {
		return nil
	}
	var samples [][]byte
	for _, c := range mem {
		const per = 64
		for j := 0; j < per && len(c.ents) > 0; j++ {
			samples = append(samples, c.key(&c.ents[j*len(c.ents)/per]))
		}
	}
	for _, r := range runs {
		for _, e := range r.index {
			samples = append(samples, e.key)
		}
	}
	if len(samples) == 0 {
		return nil
	}
	slices.SortFunc(samples, bytes.Compare)
	var out [][]byte
	for i := 1; i < n; i++ {
		k := samples[i*len(samples)/n]
		if len(out) > 0 && bytes.Equal(out[len(out)-1], k) {
			continue
		}
		if len(out) == 0 && bytes.Equal(samples[0], k) {
			continue // an empty first part
		}
		out = append(out, k)
	}
	return out
}
