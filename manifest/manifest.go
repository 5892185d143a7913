package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/internal/yamlerr"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// FileName is the name of the operator-graph manifest a job writes next
// to its state (in the state directory, beside Pebble's own files).
const FileName = "hotcold-manifest.yaml"

// Manifest describes the stateful operators of a job: which operators
// exist, how they are connected, and the schema of the state each keeps.
// A job writes it next to its state on first start and checks it on every
// later start (Ensure); statemigrate compares two manifests to tell
// whether saved state can be migrated to new logic.
//
// The YAML form:
//
//	job: orders_refunds
//	operators:
//	  - id: refunds_by_city
//	    kind: agg
//	    inputs: [orders_refunds_joined]
//	    output: refunds_by_city
//	    version: 2
//	    state:
//	      - namespace: refunds_by_city
//	        key: [city, day]
//	        columns:
//	          - {name: city, type: string}
//	          - {name: day, type: date32}
//	          - {name: refund_total, type: "decimal128(38, 2)", nullable: true, agg: sum, arg: refund_amount}
//	          - name: refund_count
//	            type: int64
//	            agg: count
//	            arg: refund_id
//	            counted_from: {time: 2026-11-22T10:00:00Z}
type Manifest struct {
	// Job names the job that owns the state.
	Job string `yaml:"job" json:"job"`
	// Operators are the stateful operators, upstream first.
	Operators []Operator `yaml:"operators" json:"operators"`
}

// OperatorKind is the kind of a stateful operator.
type OperatorKind string

// The operator kinds.
const (
	KindJoin OperatorKind = "join"
	KindAgg  OperatorKind = "agg"
)

// joinTypes are the join types a join operator may declare: those of
// package join.
func joinTypes() []string { return join.TypeNames() }

// aggFuncs are the aggregate functions an agg column may declare: those of
// package agg. count with an empty arg is count(*).
func aggFuncs() []string {
	out := make([]string, len(agg.Funcs))
	for i, f := range agg.Funcs {
		out[i] = string(f)
	}
	return out
}

// Operator is one stateful operator of a job.
type Operator struct {
	// ID names the operator uniquely within the job.
	ID string `yaml:"id" json:"id"`
	// Kind is join or agg.
	Kind OperatorKind `yaml:"kind" json:"kind"`
	// JoinType is inner, left, right or full; joins only.
	JoinType string `yaml:"join_type,omitempty" json:"join_type,omitempty"`
	// AppendOnly says that an agg's input carries no retractions, so that
	// min, max, first_value and last_value keep one value per group rather
	// than a multiset of values. Aggs only.
	AppendOnly bool `yaml:"append_only,omitempty" json:"append_only,omitempty"`
	// Inputs names what the operator reads: topics or other operators'
	// outputs. For a join the order is left, right.
	Inputs []string `yaml:"inputs" json:"inputs"`
	// Output names what the operator writes (a topic or a stream other
	// operators list as input).
	Output string `yaml:"output" json:"output"`
	// Version is the schema version of the operator's state; bump it
	// whenever the state columns change.
	Version uint32 `yaml:"version" json:"version"`
	// Tables are the state namespaces the operator keeps: one per join side,
	// one for an agg.
	Tables []Table `yaml:"state" json:"state"`
	// InputColumns are the columns of an agg's input (a derived manifest
	// records them; hand-written ones may leave them out). When set, every
	// aggregate's arg and every group key must be one of them. They are
	// not state, so Diff does not compare them. Aggs only.
	InputColumns []Column `yaml:"input_columns,omitempty" json:"input_columns,omitempty"`
}

// Table is the schema of one state namespace.
type Table struct {
	// Namespace is the state namespace (see DB.Namespace).
	Namespace string `yaml:"namespace" json:"namespace"`
	// Input is the operator input whose rows this table keeps (join sides);
	// empty for an agg.
	Input string `yaml:"input,omitempty" json:"input,omitempty"`
	// Key names the key columns: a join side's join key, an agg's group key.
	Key []string `yaml:"key" json:"key"`
	// Columns are the stored columns. A join side stores exactly these
	// columns (row.Schema value encoding). An agg lists its group columns
	// then one column per aggregate, each with Agg set.
	Columns []Column `yaml:"columns" json:"columns"`
}

