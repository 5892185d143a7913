package agg

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// Operator is an incremental group-by aggregation over a changelog. It
// keeps one accumulator row per group in a state namespace and turns every
// input row into the changelog of the aggregate table: +I for a new group,
// -U/+U when a group's results change (nothing when they do not), -D when
// a group's last row is retracted.
//
// # Concurrency
//
// An Operator shares its state.DB's single-writer contract: call Process
// from the goroutine that commits the DB. Stats is safe to call
// concurrently.
type Operator struct {
	cfg Config
	ns  *state.Namespace
	log *slog.Logger
	m   *metrics

	stateSchema *row.Schema
	output      *row.Schema
	groupIdx    []int // input column of each group column
	groupTypes  []row.Type
	rowsIdx     int // RowsColumn in the state row
	aggs        []aggSlot

	dayIdx int // input column of DayColumn, or -1
	dayT   row.Type
	maxDay state.Day
	hasDay bool

	// scratch, reused across Process calls
	gvals    []row.Value
	key      []byte
	stateKey []byte
	acc      row.Row
	val      []byte
	prev     []row.Value
	next     []row.Value
}

// aggSlot is the runtime form of one aggregate.
type aggSlot struct {
	a        Aggregate
	argIdx   int // input column, -1 for count(*)
	argType  row.Type
	result   row.Type
	acc      int // first accumulator column in the state row
	acc2     int // second accumulator column, or -1
	rescale  int32
	retract  bool // min/max/first/last keep a multiset
	ms       multiset
	buf      []byte
	keyTypes []row.Type
}

