package statemigrate

import (
	"context"
	"crypto/sha256"
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

	"github.com/hotcold/hotcold/manifest"
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
	// Partition is the partition directory (p<N>) being migrated by
	// ApplyJob; empty for Apply.
	Partition string
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
	Manifest *manifest.Manifest `json:"-"`
}

// Apply migrates the state in src (a stopped job's state directory or a
// checkpoint; it must hold the manifest plan.From) into a new state
// directory out, in the schema of plan.To. The source is opened read-only
// and never modified. The output is built in out+".partial" (removed first
// if a crashed run left it) and renamed to out when complete and verified:
//
//   - state.Rewrite streams every key in order into sstables of bounded
//     size that are ingested into a fresh state store (memory is bounded
//     regardless of the state size);
//   - rows of operators whose plan needs a rewrite are decoded in the old
//     schema and re-encoded in the new one (dropped columns removed, added
//     ones set to their default or, for aggregates, empty); other rows are
//     copied byte for byte, the new schema reads them as they are;
//   - every SampleEvery-th row of each table, and the first row of each
//     table read back from the output, is decoded in the new schema, and
//     the keys of the output are counted against the input;
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
	onDisk, err := manifest.Read(filepath.Join(src, manifest.FileName))
	if err != nil {
		return nil, fmt.Errorf("statemigrate: %s has no readable manifest (is it a hotcold state directory?): %w", src, err)
	}
	if err := manifest.Check(onDisk, plan.From); err != nil {
		return nil, fmt.Errorf("statemigrate: the manifest of %s is not the plan's old manifest; plan again with --from %s: %w",
			src, filepath.Join(src, manifest.FileName), err)
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

	counts, err := copyState(ctx, src, tmp, codecs, opts, start)
	if err != nil {
		return nil, err
	}

	// state.Rewrite verified the output's key and row counts; now open it
	// as state and read its offsets for the counted_from marks.
	sdb, err := state.Open(tmp, state.Options{})
	if err != nil {
		return nil, fmt.Errorf("statemigrate: the output does not open as state: %w", err)
	}
	offsets := sdb.Offsets()
	if err := sdb.Close(); err != nil {
		return nil, err
	}
	man := newManifest(plan, onDisk, opts.Now(), offsets)
	if err := manifest.Write(filepath.Join(tmp, manifest.FileName), man); err != nil {
		return nil, err
	}
	res.Manifest = man
	res.Keys = counts.Keys
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
func newManifest(plan *Plan, onDisk *manifest.Manifest, now time.Time, offsets map[state.TopicPartition]int64) *manifest.Manifest {
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
			var ot *manifest.Table
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
				c.CountedFrom = &manifest.CountedFrom{Time: now.UTC().Truncate(time.Second), Offsets: offs}
			}
		}
	}
	return m
}

// tableCodec migrates the values of one state table.
type tableCodec struct {
	op      string
	ns      string
	kind    manifest.OperatorKind
	rewrite bool
	old     *row.Schema
	new     *row.Schema
	proj    []int  // per new column: old column, or -1
	widen   []bool // per new column: its type widened (manifest.Widens)
	defs    []row.Value
	r, out  row.Row
	vr      row.Row

	rows, rewritten, sampled int64
}

type codecs struct {
	byName map[string]*tableCodec
}

func newCodecs(plan *Plan) (*codecs, error) {
	cs := &codecs{byName: map[string]*tableCodec{}}
	for _, opPlan := range plan.Operators {
		nop := plan.To.Operator(opPlan.ID)
		oop := plan.From.Operator(opPlan.ID)
		if nop == nil || oop == nil {
			continue
		}
		for i := range nop.Tables {
			nt := &nop.Tables[i]
			var ot *manifest.Table
			for j := range oop.Tables {
				if oop.Tables[j].Namespace == nt.Namespace {
					ot = &oop.Tables[j]
				}
			}
			if ot == nil {
				continue
			}
			c := &tableCodec{op: nop.ID, ns: nt.Namespace, kind: nop.Kind, rewrite: opPlan.Rewrite}
			var err error
			if c.old, err = manifest.StateSchema(oop, ot); err == nil {
				c.new, err = manifest.StateSchema(nop, nt)
			}
			if err != nil {
				return nil, fmt.Errorf("statemigrate: operator %q: %w", nop.ID, err)
			}
			c.proj = make([]int, c.new.Len())
			c.defs = make([]row.Value, c.new.Len())
			c.widen = make([]bool, c.new.Len())
			for k, col := range c.new.Columns() {
				c.proj[k] = c.old.Index(col.Name)
				c.defs[k] = col.Default
				c.widen[k] = c.proj[k] >= 0 && c.old.Column(c.proj[k]).Type != col.Type
			}
			c.out.Values = make([]row.Value, c.new.Len())
			cs.byName[nt.Namespace] = c
		}
	}
	return cs, nil
}

func (c *tableCodec) split(v []byte) (prefix, body []byte, err error) {
	prefix, body, err = manifest.SplitValue(c.kind, v)
	if err != nil {
		return nil, nil, fmt.Errorf("state %q: %w", c.ns, err)
	}
	return prefix, body, nil
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
			if c.widen[i] {
				c.out.Values[i] = manifest.WidenValue(c.r.Values[j], c.new.Column(i).Type)
			}
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

// copyState rewrites src into dst through state.Rewrite: rows of tables
// whose plan needs a rewrite are migrated, every SampleEvery-th row of each
// table and the first row of each table in the output are decoded in the
// new schema.
func copyState(ctx context.Context, src, dst string, cs *codecs, opts ApplyOptions, start time.Time) (state.RewriteResult, error) {
	ropts := state.RewriteOptions{
		ProgressEvery: opts.ProgressEvery,
		TableBytes:    opts.TableBytes,
		Logger:        opts.Logger,
		Row: func(ns string, _, v, out []byte) ([]byte, bool, error) {
			c := cs.byName[ns]
			if c == nil {
				return v, true, nil
			}
			c.rows++
			if c.rewrite {
				var err error
				if out, err = c.migrate(out, v); err != nil {
					return nil, false, fmt.Errorf("statemigrate: %w", err)
				}
				v = out
				c.rewritten++
			}
			if c.rows%opts.SampleEvery == 1 || opts.SampleEvery == 1 {
				if err := c.verify(v); err != nil {
					return nil, false, fmt.Errorf("statemigrate: verification failed: %w", err)
				}
				c.sampled++
			}
			return v, true, nil
		},
		Check: func(ns string, v []byte) error {
			c := cs.byName[ns]
			if c == nil {
				return nil
			}
			c.sampled++
			return c.verify(v)
		},
		Progress: func(p state.RewriteProgress) {
			ap := ApplyProgress{Keys: p.Keys, Rows: p.Rows, Elapsed: time.Since(start), Done: p.Done}
			if opts.Progress != nil {
				opts.Progress(ap)
			}
			opts.Logger.Info("statemigrate: progress", "keys", ap.Keys, "rows", ap.Rows, "elapsed", ap.Elapsed.Round(time.Millisecond),
				"rows_per_s", int64(float64(ap.Rows)/max(ap.Elapsed.Seconds(), 1e-9)))
		},
	}
	res, err := state.Rewrite(ctx, src, dst, ropts)
	if err != nil {
		return res, fmt.Errorf("statemigrate: rewrite %s: %w", src, err)
	}
	return res, nil
}

func fingerprint(m *manifest.Manifest) string {
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
	m, err := manifest.Read(filepath.Join(dir, manifest.FileName))
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