// Column is one state column.
type Column struct {
	// Name is the column name.
	Name string `yaml:"name" json:"name"`
	// Type is the column type, in row.ParseType notation.
	Type row.Type `yaml:"type" json:"type"`
	// Nullable says whether the column may hold null.
	Nullable bool `yaml:"nullable,omitempty" json:"nullable,omitempty"`
	// Default is the value of the column in rows stored before it existed,
	// written as in the JSON formats ("0", "unknown", "2026-11-22"); nil is
	// null.
	Default *string `yaml:"default,omitempty" json:"default,omitempty"`
	// Agg is the aggregate function of an agg's value column (one of package agg's Funcs).
	Agg string `yaml:"agg,omitempty" json:"agg,omitempty"`
	// Arg is the input column the aggregate reads; empty for count(*).
	Arg string `yaml:"arg,omitempty" json:"arg,omitempty"`
	// CountedFrom is set on an aggregate that a migration added to existing
	// state: its values count input from the migration point only.
	CountedFrom *CountedFrom `yaml:"counted_from,omitempty" json:"counted_from,omitempty"`
}

// CountedFrom records where an aggregate added by a migration started
// counting.
type CountedFrom struct {
	// Time is when the migration ran.
	Time time.Time `yaml:"time" json:"time"`
	// Offsets are the source offsets (topic/partition -> next offset) the
	// migrated state reflected: input before them is not counted.
	Offsets map[string]int64 `yaml:"offsets,omitempty" json:"offsets,omitempty"`
}

// AggString renders the aggregate of c as "sum(amount)", "count(*)", or ""
// for a column without an aggregate.
func (c Column) AggString() string {
	if c.Agg == "" {
		return ""
	}
	arg := c.Arg
	if arg == "" {
		arg = "*"
	}
	return c.Agg + "(" + arg + ")"
}

// DefaultValue parses Default for the column's type (null when unset).
func (c Column) DefaultValue() (row.Value, error) {
	if c.Default == nil {
		return row.NullValue(), nil
	}
	v, err := row.ValueFromJSON(c.Type, *c.Default)
	if err != nil {
		return row.Value{}, fmt.Errorf("default %q is not a %s: %w", *c.Default, c.Type, err)
	}
	return v, nil
}

// DefaultText renders a Value as a Column.Default (nil for null).
func DefaultText(t row.Type, v row.Value) *string {
	if v.IsNull() {
		return nil
	}
	b := row.AppendJSONValue(nil, t, v)
	var s string
	if json.Unmarshal(b, &s) == nil {
		return &s
	}
	s = string(b)
	return &s
}

// ColumnsOf returns the manifest columns of a schema (no aggregates).
func ColumnsOf(s *row.Schema) []Column {
	cols := make([]Column, s.Len())
	for i, c := range s.Columns() {
		cols[i] = Column{Name: c.Name, Type: c.Type, Nullable: c.Nullable, Default: DefaultText(c.Type, c.Default)}
	}
	return cols
}

