package runner

import (
	"fmt"
	"os"
	"strings"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/internal/runcore"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// File is an agg configuration file (agg.yaml). See agg/testdata/agg.yaml
// for a documented example. Read it with ReadFile or ParseFile, then build a
// Config with File.Config. Its kafka:, state:, dirty: and metrics:
// sections are join.yaml's.
type File struct {
	// Name is the operator's id: its state namespace and the job name in
	// the state manifest. Required.
	Name string `yaml:"name"`
	// Version is the state schema version; bump it when the aggregates
	// change (then run hotcold migrate). Default 1.
	Version uint32 `yaml:"version"`
	// Kafka are the connection settings.
	Kafka runcore.KafkaSection `yaml:"kafka"`
	// Input describes the changelog topic to aggregate.
	Input struct {
		Topic   string       `yaml:"topic"`
		Format  string       `yaml:"format"`
		Columns []FileColumn `yaml:"columns"`
	} `yaml:"input"`
	// GroupBy names the group key columns.
	GroupBy []string `yaml:"group_by"`
	// Aggregates are the aggregate output columns.
	Aggregates []FileAggregate `yaml:"aggregates"`
	// AppendOnly declares an input without retractions.
	AppendOnly bool `yaml:"append_only"`
	// DayColumn is a group column (date or timestamp) whose days expire
	// after RetentionDays.
	DayColumn     string `yaml:"day_column"`
	RetentionDays int    `yaml:"retention_days"`
	// Output describes the aggregate changelog topic.
	Output struct {
		Topic  string `yaml:"topic"`
		Format string `yaml:"format"`
	} `yaml:"output"`
	// State is where partition state lives.
	State runcore.StateSection `yaml:"state"`
	// Dirty is the dirty-data policy.
	Dirty runcore.DirtySection `yaml:"dirty"`
	// Metrics is where the cmd serves Prometheus metrics ("" = not served).
	Metrics runcore.MetricsSection `yaml:"metrics"`

	doc *runcore.Doc
}

// FileColumn is a column of the input schema; Type is any spelling
// row.ParseType accepts (bigint, string, timestamp(3), decimal(18, 2), ...).
type FileColumn struct {
	Name     string `yaml:"name"`
	Type     string `yaml:"type"`
	Nullable bool   `yaml:"nullable"`
}

// FileAggregate is one aggregate: Func is count, sum, min, max, avg,
// first_value or last_value; Arg the input column (empty for count(*)).
type FileAggregate struct {
	Name string `yaml:"name"`
	Func string `yaml:"func"`
	Arg  string `yaml:"arg"`
}

// ReadFile reads and parses a configuration file.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	return ParseFile(path, data)
}

// ParseFile parses a configuration file's bytes; name is used in errors
// ("agg.yaml:12:7: kafka.group: ..."). Unknown fields and values of the
// wrong shape are errors, all reported at once.
func ParseFile(name string, data []byte) (*File, error) {
	f := &File{}
	doc, err := runcore.ParseDoc(name, data, f, "agg/testdata/agg.yaml")
	if err != nil {
		return nil, err
	}
	f.doc = doc
	return f, nil
}

