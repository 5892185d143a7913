package join

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// InputError is a record that cannot be joined (wrong arity, a value of
// the wrong type, a null or unreadable event time). Push returns it without
// changing any state; the caller applies its dirty-data policy.
type InputError struct {
	Side   Side
	Input  string
	Reason string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("join: %s input %q: %s", e.Side, e.Input, e.Reason)
}

// sideInfo is the resolved configuration of one input.
type sideInfo struct {
	in       Input
	schema   *row.Schema
	keyIdx   []int
	etIdx    int
	etType   row.Type
	ns       *state.Namespace
	cold     bool
	coldMu   sync.Mutex // guards coldInfo and coldMap, read by Stats
	coldInfo coldstore.TableInfo
	coldMap  []int // side column -> cold schema column, -1 when absent
	coldEt   int   // event-time column in the cold schema, -1 when absent
	lastRef  time.Time
	refKnown bool
}

// Operator is a hot/cold stream-stream join. See the package documentation.
//
// An Operator has one owner goroutine: Push, Flush, Commit and Close must not
// be called concurrently. Stats and OutputSchema are safe from any goroutine.
// The operator starts goroutines only for cold lookups and waits for them
// in Flush and Close.
type Operator struct {
	cfg      Config
	db       *state.DB
	sides    [2]*sideInfo
	keyTypes []row.Type
	out      *row.Schema
	outIdx   []outRef
	m        *opMetrics
	stats    *statsCounters

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// The watermark is the smaller of the two inputs' newest event-time
	// days (as in Flink, an input that lags holds the watermark back), but
	// at least floor (Advance). Undefined until both inputs have data or a
	// floor is set.
	maxDay   [2]state.Day
	hasMax   [2]bool
	floor    state.Day
	hasFloor bool

	pending  map[string]*keyQueue
	open     [2][]*coldReq // by looked-up side
	inflight int
	done     chan coldBatch
	err      error

	keyBuf, valBuf []byte
	matches        []match
	recBuf         record
	keyVals        []row.Value
	lookupSide     *sideInfo
	collect        func(state.Entry) error // o.collectMatch
}

type outRef struct {
	side Side
	idx  int
}