// Schema returns the row schema of the table's columns and key at the given
// version, with defaults parsed.
func (t *Table) Schema(version uint32) (*row.Schema, error) {
	cols := make([]row.Column, len(t.Columns))
	for i, c := range t.Columns {
		d, err := c.DefaultValue()
		if err != nil {
			return nil, fmt.Errorf("state %q column %q: %w", t.Namespace, c.Name, err)
		}
		cols[i] = row.Column{Name: c.Name, Type: c.Type, Nullable: c.Nullable, Default: d}
	}
	s, err := row.NewSchema(cols, t.Key, version)
	if err != nil {
		return nil, fmt.Errorf("state %q: %w", t.Namespace, err)
	}
	return s, nil
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// Operator returns the operator with the given id, or nil.
func (m *Manifest) Operator(id string) *Operator {
	for i := range m.Operators {
		if m.Operators[i].ID == id {
			return &m.Operators[i]
		}
	}
	return nil
}

// Clone returns a deep copy of m.
func (m *Manifest) Clone() *Manifest {
	out := &Manifest{Job: m.Job, Operators: make([]Operator, len(m.Operators))}
	for i, op := range m.Operators {
		op.Inputs = slices.Clone(op.Inputs)
		op.InputColumns = slices.Clone(op.InputColumns)
		for k, c := range op.InputColumns {
			if c.Default != nil {
				d := *c.Default
				op.InputColumns[k].Default = &d
			}
		}
		tables := make([]Table, len(op.Tables))
		for j, t := range op.Tables {
			t.Key = slices.Clone(t.Key)
			cols := make([]Column, len(t.Columns))
			for k, c := range t.Columns {
				if c.Default != nil {
					d := *c.Default
					c.Default = &d
				}
				if c.CountedFrom != nil {
					cf := *c.CountedFrom
					if cf.Offsets != nil {
						cf.Offsets = make(map[string]int64, len(c.CountedFrom.Offsets))
						for k, v := range c.CountedFrom.Offsets {
							cf.Offsets[k] = v
						}
					}
					c.CountedFrom = &cf
				}
				cols[k] = c
			}
			t.Columns = cols
			tables[j] = t
		}
		op.Tables = tables
		out.Operators[i] = op
	}
	return out
}

// FieldError is a problem Validate finds in a manifest. Field is a path
// such as "operators[1].state[0].columns[2].agg". Parse reports it as a
// *yamlerr.Error with the file, line and column.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Validate checks a manifest and returns every problem in one error (a
// join of *FieldError).
func (m *Manifest) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if m.Job == "" {
		add("job", "is empty; name the job")
	}
	if len(m.Operators) == 0 {
		add("operators", "no operators; list the job's stateful operators")
	}
	ids := map[string]bool{}
	namespaces := map[string]string{}
	for i, op := range m.Operators {
		p := fmt.Sprintf("operators[%d]", i)
		switch {
		case op.ID == "":
			add(p+".id", "is empty")
		case ids[op.ID]:
			add(p+".id", "duplicate operator id %q", op.ID)
		}
		ids[op.ID] = true
		switch op.Kind {
		case KindJoin:
			if !slices.Contains(joinTypes(), op.JoinType) {
				add(p+".join_type", "%q is not a join type (want one of %s)", op.JoinType, strings.Join(joinTypes(), ", "))
			}
			if len(op.Inputs) != 2 {
				add(p+".inputs", "a join has 2 inputs (left, right), got %d", len(op.Inputs))
			}
			if op.AppendOnly {
				add(p+".append_only", "applies to aggs only")
			}
		case KindAgg:
			if op.JoinType != "" {
				add(p+".join_type", "applies to joins only")
			}
			if len(op.Inputs) != 1 {
				add(p+".inputs", "an agg has 1 input, got %d", len(op.Inputs))
			}
			if len(op.Tables) != 1 {
				add(p+".state", "an agg keeps 1 state table, got %d", len(op.Tables))
			}
		default:
			add(p+".kind", "%q is not an operator kind (want join or agg)", op.Kind)
		}
		for j, in := range op.Inputs {
			if in == "" {
				add(fmt.Sprintf("%s.inputs[%d]", p, j), "is empty")
			}
		}
		if op.Output == "" {
			add(p+".output", "is empty")
		}
		if op.Version == 0 {
			add(p+".version", "is 0; versions start at 1")
		}
		if len(op.Tables) == 0 {
			add(p+".state", "no state tables")
		}
		inCols := map[string]bool{}
		var inNames []string
		for k, c := range op.InputColumns {
			cp := fmt.Sprintf("%s.input_columns[%d]", p, k)
			switch {
			case op.Kind != KindAgg:
				add(p+".input_columns", "applies to aggs only")
			case c.Name == "":
				add(cp+".name", "is empty")
			case inCols[c.Name]:
				add(cp+".name", "duplicate column %q", c.Name)
			case c.Type.ID == row.TypeNull:
				add(cp+".type", "is missing or null; give a type such as int64, string, decimal128(18, 2)")
			}
			if op.Kind != KindAgg {
				break
			}
			inCols[c.Name] = true
			inNames = append(inNames, c.Name)
		}
		for j, t := range op.Tables {
			tp := fmt.Sprintf("%s.state[%d]", p, j)
			switch {
			case t.Namespace == "":
				add(tp+".namespace", "is empty")
			case namespaces[t.Namespace] != "":
				add(tp+".namespace", "namespace %q is also used by %s", t.Namespace, namespaces[t.Namespace])
			default:
				namespaces[t.Namespace] = tp
			}
			if op.Kind == KindJoin && !slices.Contains(op.Inputs, t.Input) {
				add(tp+".input", "%q is not one of the operator's inputs %v", t.Input, op.Inputs)
			}
			if op.Kind == KindAgg && t.Input != "" {
				add(tp+".input", "applies to join sides only")
			}
			if len(t.Key) == 0 {
				add(tp+".key", "no key columns")
			}
			names := map[string]int{}
			for k, c := range t.Columns {
				cp := fmt.Sprintf("%s.columns[%d]", tp, k)
				if c.Name == "" {
					add(cp+".name", "is empty")
				} else if _, dup := names[c.Name]; dup {
					add(cp+".name", "duplicate column %q", c.Name)
				}
				names[c.Name] = k
				if c.Type.ID == row.TypeNull {
					add(cp+".type", "is missing or null; give a type such as int64, string, decimal128(18, 2)")
				}
				if c.Default != nil && c.Type.ID != row.TypeNull {
					if _, err := c.DefaultValue(); err != nil {
						add(cp+".default", "%v", err)
					}
				}
				isKey := slices.Contains(t.Key, c.Name)
				switch {
				case op.Kind == KindAgg && isKey && c.Agg != "":
					add(cp+".agg", "a group key column has no aggregate")
				case op.Kind == KindAgg && !isKey && c.Agg == "":
					add(cp+".agg", "column %q is not in the group key, so it needs an aggregate function (one of %s)", c.Name, strings.Join(aggFuncs(), ", "))
				case op.Kind != KindAgg && c.Agg != "":
					add(cp+".agg", "aggregates belong to agg operators")
				case c.Agg != "" && !slices.Contains(aggFuncs(), c.Agg):
					add(cp+".agg", "%q is not an aggregate function (want one of %s)", c.Agg, strings.Join(aggFuncs(), ", "))
				case c.Agg != "" && c.Agg != "count" && c.Arg == "":
					add(cp+".arg", "%s needs an input column", c.Agg)
				}
				if c.Agg == "" && c.Arg != "" {
					add(cp+".arg", "set without agg")
				}
				if len(inCols) > 0 && c.Arg != "" && !inCols[c.Arg] {
					add(cp+".arg", "%q is not an input column (%s)", c.Arg, strings.Join(inNames, ", "))
				}
				if len(inCols) > 0 && isKey && !inCols[c.Name] {
					add(cp+".name", "group key column %q is not an input column (%s)", c.Name, strings.Join(inNames, ", "))
				}
				if c.CountedFrom != nil && c.Agg == "" {
					add(cp+".counted_from", "applies to aggregates only")
				}
				if isKey && c.Nullable {
					add(cp+".nullable", "key column %q cannot be nullable", c.Name)
				}
			}
			for k, key := range t.Key {
				if _, ok := names[key]; !ok {
					add(fmt.Sprintf("%s.key[%d]", tp, k), "key column %q is not among the columns", key)
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

// Parse reads a manifest from YAML and validates it. name (a file name)
// prefixes error messages, which give the line, column and field of every
// problem (`m.yaml:12:15: operators[0].state[0].columns[2].type: ...`,
// each a *yamlerr.Error), all at once. Unknown fields are errors.
func Parse(name string, data []byte) (*Manifest, error) {
	doc, err := yamlerr.Parse(name, data)
	if err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, &yamlerr.Error{File: name, Msg: "empty manifest: want job: and operators:"}
	}
	var m Manifest
	es := &yamlerr.Errors{}
	yamlerr.DecodeNode(name, doc.Content[0], "", &m, es)
	if err := es.Err(); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		var list []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			list = j.Unwrap()
		} else {
			list = []error{err}
		}
		out := make([]error, 0, len(list))
		for _, e := range list {
			var fe *FieldError
			if !errors.As(e, &fe) {
				out = append(out, e)
				continue
			}
			ye := &yamlerr.Error{File: name, Path: fe.Field, Msg: fe.Msg}
			if n := yamlerr.Locate(doc, fe.Field); n != nil {
				ye.Line, ye.Column = n.Line, n.Column
			}
			out = append(out, ye)
		}
		return nil, errors.Join(out...)
	}
	return &m, nil
}

// Marshal renders the manifest as YAML.
func (m *Manifest) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("manifest: marshal manifest: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Read reads and validates the manifest file at path. A missing
// file is an error wrapping fs.ErrNotExist.
func Read(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: read manifest: %w", err)
	}
	return Parse(path, data)
}

// Write validates m and writes it to path atomically: a temporary
// file in the same directory, synced, then renamed over path.
func Write(path string, m *Manifest) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("manifest: write manifest %s: %w", path, err)
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(path, data)
}

// Ensure is what an operator calls on start: it reads the manifest
// in the state directory dir; if there is none it writes want (new state);
// if it matches want (Diff finds nothing; CountedFrom is not compared) it
// returns the manifest on disk, which may carry CountedFrom marks; else it
// returns a *MismatchError that says which migration applies.
func Ensure(dir string, want *Manifest) (*Manifest, error) {
	if err := want.Validate(); err != nil {
		return nil, fmt.Errorf("manifest: the job's manifest is invalid: %w", err)
	}
	path := filepath.Join(dir, FileName)
	onDisk, err := Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := Write(path, want); err != nil {
			return nil, err
		}
		return want.Clone(), nil
	}
	if err != nil {
		return nil, err
	}
	if err := Check(onDisk, want); err != nil {
		var me *MismatchError
		if errors.As(err, &me) {
			me.Dir = dir
		}
		return nil, err
	}
	return onDisk, nil
}

