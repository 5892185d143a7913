package statemigrate

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// MarkerFile is written into a migrated state directory last; it records
// what the migration did, so that re-running the same migration is a no-op.
const MarkerFile = "hotcold-migration.json"

// ApplyOptions tune Apply. The zero value is ready to use.
type ApplyOptions struct {
	// Progress receives progress every ProgressEvery keys and once when the
	// copy is done. It runs on Apply's goroutine. Nil: progress is only
	// logged.
	Progress func(ApplyProgress)
	// ProgressEvery is how many keys pass between Progress calls (and
	// progress log lines). Zero means 1,000,000.
	ProgressEvery int64
	// SampleEvery decodes every SampleEvery-th row of each state table in
	// the new schema as it is written (the first row of every table is
	// always decoded). Zero means 1024.
	SampleEvery int64
	// TableBytes is the target size of one sstable written for ingestion;
	// it bounds the disk space of the files in flight, and memory is
	// bounded independent of the state size regardless. Zero means 64 MiB.
	TableBytes uint64
	// Now is the clock of the counted_from marks. Nil means time.Now.
	Now func() time.Time
	// Logger receives progress and the summary. Nil discards them.
	Logger *slog.Logger
}

func (o *ApplyOptions) validate() error {
	var errs []error
	if o.ProgressEvery < 0 {
		errs = append(errs, fmt.Errorf("ProgressEvery is %d, want >= 0", o.ProgressEvery))
	}
	if o.SampleEvery < 0 {
		errs = append(errs, fmt.Errorf("SampleEvery is %d, want >= 0", o.SampleEvery))
	}
	if len(errs) > 0 {
		return fmt.Errorf("statemigrate: invalid apply options: %w", errors.Join(errs...))
	}
	return nil
}

