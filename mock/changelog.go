package mock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hotcold/hotcold/row"
)

// An expected changelog (a sink's expect.changelog) lists every change the
// sink must hold, one per line of a JSONL file or item of an inline list:
//
//	{"op": "+I", "row": {"user_id": 1, "total": 10.00}}
//	{"op": "-U", "row": {"user_id": 1, "total": 10.00}}
//	{"op": "+U", "row": {"user_id": 1, "total": 12.50}}
//
// op is the change as Flink prints it: +I, -U, +U, -D (or INSERT,
// UPDATE_BEFORE, UPDATE_AFTER, DELETE), whatever the sink format; the sink
// topic is read as Flink's source of that format reads it (see Table).

// changeFields are the fields of an expected change.
const changeFields = "op, row, note"

type changeLine struct {
	Op   *string         `json:"op"`
	Row  json.RawMessage `json:"row"`
	Note string          `json:"note"`
}

// columnFunc returns the 1-based column of the value at a path of object
// keys in the line being read, or 0.
type columnFunc func(path ...string) int

// changelog reads a sink's expected changelog.
func (l *loader) changelog(sk *Sink, n *yaml.Node, field string, p ...any) {
	s := sk.Schema
	if s == nil {
		return
	}
	if len(s.Key()) == 0 {
		l.ps.addAt(l.posCol(p...), field, "the expected changelog is compared key by key (the order between keys is not defined): declare the key of sink %s (key: [...], e.g. the GROUP BY columns)", sk.Name)
		return
	}
	lines, pos, _ := l.lines(n, field, p...)
	inline := n.Kind == yaml.SequenceNode && len(n.Content) == len(lines)
	for j, ln := range lines {
		col := jsonLineColumn(ln)
		if inline {
			col = yamlColumn(n.Content[j])
		}
		r, err := parseChange(ln, pos[j], col, sk)
		if err != nil {
			l.ps.addErr(err)
			continue
		}
		sk.Expect.Changelog = append(sk.Expect.Changelog, r)
		sk.Expect.ChangelogPos = append(sk.Expect.ChangelogPos, pos[j])
	}
}

// parseChange reads one expected change of sink sk. It never panics on
// input; a problem comes back as a CaseError naming the line's field.
func parseChange(line []byte, pos Pos, col columnFunc, sk *Sink) (row.Row, *CaseError) {
	s := sk.Schema
	var cl changeLine
	if err := decodeStrict(line, &cl); err != nil {
		return row.Row{}, jsonProblem(pos, err, changeFields)
	}
	bad := func(c int, field, format string, args ...any) (row.Row, *CaseError) {
		return row.Row{}, &CaseError{File: pos.File, Line: pos.Line, Column: c, Field: field, Problem: userWords(fmt.Sprintf(format, args...))}
	}
	if cl.Op == nil {
		return bad(col(), "op", "give the change: op +I, -U, +U or -D (as Flink prints them)")
	}
	kind, err := parseChangeOp(*cl.Op)
	if err != nil {
		return bad(col("op"), "op", "%v", err)
	}
	if why := opNotHeld(sk.Format, kind); why != "" {
		return bad(col("op"), "op", "%s", why)
	}
	if cl.Row == nil || bytes.Equal(cl.Row, []byte("null")) {
		return bad(col(), "row", "give the changed row: \"row\": {column: value, ...} in the columns of sink %s", sk.Name)
	}
	r, ce := parseRow(cl.Row, pos, s)
	if ce != nil {
		ce.Column = 0
		if ce.Field != "" {
			ce.Column = col("row", ce.Field)
			ce.Field = "row." + ce.Field
		} else {
			ce.Field = "row"
			ce.Column = col("row")
		}
		return row.Row{}, ce
	}
	r.Kind = kind
	for _, k := range s.Key() {
		if r.Values[k].IsNull() {
			return bad(col("row"), "row."+s.Column(k).Name, "the key (%s) must be given: changes are compared key by key", keyNames(s))
		}
	}
	if sk.Format == row.FormatUpsertKafka && kind == row.Delete {
		for i := 0; i < s.Len(); i++ {
			if !isKey(s, i) && !r.Values[i].IsNull() {
				c := s.Column(i).Name
				return bad(col("row", c), "row."+c, "an upsert-kafka -D is a tombstone, which holds only the key: drop %s from this change", c)
			}
		}
	}
	return r, nil
}