// Check compares the manifest of saved state with the one a job wants to
// run. It returns nil when they match (CountedFrom is not compared), else
// a *MismatchError listing the changes and the migration that applies.
func Check(onDisk, want *Manifest) error {
	changes := Diff(onDisk, want)
	if len(changes) == 0 {
		return nil
	}
	return &MismatchError{Changes: changes}
}

// MismatchError is returned when saved state was written under another
// operator graph or state schema than the job's.
type MismatchError struct {
	// Dir is the state directory (empty when not known).
	Dir string
	// Changes are the differences, from the saved state to the job.
	Changes []Change
}

// Action returns the strongest action the changes need.
func (e *MismatchError) Action() Action {
	a := ActionNone
	for _, c := range e.Changes {
		a = max(a, c.Action)
	}
	return a
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	where, from, dir := "the saved state", "OLD.yaml", "DIR"
	if e.Dir != "" {
		where = "the state in " + e.Dir
		from = filepath.Join(e.Dir, FileName)
		dir = e.Dir
	}
	fmt.Fprintf(&b, "manifest: %s was written for another operator graph or state schema than this job's:", where)
	for _, c := range e.Changes {
		b.WriteString("\n  - ")
		b.WriteString(c.String())
	}
	b.WriteString("\n")
	switch e.Action() {
	case ActionFix:
		b.WriteString("The job's manifest must be fixed first (see the changes marked 'fix'); then run `hotcold migrate plan --from " + from + " --to NEW.yaml`.")
	case ActionRebuild:
		b.WriteString("These changes need a bypass rebuild: the state cannot be migrated in place. Run `hotcold migrate plan --from " + from + " --to NEW.yaml` for details and `hotcold migrate bypass` to rebuild the state with a side job.")
	default:
		b.WriteString("A state-column migration applies: run `hotcold migrate plan --from " + from + " --to NEW.yaml`, then (with the job stopped) `hotcold migrate apply --state " + dir + " --to NEW.yaml --out NEWDIR` and start the job on NEWDIR.")
	}
	return b.String()
}