// New returns the agg operator described by cfg over the state db. It
// opens (or creates) the namespace cfg.ID. It does not read or write the
// manifest: the job derives it from cfg (manifest.FromAgg) and checks it
// for all its operators together.
func New(db *state.DB, cfg Config) (*Operator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	group, values := cfg.Group(), cfg.Values()
	ss, err := StateSchema(group, values, cfg.AppendOnly, cfg.Version)
	if err != nil {
		return nil, err
	}
	outSchema, err := OutputSchema(group, values, cfg.Version)
	if err != nil {
		return nil, err
	}
	op := &Operator{cfg: cfg, stateSchema: ss, output: outSchema, dayIdx: -1}
	op.log = cfg.Logger
	if op.log == nil {
		op.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	op.m = newMetrics(cfg.Registerer, cfg.ID)
	for _, g := range cfg.GroupBy {
		i := cfg.Input.Index(g)
		op.groupIdx = append(op.groupIdx, i)
		op.groupTypes = append(op.groupTypes, cfg.Input.Column(i).Type)
	}
	op.rowsIdx = ss.Index(RowsColumn)
	for _, a := range cfg.Aggregates {
		s := aggSlot{a: a, argIdx: -1, acc2: -1}
		if a.Arg != "" {
			s.argIdx = cfg.Input.Index(a.Arg)
			s.argType = cfg.Input.Column(s.argIdx).Type
		}
		s.result = outSchema.Column(outSchema.Index(a.Name)).Type
		switch a.Func {
		case Count:
			s.acc = ss.Index(a.Name)
		case Sum:
			s.acc, s.acc2 = ss.Index(a.Name), ss.Index(a.Name+"$n")
		case Avg:
			s.acc, s.acc2 = ss.Index(a.Name+"$sum"), ss.Index(a.Name+"$n")
			if s.result.ID == row.TypeDecimal128 {
				s.rescale = s.result.Scale - s.argType.Scale
			}
		default:
			if cfg.AppendOnly {
				s.acc = ss.Index(a.Name)
			} else {
				s.acc = ss.Index(a.Name + "$values")
				s.retract = true
				s.keyTypes = []row.Type{s.argType}
			}
		}
		op.aggs = append(op.aggs, s)
	}
	if cfg.DayColumn != "" {
		op.dayIdx = cfg.Input.Index(cfg.DayColumn)
		op.dayT = cfg.Input.Column(op.dayIdx).Type
	}
	ns, err := db.Namespace(cfg.ID, cfg.Retention)
	if err != nil {
		return nil, fmt.Errorf("agg %s: %w", cfg.ID, err)
	}
	op.ns = ns
	if b := ns.Buckets(); op.dayIdx >= 0 && len(b) > 0 {
		op.maxDay, op.hasDay = b[len(b)-1], true
	}
	op.gvals = make([]row.Value, len(op.groupIdx))
	op.prev = make([]row.Value, outSchema.Len())
	op.next = make([]row.Value, outSchema.Len())
	return op, nil
}

// OutputSchema returns the schema of the emitted rows: the group columns
// (the key) then the aggregates.
func (op *Operator) OutputSchema() *row.Schema { return op.output }

// StateSchema returns the schema of the stored accumulator rows.
func (op *Operator) StateSchema() *row.Schema { return op.stateSchema }

// Stats counts what the operator has done since New.
type Stats struct {
	// In is the number of input rows processed (including late and
	// ignored ones).
	In int64
	// Out is the number of changelog rows emitted.
	Out int64
	// Late is the number of rows dropped because their day was older than
	// the retention window.
	Late int64
	// IgnoredRetractions is the number of retractions for groups that do
	// not exist (never accumulated, or already expired).
	IgnoredRetractions int64
}

// Stats returns the counters. Safe for concurrent use.
func (op *Operator) Stats() Stats { return op.m.stats() }

// Process applies one input changelog row and appends the resulting output
// rows (zero, one or two) to dst. The appended rows own their bytes. The
// state changes are pending in the DB until its next Commit.
//
// An input row of the wrong width, a null group value, or a retraction
// reaching min/max/first_value/last_value of an AppendOnly operator is an
// error and changes nothing.
func (op *Operator) Process(dst []row.Row, in row.Row) ([]row.Row, error) {
	op.m.in.Inc()
	if len(in.Values) != op.cfg.Input.Len() {
		return dst, fmt.Errorf("agg %s: input row has %d values, the input schema %d", op.cfg.ID, len(in.Values), op.cfg.Input.Len())
	}
	if !in.Kind.Valid() {
		return dst, fmt.Errorf("agg %s: input row has an invalid kind %d", op.cfg.ID, in.Kind)
	}
	for i, gi := range op.groupIdx {
		v := in.Values[gi]
		if v.IsNull() {
			return dst, fmt.Errorf("agg %s: group column %q is null: %w", op.cfg.ID, op.cfg.GroupBy[i], row.ErrKeyNull)
		}
		op.gvals[i] = v
	}
	var err error
	op.key, err = row.AppendKey(op.key[:0], op.groupTypes, op.gvals)
	if err != nil {
		return dst, fmt.Errorf("agg %s: group key: %w", op.cfg.ID, err)
	}
	var day state.Day
	if op.dayIdx >= 0 {
		day = op.dayOf(in.Values[op.dayIdx])
		if !op.hasDay || day > op.maxDay {
			op.maxDay, op.hasDay = day, true
			if _, err := op.ns.Expire(day, timeZero); err != nil {
				return dst, fmt.Errorf("agg %s: expire: %w", op.cfg.ID, err)
			}
		}
		if day < op.ns.Retention().WindowStart(op.maxDay) {
			op.m.late.Inc()
			op.log.Debug("agg: late row dropped", "operator", op.cfg.ID, "day", day.String(), "newest_day", op.maxDay.String())
			return dst, nil
		}
	}

	found := false
	op.stateKey = op.stateKey[:0]
	err = op.ns.Lookup(op.key, func(e state.Entry) error {
		op.stateKey = append(op.stateKey[:0], e.Key...)
		if len(e.Value) == 0 {
			return nil // a deleted group
		}
		found = true
		return op.stateSchema.DecodeValue(e.Value, &op.acc)
	})
	if err != nil {
		return dst, fmt.Errorf("agg %s: read group: %w", op.cfg.ID, err)
	}
	accumulate := in.Kind.IsAccumulate()
	if !found {
		if !accumulate {
			op.m.ignored.Inc()
			return dst, nil
		}
		op.initAcc()
	} else {
		op.results(op.prev)
	}
	if err := op.apply(in, accumulate); err != nil {
		// The accumulator is scratch; the state is unchanged.
		return dst, err
	}
	rows := op.acc.Values[op.rowsIdx].Int64()
	if rows <= 0 {
		if err := op.ns.Update(op.stateKey, nil); err != nil {
			return dst, fmt.Errorf("agg %s: delete group: %w", op.cfg.ID, err)
		}
		return op.emit(dst, row.Delete, op.prev), nil
	}
	op.val, err = op.stateSchema.AppendValue(op.val[:0], op.acc)
	if err != nil {
		return dst, fmt.Errorf("agg %s: encode group: %w", op.cfg.ID, err)
	}
	if len(op.stateKey) > 0 {
		err = op.ns.Update(op.stateKey, op.val)
	} else {
		_, err = op.ns.Put(day, op.key, op.val)
	}
	if err != nil {
		return dst, fmt.Errorf("agg %s: write group: %w", op.cfg.ID, err)
	}
	op.results(op.next)
	if !found {
		return op.emit(dst, row.Insert, op.next), nil
	}
	if slices.EqualFunc(op.prev, op.next, row.Equal) {
		return dst, nil
	}
	dst = op.emit(dst, row.UpdateBefore, op.prev)
	return op.emit(dst, row.UpdateAfter, op.next), nil
}

func (op *Operator) emit(dst []row.Row, k row.Kind, vals []row.Value) []row.Row {
	r := row.Row{Kind: k, Values: vals}.Clone()
	r.Kind = k
	op.m.out.WithLabelValues(k.String()).Inc()
	op.m.outN.Add(1)
	return append(dst, r)
}

func (op *Operator) dayOf(v row.Value) state.Day {
	if v.IsNull() {
		return op.maxDay
	}
	if op.dayT.ID == row.TypeDate32 {
		return state.Day(v.Int64())
	}
	return state.DayOf(row.TimeOf(v, op.dayT), nil)
}

// initAcc makes op.acc the accumulator of a new group.
func (op *Operator) initAcc() {
	n := op.stateSchema.Len()
	if cap(op.acc.Values) < n {
		op.acc.Values = make([]row.Value, n)
	}
	op.acc.Values = op.acc.Values[:n]
	clear(op.acc.Values)
	copy(op.acc.Values, op.gvals)
	op.acc.Values[op.rowsIdx] = row.Int64Value(0)
}

// apply accumulates (or retracts) in into op.acc.
func (op *Operator) apply(in row.Row, accumulate bool) error {
	sign := int64(1)
	if !accumulate {
		sign = -1
	}
	acc := op.acc.Values
	acc[op.rowsIdx] = row.Int64Value(acc[op.rowsIdx].Int64() + sign)
	for i := range op.aggs {
		s := &op.aggs[i]
		var v row.Value
		if s.argIdx >= 0 {
			v = in.Values[s.argIdx]
			if v.IsNull() {
				continue // every function but count(*) ignores nulls
			}
		}
		switch s.a.Func {
		case Count:
			acc[s.acc] = row.Int64Value(acc[s.acc].Int64() + sign)
		case Sum, Avg:
			acc[s.acc] = addNumber(acc[s.acc], v, s.result, s.rescale, sign)
			acc[s.acc2] = row.Int64Value(acc[s.acc2].Int64() + sign)
		default:
			if err := op.applyValue(s, v, sign); err != nil {
				return err
			}
		}
	}
	return nil
}

func (op *Operator) applyValue(s *aggSlot, v row.Value, sign int64) error {
	acc := op.acc.Values
	if !s.retract {
		if sign < 0 {
			return fmt.Errorf("agg %s: %s received a retraction but the operator is declared append-only (Config.AppendOnly); declare it retracting or fix the input", op.cfg.ID, s.a)
		}
		cur := acc[s.acc]
		switch s.a.Func {
		case Min:
			if cur.IsNull() || row.Compare(v, cur) < 0 {
				acc[s.acc] = v
			}
		case Max:
			if cur.IsNull() || row.Compare(v, cur) > 0 {
				acc[s.acc] = v
			}
		case FirstValue:
			if cur.IsNull() {
				acc[s.acc] = v
			}
		case LastValue:
			acc[s.acc] = v
		}
		return nil
	}
	if err := s.ms.decode(acc[s.acc].Bytes()); err != nil {
		return fmt.Errorf("agg %s: %s: stored accumulator: %w", op.cfg.ID, s.a, err)
	}
	key, err := row.AppendKey(nil, s.keyTypes, []row.Value{v})
	if err != nil {
		return fmt.Errorf("agg %s: %s: %w", op.cfg.ID, s.a, err)
	}
	sorted := s.a.Func == Min || s.a.Func == Max
	s.ms.add(key, sign, sorted, s.a.Func == LastValue)
	if len(s.ms.entries) == 0 {
		acc[s.acc] = row.NullValue()
		return nil
	}
	s.buf = s.ms.encode(s.buf[:0])
	acc[s.acc] = row.BinaryValue(s.buf)
	return nil
}

// addNumber returns acc + sign*v in the result type (null acc is zero).
func addNumber(acc, v row.Value, result row.Type, rescale int32, sign int64) row.Value {
	switch result.ID {
	case row.TypeInt64:
		return row.Int64Value(acc.Int64() + sign*v.Int64())
	case row.TypeFloat64:
		var x float64
		if !acc.IsNull() {
			x = acc.Float64()
		}
		var y float64
		switch v.Type() {
		case row.TypeInt32, row.TypeInt64:
			y = float64(v.Int64())
		default:
			y = v.Float64()
		}
		return row.Float64Value(x + float64(sign)*y)
	case row.TypeDecimal128:
		var x decimal128.Num
		if !acc.IsNull() {
			x = acc.Decimal()
		}
		y := v.Decimal()
		if rescale > 0 {
			y = y.IncreaseScaleBy(rescale)
		}
		if sign < 0 {
			return row.DecimalValue(x.Sub(y))
		}
		return row.DecimalValue(x.Add(y))
	}
	return acc
}

// results computes the output row of op.acc into out.
func (op *Operator) results(out []row.Value) {
	acc := op.acc.Values
	copy(out, acc[:len(op.groupIdx)])
	for i := range op.aggs {
		s := &op.aggs[i]
		o := &out[len(op.groupIdx)+i]
		switch s.a.Func {
		case Count:
			*o = row.Int64Value(acc[s.acc].Int64())
		case Sum:
			if acc[s.acc2].Int64() == 0 {
				*o = row.NullValue()
			} else {
				*o = acc[s.acc]
			}
		case Avg:
			*o = average(acc[s.acc], acc[s.acc2].Int64(), s.result)
		default:
			*o = op.valueResult(s)
		}
	}
}

func (op *Operator) valueResult(s *aggSlot) row.Value {
	v := op.acc.Values[s.acc]
	if !s.retract || v.IsNull() {
		return v
	}
	if s.ms.decode(v.Bytes()) != nil {
		return row.NullValue()
	}
	var key []byte
	var ok bool
	switch s.a.Func {
	case Min, FirstValue:
		key, ok = s.ms.first()
	default:
		key, ok = s.ms.last()
	}
	if !ok {
		return row.NullValue()
	}
	vals, _, err := row.DecodeKey(s.keyTypes, key, nil)
	if err != nil || len(vals) != 1 {
		return row.NullValue()
	}
	return vals[0]
}

// average divides sum by n in the result type; null when n is 0.
// Decimals round half away from zero.
func average(sum row.Value, n int64, result row.Type) row.Value {
	if n == 0 {
		return row.NullValue()
	}
	if result.ID == row.TypeFloat64 {
		var x float64
		if !sum.IsNull() {
			x = sum.Float64()
		}
		return row.Float64Value(x / float64(n))
	}
	var x decimal128.Num
	if !sum.IsNull() {
		x = sum.Decimal()
	}
	d := decimal128.FromI64(n)
	q, r := x.Div(d)
	// |2r| >= |d| rounds away from zero.
	if r.Abs().Add(r.Abs()).Cmp(d.Abs()) >= 0 {
		if (x.Sign() < 0) != (n < 0) {
			q = q.Sub(decimal128.FromI64(1))
		} else {
			q = q.Add(decimal128.FromI64(1))
		}
	}
	return row.DecimalValue(q)
}

var timeZero time.Time
