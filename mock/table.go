package mock

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/hotcold/hotcold/row"
)

// Table materializes a changelog into a table with Flink's rules:
//
//   - With a primary key (the schema's key columns): +I and +U upsert the
//     row by key, -D deletes the key (the row may carry only its key
//     columns), -U is ignored. This is how Flink's upsert sinks and
//     upsert-kafka reads behave.
//   - Without a key the table is a multiset: +I and +U add one row, -U and
//     -D remove one equal row. Removing a row that is not there is a
//     problem (Flink's retracting test sink fails the job on it).
//
// Decoding maps the formats as Flink does (row.Codec): debezium c/r to +I,
// u to -U and +U, d to -D; canal INSERT/UPDATE/DELETE to +I, -U and +U,
// -D; an upsert-kafka tombstone to -D.
//
// A Table is not safe for concurrent use.
type Table struct {
	schema   *row.Schema
	keyed    bool
	allTypes []row.Type
	rows     map[string]*tableEntry
	seq      int
	counts   [4]int
	problems []Problem
	buf      []byte
}

type tableEntry struct {
	row   row.Row
	count int // multiset multiplicity
}

// Problem is something notable met while merging a changelog. Fatal
// problems mean the changelog itself is wrong and fail the case; the
// others are notes for the reader.
type Problem struct {
	// Seq is the 0-based position of the changelog row in the merge, or -1
	// for a problem not tied to one row (then Row names what it is about).
	Seq int
	// Row is the changelog row, rendered as "+I[1, a]".
	Row   string
	Text  string
	Fatal bool
}

func (p Problem) String() string {
	sev := "note"
	if p.Fatal {
		sev = "error"
	}
	if p.Seq < 0 {
		return fmt.Sprintf("%s: %s: %s", sev, p.Row, p.Text)
	}
	return fmt.Sprintf("%s: change #%d %s: %s", sev, p.Seq+1, p.Row, p.Text)
}

// NewTable returns an empty table of schema s; s's key is the primary key
// (none: a multiset).
func NewTable(s *row.Schema) *Table {
	t := &Table{schema: s, keyed: len(s.Key()) > 0, rows: map[string]*tableEntry{}}
	for _, c := range s.Columns() {
		t.allTypes = append(t.allTypes, c.Type)
	}
	return t
}

// Keyed reports whether the table has a primary key.
func (t *Table) Keyed() bool { return t.keyed }

// Apply merges one changelog row. The table keeps its own copy.
func (t *Table) Apply(r row.Row) {
	seq := t.seq
	t.seq++
	if !r.Kind.Valid() || len(r.Values) != t.schema.Len() {
		t.problem(seq, r, true, fmt.Sprintf("not a row of the sink schema (kind %d, %d values for %d columns)", r.Kind, len(r.Values), t.schema.Len()))
		return
	}
	t.counts[r.Kind]++
	if t.keyed {
		t.applyKeyed(seq, r)
	} else {
		t.applyMultiset(seq, r)
	}
}

func (t *Table) applyKeyed(seq int, r row.Row) {
	if r.Kind == row.UpdateBefore {
		return
	}
	k, err := t.schema.AppendKey(t.buf[:0], r)
	t.buf = k
	if err != nil {
		t.problem(seq, r, true, fmt.Sprintf("the primary key (%s) is null or mistyped; a keyed sink cannot hold this row", keyNames(t.schema)))
		return
	}
	e, ok := t.rows[string(k)]
	switch r.Kind {
	case row.Insert, row.UpdateAfter:
		if !ok {
			e = &tableEntry{}
			t.rows[string(k)] = e
		}
		e.row = r.Clone()
		e.row.Kind = row.Insert
		e.count = 1
	case row.Delete:
		if !ok {
			t.problem(seq, r, false, "deletes a key that is not in the table")
			return
		}
		delete(t.rows, string(k))
	}
}

func (t *Table) applyMultiset(seq int, r row.Row) {
	k, err := row.AppendKey(t.buf[:0], t.allTypes, r.Values)
	t.buf = k
	if err != nil {
		t.problem(seq, r, true, err.Error())
		return
	}
	e, ok := t.rows[string(k)]
	if r.Kind.IsAccumulate() {
		if !ok {
			e = &tableEntry{row: r.Clone()}
			e.row.Kind = row.Insert
			t.rows[string(k)] = e
		}
		e.count++
		return
	}
	if !ok {
		t.problem(seq, r, true, "retracts a row that is not in the table (without a primary key, -U and -D must carry a row equal to one added before)")
		return
	}
	e.count--
	if e.count == 0 {
		delete(t.rows, string(k))
	}
}

func (t *Table) problem(seq int, r row.Row, fatal bool, text string) {
	t.problems = append(t.problems, Problem{Seq: seq, Row: r.Format(t.schema), Text: text, Fatal: fatal})
}

// Rows returns the table's rows (kind +I) in a deterministic order: by key,
// or by all columns for a multiset, a row repeated as often as it occurs.
// The rows are shared with the table until the next Apply.
func (t *Table) Rows() []row.Row {
	keys := make([]string, 0, len(t.rows))
	for k := range t.rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []row.Row
	for _, k := range keys {
		e := t.rows[k]
		for i := 0; i < e.count; i++ {
			out = append(out, e.row)
		}
	}
	return out
}

// Len returns the number of rows.
func (t *Table) Len() int {
	n := 0
	for _, e := range t.rows {
		n += e.count
	}
	return n
}

// Problems returns the problems met so far.
func (t *Table) Problems() []Problem { return t.problems }

// Counts returns how many +I, -U, +U and -D rows were applied.
func (t *Table) Counts() (inserts, updateBefores, updateAfters, deletes int) {
	return t.counts[0], t.counts[1], t.counts[2], t.counts[3]
}

func keyNames(s *row.Schema) string {
	var b bytes.Buffer
	for i, n := range s.KeyNames() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
	}
	return b.String()
}