// Action is what a change to a manifest needs, from least to most.
type Action uint8

const (
	// ActionNone: nothing.
	ActionNone Action = iota
	// ActionMetadata: the saved values can be read as they are; only the
	// manifest is updated (hotcold migrate apply).
	ActionMetadata
	// ActionRewrite: the saved values must be rewritten into the new schema
	// (hotcold migrate apply).
	ActionRewrite
	// ActionRebuild: the state cannot be migrated; rebuild it from the
	// input with a side job (hotcold migrate bypass).
	ActionRebuild
	// ActionFix: the new manifest is not a valid successor of the old one
	// (e.g. the version was not bumped); fix it.
	ActionFix
)

func (a Action) String() string {
	switch a {
	case ActionNone:
		return "none"
	case ActionMetadata:
		return "metadata"
	case ActionRewrite:
		return "rewrite"
	case ActionRebuild:
		return "rebuild"
	case ActionFix:
		return "fix"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// ChangeKind classifies a difference between two manifests.
type ChangeKind string

// The kinds of change Diff reports.
const (
	OperatorAdded      ChangeKind = "operator-added"
	OperatorRemoved    ChangeKind = "operator-removed"
	KindChanged        ChangeKind = "kind-changed"
	InputsChanged      ChangeKind = "inputs-changed"
	OutputChanged      ChangeKind = "output-changed"
	JoinTypeChanged    ChangeKind = "join-type-changed"
	AppendOnlyChanged  ChangeKind = "append-only-changed"
	VersionChanged     ChangeKind = "version-changed"
	VersionNotBumped   ChangeKind = "version-not-bumped"
	TableAdded         ChangeKind = "state-added"
	TableRemoved       ChangeKind = "state-removed"
	TableInputChanged  ChangeKind = "state-input-changed"
	KeyChanged         ChangeKind = "key-changed"
	ColumnAdded        ChangeKind = "column-added"
	ColumnDropped      ChangeKind = "column-dropped"
	ColumnsReordered   ChangeKind = "columns-reordered"
	ColumnTypeChanged  ChangeKind = "column-type-changed"
	ColumnWidened      ChangeKind = "column-widened"
	AggregateChanged   ChangeKind = "aggregate-changed"
	NullableWidened    ChangeKind = "nullable-widened"
	NullableNarrowed   ChangeKind = "nullable-narrowed"
	DefaultChanged     ChangeKind = "default-changed"
	ColumnAddedNoValue ChangeKind = "column-added-without-default"
)

// Change is one difference between two manifests.
type Change struct {
	// Operator is the operator id.
	Operator string `json:"operator"`
	// Table is the state namespace, if the change is inside one.
	Table string `json:"state,omitempty"`
	// Column is the column, if the change is about one.
	Column string `json:"column,omitempty"`
	// Kind classifies the change.
	Kind ChangeKind `json:"kind"`
	// Action is what the change needs.
	Action Action `json:"action"`
	// Detail explains the change and, for a rejected one, what to do.
	Detail string `json:"detail"`
}

func (c Change) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "operator %q", c.Operator)
	if c.Table != "" {
		fmt.Fprintf(&b, " state %q", c.Table)
	}
	if c.Column != "" {
		fmt.Fprintf(&b, " column %q", c.Column)
	}
	fmt.Fprintf(&b, ": %s [%s]", c.Detail, c.Action)
	return b.String()
}

