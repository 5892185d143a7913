package manifest

import (
	"fmt"
	"slices"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/row"
)

// FromAgg returns the manifest entry of the agg operator c describes: its
// state table (namespace c.ID) keyed by the group columns, then one column
// per aggregate with its function, argument and result type; the input's
// columns; c.InputName and c.OutputName as input and output; the version
// (default 1).
func FromAgg(c agg.Config) (Operator, error) {
	if err := c.Validate(); err != nil {
		return Operator{}, err
	}
	t := Table{Namespace: c.ID, Key: slices.Clone(c.GroupBy)}
	for _, g := range c.Group() {
		t.Columns = append(t.Columns, Column{Name: g.Name, Type: g.Type})
	}
	for i, v := range c.Values() {
		t.Columns = append(t.Columns, Column{Name: v.Name, Type: v.Type, Nullable: v.Func != agg.Count, Agg: string(v.Func), Arg: c.Aggregates[i].Arg})
	}
	return Operator{
		ID: c.ID, Kind: KindAgg, AppendOnly: c.AppendOnly,
		Inputs: []string{c.InputName}, Output: c.OutputName, Version: max(c.Version, 1),
		Tables: []Table{t}, InputColumns: ColumnsOf(c.Input),
	}, nil
}

// FromJoin returns the manifest entry of the join c describes: one state
// table per input (namespace <name>/<input>, join.StateNamespace) keyed by
// the join key, holding the input's columns with their types, nullability
// and defaults; the inputs by name; output as its output. Its version is
// the inputs' schema version, which must be the same for both.
func FromJoin(c join.Config, output string) (Operator, error) {
	if c.Left.Schema == nil || c.Right.Schema == nil {
		return Operator{}, fmt.Errorf("manifest: the join's Left.Schema and Right.Schema are required")
	}
	lv, rv := c.Left.Schema.Version(), c.Right.Schema.Version()
	if lv != rv {
		return Operator{}, fmt.Errorf("manifest: the left input's schema has version %d and the right's %d: the join's state has one version, give both schemas the same", lv, rv)
	}
	name, left, right := c.Names()
	return Operator{
		ID: name, Kind: KindJoin, JoinType: c.Type.String(),
		Inputs: []string{left, right}, Output: output, Version: lv,
		Tables: []Table{
			{Namespace: join.StateNamespace(name, left), Input: left, Key: slices.Clone(c.Left.Key), Columns: ColumnsOf(c.Left.Schema)},
			{Namespace: join.StateNamespace(name, right), Input: right, Key: slices.Clone(c.Right.Key), Columns: ColumnsOf(c.Right.Schema)},
		},
	}, nil
}

// StateSchema returns the schema of the values table t of op holds, as the
// operator encodes them: an agg's accumulators (agg.StateSchema), a join
// side's columns (with their defaults, at the operator's version).
func StateSchema(op *Operator, t *Table) (*row.Schema, error) {
	switch op.Kind {
	case KindAgg:
		var group []row.Column
		var values []agg.StateValue
		for _, c := range t.Columns {
			if slices.Contains(t.Key, c.Name) {
				group = append(group, row.Column{Name: c.Name, Type: c.Type})
			} else {
				values = append(values, agg.StateValue{Name: c.Name, Func: agg.Func(c.Agg), Type: c.Type})
			}
		}
		// The group columns in key order.
		slices.SortStableFunc(group, func(a, b row.Column) int {
			return slices.Index(t.Key, a.Name) - slices.Index(t.Key, b.Name)
		})
		s, err := agg.StateSchema(group, values, op.AppendOnly, op.Version)
		if err != nil {
			return nil, fmt.Errorf("operator %q: %w", op.ID, err)
		}
		return s, nil
	case KindJoin:
		return t.Schema(op.Version)
	}
	return nil, fmt.Errorf("operator %q: unknown kind %q", op.ID, op.Kind)
}

// SplitValue splits a stored value of an operator of kind k into the
// operator's own header, which a migration keeps as it is, and the row in
// the state schema's value encoding (StateSchema): a join side's value
// starts with the join's match header (join.SplitStateValue); an agg's
// value is the row.
func SplitValue(k OperatorKind, v []byte) (header, body []byte, err error) {
	if k == KindJoin {
		return join.SplitStateValue(v)
	}
	return nil, v, nil
}
