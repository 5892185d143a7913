package mock

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hotcold/hotcold/row"
)

// CompareOptions configures Compare.
type CompareOptions struct {
	// Ignore names columns left out of the comparison. Default: none.
	Ignore []string
	// FloatTolerance is the largest difference at which two float32/float64
	// values still count as equal; above magnitude 1 it is relative
	// (|a-b| <= tol * max(|a|, |b|)). Decimals, timestamps and all other
	// types compare exactly, by value. Default 0: exact.
	FloatTolerance float64
}

// Diff is the difference between an expected and an actual table.
type Diff struct {
	// Schema is the schema of the rows.
	Schema *row.Schema
	// Missing rows were expected but not produced.
	Missing []row.Row
	// Unexpected rows were produced but not expected.
	Unexpected []row.Row
	// Changed rows exist on both sides with different values: matched by
	// primary key, or (without a key) paired as the most similar leftover
	// rows when more than half of their compared columns agree.
	Changed []Change
	// Expected and Actual are the sizes of the two tables.
	Expected, Actual int
}

// Change is one row whose values differ.
type Change struct {
	Expected, Actual row.Row
	Columns          []ColumnDiff
}

// ColumnDiff is one differing column, values rendered as text.
type ColumnDiff struct {
	Column           string
	Expected, Actual string
}

// Empty reports whether the tables are equal.
func (d *Diff) Empty() bool {
	return len(d.Missing) == 0 && len(d.Unexpected) == 0 && len(d.Changed) == 0
}

// Compare compares two tables of schema s, order-insensitively. With a
// primary key in s rows are matched by key; without one both tables are
// multisets.
func Compare(s *row.Schema, expected, actual []row.Row, o CompareOptions) *Diff {
	c := newComparer(s, o)
	d := &Diff{Schema: s, Expected: len(expected), Actual: len(actual)}
	if len(s.Key()) > 0 {
		c.keyed(d, expected, actual)
	} else {
		c.multiset(d, expected, actual)
	}
	return d
}

func newComparer(s *row.Schema, o CompareOptions) *comparer {
	c := &comparer{s: s, tol: o.FloatTolerance}
	ignored := map[string]bool{}
	for _, n := range o.Ignore {
		ignored[n] = true
	}
	for i := 0; i < s.Len(); i++ {
		col := s.Column(i)
		if ignored[col.Name] {
			continue
		}
		c.cols = append(c.cols, i)
		if (col.Type.ID == row.TypeFloat32 || col.Type.ID == row.TypeFloat64) && c.tol > 0 {
			c.fuzzy = append(c.fuzzy, i)
		} else {
			c.exact = append(c.exact, i)
		}
	}
	return c
}

type comparer struct {
	s            *row.Schema
	tol          float64
	cols         []int // compared columns
	exact, fuzzy []int // compared columns by exactness
}

func (c *comparer) equal(i int, a, b row.Value) bool {
	t := c.s.Column(i).Type.ID
	if c.tol > 0 && (t == row.TypeFloat32 || t == row.TypeFloat64) && !a.IsNull() && !b.IsNull() {
		x, y := a.Float64(), b.Float64()
		if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
			return row.Equal(a, b)
		}
		scale := math.Max(1, math.Max(math.Abs(x), math.Abs(y)))
		return math.Abs(x-y) <= c.tol*scale
	}
	return row.Equal(a, b)
}

func (c *comparer) columnDiffs(e, a row.Row) []ColumnDiff {
	var out []ColumnDiff
	for _, i := range c.cols {
		if !c.equal(i, e.Values[i], a.Values[i]) {
			col := c.s.Column(i)
			out = append(out, ColumnDiff{Column: col.Name, Expected: e.Values[i].Format(col.Type), Actual: a.Values[i].Format(col.Type)})
		}
	}
	return out
}