// Diff lists the differences from manifest old (of saved state) to new (of
// the job to run), each with the action it needs. The rules:
//
//   - Operators, their kinds, inputs, output, join type and append_only
//     must stay; so must each operator's state namespaces and their keys
//     (names, order, types). Anything else needs a bypass rebuild.
//   - A column may be added: a join side fills it with null or its default
//     (a non-nullable column needs a default), an agg counts the new
//     aggregate from the migration point. Added at the end it is a
//     metadata change (old values decode as they are); elsewhere, like a
//     dropped or reordered column, the values are rewritten.
//   - A column's type may only widen (int32 to int64, float32 to float64,
//     a decimal's precision up; the values are rewritten); its aggregate
//     (function, argument) must not change; nullable may widen
//     (metadata), not narrow (rebuild).
//   - When the columns change, the operator's version must go up.
func Diff(old, new *Manifest) []Change {
	var out []Change
	for _, o := range old.Operators {
		if new.Operator(o.ID) == nil {
			out = append(out, Change{Operator: o.ID, Kind: OperatorRemoved, Action: ActionRebuild,
				Detail: "operator removed: the operator graph changed"})
		}
	}
	for _, n := range new.Operators {
		o := old.Operator(n.ID)
		if o == nil {
			out = append(out, Change{Operator: n.ID, Kind: OperatorAdded, Action: ActionRebuild,
				Detail: "operator added: the operator graph changed and the new operator has no state to start from"})
			continue
		}
		out = append(out, diffOperator(o, &n)...)
	}
	return out
}

