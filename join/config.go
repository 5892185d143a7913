package join

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// Lookuper is the cold side as the join needs it. coldstore.Store and the
// sidecar's Go client satisfy it. Implementations must be safe for
// concurrent use: the operator runs several MultiGet calls at once.
type Lookuper interface {
	// MultiGet looks up keys (the table's key columns, in key order) and
	// returns one Result per key, in request order.
	MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]coldstore.Result, error)
	// Describe returns the table's live version: schema and covers-until.
	Describe(ctx context.Context, table string) (coldstore.TableInfo, error)
}

var _ Lookuper = coldstore.Store(nil)

// Type is the join type.
type Type uint8

const (
	// Inner emits a row for every pair of matching left and right rows.
	Inner Type = iota
	// LeftOuter also emits +I[L, null] for a left row without a match, and
	// retracts it (-D[L, null]) when the first match arrives.
	LeftOuter
)

// ParseType reads "inner" or "left" ("left outer", "left_outer").
func ParseType(s string) (Type, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "inner":
		return Inner, nil
	case "left", "left outer", "left_outer", "leftouter":
		return LeftOuter, nil
	}
	return 0, fmt.Errorf("join: type %q: want inner or left", s)
}

// TypeNames are the join types' names, as Type.String spells them (and
// manifests record them).
func TypeNames() []string { return []string{Inner.String(), LeftOuter.String()} }

func (t Type) String() string {
	if t == LeftOuter {
		return "left"
	}
	return "inner"
}

// Side names one input.
type Side uint8

const (
	// Left is the first input (the preserved side of a left outer join).
	Left Side = iota
	// Right is the second input.
	Right
)

func (s Side) String() string {
	if s == Right {
		return "right"
	}
	return "left"
}

func (s Side) other() Side { return 1 - s }

// Input describes one side of the join.
type Input struct {
	// Name names the side in state namespaces, metrics and logs (e.g.
	// "orders"). Zero means "left" or "right".
	Name string
	// Schema is the schema of the side's rows.
	Schema *row.Schema
	// Key names the join key columns, in order. Both sides need the same
	// number of key columns with the same types.
	Key []string
	// EventTime names the event-time column (timestamp, date32, or int64
	// epoch milliseconds). Its day is the row's state bucket.
	EventTime string
	// ColdTable is the cold table that backs this side: a hot miss on this
	// side falls back to it. The table must be keyed by the join key (one
	// row per key). Empty: no cold fallback, and buckets expire on age alone.
	ColdTable string
}

// Column is one column of the output.
type Column struct {
	// Name is the output column name. Zero means Source.
	Name string
	// Side is the input the value comes from.
	Side Side
	// Source is the column of that side's schema.
	Source string
}

// Config configures an Operator. Zero fields take the defaults stated.
type Config struct {
	// Name names the operator: its state namespaces are Name/<side name>.
	// Zero means "join".
	Name string
	// Type is the join type. Zero means Inner.
	Type Type
	// Left and Right are the inputs.
	Left, Right Input
	// Output lists the output columns. Empty means every left column, then
	// every right column (names must then be distinct).
	Output []Column
	// OutputKey names output columns that identify an output row (used by
	// upsert encodings and changelog merges). Empty means none.
	OutputKey []string
	// Cold answers lookups for inputs with a ColdTable. Required if any
	// input has one.
	Cold Lookuper
	// RetentionDays is the hot window in days (the current event-time day
	// and the days before it). Zero means 2: today and yesterday.
	RetentionDays int
	// HardCapDays bounds how long expired buckets of a cold-backed side are
	// kept while the cold store lags. Zero means RetentionDays+5.
	HardCapDays int
	// OverCap is what happens past the hard cap. Zero means keep.
	OverCap state.OverCapPolicy
	// ColdBatchSize is the most keys in one cold MultiGet. Zero means 256.
	ColdBatchSize int
	// MaxInFlight is the most cold MultiGet calls running at once. Zero
	// means 4.
	MaxInFlight int
	// ColdRetryFor is how long a failing cold MultiGet is retried, with
	// backoff from 50 ms doubling up to 2 s, before the operator fails
	// (Push and Flush return the error; the runner then stops without
	// committing). A failed lookup is never taken as a miss. Zero means 10
	// seconds; negative means no retry.
	ColdRetryFor time.Duration
	// CoverageRefresh is how often Flush re-reads the cold tables'
	// covers-until (by Now). Zero means one minute; negative means at every
	// Flush.
	CoverageRefresh time.Duration
	// Now is the wall clock used only to pace coverage refreshes. Zero
	// means time.Now.
	Now func() time.Time
	// Emit receives every output row, in order, from the goroutine calling
	// Push or Flush. The row is owned by the callee. Required.
	Emit func(row.Row) error
	// Logger receives warnings (cold store lagging, cold table missing).
	// Nil discards them.
	Logger *slog.Logger
	// Registerer receives the hotcold_join_* metrics. Several operators may
	// share one (counters add up). Nil registers nothing.
	Registerer prometheus.Registerer
}