func (o ApplyOptions) withDefaults() ApplyOptions {
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 1_000_000
	}
	if o.SampleEvery == 0 {
		o.SampleEvery = 1024
	}
	if o.TableBytes == 0 {
		o.TableBytes = 64 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// ApplyProgress is a progress report of Apply.
type ApplyProgress struct {
	// Keys is the number of keys copied so far (rows and metadata).
	Keys int64
	// Rows is the number of state rows copied so far.
	Rows int64
	// Elapsed is the time since Apply started.
	Elapsed time.Duration
	// Done is set on the last report, after the copy.
	Done bool
}

// OperatorResult says what Apply did to one operator's state.
type OperatorResult struct {
	// ID is the operator id.
	ID string `json:"id"`
	// Rows is the number of state rows copied.
	Rows int64 `json:"rows"`
	// Rewritten is the number of rows re-encoded in the new schema (0 when
	// the plan needs no rewrite for the operator).
	Rewritten int64 `json:"rewritten"`
	// Sampled is the number of rows decoded in the new schema to verify
	// the output.
	Sampled int64 `json:"sampled"`
}

// ApplyResult is what Apply did.
type ApplyResult struct {
	// Out is the migrated state directory.
	Out string `json:"out"`
	// AlreadyDone is set when Out already held this migration's complete
	// output and nothing was done.
	AlreadyDone bool `json:"already_done"`
	// Operators lists the state rows per operator.
	Operators []OperatorResult `json:"operators"`
	// Keys is the number of keys copied, rows and metadata.
	Keys int64 `json:"keys"`
	// Elapsed is the duration of the copy and verification.
	Elapsed time.Duration `json:"elapsed_ns"`
	// From and To are fingerprints of the manifests migrated between.
	From string `json:"from"`
	To   string `json:"to"`
	// Manifest is the manifest written into Out: the plan's new manifest
	// with counted_from marks on the aggregates this migration added.
	Manifest *state.Manifest `json:"-"`
}

// Apply migrates the state in src (a stopped job's state directory or a
// checkpoint; it must hold the manifest plan.From) into a new state
// directory out, in the schema of plan.To. The source is opened read-only
// and never modified. The output is built in out+".partial" (removed first
// if a crashed run left it) and renamed to out when complete and verified:
//
//   - every key is streamed in order into sstables of bounded size that are
//     ingested into a fresh Pebble store (memory is bounded regardless of
//     the state size);
//   - rows of operators whose plan needs a rewrite are decoded in the old
//     schema and re-encoded in the new one (dropped columns removed, added
//     ones set to their default or, for aggregates, empty); other rows are
//     copied byte for byte, the new schema reads them as they are;
//   - every SampleEvery-th row of each table is decoded in the new schema,
//     and the keys of the output are counted against the input;
//   - the new manifest is written with counted_from (time and source
//     offsets) on every aggregate the migration added, and the marker file
//     last.
//
// Re-running a completed migration into the same out returns its result
// with AlreadyDone set. A plan whose verdict is rebuild or fix is an error
// that says what to do instead.
func Apply(ctx context.Context, src string, plan *Plan, out string, opts ApplyOptions) (*ApplyResult, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	log := opts.Logger
	start := time.Now()
	switch plan.Verdict {
	case Rebuild, Fix:
		return nil, fmt.Errorf("statemigrate: the plan's verdict is %s, so the state cannot be migrated in place:\n%s", plan.Verdict, plan)
	}
	onDisk, err := state.ReadManifest(filepath.Join(src, state.ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("statemigrate: %s has no readable manifest (is it a hotcold state directory?): %w", src, err)
	}
	if err := state.Check(onDisk, plan.From); err != nil {
		return nil, fmt.Errorf("statemigrate: the manifest of %s is not the plan's old manifest; plan again with --from %s: %w",
			src, filepath.Join(src, state.ManifestFile), err)
	}
	res := &ApplyResult{Out: out, From: fingerprint(plan.From), To: fingerprint(plan.To)}
	if done, err := readMarker(out); err == nil {
		if done.From == res.From && done.To == res.To {
			done.AlreadyDone = true
			log.Info("statemigrate: migration already complete", "out", out)
			return done, nil
		}
		return nil, fmt.Errorf("statemigrate: %s already holds another migration (from %s to %s); choose another --out", out, done.From, done.To)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("statemigrate: %s exists but holds no completed migration; remove it or choose another --out", out)
	}
	tmp := out + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("statemigrate: remove leftover %s: %w", tmp, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}

	codecs, err := newCodecs(plan)
	if err != nil {
		return nil, err
	}
	log.Info("statemigrate: migrating state", "from", src, "to", out, "verdict", plan.Verdict)

	// Create the output through state, so that state opens it later with
	// the Pebble format it expects, then ingest into it.
	sdb, err := state.Open(tmp, state.Options{NoSync: true})
	if err != nil {
		return nil, err
	}
	if err := sdb.Close(); err != nil {
		return nil, err
	}
	counts, err := copyState(ctx, src, tmp, codecs, opts, start, res)
	if err != nil {
		return nil, err
	}

	// copyState verified the output's key and row counts from its LSM; now
	// open it as state and read its offsets for the counted_from marks.
	sdb, err = state.Open(tmp, state.Options{})
	if err != nil {
		return nil, fmt.Errorf("statemigrate: the output does not open as state: %w", err)
	}
	offsets := sdb.Offsets()
	if err := sdb.Close(); err != nil {
		return nil, err
	}
	man := newManifest(plan, onDisk, opts.Now(), offsets)
	if err := state.WriteManifest(filepath.Join(tmp, state.ManifestFile), man); err != nil {
		return nil, err
	}
	res.Manifest = man
	res.Keys = counts.keys
	for _, op := range plan.To.Operators {
		r := OperatorResult{ID: op.ID}
		for _, c := range codecs.byName {
			if c.op == op.ID {
				r.Rows += c.rows
				r.Rewritten += c.rewritten
				r.Sampled += c.sampled
			}
		}
		res.Operators = append(res.Operators, r)
	}
	res.Elapsed = time.Since(start)
	if err := writeMarker(tmp, res); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, fmt.Errorf("statemigrate: rename %s to %s: %w", tmp, out, err)
	}
	syncDir(filepath.Dir(out))
	for _, r := range res.Operators {
		log.Info("statemigrate: operator migrated", "operator", r.ID, "rows", r.Rows, "rewritten", r.Rewritten, "sampled", r.Sampled)
	}
	log.Info("statemigrate: migration complete", "out", out, "keys", res.Keys, "elapsed", res.Elapsed.Round(time.Millisecond))
	return res, nil
}

// newManifest is plan.To with the counted_from marks: kept from the old
// manifest, and set on aggregates this migration adds.
func newManifest(plan *Plan, onDisk *state.Manifest, now time.Time, offsets map[state.TopicPartition]int64) *state.Manifest {
	m := plan.To.Clone()
	offs := map[string]int64{}
	for tp, o := range offsets {
		offs[tp.Topic+"/"+strconv.Itoa(int(tp.Partition))] = o
	}
	for i := range m.Operators {
		op := &m.Operators[i]
		old := onDisk.Operator(op.ID)
		for j := range op.Tables {
			t := &op.Tables[j]
			var ot *state.Table
			if old != nil {
				for k := range old.Tables {
					if old.Tables[k].Namespace == t.Namespace {
						ot = &old.Tables[k]
					}
				}
			}
			for k := range t.Columns {
				c := &t.Columns[k]
				if c.Agg == "" || ot == nil {
					continue
				}
				if oc := ot.Column(c.Name); oc != nil {
					if oc.CountedFrom != nil && c.CountedFrom == nil {
						cf := *oc.CountedFrom
						c.CountedFrom = &cf
					}
					continue
				}
				c.CountedFrom = &state.CountedFrom{Time: now.UTC().Truncate(time.Second), Offsets: offs}
			}
		}
	}
	return m
}

// tableCodec migrates the values of one state table.
type tableCodec struct {
	op      string
	ns      string
	join    bool // values start with a uvarint the join keeps
	rewrite bool
	old     *row.Schema
	new     *row.Schema
	proj    []int // per new column: old column, or -1
	defs    []row.Value
	r, out  row.Row
	vr      row.Row

	rows, rewritten, sampled int64
}

type codecs struct {
	byName map[string]*tableCodec
	byID   map[uint32]*tableCodec
}

func newCodecs(plan *Plan) (*codecs, error) {
	cs := &codecs{byName: map[string]*tableCodec{}, byID: map[uint32]*tableCodec{}}
	for _, opPlan := range plan.Operators {
		nop := plan.To.Operator(opPlan.ID)
		oop := plan.From.Operator(opPlan.ID)
		if nop == nil || oop == nil {
			continue
		}
		for i := range nop.Tables {
			nt := &nop.Tables[i]
			var ot *state.Table
			for j := range oop.Tables {
				if oop.Tables[j].Namespace == nt.Namespace {
					ot = &oop.Tables[j]
				}
			}
			if ot == nil {
				continue
			}
			c := &tableCodec{op: nop.ID, ns: nt.Namespace, rewrite: opPlan.Rewrite}
			var err error
			switch nop.Kind {
			case state.KindAgg:
				if c.old, err = agg.StateSchema(oop); err == nil {
					c.new, err = agg.StateSchema(nop)
				}
			case state.KindJoin:
				c.join = true
				if c.old, err = ot.Schema(oop.Version); err == nil {
					c.new, err = nt.Schema(nop.Version)
				}
			default:
				err = fmt.Errorf("unknown operator kind %q", nop.Kind)
			}
			if err != nil {
				return nil, fmt.Errorf("statemigrate: operator %q: %w", nop.ID, err)
			}
			c.proj = make([]int, c.new.Len())
			c.defs = make([]row.Value, c.new.Len())
			for k, col := range c.new.Columns() {
				c.proj[k] = c.old.Index(col.Name)
				c.defs[k] = col.Default
			}
			c.out.Values = make([]row.Value, c.new.Len())
			cs.byName[nt.Namespace] = c
		}
	}
	return cs, nil
}

func (c *tableCodec) split(v []byte) (prefix, body []byte, err error) {
	if !c.join {
		return nil, v, nil
	}
	_, n := binary.Uvarint(v)
	if n <= 0 {
		return nil, nil, fmt.Errorf("state %q: corrupt join value header", c.ns)
	}
	return v[:n], v[n:], nil
}

// migrate appends the migrated form of v to dst.
func (c *tableCodec) migrate(dst, v []byte) ([]byte, error) {
	if len(v) == 0 {
		return dst, nil // an agg's deleted group
	}
	prefix, body, err := c.split(v)
	if err != nil {
		return dst, err
	}
	if err := c.old.DecodeValue(body, &c.r); err != nil {
		return dst, fmt.Errorf("state %q: decode in the old schema: %w", c.ns, err)
	}
	for i, j := range c.proj {
		if j >= 0 {
			c.out.Values[i] = c.r.Values[j]
		} else {
			c.out.Values[i] = c.defs[i]
		}
	}
	dst = append(dst, prefix...)
	dst, err = c.new.AppendValue(dst, c.out)
	if err != nil {
		return dst, fmt.Errorf("state %q: encode in the new schema: %w", c.ns, err)
	}
	return dst, nil
}

// verify decodes a migrated value in the new schema.
func (c *tableCodec) verify(v []byte) error {
	if len(v) == 0 {
		return nil
	}
	_, body, err := c.split(v)
	if err != nil {
		return err
	}
	if err := c.new.DecodeValue(body, &c.vr); err != nil {
		return fmt.Errorf("state %q: a migrated row does not decode in the new schema: %w", c.ns, err)
	}
	return nil
}

type keyCounts struct {
	keys int64
	rows map[uint32]int64
}

// copyState streams every key of src into sstables ingested into dst.
func copyState(ctx context.Context, src, dst string, cs *codecs, opts ApplyOptions, start time.Time, res *ApplyResult) (keyCounts, error) {
	counts := keyCounts{rows: map[uint32]int64{}}
	sdb, err := pebble.Open(src, pebbleOptions(true))
	if err != nil {
		return counts, fmt.Errorf("statemigrate: open %s read-only: %w (is the job still running? stop it or migrate a checkpoint)", src, err)
	}
	defer sdb.Close()
	dopts := pebbleOptions(false)
	ddb, err := pebble.Open(dst, dopts)
	if err != nil {
		return counts, fmt.Errorf("statemigrate: open output: %w", err)
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
		return counts, err
	}
	defer it.Close()
	var buf []byte
	var rows int64
	next := opts.ProgressEvery
	report := func(done bool) {
		p := ApplyProgress{Keys: counts.keys, Rows: rows, Elapsed: time.Since(start), Done: done}
		if opts.Progress != nil {
			opts.Progress(p)
		}
		opts.Logger.Info("statemigrate: progress", "keys", p.Keys, "rows", p.Rows, "elapsed", p.Elapsed.Round(time.Millisecond),
			"rows_per_s", int64(float64(p.Rows)/max(p.Elapsed.Seconds(), 1e-9)))
	}
	for valid := it.First(); valid; valid = it.Next() {
		key := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return counts, err
		}
		out := v
		if name, id, ok := namespaceName(key, v); ok {
			if c := cs.byName[name]; c != nil {
				cs.byID[id] = c
			}
		} else if id, ok := rowNamespace(key); ok {
			counts.rows[id]++
			rows++
			if c := cs.byID[id]; c != nil {
				c.rows++
				if c.rewrite {
					if buf, err = c.migrate(buf[:0], v); err != nil {
						return counts, fmt.Errorf("statemigrate: %w", err)
					}
					out = buf
					c.rewritten++
				}
				if c.rows%opts.SampleEvery == 1 || opts.SampleEvery == 1 {
					if err := c.verify(out); err != nil {
						return counts, fmt.Errorf("statemigrate: verification failed: %w", err)
					}
					c.sampled++
				}
			}
		}
		// One namespace (or the metadata) per sstable, so that the
		// output's tables can be counted per namespace.
		seg := int64(-1)
		if id, ok := rowNamespace(key); ok {
			seg = int64(id)
		}
		if seg != sink.seg {
			if err := sink.flush(ctx); err != nil {
				return counts, err
			}
			sink.seg = seg
		}
		if err := sink.set(ctx, key, out); err != nil {
			return counts, err
		}
		counts.keys++
		if counts.keys >= next {
			next += opts.ProgressEvery
			if err := ctx.Err(); err != nil {
				return counts, err
			}
			report(false)
		}
	}
	if err := it.Error(); err != nil {
		return counts, fmt.Errorf("statemigrate: read %s: %w", src, err)
	}
	if err := sink.finish(ctx); err != nil {
		return counts, err
	}
	if err := ddb.Flush(); err != nil {
		return counts, err
	}
	if err := verifyOutput(ddb, counts, cs); err != nil {
		return counts, err
	}
	err = ddb.Close()
	ddb = nil
	if err != nil {
		return counts, err
	}
	report(true)
	return counts, nil
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
		s.path = filepath.Join(s.dir, fmt.Sprintf("migrate-%06d.sst", s.n))
		f, err := os.Create(s.path)
		if err != nil {
			return fmt.Errorf("statemigrate: create %s: %w", s.path, err)
		}
		s.w = sstable.NewWriter(&fileWritable{f: f, bw: bufio.NewWriterSize(f, 1<<20)}, s.wopts)
	}
	if err := s.w.Set(k, v); err != nil {
		return fmt.Errorf("statemigrate: write sstable: %w", err)
	}
	if s.w.Raw().EstimatedSize() >= s.max {
		return s.flush(ctx)
	}
	return nil
}