// parseChangeOp reads an expected change's op, with a hint for the ops of
// other vocabularies (debezium's c/r/u/d, canal's UPDATE).
func parseChangeOp(op string) (row.Kind, error) {
	k, err := row.ParseKind(strings.TrimSpace(op))
	if err == nil {
		return k, nil
	}
	switch strings.TrimSpace(op) {
	case "c", "r":
		return 0, fmt.Errorf("%q is debezium's op; changes are written as Flink reads them: debezium c and r are +I", op)
	case "u":
		return 0, fmt.Errorf("%q is debezium's op; changes are written as Flink reads them: debezium u is a -U (before) followed by a +U (after)", op)
	case "d":
		return 0, fmt.Errorf("%q is debezium's op; changes are written as Flink reads them: debezium d is -D", op)
	case "UPDATE":
		return 0, fmt.Errorf("%q is canal's type; changes are written as Flink reads them: canal UPDATE is a -U (old) followed by a +U (data)", op)
	}
	return 0, fmt.Errorf("unknown change %q: want +I, -U, +U or -D (as Flink prints them; or INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE)", op)
}

// opNotHeld says why a sink of format f can never hold a change of kind k,
// or "".
func opNotHeld(f row.Format, k row.Kind) string {
	switch f {
	case row.FormatJSON:
		if k != row.Insert {
			return fmt.Sprintf("format json is append-only: every message reads as +I, so the sink never holds %s", k)
		}
	case row.FormatUpsertKafka:
		if k == row.UpdateBefore || k == row.UpdateAfter {
			return fmt.Sprintf("an upsert-kafka topic never holds %s: Flink's upsert-kafka sink drops -U and every value reads back as +I (an upsert); write +I for a value and -D for a tombstone", k)
		}
	}
	return ""
}

// jsonLineColumn returns a columnFunc for a JSONL line.
func jsonLineColumn(line []byte) columnFunc {
	return func(path ...string) int {
		if len(path) == 0 {
			return 0
		}
		return jsonColumn(line, path...)
	}
}

// yamlColumn returns a columnFunc for an inline YAML item.
func yamlColumn(item *yaml.Node) columnFunc {
	return func(path ...string) int {
		n := item
		for _, k := range path {
			var next *yaml.Node
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						next = n.Content[i+1]
						break
					}
				}
			}
			if next == nil {
				return n.Column
			}
			n = next
		}
		return n.Column
	}
}

// jsonColumn returns the 1-based column (byte offset + 1) where the value
// at a path of object keys starts in line, or of the deepest object on the
// path found, or 0 when the line is not a JSON object.
func jsonColumn(line []byte, path ...string) int {
	dec := json.NewDecoder(bytes.NewReader(line))
	type frame struct {
		obj, wantKey bool
		key          string
		start        int64
	}
	var stack []frame
	best := 0
	valueStart := func() int {
		off := int(dec.InputOffset())
		for off < len(line) && (line[off] == ' ' || line[off] == '\t' || line[off] == ':' || line[off] == ',') {
			off++
		}
		return off + 1
	}
	for {
		before := dec.InputOffset()
		t, err := dec.Token()
		if err != nil {
			return best
		}
		top := len(stack) - 1
		if d, ok := t.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:top]
			if top > 0 && stack[top-1].obj {
				stack[top-1].wantKey = true
			}
			continue
		}
		if top >= 0 && stack[top].obj && stack[top].wantKey {
			k, _ := t.(string)
			stack[top].key, stack[top].wantKey = k, false
			if top < len(path) && k == path[top] {
				match := true
				for i := 0; i < top; i++ {
					if stack[i].key != path[i] {
						match = false
					}
				}
				if match {
					best = valueStart()
					if top == len(path)-1 {
						return best
					}
				}
			}
			continue
		}
		if d, ok := t.(json.Delim); ok {
			stack = append(stack, frame{obj: d == '{', wantKey: d == '{', start: before})
			continue
		}
		if top >= 0 && stack[top].obj {
			stack[top].wantKey = true
		}
	}
}

// ChangelogDiff is the difference between an expected changelog and the
// changes a sink holds, compared key by key: the changes of one key must
// match in order; the order between keys is not compared (Kafka defines
// no order across partitions, Flink none across keys).
type ChangelogDiff struct {
	// Schema is the sink schema.
	Schema *row.Schema
	// Diverged are the keys whose changes differ, at their first
	// difference, in the order of the expected changelog.
	Diverged []Divergence
	// Missing are keys the expected changelog lists and the sink never
	// changed; Unexpected keys the sink changed and the expected changelog
	// does not list (in the order first seen).
	Missing, Unexpected []KeyChanges
	// Expected and Actual count the changes; ExpectedKeys and ActualKeys
	// the keys.
	Expected, Actual         int
	ExpectedKeys, ActualKeys int
}

