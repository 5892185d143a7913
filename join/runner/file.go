package runner

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// File is a runner configuration file (join.yaml). See
// join/testdata/join.yaml for a documented example. Read it with
// ParseFile or ReadFile, then build a Config with File.Config.
type File struct {
	// Name names the operator (state namespaces, metrics). Default "join".
	Name string `yaml:"name"`
	// Type is inner or left. Default inner.
	Type string `yaml:"type"`
	// RetentionDays is the hot window in days. Default 2.
	RetentionDays int `yaml:"retention_days"`
	// HardCapDays bounds how long expired buckets are kept while the cold
	// store lags. Default retention_days+5.
	HardCapDays int `yaml:"hard_cap_days"`
	// OverCap is keep or drop. Default keep.
	OverCap string `yaml:"over_cap"`
	// Zone is the time zone of event-time days (IANA name). Default UTC.
	Zone string `yaml:"zone"`
	// Kafka are the connection settings.
	Kafka struct {
		Brokers        []string `yaml:"brokers"`
		Group          string   `yaml:"group"`
		InstanceID     string   `yaml:"instance_id"`
		StartFrom      string   `yaml:"start_from"`
		MaxPollRecords int      `yaml:"max_poll_records"`
	} `yaml:"kafka"`
	// Left and Right describe the inputs.
	Left  FileInput `yaml:"left"`
	Right FileInput `yaml:"right"`
	// Output describes the changelog topic and its columns.
	Output struct {
		Topic   string       `yaml:"topic"`
		Format  string       `yaml:"format"`
		Key     []string     `yaml:"key"`
		Columns []FileOutput `yaml:"columns"`
	} `yaml:"output"`
	// Cold says where the cold tables are read: a store URL (e.g.
	// pebble:./cold) or a sidecar address (unix:///tmp/hotcold.sock,
	// host:port). The cmd opens it; the runner takes a join.Lookuper.
	Cold struct {
		Store       string        `yaml:"store"`
		Sidecar     string        `yaml:"sidecar"`
		Token       string        `yaml:"token"`
		BatchSize   int           `yaml:"batch_size"`
		MaxInFlight int           `yaml:"max_in_flight"`
		Refresh     time.Duration `yaml:"refresh"`
	} `yaml:"cold"`
	// State is where partition state lives.
	State struct {
		Dir string `yaml:"dir"`
	} `yaml:"state"`
	// Dirty is the dirty-data policy.
	Dirty struct {
		Policy          string `yaml:"policy"`
		DeadLetterTopic string `yaml:"dead_letter_topic"`
	} `yaml:"dirty"`
	// Metrics is where the cmd serves Prometheus metrics ("" = not served).
	Metrics struct {
		Listen string `yaml:"listen"`
	} `yaml:"metrics"`

	name string // file name for errors
}

// FileInput is one input in a File.
type FileInput struct {
	Name      string       `yaml:"name"`
	Topic     string       `yaml:"topic"`
	Format    string       `yaml:"format"`
	Key       []string     `yaml:"key"`
	EventTime string       `yaml:"event_time"`
	ColdTable string       `yaml:"cold_table"`
	Columns   []FileColumn `yaml:"columns"`
	line, col int
}

// FileColumn is a column of an input schema; Type is any spelling
// row.ParseType accepts (bigint, string, timestamp(3), decimal(18, 2), ...).
type FileColumn struct {
	Name      string `yaml:"name"`
	Type      string `yaml:"type"`
	Nullable  bool   `yaml:"nullable"`
	line, col int
}

// FileOutput is an output column: From is "left.<column>" or
// "right.<column>"; Name defaults to the column name.
type FileOutput struct {
	Name      string `yaml:"name"`
	From      string `yaml:"from"`
	line, col int
}

func (c *FileColumn) UnmarshalYAML(n *yaml.Node) error {
	type plain FileColumn
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	c.line, c.col = n.Line, n.Column
	return nil
}

func (c *FileOutput) UnmarshalYAML(n *yaml.Node) error {
	type plain FileOutput
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	c.line, c.col = n.Line, n.Column
	return nil
}