func (s *sstSink) flush(ctx context.Context) error {
	if s.w == nil {
		return nil
	}
	err := s.w.Close()
	s.w = nil
	if err != nil {
		return fmt.Errorf("statemigrate: finish sstable: %w", err)
	}
	if err := s.db.Ingest(ctx, []string{s.path}); err != nil {
		return fmt.Errorf("statemigrate: ingest sstable: %w", err)
	}
	_ = os.Remove(s.path)
	return nil
}

func (s *sstSink) finish(ctx context.Context) error { return s.flush(ctx) }

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

// verifyOutput reads the output's tables from its LSM and checks that
// their entry counts (from the sstables' properties) add up, per
// namespace, to the rows read from the source; then it reads back the
// first row of every migrated table and decodes it in the new schema.
func verifyOutput(db *pebble.DB, counts keyCounts, cs *codecs) error {
	levels, err := db.SSTables(pebble.WithProperties())
	if err != nil {
		return fmt.Errorf("statemigrate: verify: %w", err)
	}
	var keys int64
	rows := map[uint32]int64{}
	for _, level := range levels {
		for _, t := range level {
			if t.Properties == nil {
				return fmt.Errorf("statemigrate: verify: table %s has no properties", t.FileNum)
			}
			n := int64(t.Properties.NumEntries)
			keys += n
			lo, okLo := rowNamespace(t.Smallest.UserKey)
			hi, okHi := rowNamespace(t.Largest.UserKey)
			if okLo != okHi || lo != hi {
				return fmt.Errorf("statemigrate: verify: table %s spans namespaces", t.FileNum)
			}
			if okLo {
				rows[lo] += n
			}
		}
	}
	if keys != counts.keys {
		return fmt.Errorf("statemigrate: verification failed: %d keys written, %d in the output", counts.keys, keys)
	}
	for id, n := range counts.rows {
		if rows[id] != n {
			return fmt.Errorf("statemigrate: verification failed: namespace %d: %d rows written, %d in the output", id, n, rows[id])
		}
	}
	for id, c := range cs.byID {
		if counts.rows[id] == 0 {
			continue
		}
		lo := binary.BigEndian.AppendUint32([]byte{rowPrefix}, id)
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: binary.BigEndian.AppendUint32([]byte{rowPrefix}, id+1)})
		if err != nil {
			return err
		}
		if it.First() {
			err = c.verify(it.Value())
			c.sampled++
		}
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("statemigrate: verification failed: %w", err)
		}
	}
	return nil
}

func fingerprint(m *state.Manifest) string {
	c := m.Clone()
	for i := range c.Operators {
		for j := range c.Operators[i].Tables {
			for k := range c.Operators[i].Tables[j].Columns {
				c.Operators[i].Tables[j].Columns[k].CountedFrom = nil
			}
		}
	}
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func readMarker(dir string) (*ApplyResult, error) {
	b, err := os.ReadFile(filepath.Join(dir, MarkerFile))
	if err != nil {
		return nil, err
	}
	var r ApplyResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("statemigrate: %s: %w", filepath.Join(dir, MarkerFile), err)
	}
	m, err := state.ReadManifest(filepath.Join(dir, state.ManifestFile))
	if err != nil {
		return nil, err
	}
	r.Manifest = m
	return &r, nil
}

func writeMarker(dir string, r *ApplyResult) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(filepath.Join(dir, MarkerFile), append(b, '\n'))
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