func diffOperator(o, n *Operator) []Change {
	var out []Change
	add := func(c Change) { c.Operator = n.ID; out = append(out, c) }
	if o.Kind != n.Kind {
		add(Change{Kind: KindChanged, Action: ActionRebuild, Detail: fmt.Sprintf("kind changed from %s to %s", o.Kind, n.Kind)})
		return out
	}
	if !slices.Equal(o.Inputs, n.Inputs) {
		add(Change{Kind: InputsChanged, Action: ActionRebuild, Detail: fmt.Sprintf("inputs changed from %v to %v: the operator graph changed", o.Inputs, n.Inputs)})
	}
	if o.Output != n.Output {
		add(Change{Kind: OutputChanged, Action: ActionRebuild, Detail: fmt.Sprintf("output changed from %q to %q: the operator graph changed", o.Output, n.Output)})
	}
	if o.JoinType != n.JoinType {
		add(Change{Kind: JoinTypeChanged, Action: ActionRebuild, Detail: fmt.Sprintf("join type changed from %s to %s: the saved sides do not hold what the new join type needs", o.JoinType, n.JoinType)})
	}
	if o.AppendOnly != n.AppendOnly {
		add(Change{Kind: AppendOnlyChanged, Action: ActionRebuild, Detail: fmt.Sprintf("append_only changed from %v to %v: min/max/first/last accumulators differ", o.AppendOnly, n.AppendOnly)})
	}
	columnsChanged := false
	for _, ot := range o.Tables {
		if !slices.ContainsFunc(n.Tables, func(t Table) bool { return t.Namespace == ot.Namespace }) {
			add(Change{Table: ot.Namespace, Kind: TableRemoved, Action: ActionRebuild, Detail: "state namespace removed"})
		}
	}
	for _, nt := range n.Tables {
		i := slices.IndexFunc(o.Tables, func(t Table) bool { return t.Namespace == nt.Namespace })
		if i < 0 {
			add(Change{Table: nt.Namespace, Kind: TableAdded, Action: ActionRebuild, Detail: "state namespace added: it has no saved state to start from"})
			continue
		}
		tc := diffTable(n, &o.Tables[i], &nt)
		for _, c := range tc {
			if c.Column != "" || c.Kind == ColumnsReordered {
				columnsChanged = true
			}
			add(c)
		}
	}
	switch {
	case n.Version < o.Version:
		add(Change{Kind: VersionChanged, Action: ActionFix, Detail: fmt.Sprintf("version went down from %d to %d: a job cannot read state written by a newer version; use version %d or higher", o.Version, n.Version, o.Version+1)})
	case columnsChanged && n.Version == o.Version:
		add(Change{Kind: VersionNotBumped, Action: ActionFix, Detail: fmt.Sprintf("the state columns changed but the version stayed %d: bump it to %d", o.Version, o.Version+1)})
	case n.Version != o.Version && !columnsChanged:
		add(Change{Kind: VersionChanged, Action: ActionMetadata, Detail: fmt.Sprintf("version changed from %d to %d", o.Version, n.Version)})
	}
	return out
}