// Names returns the operator's name and its inputs' names, defaults
// applied ("join", "left", "right").
func (c *Config) Names() (name, left, right string) {
	d := c.withDefaults()
	return d.Name, d.Left.Name, d.Right.Name
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.Name == "" {
		d.Name = "join"
	}
	if d.Left.Name == "" {
		d.Left.Name = "left"
	}
	if d.Right.Name == "" {
		d.Right.Name = "right"
	}
	if d.RetentionDays == 0 {
		d.RetentionDays = 2
	}
	if d.ColdBatchSize == 0 {
		d.ColdBatchSize = 256
	}
	if d.MaxInFlight == 0 {
		d.MaxInFlight = 4
	}
	if d.CoverageRefresh == 0 {
		d.CoverageRefresh = time.Minute
	}
	if d.ColdRetryFor == 0 {
		d.ColdRetryFor = 10 * time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if len(d.Output) == 0 {
		for _, in := range []struct {
			s  Side
			in Input
		}{{Left, d.Left}, {Right, d.Right}} {
			if in.in.Schema == nil {
				continue
			}
			for _, n := range in.in.Schema.Names() {
				d.Output = append(d.Output, Column{Name: n, Side: in.s, Source: n})
			}
		}
	}
	for i := range d.Output {
		if d.Output[i].Name == "" {
			d.Output[i].Name = d.Output[i].Source
		}
	}
	return d
}

// validate checks every field and returns all problems in one error.
func (c *Config) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Emit == nil {
		add("Emit is nil: give the operator a function that receives output rows")
	}
	if c.Type > LeftOuter {
		add("Type %d is not a join type", c.Type)
	}
	var keyTypes [2][]row.Type
	for i, in := range []Input{c.Left, c.Right} {
		side := Side(i)
		if in.Schema == nil {
			add("%s input %q: Schema is nil", side, in.Name)
			continue
		}
		if len(in.Key) == 0 {
			add("%s input %q: Key is empty: name the join key columns", side, in.Name)
		}
		for _, k := range in.Key {
			j := in.Schema.Index(k)
			if j < 0 {
				add("%s input %q: key column %q is not in the schema (columns: %s)", side, in.Name, k, strings.Join(in.Schema.Names(), ", "))
				continue
			}
			keyTypes[i] = append(keyTypes[i], in.Schema.Column(j).Type)
		}
		if j := in.Schema.Index(in.EventTime); j < 0 {
			add("%s input %q: event-time column %q is not in the schema (columns: %s)", side, in.Name, in.EventTime, strings.Join(in.Schema.Names(), ", "))
		} else {
			switch in.Schema.Column(j).Type.ID {
			case row.TypeTimestamp, row.TypeDate32, row.TypeInt64:
			default:
				add("%s input %q: event-time column %q is %s; want a timestamp, date32 or int64 (epoch ms)", side, in.Name, in.EventTime, in.Schema.Column(j).Type)
			}
		}
		if in.ColdTable != "" && c.Cold == nil {
			add("%s input %q: ColdTable %q is set but Cold is nil: give a coldstore.Store or sidecar client", side, in.Name, in.ColdTable)
		}
	}
	if c.Left.Name == c.Right.Name {
		add("both inputs are named %q: give them distinct names", c.Left.Name)
	}
	if len(keyTypes[0]) == len(c.Left.Key) && len(keyTypes[1]) == len(c.Right.Key) {
		if len(keyTypes[0]) != len(keyTypes[1]) {
			add("the left key has %d columns, the right key %d", len(keyTypes[0]), len(keyTypes[1]))
		} else {
			for i := range keyTypes[0] {
				if keyTypes[0][i].ID != keyTypes[1][i].ID {
					add("key column %d: left %q is %s, right %q is %s; the types must match", i, c.Left.Key[i], keyTypes[0][i], c.Right.Key[i], keyTypes[1][i])
				}
			}
		}
	}
	if c.Type == LeftOuter && c.Left.ColdTable != "" {
		add("left outer join with a cold table on the left input %q: the +I[L, null] rows emitted before a left row moved to the cold store could not be retracted exactly; back the right input with the cold table instead (e.g. refunds LEFT JOIN orders)", c.Left.Name)
	}
	seen := map[string]bool{}
	for i, col := range c.Output {
		in := c.Left
		if col.Side == Right {
			in = c.Right
		} else if col.Side != Left {
			add("output column %d (%q): side %d is neither left nor right", i, col.Name, col.Side)
			continue
		}
		if in.Schema != nil && in.Schema.Index(col.Source) < 0 {
			add("output column %q: %s input %q has no column %q", col.Name, col.Side, in.Name, col.Source)
		}
		if seen[col.Name] {
			add("output column %q appears twice: rename one (Column.Name)", col.Name)
		}
		seen[col.Name] = true
	}
	for _, k := range c.OutputKey {
		if !seen[k] {
			add("output key column %q is not an output column", k)
		}
	}
	if c.RetentionDays < 0 {
		add("RetentionDays is %d, want >= 1", c.RetentionDays)
	}
	if c.HardCapDays != 0 && c.HardCapDays < c.RetentionDays {
		add("HardCapDays %d is below RetentionDays %d", c.HardCapDays, c.RetentionDays)
	}
	if c.ColdBatchSize < 0 {
		add("ColdBatchSize is %d, want >= 1", c.ColdBatchSize)
	}
	if c.MaxInFlight < 0 {
		add("MaxInFlight is %d, want >= 1", c.MaxInFlight)
	}
	if len(errs) > 0 {
		return fmt.Errorf("join: invalid config: %w", errors.Join(errs...))
	}
	return nil
}