func (c *FileInput) UnmarshalYAML(n *yaml.Node) error {
	type plain FileInput
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	c.line, c.col = n.Line, n.Column
	return nil
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
// ("join.yaml:12:7: ..."). Unknown keys are errors.
func ParseFile(name string, data []byte) (*File, error) {
	f := &File{name: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		return nil, fmt.Errorf("runner: %s: %w", name, err)
	}
	return f, nil
}

func (f *File) at(line, col int) string { return fmt.Sprintf("%s:%d:%d", f.name, line, col) }

// Config builds the runner configuration. cold answers the inputs'
// cold_table lookups (nil if none is set); the cmd opens it from
// f.Cold.Store or f.Cold.Sidecar. Every problem is reported in one error
// naming the file, line and column.
func (f *File) Config(cold join.Lookuper) (Config, error) {
	var errs []error
	add := func(where string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	top := f.name
	var c Config
	jt, err := join.ParseType(f.Type)
	if err != nil {
		add(top, "type: %v", err)
	}
	oc, err := state.ParseOverCapPolicy(f.OverCap)
	if err != nil {
		add(top, "over_cap: %v", err)
	}
	if f.Zone != "" {
		loc, err := time.LoadLocation(f.Zone)
		if err != nil {
			add(top, "zone %q: %v", f.Zone, err)
		}
		c.Zone = loc
	}
	inputs := [2]join.Input{}
	formats := [2]row.Format{}
	for i, in := range []*FileInput{&f.Left, &f.Right} {
		side := join.Side(i).String()
		where := top
		if in.line > 0 {
			where = f.at(in.line, in.col)
		}
		if in.Topic == "" {
			add(where, "%s.topic is missing", side)
		}
		if len(in.Columns) == 0 {
			add(where, "%s.columns is empty: list the input's columns with their types", side)
			continue
		}
		cols := make([]row.Column, 0, len(in.Columns))
		for j, col := range in.Columns {
			t, err := row.ParseType(col.Type)
			if err != nil {
				add(f.at(col.line, col.col), "%s.columns[%d] (%q): %v", side, j, col.Name, err)
				continue
			}
			cols = append(cols, row.Column{Name: col.Name, Type: t, Nullable: col.Nullable})
		}
		s, err := row.NewSchema(cols, nil, 1)
		if err != nil {
			add(where, "%s.columns: %v", side, err)
			continue
		}
		if in.Format != "" {
			formats[i], err = row.ParseFormat(in.Format)
			if err != nil {
				add(where, "%s.format: %v", side, err)
			}
		}
		inputs[i] = join.Input{Name: in.Name, Schema: s, Key: in.Key, EventTime: in.EventTime, ColdTable: in.ColdTable}
		if inputs[i].Name == "" {
			inputs[i].Name = in.Topic
		}
	}
	var out []join.Column
	for j, oc := range f.Output.Columns {
		side, col, ok := strings.Cut(oc.From, ".")
		var s join.Side
		switch {
		case !ok:
			add(f.at(oc.line, oc.col), "output.columns[%d].from %q: want left.<column> or right.<column>", j, oc.From)
			continue
		case side == "left":
			s = join.Left
		case side == "right":
			s = join.Right
		default:
			add(f.at(oc.line, oc.col), "output.columns[%d].from %q: the side must be left or right", j, oc.From)
			continue
		}
		out = append(out, join.Column{Name: oc.Name, Side: s, Source: col})
	}
	var outFormat row.Format
	if f.Output.Format != "" {
		outFormat, err = row.ParseFormat(f.Output.Format)
		if err != nil {
			add(top, "output.format: %v", err)
		}
	}
	dirty, err := ParseDirtyPolicy(f.Dirty.Policy)
	if err != nil {
		add(top, "dirty.policy: %v", err)
	}
	start, err := ParseStartFrom(f.Kafka.StartFrom)
	if err != nil {
		add(top, "kafka.start_from: %v", err)
	}
	if (f.Left.ColdTable != "" || f.Right.ColdTable != "") && cold == nil {
		add(top, "a cold_table is set but no cold store is open: set cold.store or cold.sidecar")
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("runner: invalid config: %w", errors.Join(errs...))
	}
	c.Join = join.Config{
		Name: f.Name, Type: jt, Left: inputs[0], Right: inputs[1], Output: out, OutputKey: f.Output.Key,
		RetentionDays: f.RetentionDays, HardCapDays: f.HardCapDays, OverCap: oc,
		ColdBatchSize: f.Cold.BatchSize, MaxInFlight: f.Cold.MaxInFlight, CoverageRefresh: f.Cold.Refresh,
	}
	if cold != nil {
		c.Join.Cold = cold
	}
	c.LeftTopic, c.RightTopic = f.Left.Topic, f.Right.Topic
	c.LeftFormat, c.RightFormat = formats[0], formats[1]
	c.OutputTopic, c.OutputFormat = f.Output.Topic, outFormat
	c.Brokers, c.Group, c.InstanceID = f.Kafka.Brokers, f.Kafka.Group, f.Kafka.InstanceID
	c.MaxPollRecords = f.Kafka.MaxPollRecords
	c.StartFrom = start
	c.StateDir = f.State.Dir
	c.Dirty, c.DeadLetterTopic = dirty, f.Dirty.DeadLetterTopic
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", f.name, err)
	}
	return c, nil
}