func diffTable(op *Operator, o, n *Table) []Change {
	var out []Change
	add := func(c Change) { c.Table = n.Namespace; out = append(out, c) }
	if o.Input != n.Input {
		add(Change{Kind: TableInputChanged, Action: ActionRebuild, Detail: fmt.Sprintf("input changed from %q to %q", o.Input, n.Input)})
	}
	keyChanged := !slices.Equal(o.Key, n.Key)
	if !keyChanged {
		for _, k := range n.Key {
			oc, nc := o.Column(k), n.Column(k)
			if oc != nil && nc != nil && oc.Type != nc.Type {
				keyChanged = true
			}
		}
	}
	what := "join key"
	if op.Kind == KindAgg {
		what = "group key"
	}
	if keyChanged {
		add(Change{Kind: KeyChanged, Action: ActionRebuild, Detail: fmt.Sprintf("%s changed from %s to %s: every saved row would move to another key", what, keyString(o), keyString(n))})
	}
	// Columns present in both, then dropped and added ones.
	for _, oc := range o.Columns {
		nc := n.Column(oc.Name)
		if nc == nil {
			if slices.Contains(o.Key, oc.Name) {
				continue // reported as a key change
			}
			add(Change{Column: oc.Name, Kind: ColumnDropped, Action: ActionRewrite, Detail: "column dropped: saved values are rewritten without it"})
			continue
		}
		if oc.Type != nc.Type {
			isKey := slices.Contains(n.Key, nc.Name) || slices.Contains(o.Key, oc.Name)
			if !isKey && oc.Agg == "" && nc.Agg == "" && Widens(oc.Type, nc.Type) {
				add(Change{Column: oc.Name, Kind: ColumnWidened, Action: ActionRewrite, Detail: fmt.Sprintf("type widened from %s to %s: saved values are rewritten in the wider type", oc.Type, nc.Type)})
			} else {
				if !isKey || !keyChanged { // a key's is reported as a key change
					add(Change{Column: oc.Name, Kind: ColumnTypeChanged, Action: ActionRebuild, Detail: fmt.Sprintf("type changed from %s to %s: saved values cannot be converted (only int32 to int64, float32 to float64 and a decimal's precision up can); add a column under a new name instead, or rebuild", oc.Type, nc.Type)})
				}
				continue
			}
		}
		if oc.Agg != nc.Agg || oc.Arg != nc.Arg {
			add(Change{Column: oc.Name, Kind: AggregateChanged, Action: ActionRebuild, Detail: fmt.Sprintf("aggregate changed from %s to %s: the saved accumulator does not hold what the new one needs; add it under a new name (counted from the migration point), or rebuild", aggOrNone(oc), aggOrNone(*nc))})
			continue
		}
		if oc.Nullable && !nc.Nullable {
			add(Change{Column: oc.Name, Kind: NullableNarrowed, Action: ActionRebuild, Detail: "made not nullable: saved rows may hold null"})
		} else if !oc.Nullable && nc.Nullable {
			add(Change{Column: oc.Name, Kind: NullableWidened, Action: ActionMetadata, Detail: "made nullable"})
		}
		if !sameDefault(oc.Default, nc.Default) {
			add(Change{Column: oc.Name, Kind: DefaultChanged, Action: ActionMetadata, Detail: fmt.Sprintf("default changed from %s to %s (it only fills rows written before the column existed)", defaultString(oc.Default), defaultString(nc.Default))})
		}
	}
	// Is the old column list a prefix of the new (then old values decode as
	// they are)?
	prefix := len(n.Columns) >= len(o.Columns)
	for i := 0; prefix && i < len(o.Columns); i++ {
		prefix = o.Columns[i].Name == n.Columns[i].Name
	}
	layout := ActionMetadata
	if !prefix {
		layout = ActionRewrite
	}
	for _, nc := range n.Columns {
		if o.Column(nc.Name) != nil || slices.Contains(n.Key, nc.Name) {
			continue
		}
		switch {
		case op.Kind == KindAgg && nc.Agg != "":
			add(Change{Column: nc.Name, Kind: ColumnAdded, Action: layout, Detail: fmt.Sprintf("aggregate %s added: it starts empty and counts from the migration point", nc.AggString())})
		case op.Kind == KindAgg:
			add(Change{Column: nc.Name, Kind: ColumnAddedNoValue, Action: ActionFix, Detail: "column added without an aggregate: a non-key agg column needs one"})
		case !nc.Nullable && nc.Default == nil:
			add(Change{Column: nc.Name, Kind: ColumnAddedNoValue, Action: ActionFix, Detail: "column added as not nullable without a default: saved rows have no value for it; declare a default or make it nullable"})
		default:
			add(Change{Column: nc.Name, Kind: ColumnAdded, Action: layout, Detail: "column added: saved rows get " + defaultString(nc.Default)})
		}
	}
	// Kept columns in another relative order.
	var oldKept, newKept []string
	for _, c := range o.Columns {
		if n.Column(c.Name) != nil {
			oldKept = append(oldKept, c.Name)
		}
	}
	for _, c := range n.Columns {
		if o.Column(c.Name) != nil {
			newKept = append(newKept, c.Name)
		}
	}
	if !slices.Equal(oldKept, newKept) {
		add(Change{Kind: ColumnsReordered, Action: ActionRewrite, Detail: fmt.Sprintf("columns reordered from %v to %v: saved values are rewritten", oldKept, newKept)})
	}
	return out
}

// Widens reports whether every value of type from is a value of type to
// once converted: int32 to int64, float32 to float64, and a decimal to one
// of the same scale and a higher precision. A migration rewrites such a
// column (WidenValue).
func Widens(from, to row.Type) bool {
	switch {
	case from.ID == row.TypeInt32 && to.ID == row.TypeInt64:
		return true
	case from.ID == row.TypeFloat32 && to.ID == row.TypeFloat64:
		return true
	case from.ID == row.TypeDecimal128 && to.ID == row.TypeDecimal128:
		return from.Scale == to.Scale && to.Precision > from.Precision
	}
	return false
}

// WidenValue converts a value of a column widened to type to (Widens).
func WidenValue(v row.Value, to row.Type) row.Value {
	if v.IsNull() {
		return v
	}
	switch {
	case to.ID == row.TypeInt64 && v.Type() == row.TypeInt32:
		return row.Int64Value(v.Int64())
	case to.ID == row.TypeFloat64 && v.Type() == row.TypeFloat32:
		return row.Float64Value(v.Float64())
	}
	return v
}

func keyString(t *Table) string {
	parts := make([]string, len(t.Key))
	for i, k := range t.Key {
		parts[i] = k
		if c := t.Column(k); c != nil {
			parts[i] += " " + c.Type.String()
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func aggOrNone(c Column) string {
	if c.Agg == "" {
		return "none"
	}
	return c.AggString()
}

func sameDefault(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func defaultString(d *string) string {
	if d == nil {
		return "null"
	}
	return strconv.Quote(*d)
}