func (c *comparer) keyed(d *Diff, expected, actual []row.Row) {
	type slot struct {
		r    row.Row
		used bool
	}
	byKey := make(map[string]*slot, len(actual))
	var keys []string
	for _, r := range actual {
		k, err := c.s.AppendKey(nil, r)
		if err != nil {
			d.Unexpected = append(d.Unexpected, r)
			continue
		}
		if _, dup := byKey[string(k)]; dup {
			d.Unexpected = append(d.Unexpected, r)
			continue
		}
		byKey[string(k)] = &slot{r: r}
		keys = append(keys, string(k))
	}
	type pair struct {
		key string
		e   row.Row
	}
	var exp []pair
	for _, e := range expected {
		k, err := c.s.AppendKey(nil, e)
		if err != nil {
			d.Missing = append(d.Missing, e)
			continue
		}
		exp = append(exp, pair{string(k), e})
	}
	sort.SliceStable(exp, func(i, j int) bool { return exp[i].key < exp[j].key })
	for _, p := range exp {
		sl, ok := byKey[p.key]
		if !ok || sl.used {
			d.Missing = append(d.Missing, p.e)
			continue
		}
		sl.used = true
		if cd := c.columnDiffs(p.e, sl.r); len(cd) > 0 {
			d.Changed = append(d.Changed, Change{Expected: p.e, Actual: sl.r, Columns: cd})
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if sl := byKey[k]; !sl.used {
			d.Unexpected = append(d.Unexpected, sl.r)
		}
	}
}

func (c *comparer) multiset(d *Diff, expected, actual []row.Row) {
	types := make([]row.Type, len(c.exact))
	for i, j := range c.exact {
		types[i] = c.s.Column(j).Type
	}
	bucket := func(r row.Row) string {
		k, _ := row.AppendKey(nil, types, r.Project(c.exact).Values)
		return string(k)
	}
	buckets := map[string][]int{}
	for i, a := range actual {
		b := bucket(a)
		buckets[b] = append(buckets[b], i)
	}
	used := make([]bool, len(actual))
	var missing []row.Row
	for _, e := range expected {
		found := false
		for _, i := range buckets[bucket(e)] {
			if used[i] {
				continue
			}
			if c.fuzzyEqual(e, actual[i]) {
				used[i] = true
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, e)
		}
	}
	var unexpected []row.Row
	for i, a := range actual {
		if !used[i] {
			unexpected = append(unexpected, a)
		}
	}
	// pair leftovers that mostly agree as changed rows
	taken := make([]bool, len(unexpected))
	for _, e := range missing {
		best, bestEq := -1, 0
		for i, a := range unexpected {
			if taken[i] {
				continue
			}
			eq := len(c.cols) - len(c.columnDiffs(e, a))
			if eq > bestEq {
				best, bestEq = i, eq
			}
		}
		if best >= 0 && 2*bestEq > len(c.cols) {
			taken[best] = true
			d.Changed = append(d.Changed, Change{Expected: e, Actual: unexpected[best], Columns: c.columnDiffs(e, unexpected[best])})
			continue
		}
		d.Missing = append(d.Missing, e)
	}
	for i, a := range unexpected {
		if !taken[i] {
			d.Unexpected = append(d.Unexpected, a)
		}
	}
}

func (c *comparer) fuzzyEqual(e, a row.Row) bool {
	for _, i := range c.fuzzy {
		if !c.equal(i, e.Values[i], a.Values[i]) {
			return false
		}
	}
	return true
}

// String renders the diff for people: a summary line, then the missing,
// unexpected and changed rows, changed rows column by column.
func (d *Diff) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "expected %s, got %d: %d missing, %d unexpected, %d changed\n", rows(d.Expected), d.Actual, len(d.Missing), len(d.Unexpected), len(d.Changed))
	if len(d.Missing) > 0 {
		b.WriteString("missing (expected, not produced):\n")
		for _, r := range d.Missing {
			fmt.Fprintf(&b, "  - %s\n", d.Schema.AppendJSON(nil, r))
		}
	}
	if len(d.Unexpected) > 0 {
		b.WriteString("unexpected (produced, not expected):\n")
		for _, r := range d.Unexpected {
			fmt.Fprintf(&b, "  + %s\n", d.Schema.AppendJSON(nil, r))
		}
	}
	if len(d.Changed) > 0 {
		b.WriteString("changed:\n")
		for _, ch := range d.Changed {
			if len(d.Schema.Key()) > 0 {
				fmt.Fprintf(&b, "  ~ %s\n", keyText(d.Schema, ch.Expected))
			} else {
				fmt.Fprintf(&b, "  ~ %s\n", d.Schema.AppendJSON(nil, ch.Expected))
			}
			for _, cd := range ch.Columns {
				fmt.Fprintf(&b, "      %s: expected %s, got %s\n", cd.Column, cd.Expected, cd.Actual)
			}
		}
	}
	return b.String()
}

func rows(n int) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}