// KeyChanges are the changes of one key.
type KeyChanges struct {
	// Key is the key as text ("order_id=1").
	Key     string
	Changes []row.Row
}

// Divergence is the first difference in the changes of one key.
type Divergence struct {
	// Key is the key as text ("order_id=1").
	Key string
	// Index is the 0-based position of the first differing change; the
	// changes before it match.
	Index int
	// Expected is the expected change there, nil when the sink holds more
	// changes than expected; ExpectedAt is where it was written.
	Expected   *row.Row
	ExpectedAt Pos
	// Actual is the sink's change there, nil when it holds fewer changes
	// than expected; ActualAt is the record it came from
	// ("topic/partition@offset"), when known.
	Actual   *row.Row
	ActualAt string
	// Columns are the differing columns when both changes have one kind.
	Columns []ColumnDiff
	// ExpectedCount and ActualCount are the key's numbers of changes.
	ExpectedCount, ActualCount int
	// Note explains the difference further, or is "".
	Note string
}

// Empty reports whether the changelogs match.
func (d *ChangelogDiff) Empty() bool {
	return len(d.Diverged) == 0 && len(d.Missing) == 0 && len(d.Unexpected) == 0
}

// observed is one change of a sink with the record it was decoded from.
type observed struct {
	row row.Row
	rec *Record // nil when not from a record
}

// CompareChangelog compares the changes a sink holds (in the order read)
// with an expected changelog, key by key, with the sink schema's key
// (without a key, the whole changelog is one ordered sequence; a case's
// expect.changelog needs a key). A -D with only its key columns (an
// upsert-kafka tombstone) matches an expected -D of that key whatever the
// other columns.
func CompareChangelog(s *row.Schema, expected, actual []row.Row, o CompareOptions) *ChangelogDiff {
	obs := make([]observed, len(actual))
	for i, r := range actual {
		obs[i] = observed{row: r}
	}
	return compareChangelog(s, "", expected, nil, obs, o)
}

func compareChangelog(s *row.Schema, format row.Format, expected []row.Row, expectedPos []Pos, actual []observed, o CompareOptions) *ChangelogDiff {
	c := newComparer(s, o)
	d := &ChangelogDiff{Schema: s, Expected: len(expected), Actual: len(actual)}
	type exp struct {
		r   row.Row
		pos Pos
	}
	var expKeys, actKeys []string
	expBy := map[string][]exp{}
	actBy := map[string][]observed{}
	text := map[string]string{}
	var unkeyed []observed
	for i, r := range expected {
		k, err := s.AppendKey(nil, r)
		if err != nil {
			continue // the loader refuses changes without a key
		}
		if _, ok := expBy[string(k)]; !ok {
			expKeys = append(expKeys, string(k))
			text[string(k)] = keyText(s, r)
		}
		var p Pos
		if i < len(expectedPos) {
			p = expectedPos[i]
		}
		expBy[string(k)] = append(expBy[string(k)], exp{r, p})
	}
	for _, a := range actual {
		k, err := s.AppendKey(nil, a.row)
		if err != nil {
			unkeyed = append(unkeyed, a)
			continue
		}
		if _, ok := actBy[string(k)]; !ok {
			actKeys = append(actKeys, string(k))
			if _, ok := text[string(k)]; !ok {
				text[string(k)] = keyText(s, a.row)
			}
		}
		actBy[string(k)] = append(actBy[string(k)], a)
	}
	if len(s.Key()) == 0 {
		text[""] = "(the whole changelog: no key)"
	}
	d.ExpectedKeys, d.ActualKeys = len(expKeys), len(actKeys)
	for _, k := range expKeys {
		es, as := expBy[k], actBy[k]
		if len(as) == 0 {
			kc := KeyChanges{Key: text[k]}
			for _, e := range es {
				kc.Changes = append(kc.Changes, e.r)
			}
			d.Missing = append(d.Missing, kc)
			continue
		}
		for i := 0; i < len(es) || i < len(as); i++ {
			dv := Divergence{Key: text[k], Index: i, ExpectedCount: len(es), ActualCount: len(as)}
			if i < len(es) {
				e := es[i].r
				dv.Expected, dv.ExpectedAt = &e, es[i].pos
			}
			if i < len(as) {
				a := as[i].row
				dv.Actual = &a
				if as[i].rec != nil {
					dv.ActualAt = recordAt(*as[i].rec)
				}
			}
			if dv.Expected != nil && dv.Actual != nil && dv.Expected.Kind == dv.Actual.Kind {
				if dv.Actual.Kind == row.Delete && keyOnly(s, *dv.Actual) {
					continue
				}
				if dv.Columns = c.columnDiffs(*dv.Expected, *dv.Actual); len(dv.Columns) == 0 {
					continue
				}
			}
			dv.Note = divergenceNote(format, dv, as)
			d.Diverged = append(d.Diverged, dv)
			break
		}
	}
	for _, k := range actKeys {
		if _, ok := expBy[k]; ok {
			continue
		}
		kc := KeyChanges{Key: text[k]}
		for _, a := range actBy[k] {
			kc.Changes = append(kc.Changes, a.row)
		}
		d.Unexpected = append(d.Unexpected, kc)
	}
	if len(unkeyed) > 0 {
		kc := KeyChanges{Key: "(null key)"}
		for _, a := range unkeyed {
			kc.Changes = append(kc.Changes, a.row)
		}
		d.Unexpected = append(d.Unexpected, kc)
	}
	return d
}