// New returns an operator whose state lives in db under the namespaces
// cfg.Name/<input name>. db must be open; the operator does not close it.
// It reads the cold tables' descriptions: a cold store that cannot be
// reached, a missing cold table or a cold schema that does not fit the
// input is an error (see CheckCold), never an empty cold side.
func New(ctx context.Context, db *state.DB, cfg Config) (*Operator, error) {
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	o := &Operator{cfg: c, db: db, pending: map[string]*keyQueue{}, done: make(chan coldBatch, c.MaxInFlight)}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	o.collect = o.collectMatch
	for i, in := range []Input{c.Left, c.Right} {
		s := &sideInfo{in: in, schema: in.Schema, etIdx: in.Schema.Index(in.EventTime), cold: in.ColdTable != "", coldEt: -1}
		s.etType = in.Schema.Column(s.etIdx).Type
		for _, k := range in.Key {
			s.keyIdx = append(s.keyIdx, in.Schema.Index(k))
		}
		ns, err := db.Namespace(StateNamespace(c.Name, in.Name), state.Retention{
			Days: c.RetentionDays, ColdBacked: s.cold, HardCapDays: c.HardCapDays, OverCap: c.OverCap,
		})
		if err != nil {
			return nil, fmt.Errorf("join: %w", err)
		}
		s.ns = ns
		o.sides[i] = s
	}
	for _, k := range o.sides[Left].keyIdx {
		o.keyTypes = append(o.keyTypes, c.Left.Schema.Column(k).Type)
	}
	cols := make([]row.Column, len(c.Output))
	for i, oc := range c.Output {
		s := o.sides[oc.Side]
		j := s.schema.Index(oc.Source)
		src := s.schema.Column(j)
		nullable := src.Nullable || (c.Type == LeftOuter && oc.Side == Right)
		cols[i] = row.Column{Name: oc.Name, Type: src.Type, Nullable: nullable}
		o.outIdx = append(o.outIdx, outRef{oc.Side, j})
	}
	out, err := row.NewSchema(cols, c.OutputKey, 1)
	if err != nil {
		return nil, fmt.Errorf("join: output schema: %w", err)
	}
	o.out = out
	o.m = newOpMetrics(c.Registerer, c.Name, c.Left.Name, c.Right.Name)
	o.stats = &statsCounters{}
	if v, ok, err := db.Meta(o.watermarkKey()); err != nil {
		return nil, fmt.Errorf("join: read watermark: %w", err)
	} else if ok && len(v) == 15 {
		o.maxDay[Left] = state.Day(int32(binary.BigEndian.Uint32(v)))
		o.maxDay[Right] = state.Day(int32(binary.BigEndian.Uint32(v[4:])))
		o.floor = state.Day(int32(binary.BigEndian.Uint32(v[8:])))
		o.hasMax[Left], o.hasMax[Right], o.hasFloor = v[12] == 1, v[13] == 1, v[14] == 1
	}
	for _, s := range o.sides {
		if s.cold {
			if err := o.refreshCoverage(ctx, s); err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

func (o *Operator) watermarkKey() string { return "join/" + o.cfg.Name + "/watermark" }

// OutputSchema returns the schema of the output rows (right-side columns of
// a left outer join are nullable). Its key is Config.OutputKey.
func (o *Operator) OutputSchema() *row.Schema { return o.out }

// Watermark returns the operator's current event-time day: the smaller of
// the two inputs' newest days, raised to the Advance floor. ok is false
// until both inputs have data or Advance was called. Records older than the
// hot window it ends are late; buckets expire relative to it.
func (o *Operator) Watermark() (day state.Day, ok bool) {
	if o.hasMax[Left] && o.hasMax[Right] {
		day, ok = min(o.maxDay[Left], o.maxDay[Right]), true
	}
	if o.hasFloor && (!ok || o.floor > day) {
		day, ok = o.floor, true
	}
	return day, ok
}

func (o *Operator) encodeWatermark() []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(o.maxDay[Left]))
	b = binary.BigEndian.AppendUint32(b, uint32(o.maxDay[Right]))
	b = binary.BigEndian.AppendUint32(b, uint32(o.floor))
	flag := func(v bool) byte {
		if v {
			return 1
		}
		return 0
	}
	return append(b, flag(o.hasMax[Left]), flag(o.hasMax[Right]), flag(o.hasFloor))
}

// RefreshCoverage re-reads the cold tables' descriptions (covers-until and
// schema) now. Flush does this every Config.CoverageRefresh. A cold table
// whose new schema no longer fits its input fails the operator; a table
// that cannot be described keeps the last known coverage (hot buckets are
// then kept longer, never dropped early).
func (o *Operator) RefreshCoverage(ctx context.Context) error {
	for _, s := range o.sides {
		if s.cold {
			if err := o.refreshCoverage(ctx, s); err != nil {
				return o.fail(err)
			}
		}
	}
	return nil
}

func (o *Operator) refreshCoverage(ctx context.Context, s *sideInfo) error {
	s.lastRef = o.cfg.Now()
	info, err := describeCold(ctx, o.cfg.Cold, sideOf(o, s), s.in)
	if err != nil {
		var se *ColdSchemaError
		if !s.refKnown || errors.As(err, &se) {
			return err
		}
		o.cfg.Logger.Warn("join: cannot describe cold table; keeping the last known coverage",
			"operator", o.cfg.Name, "input", s.in.Name, "table", s.in.ColdTable, "err", err)
		return nil
	}
	mapping, et, _ := mapColdSchema(s.in, info.Schema, o.keyTypes)
	s.coldMu.Lock()
	s.coldInfo, s.coldMap, s.coldEt, s.refKnown = info, mapping, et, true
	s.coldMu.Unlock()
	o.m.coversUntil.WithLabelValues(o.cfg.Name, s.in.Name).Set(float64(info.CoversUntil.Unix()))
	return nil
}

// ColdSchemaError is a cold table whose schema does not fit the input it
// backs: Column names the column (or the key), Cold and Input its types.
type ColdSchemaError struct {
	Side            Side
	Input, Table    string
	Column          string
	Cold, InputType string
	Reason          string
}

func (e *ColdSchemaError) Error() string {
	return fmt.Sprintf("join: cold table %q does not fit the %s input %q: %s", e.Table, e.Side, e.Input, e.Reason)
}

// describeCold describes the cold table of in and checks that its schema
// fits in (keyTypes are in's key column types).
func describeCold(ctx context.Context, cold Lookuper, side Side, in Input) (coldstore.TableInfo, error) {
	info, err := cold.Describe(ctx, in.ColdTable)
	if errors.Is(err, coldstore.ErrNoTable) {
		return info, fmt.Errorf("join: cold table %q of the %s input %q does not exist in the cold store: load it (hotcold load --table %s ...) or fix cold_table: %w",
			in.ColdTable, side, in.Name, in.ColdTable, err)
	}
	if err != nil {
		return info, fmt.Errorf("join: cannot read cold table %q of the %s input %q: %w (is the cold store or sidecar reachable?)", in.ColdTable, side, in.Name, err)
	}
	var keyTypes []row.Type
	for _, k := range in.Key {
		keyTypes = append(keyTypes, in.Schema.Column(in.Schema.Index(k)).Type)
	}
	if _, _, err := mapColdSchema(in, info.Schema, keyTypes); err != nil {
		var se *ColdSchemaError
		if errors.As(err, &se) {
			se.Side, se.Input, se.Table = side, in.Name, in.ColdTable
		}
		return info, err
	}
	return info, nil
}

// CheckCold checks the cold side of cfg as New does, without state: every
// input with a ColdTable needs cfg.Cold, a table that exists and a schema
// that fits the input (a *ColdSchemaError names the column and both
// types). Errors other than those mean the cold store could not be
// reached; a caller may retry them.
func CheckCold(ctx context.Context, cfg Config) error {
	c := cfg.withDefaults()
	var errs []error
	for i, in := range []Input{c.Left, c.Right} {
		if in.ColdTable == "" {
			continue
		}
		if c.Cold == nil {
			errs = append(errs, fmt.Errorf("join: the %s input %q has cold table %q but no cold store is configured", Side(i), in.Name, in.ColdTable))
			continue
		}
		if in.Schema == nil {
			continue
		}
		if _, err := describeCold(ctx, c.Cold, Side(i), in); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func mapColdSchema(in Input, cs *row.Schema, keyTypes []row.Type) ([]int, int, error) {
	bad := func(col, cold, input, reason string) error {
		return &ColdSchemaError{Column: col, Cold: cold, InputType: input, Reason: reason}
	}
	if cs == nil {
		return nil, -1, bad("", "", "", "the cold table has no schema")
	}
	kt := cs.KeyTypes()
	if len(kt) != len(keyTypes) {
		return nil, -1, bad("", fmt.Sprint(cs.KeyNames()), fmt.Sprint(in.Key),
			fmt.Sprintf("the cold key is (%s), the join key (%s) has %d columns: the cold table must be keyed by the join key",
				strings.Join(cs.KeyNames(), ", "), strings.Join(in.Key, ", "), len(keyTypes)))
	}
	for i := range kt {
		if kt[i].ID != keyTypes[i].ID {
			return nil, -1, bad(cs.KeyNames()[i], kt[i].String(), keyTypes[i].String(),
				fmt.Sprintf("cold key column %q is %s, join key column %q is %s", cs.KeyNames()[i], kt[i], in.Key[i], keyTypes[i]))
		}
	}
	m := make([]int, in.Schema.Len())
	for i := range m {
		c := in.Schema.Column(i)
		j := cs.Index(c.Name)
		if j >= 0 && cs.Column(j).Type.ID != c.Type.ID {
			return nil, -1, bad(c.Name, cs.Column(j).Type.String(), c.Type.String(),
				fmt.Sprintf("column %q is %s in the cold table and %s in the input: make the types match", c.Name, cs.Column(j).Type, c.Type))
		}
		if j < 0 && !c.Nullable {
			return nil, -1, bad(c.Name, "", c.Type.String(),
				fmt.Sprintf("input column %q (%s, not nullable) is missing from the cold table", c.Name, c.Type))
		}
		m[i] = j
	}
	return m, cs.Index(in.EventTime), nil
}

// record is one input record waiting to be processed.
type record struct {
	side   Side
	r      row.Row
	key    []byte
	day    state.Day
	window state.Day // start of the hot window when the record arrived
	late   bool
}

type match struct {
	r     row.Row
	key   []byte // state key (hot)
	hot   bool
	assoc uint64
	// coldJoined: the stored row joined a cold row of the other side, which
	// is keyed by the join key (one row per key).
	coldJoined bool
}

// coldJoinedFlag marks, in a stored row's association count, a row that
// joined a cold row. A late record of a cold-backed side with that key is
// the cold row itself arriving again (the cold table has one row per key,
// and rows older than the hot window are the cold store's): joining it
// with that stored row again would emit the pair twice, which Flink does
// not. The flag is a high bit so that state written before it reads as
// unflagged.
const coldJoinedFlag = 1 << 40

// Push joins one record of side. The row must fit the side's schema; it is
// not retained after the call (values are copied into state and outputs).
// Output rows are passed to Config.Emit, possibly later (during a later
// Push or Flush) when the record waits on a cold lookup; per join key,
// outputs keep input order. An *InputError means the record was rejected
// and nothing changed; any other error is fatal to the operator.
func (o *Operator) Push(ctx context.Context, side Side, r row.Row) error {
	if o.err != nil {
		return o.err
	}
	if side > Right {
		return fmt.Errorf("join: side %d is neither Left nor Right", side)
	}
	s := o.sides[side]
	if len(r.Values) != s.schema.Len() {
		return &InputError{side, s.in.Name, fmt.Sprintf("row has %d values, the schema has %d columns", len(r.Values), s.schema.Len())}
	}
	for i, v := range r.Values {
		c := s.schema.Column(i)
		if v.IsNull() {
			if !c.Nullable {
				return &InputError{side, s.in.Name, fmt.Sprintf("column %q is null but not nullable", c.Name)}
			}
		} else if v.Type() != c.Type.ID {
			return &InputError{side, s.in.Name, fmt.Sprintf("column %q is %s but the value %s is %s", c.Name, c.Type, v, v.Type())}
		}
	}
	et := r.Values[s.etIdx]
	if et.IsNull() {
		return &InputError{side, s.in.Name, fmt.Sprintf("event-time column %q is null", s.in.EventTime)}
	}
	day := state.DayOf(row.TimeOf(et, s.etType), o.db.Zone())
	if !o.hasMax[side] || day > o.maxDay[side] {
		o.maxDay[side], o.hasMax[side] = day, true
	}
	o.stats.records[side].Add(1)
	o.m.records[side].Inc()
	// The row is cloned only if it has to wait for a cold lookup.
	rec := &o.recBuf
	*rec = record{side: side, r: r, day: day, window: o.window()}
	rec.late = day < rec.window
	if rec.late {
		o.stats.late[side].Add(1)
		o.m.late[side].Inc()
	}
	nullKey := false
	for _, k := range s.keyIdx {
		if r.Values[k].IsNull() {
			nullKey = true
		}
	}
	if nullKey {
		// A null key never matches (SQL semantics) and is not stored.
		if side == Left && o.cfg.Type == LeftOuter {
			if err := o.emit(row.Insert, &rec.r, nil); err != nil {
				return o.fail(err)
			}
		}
		return nil
	}
	var err error
	o.keyVals = o.keyVals[:0]
	for _, k := range s.keyIdx {
		o.keyVals = append(o.keyVals, rec.r.Values[k])
	}
	o.keyBuf, err = row.AppendKey(o.keyBuf[:0], o.keyTypes, o.keyVals)
	if err != nil {
		return &InputError{side, s.in.Name, err.Error()}
	}
	rec.key = o.keyBuf
	if len(o.done) > 0 {
		o.drainReady()
	}
	if len(o.pending) > 0 {
		if q, ok := o.pending[string(rec.key)]; ok {
			q.recs = append(q.recs, rec.own())
			return o.err
		}
	}
	done, err := o.tryProcess(rec, nil)
	if err != nil {
		return o.fail(err)
	}
	if !done {
		owned := rec.own()
		q := &keyQueue{key: string(owned.key), recs: []*record{owned}}
		o.pending[q.key] = q
		o.request(owned)
		return o.dispatchFull(ctx)
	}
	return o.err
}

// own returns a copy of rec that owns its row and key (to wait in a queue).
func (rec *record) own() *record {
	c := *rec
	c.r = rec.r.Clone()
	c.key = append([]byte(nil), rec.key...)
	return &c
}

// noWindow is the window start while the watermark is undefined: nothing
// is late and no cold row is usable (hot state is responsible for all).
const noWindow = state.Day(math.MinInt32)

func (o *Operator) window() state.Day {
	wm, ok := o.Watermark()
	if !ok {
		return noWindow
	}
	return wm - state.Day(o.cfg.RetentionDays) + 1
}

func (o *Operator) fail(err error) error {
	if o.err == nil {
		o.err = err
	}
	return o.err
}

// tryProcess joins rec against hot state and, on a miss on a cold-backed
// side, against the cold answer ans (if given). It returns false when a
// cold lookup is needed first.
func (o *Operator) tryProcess(rec *record, q *keyQueue) (bool, error) {
	other := rec.side.other()
	os := o.sides[other]
	o.matches = o.matches[:0]
	o.lookupSide = os
	err := os.ns.Lookup(rec.key, o.collect)
	if err != nil {
		return false, err
	}
	if len(o.matches) > 0 {
		o.stats.hotHits[other].Add(1)
		o.m.hotHits[other].Inc()
	} else if os.cold && os.refKnown {
		if q == nil || q.cold[other] == nil {
			return false, nil
		}
		ans := q.cold[other]
		if ans.Found && o.coldUsable(os, ans.Row, rec.window) {
			o.matches = append(o.matches, match{r: o.fromCold(os, ans.Row)})
			o.matches[len(o.matches)-1].hot = false
			o.stats.coldHits[other].Add(1)
			o.m.coldHits[other].Inc()
		} else {
			o.miss(other, os)
		}
	} else {
		o.miss(other, os)
	}
	return true, o.join(rec)
}

func (o *Operator) miss(other Side, os *sideInfo) {
	o.stats.misses[other].Add(1)
	o.m.misses[other].Inc()
	if uu := os.ns.UncoveredUntil(); !uu.IsZero() {
		os.coldMu.Lock()
		cu := os.coldInfo.CoversUntil
		os.coldMu.Unlock()
		if cu.Before(uu) {
			o.stats.possiblyMissed[other].Add(1)
			o.m.possiblyMissed[other].Inc()
		}
	}
}

// collectMatch appends a stored row of o.lookupSide to o.matches. It is
// bound once (o.collect) so that lookups do not allocate a closure.
func (o *Operator) collectMatch(e state.Entry) error {
	os := o.lookupSide
	assoc, n := binary.Uvarint(e.Value)
	if n <= 0 {
		return fmt.Errorf("join: corrupt state value in %s", os.ns.Name())
	}
	// Reuse the match slots (and their decode buffers) across records.
	if len(o.matches) < cap(o.matches) {
		o.matches = o.matches[:len(o.matches)+1]
	} else {
		o.matches = append(o.matches, match{})
	}
	m := &o.matches[len(o.matches)-1]
	if err := os.schema.DecodeValue(e.Value[n:], &m.r); err != nil {
		return fmt.Errorf("join: state of %s: %w", os.ns.Name(), err)
	}
	m.key = append(m.key[:0], e.Key...)
	m.hot, m.assoc, m.coldJoined = true, assoc&^coldJoinedFlag, assoc&coldJoinedFlag != 0
	return nil
}

// coldUsable reports whether a cold row may answer a lookup: only rows
// older than the hot window at the record's arrival. Newer rows are hot
// state's responsibility (they either are in hot state, or the job has not
// seen them yet and will join them when they arrive).
func (o *Operator) coldUsable(s *sideInfo, cr row.Row, window state.Day) bool {
	if s.coldEt < 0 || s.coldEt >= len(cr.Values) || cr.Values[s.coldEt].IsNull() {
		return true
	}
	ct := s.coldInfo.Schema.Column(s.coldEt).Type
	return state.DayOf(row.TimeOf(cr.Values[s.coldEt], ct), o.db.Zone()) < window
}

func (o *Operator) fromCold(s *sideInfo, cr row.Row) row.Row {
	out := row.Row{Values: make([]row.Value, len(s.coldMap))}
	for i, j := range s.coldMap {
		if j >= 0 && j < len(cr.Values) {
			out.Values[i] = cr.Values[j]
		}
	}
	return out
}

// join emits the outputs of rec against o.matches and stores rec.
func (o *Operator) join(rec *record) error {
	var assoc uint64
	// A late record of a cold-backed side was already joined, as a cold
	// row, with the stored rows flagged coldJoined.
	rejoin := rec.late && o.sides[rec.side].cold
	skip := func(m *match) bool { return rejoin && m.hot && m.coldJoined }
	coldJoined := false
	for i := range o.matches {
		coldJoined = coldJoined || !o.matches[i].hot
	}
	switch {
	case rec.side == Left:
		for i := range o.matches {
			if skip(&o.matches[i]) {
				continue
			}
			if err := o.emit(row.Insert, &rec.r, &o.matches[i].r); err != nil {
				return err
			}
		}
		if len(o.matches) == 0 && o.cfg.Type == LeftOuter {
			if err := o.emit(row.Insert, &rec.r, nil); err != nil {
				return err
			}
		}
		assoc = uint64(len(o.matches))
	default:
		for i := range o.matches {
			m := &o.matches[i]
			if skip(m) {
				continue
			}
			if o.cfg.Type == LeftOuter && m.hot {
				if m.assoc == 0 {
					if err := o.emit(row.Delete, &m.r, nil); err != nil {
						return err
					}
				}
				if err := o.emit(row.Insert, &m.r, &rec.r); err != nil {
					return err
				}
				ls := o.sides[Left]
				na := m.assoc + 1
				if m.coldJoined {
					na |= coldJoinedFlag
				}
				o.valBuf = binary.AppendUvarint(o.valBuf[:0], na)
				var err error
				if o.valBuf, err = ls.schema.AppendValue(o.valBuf, m.r); err != nil {
					return err
				}
				if err := ls.ns.Update(m.key, o.valBuf); err != nil {
					return err
				}
				continue
			}
			if err := o.emit(row.Insert, &m.r, &rec.r); err != nil {
				return err
			}
		}
	}
	if rec.late {
		return nil
	}
	s := o.sides[rec.side]
	if coldJoined {
		assoc |= coldJoinedFlag
	}
	o.valBuf = binary.AppendUvarint(o.valBuf[:0], assoc)
	var err error
	if o.valBuf, err = s.schema.AppendValue(o.valBuf, rec.r); err != nil {
		return err
	}
	_, err = s.ns.Put(rec.day, rec.key, o.valBuf)
	return err
}

func (o *Operator) emit(kind row.Kind, l, r *row.Row) error {
	out := row.Row{Kind: kind, Values: make([]row.Value, len(o.outIdx))}
	for i, ref := range o.outIdx {
		src := l
		if ref.side == Right {
			src = r
		}
		if src != nil {
			out.Values[i] = src.Values[ref.idx].Clone()
		}
	}
	o.stats.outputs.Add(1)
	o.m.outputs.Inc()
	return o.cfg.Emit(out)
}

// Flush waits for every pending cold lookup and processes the records
// behind it, then expires hot buckets (coverage-aware) and, when due,
// refreshes the cold tables' coverage. After Flush every pushed record has
// been joined and its outputs emitted; commit the state (Commit, or
// state.DB.Commit with the source offsets) to make it durable.
func (o *Operator) Flush(ctx context.Context) error {
	if o.err != nil {
		return o.err
	}
	for {
		o.drainReady()
		if o.err != nil {
			return o.err
		}
		if len(o.open[Left])+len(o.open[Right]) > 0 {
			for s := Left; s <= Right; s++ {
				if len(o.open[s]) > 0 {
					if err := o.dispatch(ctx, s); err != nil {
						return o.fail(err)
					}
				}
			}
			continue
		}
		if o.inflight == 0 {
			break
		}
		if err := o.waitOne(ctx); err != nil {
			return err
		}
	}
	if len(o.pending) != 0 {
		return o.fail(fmt.Errorf("join: internal error: %d keys still pending after flush", len(o.pending)))
	}
	now := o.cfg.Now()
	for _, s := range o.sides {
		if s.cold && (o.cfg.CoverageRefresh < 0 || now.Sub(s.lastRef) >= o.cfg.CoverageRefresh) {
			if err := o.refreshCoverage(ctx, s); err != nil {
				return o.fail(err)
			}
		}
	}
	if wm, ok := o.Watermark(); ok {
		for _, s := range o.sides {
			s.coldMu.Lock()
			cu := s.coldInfo.CoversUntil
			s.coldMu.Unlock()
			res, err := s.ns.Expire(wm, cu)
			if err != nil {
				return o.fail(err)
			}
			o.stats.expired[sideOf(o, s)].Add(int64(len(res.Dropped) + len(res.DroppedUncovered)))
		}
	}
	if o.hasMax[Left] || o.hasMax[Right] || o.hasFloor {
		if err := o.db.SetMeta(o.watermarkKey(), o.encodeWatermark()); err != nil {
			return o.fail(err)
		}
	}
	return nil
}

func sideOf(o *Operator, s *sideInfo) Side {
	if o.sides[Right] == s {
		return Right
	}
	return Left
}

// Advance raises the watermark's floor to the day of t: the watermark is
// at least that day from now on, even if an input lags or is idle. A new
// job bootstrapping from the last RetentionDays of Kafka calls it with the
// current time, so that rows older than its window come from the cold
// store. The next Flush expires buckets accordingly.
func (o *Operator) Advance(t time.Time) {
	d := state.DayOf(t, o.db.Zone())
	if !o.hasFloor || d > o.floor {
		o.floor, o.hasFloor = d, true
	}
}

// Commit flushes and commits the state (without source offsets).
func (o *Operator) Commit(ctx context.Context) error {
	if err := o.Flush(ctx); err != nil {
		return err
	}
	return o.db.Commit()
}

// Close stops pending cold lookups and waits for their goroutines. It
// does not commit or close the state DB.
func (o *Operator) Close() error {
	o.cancel()
	o.wg.Wait()
	for {
		select {
		case <-o.done:
		default:
			return nil
		}
	}
}