// Config builds the runner configuration. Every problem is reported in one
// error, each with the file, line, column and YAML field path.
func (f *File) Config() (Config, error) {
	var probs []runcore.Problem
	add := func(path string, format string, args ...any) { f.doc.Add(&probs, path, format, args...) }
	var common runcore.Config
	f.doc.Common(&probs, f.Kafka, f.State, f.Dirty, "refunds-by-order", &common)
	if f.Kafka.StartFrom != "" && f.Kafka.StartFrom != "earliest" {
		add("kafka.start_from", "%q: an aggregation reads every partition from its start: leave it out or write earliest", f.Kafka.StartFrom)
	}
	if f.Name == "" {
		add("name", "is missing: name the operator (its state namespace), e.g. name: refunds_by_city")
	}
	if f.Input.Topic == "" {
		add("input.topic", "is missing: name the changelog topic to aggregate")
	}
	if f.Output.Topic == "" {
		add("output.topic", "is missing: name the topic that receives the aggregate changelog")
	} else if f.Output.Topic == f.Input.Topic {
		add("output.topic", "is %q like input.topic: the output needs its own topic", f.Output.Topic)
	}
	var inFormat, outFormat row.Format
	var err error
	if f.Input.Format != "" {
		if inFormat, err = row.ParseFormat(f.Input.Format); err != nil {
			add("input.format", "%v", err)
		}
	}
	if f.Output.Format != "" {
		if outFormat, err = row.ParseFormat(f.Output.Format); err != nil {
			add("output.format", "%v", err)
		}
	}
	if f.RetentionDays < 0 {
		add("retention_days", "is %d: want 1 or more days (default 2)", f.RetentionDays)
	}
	types := map[string]row.Type{}
	var cols []row.Column
	colsOK := len(f.Input.Columns) > 0
	if !colsOK {
		add("input.columns", "is missing: list the input's columns, e.g. - {name: city, type: string}")
	}
	for j, c := range f.Input.Columns {
		cp := fmt.Sprintf("input.columns[%d]", j)
		if c.Name == "" {
			add(cp, "has no name: give it name: <column>")
			colsOK = false
			continue
		}
		t, err := row.ParseType(c.Type)
		if err != nil {
			add(cp+".type", "column %q: %v", c.Name, err)
			colsOK = false
			continue
		}
		if _, dup := types[c.Name]; dup {
			add(cp, "(%q) appears twice: rename one", c.Name)
			colsOK = false
		}
		types[c.Name] = t
		cols = append(cols, row.Column{Name: c.Name, Type: t, Nullable: c.Nullable})
	}
	known := make([]string, 0, len(cols))
	for _, c := range cols {
		known = append(known, c.Name)
	}
	if len(f.GroupBy) == 0 {
		add("group_by", "is missing: name the group key columns, e.g. group_by: [city]")
	}
	for j, g := range f.GroupBy {
		if _, ok := types[g]; !ok && colsOK {
			add(fmt.Sprintf("group_by[%d]", j), "%q is not a column of input.columns (%s)", g, strings.Join(known, ", "))
		}
	}
	if len(f.Aggregates) == 0 {
		add("aggregates", "is missing: list the aggregates, e.g. - {name: refunds, func: count}")
	}
	var aggs []agg.Aggregate
	for j, a := range f.Aggregates {
		ap := fmt.Sprintf("aggregates[%d]", j)
		if a.Name == "" {
			add(ap, "has no name: give it name: <output column>")
		}
		fn, err := agg.ParseFunc(a.Func)
		if err != nil {
			add(ap+".func", "%q: want count, sum, min, max, avg, first_value or last_value", a.Func)
			continue
		}
		if a.Arg == "" && fn != agg.Count {
			add(ap+".arg", "is missing: %s needs the input column it reads, e.g. arg: amount", fn)
		}
		if a.Arg != "" && colsOK {
			t, ok := types[a.Arg]
			if !ok {
				add(ap+".arg", "%q is not a column of input.columns (%s)", a.Arg, strings.Join(known, ", "))
			} else if _, err := agg.ResultType(fn, t); err != nil {
				add(ap+".arg", "column %q: %v", a.Arg, err)
			}
		}
		aggs = append(aggs, agg.Aggregate{Name: a.Name, Func: fn, Arg: a.Arg})
	}
	if f.DayColumn != "" && colsOK {
		if t, ok := types[f.DayColumn]; !ok || !containsString(f.GroupBy, f.DayColumn) {
			add("day_column", "%q is not a group_by column", f.DayColumn)
		} else if t.ID != row.TypeDate32 && t.ID != row.TypeTimestamp {
			add("day_column", "column %q is %s: want a date or a timestamp", f.DayColumn, t)
		}
	}
	if len(probs) > 0 {
		return Config{}, f.doc.Err(probs)
	}
	in, err := row.NewSchema(cols, nil, 1)
	if err != nil {
		add("input.columns", "%v", err)
		return Config{}, f.doc.Err(probs)
	}
	c := Config{
		Agg: agg.Config{ID: f.Name, Input: in, InputName: f.Input.Topic, OutputName: f.Output.Topic, GroupBy: f.GroupBy, Aggregates: aggs, AppendOnly: f.AppendOnly,
			Version: f.Version, DayColumn: f.DayColumn, Retention: state.Retention{Days: f.RetentionDays}},
		InputTopic: f.Input.Topic, InputFormat: inFormat, OutputTopic: f.Output.Topic, OutputFormat: outFormat,
		Brokers: common.Brokers, Group: common.Group, InstanceID: common.InstanceID, MaxPollRecords: common.MaxPollRecords,
		StateDir: common.StateDir, Dirty: common.Dirty, DeadLetterTopic: common.DeadLetterTopic,
		ConfigFile: f.doc.Name,
	}
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", f.doc.Name, err)
	}
	if _, err := c.Manifest(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", f.doc.Name, err)
	}
	return c, nil
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Manifest returns the manifest of the job the file describes (see
// Config.Manifest): what `hotcold agg manifest --config` prints.
func (f *File) Manifest() (*manifest.Manifest, error) {
	c, err := f.Config()
	if err != nil {
		return nil, err
	}
	return c.Manifest()
}