// keyOnly reports whether r holds only its key columns (an upsert-kafka
// tombstone as read).
func keyOnly(s *row.Schema, r row.Row) bool {
	for i := 0; i < s.Len(); i++ {
		if !isKey(s, i) && !r.Values[i].IsNull() {
			return false
		}
	}
	return true
}

func recordAt(r Record) string { return fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset) }

// divergenceNote explains a divergence that has a known cause.
func divergenceNote(f row.Format, dv Divergence, as []observed) string {
	var notes []string
	if dv.Expected != nil && dv.Actual != nil && (f == row.FormatDebeziumJSON || f == row.FormatCanalJSON) {
		e, a := dv.Expected.Kind, dv.Actual.Kind
		if e == row.UpdateBefore && a == row.Delete || e == row.UpdateAfter && a == row.Insert {
			notes = append(notes, fmt.Sprintf("Flink's %s sink writes -U as a delete and +U as an insert, which read back as -D and +I", f))
		}
	}
	parts := map[int32]bool{}
	for _, a := range as {
		if a.rec != nil {
			parts[a.rec.Partition] = true
		}
	}
	if len(parts) > 1 {
		notes = append(notes, fmt.Sprintf("the key's changes were read from %d partitions, whose relative order Kafka does not define", len(parts)))
	}
	return strings.Join(notes, "; ")
}

// String renders the diff for people: a summary line, then every diverged
// key at its first difference, the missing and the unexpected keys.
func (d *ChangelogDiff) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "changelog: expected %s of %s, got %s of %s: %d diverged, %d missing, %d unexpected\n",
		plural(d.Expected, "change"), plural(d.ExpectedKeys, "key"), plural(d.Actual, "change"), plural(d.ActualKeys, "key"),
		len(d.Diverged), len(d.Missing), len(d.Unexpected))
	change := func(r row.Row) string { return r.Kind.String() + " " + string(d.Schema.AppendJSON(nil, r)) }
	if len(d.Diverged) > 0 {
		b.WriteString("diverged (first difference per key):\n")
		for _, dv := range d.Diverged {
			fmt.Fprintf(&b, "  ~ %s at change %d (%d expected, %d received):\n", dv.Key, dv.Index+1, dv.ExpectedCount, dv.ActualCount)
			if dv.Expected != nil {
				fmt.Fprintf(&b, "      expected %s", change(*dv.Expected))
				if dv.ExpectedAt.File != "" {
					fmt.Fprintf(&b, " (%s)", dv.ExpectedAt)
				}
				b.WriteByte('\n')
			} else {
				b.WriteString("      expected no more changes\n")
			}
			if dv.Actual != nil {
				fmt.Fprintf(&b, "      got      %s", change(*dv.Actual))
				if dv.ActualAt != "" {
					fmt.Fprintf(&b, " (%s)", dv.ActualAt)
				}
				b.WriteByte('\n')
			} else {
				b.WriteString("      got      no more changes\n")
			}
			for _, cd := range dv.Columns {
				fmt.Fprintf(&b, "      %s: expected %s, got %s\n", cd.Column, cd.Expected, cd.Actual)
			}
			if dv.Note != "" {
				fmt.Fprintf(&b, "      note: %s\n", dv.Note)
			}
		}
	}
	keys := func(title, mark string, list []KeyChanges) {
		if len(list) == 0 {
			return
		}
		b.WriteString(title)
		for _, kc := range list {
			fmt.Fprintf(&b, "  %s %s:", mark, kc.Key)
			for i, r := range kc.Changes {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, " %s", change(r))
			}
			b.WriteByte('\n')
		}
	}
	keys("missing keys (expected changes, none produced):\n", "-", d.Missing)
	keys("unexpected keys (changed, not expected):\n", "+", d.Unexpected)
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
