package statemigrate

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// Offsets are the next input offsets per topic partition.
type Offsets map[state.TopicPartition]int64

// String renders offsets as "orders/0=12 orders/1=7", sorted.
func (o Offsets) String() string {
	keys := slices.SortedFunc(maps.Keys(o), cmpTP)
	parts := make([]string, len(keys))
	for i, tp := range keys {
		parts[i] = fmt.Sprintf("%s/%d=%d", tp.Topic, tp.Partition, o[tp])
	}
	return strings.Join(parts, " ")
}

func cmpTP(a, b state.TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}

// Equal reports whether o and p hold the same partitions and offsets.
func (o Offsets) Equal(p Offsets) bool { return maps.Equal(o, p) }

// MarshalJSON writes {"topic/partition": offset}.
func (o Offsets) MarshalJSON() ([]byte, error) {
	m := make(map[string]int64, len(o))
	for tp, off := range o {
		m[tp.Topic+"/"+strconv.Itoa(int(tp.Partition))] = off
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads {"topic/partition": offset}.
func (o *Offsets) UnmarshalJSON(b []byte) error {
	var m map[string]int64
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out := make(Offsets, len(m))
	for k, off := range m {
		i := strings.LastIndexByte(k, '/')
		p, err := strconv.ParseInt(k[i+1:], 10, 32)
		if i <= 0 || err != nil {
			return fmt.Errorf("statemigrate: bad partition %q (want topic/partition)", k)
		}
		out[state.TopicPartition{Topic: k[:i], Partition: int32(p)}] = off
	}
	*o = out
	return nil
}

// maxOffsets returns, per partition of either, the larger offset.
func maxOffsets(a, b Offsets) Offsets {
	out := maps.Clone(a)
	if out == nil {
		out = Offsets{}
	}
	for tp, o := range b {
		if cur, ok := out[tp]; !ok || o > cur {
			out[tp] = o
		}
	}
	return out
}

// Output names one job's output topic and how to read it.
type Output struct {
	// Topic is the output topic.
	Topic string
	// Schema is the schema of the output rows. With key columns, the
	// changelog is merged by key (upsert); without, as a multiset of rows.
	Schema *row.Schema
	// Format is the encoding. Zero means changelog-json.
	Format row.Format
}

// CompareResult is the check of the side job's output against the online
// job's: both changelogs merged into tables, compared on the columns they
// share.
type CompareResult struct {
	// Columns are the columns compared (present in both schemas with the
	// same type).
	Columns []string `json:"columns"`
	// OnlineRows and SideRows are the rows of each merged table.
	OnlineRows int `json:"online_rows"`
	SideRows   int `json:"side_rows"`
	// Compared is the number of rows (keys) present in both tables: the
	// overlapping window.
	Compared int `json:"compared"`
	// Differ is the number of compared rows whose values differ.
	Differ int `json:"differ"`
	// OnlyOnline and OnlySide count rows present in one table only (outside
	// the overlapping window, or not caught up).
	OnlyOnline int `json:"only_online"`
	OnlySide   int `json:"only_side"`
	// Samples are a few differing rows.
	Samples []RowDiff `json:"samples,omitempty"`
}

// RowDiff is one differing row: its key and both versions ("" when
// absent).
type RowDiff struct {
	Key    string `json:"key"`
	Online string `json:"online"`
	Side   string `json:"side"`
}

func (r *CompareResult) String() string {
	return fmt.Sprintf("online %d rows, side %d rows, %d in both: %d differ; %d only online, %d only side (columns %s)",
		r.OnlineRows, r.SideRows, r.Compared, r.Differ, r.OnlyOnline, r.OnlySide, strings.Join(r.Columns, ", "))
}

// CompareOutputs reads both output topics from their start to their
// current end, merges each changelog into a table and compares them on
// their common columns. samples bounds the differing rows reported. Both
// tables are held in memory: use it on aggregated outputs.
func CompareOutputs(ctx context.Context, brokers []string, online, side Output, samples int) (*CompareResult, error) {
	var cols []string
	var onIdx, sideIdx []int
	for i, c := range online.Schema.Columns() {
		j := side.Schema.Index(c.Name)
		if j >= 0 && side.Schema.Column(j).Type == c.Type {
			cols = append(cols, c.Name)
			onIdx = append(onIdx, i)
			sideIdx = append(sideIdx, j)
		}
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("statemigrate: the online and side outputs share no column to compare")
	}
	keyed := len(online.Schema.Key()) > 0
	for _, k := range online.Schema.KeyNames() {
		if !slices.Contains(cols, k) || !slices.Contains(side.Schema.KeyNames(), k) {
			keyed = false
		}
	}
	on, err := readTable(ctx, brokers, online, onIdx, keyed)
	if err != nil {
		return nil, err
	}
	sd, err := readTable(ctx, brokers, side, sideIdx, keyed)
	if err != nil {
		return nil, err
	}
	res := &CompareResult{Columns: cols, OnlineRows: on.rows(), SideRows: sd.rows()}
	keys := slices.Sorted(maps.Keys(on))
	for _, k := range keys {
		a := on[k]
		b, ok := sd[k]
		if !ok {
			res.OnlyOnline += a.n
			continue
		}
		res.Compared += min(a.n, b.n)
		if a.text != b.text || a.n != b.n {
			res.Differ++
			if len(res.Samples) < samples {
				res.Samples = append(res.Samples, RowDiff{Key: k, Online: a.text, Side: b.text})
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(sd)) {
		if _, ok := on[k]; !ok {
			res.OnlySide += sd[k].n
		}
	}
	return res, nil
}

// tableRow is one merged row: its projected text and its multiplicity
// (always 1 for a keyed table).
type tableRow struct {
	text string
	n    int
}

type table map[string]tableRow

func (t table) rows() int {
	n := 0
	for _, r := range t {
		n += r.n
	}
	return n
}

// readTable reads a topic from its start to its end at call time and
// merges the changelog, projected on idx.
func readTable(ctx context.Context, brokers []string, o Output, idx []int, keyed bool) (table, error) {
	f := o.Format
	if f == "" {
		f = row.FormatChangelogJSON
	}
	codec, err := row.NewCodec(f, o.Schema)
	if err != nil {
		return nil, err
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, o.Topic)
	if err == nil {
		err = ends.Error()
	}
	starts, serr := kadm.NewClient(adm).ListStartOffsets(ctx, o.Topic)
	adm.Close()
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, fmt.Errorf("statemigrate: offsets of %s: %w", o.Topic, err)
	}
	remaining := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(lo kadm.ListedOffset) {
		start := int64(0)
		if s, ok := starts.Lookup(o.Topic, lo.Partition); ok {
			start = s.Offset
		}
		if lo.Offset > start {
			remaining[lo.Partition] = lo.Offset
			parts[lo.Partition] = kgo.NewOffset().At(start)
		}
	})
	t := table{}
	if len(parts) == 0 {
		return t, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: parts}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var rows []row.Row
	var ferr error
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, fmt.Errorf("statemigrate: read %s: %w", o.Topic, ferr)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			end, ok := remaining[rec.Partition]
			if !ok || rec.Offset >= end {
				return
			}
			if rec.Offset+1 >= end {
				delete(remaining, rec.Partition)
			}
			rows, err = codec.Decode(rows[:0], row.Message{Key: rec.Key, Value: rec.Value})
			if err != nil {
				ferr = fmt.Errorf("statemigrate: %s partition %d offset %d: %w", o.Topic, rec.Partition, rec.Offset, err)
				return
			}
			for _, r := range rows {
				merge(t, o.Schema, r, idx, keyed)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
	}
	return t, nil
}

func merge(t table, s *row.Schema, r row.Row, idx []int, keyed bool) {
	var b strings.Builder
	for i, j := range idx {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.Values[j].Format(s.Column(j).Type))
	}
	text := b.String()
	if keyed {
		var k strings.Builder
		for i, j := range s.Key() {
			if i > 0 {
				k.WriteString(", ")
			}
			k.WriteString(r.Values[j].Format(s.Column(j).Type))
		}
		if r.Kind.IsAccumulate() {
			t[k.String()] = tableRow{text: text, n: 1}
		} else {
			delete(t, k.String())
		}
		return
	}
	cur := t[text]
	cur.text = text
	if r.Kind.IsAccumulate() {
		cur.n++
	} else {
		cur.n--
	}
	if cur.n == 0 {
		delete(t, text)
	} else {
		t[text] = cur
	}
}

// ReadTable reads an output topic from its start to its current end and
// returns its merged changelog as sorted rows, each rendered as its values
// joined by ", " (all columns).
func ReadTable(ctx context.Context, brokers []string, o Output) ([]string, error) {
	idx := make([]int, o.Schema.Len())
	for i := range idx {
		idx[i] = i
	}
	t, err := readTable(ctx, brokers, o, idx, len(o.Schema.Key()) > 0)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range t {
		for i := 0; i < r.n; i++ {
			out = append(out, r.text)
		}
	}
	slices.Sort(out)
	return out, nil
}

// OutputSchema returns the schema of a job's output as its manifest
// describes it: the output of the last operator, which must be an agg (its
// group key and aggregates; a join's output columns are not in the
// manifest).
func OutputSchema(m *manifest.Manifest) (*row.Schema, error) {
	if len(m.Operators) == 0 {
		return nil, fmt.Errorf("statemigrate: the manifest of job %q has no operators", m.Job)
	}
	op := &m.Operators[len(m.Operators)-1]
	if op.Kind != manifest.KindAgg || len(op.Tables) != 1 {
		return nil, fmt.Errorf("statemigrate: the last operator %q of job %q is a %s; only an agg's output schema is in the manifest (skip the output check)", op.ID, m.Job, op.Kind)
	}
	return op.Tables[0].Schema(op.Version)
}
