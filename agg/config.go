package agg

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// Func is an aggregate function.
type Func string

// The aggregate functions. Count with an empty Arg is count(*).
const (
	Count      Func = "count"
	Sum        Func = "sum"
	Min        Func = "min"
	Max        Func = "max"
	Avg        Func = "avg"
	FirstValue Func = "first_value"
	LastValue  Func = "last_value"
)

// Funcs lists the aggregate functions.
var Funcs = []Func{Count, Sum, Min, Max, Avg, FirstValue, LastValue}

// ParseFunc reads a function name (case-insensitive).
func ParseFunc(s string) (Func, error) {
	f := Func(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Funcs, f) {
		return f, nil
	}
	return "", fmt.Errorf("agg: %q is not an aggregate function (want one of count, sum, min, max, avg, first_value, last_value)", s)
}

// Aggregate is one aggregate output column.
type Aggregate struct {
	// Name is the output column name.
	Name string
	// Func is the function.
	Func Func
	// Arg names the input column the function reads; empty for count(*).
	Arg string
}

func (a Aggregate) String() string {
	arg := a.Arg
	if arg == "" {
		arg = "*"
	}
	return fmt.Sprintf("%s(%s) AS %s", a.Func, arg, a.Name)
}

// ResultType returns the output type of f over an input column of type
// arg: count is int64; sum is int64 over integers, float64 over floats and
// decimal128(38, s) over decimal128(p, s); avg is float64 over integers
// and floats and decimal128(38, max(s, 6)) over decimals; min, max,
// first_value and last_value keep the input type.
func ResultType(f Func, arg row.Type) (row.Type, error) {
	switch f {
	case Count:
		return row.Int64, nil
	case Sum, Avg:
		switch arg.ID {
		case row.TypeInt32, row.TypeInt64:
			if f == Sum {
				return row.Int64, nil
			}
			return row.Float64, nil
		case row.TypeFloat32, row.TypeFloat64:
			return row.Float64, nil
		case row.TypeDecimal128:
			if f == Sum {
				return row.Decimal(38, arg.Scale), nil
			}
			return row.Decimal(38, max(arg.Scale, 6)), nil
		}
		return row.Type{}, fmt.Errorf("%s needs a numeric column, not %s", f, arg)
	case Min, Max, FirstValue, LastValue:
		if arg.ID == row.TypeNull {
			return row.Type{}, fmt.Errorf("%s of a null-typed column", f)
		}
		return arg, nil
	}
	return row.Type{}, fmt.Errorf("%q is not an aggregate function", f)
}

// Config describes one agg operator. Required fields say so; the others
// have working zero values.
type Config struct {
	// ID names the operator within its job; it is also the name of its
	// state namespace. Required.
	ID string
	// Input is the schema of the input changelog. Required.
	Input *row.Schema
	// InputName names the input (a topic, or the output of an upstream
	// operator) in the job's manifest. Required.
	InputName string
	// OutputName names the output in the manifest. Required.
	OutputName string
	// GroupBy names the input columns that form the group key, in order.
	// Required. A null group value is an error (the row is dirty input).
	GroupBy []string
	// Aggregates are the aggregate columns, output after the group columns
	// in this order. At least one is required; names must not contain '$'.
	Aggregates []Aggregate
	// AppendOnly declares that the input has no retractions, so that min,
	// max, first_value and last_value keep one value per group instead of a
	// multiset of values; a retraction reaching one of them is then an
	// error. Default false.
	AppendOnly bool
	// Version is the state schema version; bump it whenever Aggregates
	// change. Zero means 1.
	Version uint32
	// DayColumn names a group column of type date32 or timestamp whose
	// event-time day buckets the groups, so that the groups of whole days
	// expire together (see Retention); rows of days older than the window
	// are late and dropped. Empty keeps every group in one bucket forever.
	// Default empty.
	DayColumn string
	// Retention says how many days of groups are kept when DayColumn is
	// set. The zero value keeps today and yesterday (state's default).
	Retention state.Retention
	// Logger receives warnings (late rows, ignored retractions). Nil
	// discards them.
	Logger *slog.Logger
	// Registerer receives the operator's metrics (hotcold_agg_*), labelled
	// by operator id. Nil registers nothing.
	Registerer prometheus.Registerer
}

func (c *Config) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.ID == "" {
		add("ID is empty")
	}
	if c.InputName == "" {
		add("InputName is empty")
	}
	if c.OutputName == "" {
		add("OutputName is empty")
	}
	if c.Input == nil {
		add("Input schema is nil")
	}
	if len(c.GroupBy) == 0 {
		add("GroupBy is empty: name the group key columns")
	}
	if len(c.Aggregates) == 0 {
		add("Aggregates is empty")
	}
	names := map[string]bool{}
	for _, g := range c.GroupBy {
		if names[g] {
			add("GroupBy names %q twice", g)
		}
		names[g] = true
		if c.Input != nil && c.Input.Index(g) < 0 {
			add("GroupBy column %q is not in the input (%s)", g, strings.Join(c.Input.Names(), ", "))
		}
	}
	for i, a := range c.Aggregates {
		switch {
		case a.Name == "":
			add("Aggregates[%d]: Name is empty", i)
		case strings.Contains(a.Name, "$"):
			add("Aggregates[%d]: Name %q contains '$'", i, a.Name)
		case names[a.Name]:
			add("Aggregates[%d]: Name %q is already a group or aggregate column", i, a.Name)
		}
		names[a.Name] = true
		if !slices.Contains(Funcs, a.Func) {
			add("Aggregates[%d] %q: %q is not an aggregate function", i, a.Name, a.Func)
			continue
		}
		if a.Arg == "" {
			if a.Func != Count {
				add("Aggregates[%d] %q: %s needs Arg", i, a.Name, a.Func)
			}
			continue
		}
		if c.Input == nil {
			continue
		}
		j := c.Input.Index(a.Arg)
		if j < 0 {
			add("Aggregates[%d] %q: Arg %q is not in the input", i, a.Name, a.Arg)
			continue
		}
		if _, err := ResultType(a.Func, c.Input.Column(j).Type); err != nil {
			add("Aggregates[%d] %q: %v", i, a.Name, err)
		}
	}
	if c.DayColumn != "" {
		if !slices.Contains(c.GroupBy, c.DayColumn) {
			add("DayColumn %q is not a GroupBy column", c.DayColumn)
		} else if c.Input != nil {
			t := c.Input.Column(c.Input.Index(c.DayColumn)).Type
			if t.ID != row.TypeDate32 && t.ID != row.TypeTimestamp {
				add("DayColumn %q is %s; want date32 or timestamp", c.DayColumn, t)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("agg: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// Validate checks c and reports every problem at once.
func (c *Config) Validate() error { return c.validate() }

// StateValue is one aggregate of an agg's state: its output column, its
// function and the function's result type (ResultType).
type StateValue struct {
	Name string
	Func Func
	Type row.Type
}

// Group returns the group columns of c (not nullable: a null group value
// is dirty input), and Values its aggregates with their result types. c
// must be valid.
func (c *Config) Group() []row.Column {
	out := make([]row.Column, len(c.GroupBy))
	for i, g := range c.GroupBy {
		out[i] = row.Column{Name: g, Type: c.Input.Column(c.Input.Index(g)).Type}
	}
	return out
}

// Values returns the aggregates of c with their result types (see
// Group).
func (c *Config) Values() []StateValue {
	out := make([]StateValue, len(c.Aggregates))
	for i, a := range c.Aggregates {
		rt := row.Int64
		if a.Arg != "" {
			rt, _ = ResultType(a.Func, c.Input.Column(c.Input.Index(a.Arg)).Type)
		}
		out[i] = StateValue{Name: a.Name, Func: a.Func, Type: rt}
	}
	return out
}

// OutputSchema returns the schema of the rows an agg emits: the group
// columns (its key), then the aggregates (nullable but count), at the
// state version.
func OutputSchema(group []row.Column, values []StateValue, version uint32) (*row.Schema, error) {
	cols := append([]row.Column(nil), group...)
	key := make([]string, len(group))
	for i, g := range group {
		key[i] = g.Name
	}
	for _, v := range values {
		cols = append(cols, row.Column{Name: v.Name, Type: v.Type, Nullable: v.Func != Count})
	}
	s, err := row.NewSchema(cols, key, max(version, 1))
	if err != nil {
		return nil, fmt.Errorf("agg: output schema: %w", err)
	}
	return s, nil
}

// RowsColumn is the accumulator column counting the rows of a group.
const RowsColumn = "$rows"

// StateSchema returns the schema of the values an agg operator stores per
// group: the group columns (the key), RowsColumn, then each aggregate's
// accumulator columns, named after the aggregate:
//
//	count                  name          int64
//	sum                    name, name$n  result type, int64 (non-null inputs)
//	avg                    name$sum, name$n
//	min/max/first/last     name          result type    (append-only input)
//	min/max/first/last     name$values   binary multiset (retracting input)
//
// Accumulator columns are nullable; null is an empty accumulator, which is
// what a migration that adds an aggregate leaves in saved groups. This is
// the layout a migration rewrites (with row.Schema's value encoding).
func StateSchema(group []row.Column, values []StateValue, appendOnly bool, version uint32) (*row.Schema, error) {
	var cols []row.Column
	key := make([]string, len(group))
	for i, g := range group {
		cols = append(cols, row.Column{Name: g.Name, Type: g.Type})
		key[i] = g.Name
	}
	cols = append(cols, row.Column{Name: RowsColumn, Type: row.Int64})
	for _, v := range values {
		accCols, err := accColumns(v.Func, v.Name, v.Type, appendOnly)
		if err != nil {
			return nil, fmt.Errorf("agg: column %q: %w", v.Name, err)
		}
		cols = append(cols, accCols...)
	}
	s, err := row.NewSchema(cols, key, max(version, 1))
	if err != nil {
		return nil, fmt.Errorf("agg: state schema: %w", err)
	}
	return s, nil
}

func accColumns(f Func, name string, result row.Type, appendOnly bool) ([]row.Column, error) {
	col := func(n string, t row.Type) row.Column { return row.Column{Name: n, Type: t, Nullable: true} }
	switch f {
	case Count:
		return []row.Column{col(name, row.Int64)}, nil
	case Sum:
		return []row.Column{col(name, result), col(name+"$n", row.Int64)}, nil
	case Avg:
		return []row.Column{col(name+"$sum", result), col(name+"$n", row.Int64)}, nil
	case Min, Max, FirstValue, LastValue:
		if appendOnly {
			return []row.Column{col(name, result)}, nil
		}
		return []row.Column{col(name+"$values", row.Binary)}, nil
	}
	return nil, fmt.Errorf("%q is not an aggregate function", f)
}
