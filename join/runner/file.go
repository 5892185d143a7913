package runner

import (
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hotcold/hotcold/internal/runcore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// File is a runner configuration file (join.yaml). See
// join/testdata/join.yaml for a documented example. Read it with
// ParseFile or ReadFile, then build a Config with File.Config.
type File struct {
	// Name names the operator (state namespaces, metrics) and the job in
	// the state manifest. Default "join".
	Name string `yaml:"name"`
	// Version is the state schema version (of both inputs' stored rows);
	// bump it when the inputs' columns change, then run hotcold migrate.
	// Default 1.
	Version uint32 `yaml:"version"`
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
	Kafka runcore.KafkaSection `yaml:"kafka"`
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
	State runcore.StateSection `yaml:"state"`
	// Dirty is the dirty-data policy.
	Dirty runcore.DirtySection `yaml:"dirty"`
	// Metrics is where the cmd serves Prometheus metrics ("" = not served).
	Metrics runcore.MetricsSection `yaml:"metrics"`

	doc *runcore.Doc // the parsed document, for positions
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
// Default, written as in the JSON formats ("unknown", "0", "2026-11-22"),
// is the value of the column in rows stored before it was added.
type FileColumn struct {
	Name      string  `yaml:"name"`
	Type      string  `yaml:"type"`
	Nullable  bool    `yaml:"nullable"`
	Default   *string `yaml:"default"`
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
// ("join.yaml:12:7: kafka.group: ..."). Unknown fields and values of the
// wrong shape are errors, all reported at once.
func ParseFile(name string, data []byte) (*File, error) {
	f := &File{}
	doc, err := runcore.ParseDoc(name, data, f, "join/testdata/join.yaml")
	if err != nil {
		return nil, err
	}
	f.doc = doc
	return f, nil
}

// Config builds the runner configuration. cold answers the inputs'
// cold_table lookups (nil if none is set); the cmd opens it from
// f.Cold.Store or f.Cold.Sidecar. Every problem is reported in one error,
// each with the file, line, column and YAML field path.
func (f *File) Config(cold join.Lookuper) (Config, error) {
	var probs []runcore.Problem
	add := func(path string, format string, args ...any) { f.doc.Add(&probs, path, format, args...) }
	var c Config
	jt, err := join.ParseType(f.Type)
	if err != nil {
		add("type", "%q: want inner or left", f.Type)
	}
	oc, err := state.ParseOverCapPolicy(f.OverCap)
	if err != nil {
		add("over_cap", "%q: want keep or drop", f.OverCap)
	}
	if f.Zone != "" {
		loc, err := time.LoadLocation(f.Zone)
		if err != nil {
			add("zone", "%q is not a time zone: give an IANA name such as UTC or Europe/Berlin", f.Zone)
		}
		c.Zone = loc
	}
	if f.RetentionDays < 0 {
		add("retention_days", "is %d: want 1 or more days (default 2)", f.RetentionDays)
	}
	if f.HardCapDays < 0 || (f.HardCapDays != 0 && f.HardCapDays < max(f.RetentionDays, 2)) {
		add("hard_cap_days", "is %d: want at least retention_days (%d), or leave it out for retention_days+5", f.HardCapDays, max(f.RetentionDays, 2))
	}
	var common runcore.Config
	f.doc.Common(&probs, f.Kafka, f.State, f.Dirty, "orders-refunds-join", &common)
	start, err := ParseStartFrom(f.Kafka.StartFrom)
	if err != nil {
		add("kafka.start_from", "%q: want retention or earliest", f.Kafka.StartFrom)
	}
	version := f.Version
	if version == 0 {
		version = 1
	}
	inputs := [2]join.Input{}
	formats := [2]row.Format{}
	for i, in := range []*FileInput{&f.Left, &f.Right} {
		side := join.Side(i).String()
		if in.Topic == "" {
			add(side+".topic", "is missing: name the %s input's Kafka topic", side)
		}
		if len(in.Columns) == 0 {
			add(side+".columns", "is missing: list the %s input's columns, e.g. - {name: order_id, type: bigint}", side)
			continue
		}
		cols := make([]row.Column, 0, len(in.Columns))
		names := map[string]row.Type{}
		colsOK := true
		for j, col := range in.Columns {
			cp := fmt.Sprintf("%s.columns[%d]", side, j)
			if col.Name == "" {
				add(cp, "has no name: give it name: <column>")
				colsOK = false
				continue
			}
			t, err := row.ParseType(col.Type)
			if err != nil {
				add(cp+".type", "column %q: %v", col.Name, err)
				colsOK = false
				continue
			}
			if _, dup := names[col.Name]; dup {
				add(cp, "(%q) appears twice: rename one", col.Name)
				colsOK = false
			}
			names[col.Name] = t
			var def row.Value
			if col.Default != nil {
				if def, err = row.ValueFromJSON(t, *col.Default); err != nil {
					add(cp+".default", "column %q: %q is not a %s: %v", col.Name, *col.Default, col.Type, err)
					colsOK = false
					continue
				}
			}
			cols = append(cols, row.Column{Name: col.Name, Type: t, Nullable: col.Nullable, Default: def})
		}
		known := make([]string, 0, len(in.Columns))
		for _, col := range in.Columns {
			known = append(known, col.Name)
		}
		if len(in.Key) == 0 {
			add(side+".key", "is missing: name the join key columns, e.g. key: [order_id]")
		}
		for j, k := range in.Key {
			if _, ok := names[k]; !ok && colsOK {
				add(fmt.Sprintf("%s.key[%d]", side, j), "%q is not a column of %s.columns (%s)", k, side, strings.Join(known, ", "))
			}
		}
		switch t, ok := names[in.EventTime]; {
		case in.EventTime == "":
			add(side+".event_time", "is missing: name the %s input's event-time column (a timestamp, date or epoch-milliseconds bigint), e.g. event_time: order_ts", side)
		case !ok && colsOK:
			add(side+".event_time", "%q is not a column of %s.columns (%s)", in.EventTime, side, strings.Join(known, ", "))
		case ok && t.ID != row.TypeTimestamp && t.ID != row.TypeDate32 && t.ID != row.TypeInt64:
			add(side+".event_time", "column %q is %s: want a timestamp, a date or an epoch-milliseconds bigint", in.EventTime, t)
		}
		if in.Format != "" {
			if formats[i], err = row.ParseFormat(in.Format); err != nil {
				add(side+".format", "%v", err)
			}
		}
		if !colsOK {
			continue
		}
		s, err := row.NewSchema(cols, nil, version)
		if err != nil {
			add(side+".columns", "%v", err)
			continue
		}
		inputs[i] = join.Input{Name: in.Name, Schema: s, Key: in.Key, EventTime: in.EventTime, ColdTable: in.ColdTable}
		if inputs[i].Name == "" {
			inputs[i].Name = in.Topic
		}
	}
	if l, r := inputs[0], inputs[1]; l.Schema != nil && r.Schema != nil {
		if l.Name == r.Name {
			add("right.name", "both inputs are named %q: give them distinct names (left.name, right.name)", l.Name)
		}
		if len(l.Key) != len(r.Key) {
			add("right.key", "has %d columns and left.key %d: the join key must have the same columns on both sides", len(r.Key), len(l.Key))
		} else {
			for j := range l.Key {
				li, ri := l.Schema.Index(l.Key[j]), r.Schema.Index(r.Key[j])
				if li >= 0 && ri >= 0 && l.Schema.Column(li).Type.ID != r.Schema.Column(ri).Type.ID {
					add(fmt.Sprintf("right.key[%d]", j), "%q is %s but left.key[%d] %q is %s: the key types must match",
						r.Key[j], r.Schema.Column(ri).Type, j, l.Key[j], l.Schema.Column(li).Type)
				}
			}
		}
	}
	if f.Left.Topic != "" && f.Left.Topic == f.Right.Topic {
		add("right.topic", "is %q like left.topic: each input needs its own topic", f.Right.Topic)
	}
	if jt == join.LeftOuter && f.Left.ColdTable != "" {
		add("left.cold_table", "a left outer join cannot back its left input with a cold table: back the right input instead (e.g. refunds LEFT JOIN orders)")
	}
	var out []join.Column
	outNames := map[string]bool{}
	for j, ocol := range f.Output.Columns {
		cp := fmt.Sprintf("output.columns[%d].from", j)
		side, col, ok := strings.Cut(ocol.From, ".")
		var s join.Side
		switch {
		case !ok:
			add(cp, "%q: want left.<column> or right.<column>", ocol.From)
			continue
		case side == "left":
			s = join.Left
		case side == "right":
			s = join.Right
		default:
			add(cp, "%q: the side must be left or right", ocol.From)
			continue
		}
		if sch := inputs[s].Schema; sch != nil && sch.Index(col) < 0 {
			add(cp, "%q: %s.columns has no column %q (%s)", ocol.From, side, col, strings.Join(sch.Names(), ", "))
			continue
		}
		name := ocol.Name
		if name == "" {
			name = col
		}
		if outNames[name] {
			add(fmt.Sprintf("output.columns[%d]", j), "the output column %q appears twice: give one a name: <other>", name)
		}
		outNames[name] = true
		out = append(out, join.Column{Name: ocol.Name, Side: s, Source: col})
	}
	for j, k := range f.Output.Key {
		if len(f.Output.Columns) > 0 && !outNames[k] {
			add(fmt.Sprintf("output.key[%d]", j), "%q is not an output column", k)
		}
	}
	if f.Output.Topic == "" {
		add("output.topic", "is missing: name the topic that receives the changelog")
	}
	var outFormat row.Format
	if f.Output.Format != "" {
		if outFormat, err = row.ParseFormat(f.Output.Format); err != nil {
			add("output.format", "%v", err)
		} else if outFormat == row.FormatUpsertKafka && len(f.Output.Key) == 0 {
			add("output.key", "is missing: upsert-kafka needs the output columns that identify a row, e.g. key: [refund_id]")
		}
	}
	if f.Cold.BatchSize < 0 {
		add("cold.batch_size", "is %d: want 1 or more (default 256)", f.Cold.BatchSize)
	}
	if f.Cold.MaxInFlight < 0 {
		add("cold.max_in_flight", "is %d: want 1 or more (default 4)", f.Cold.MaxInFlight)
	}
	if f.Cold.Store != "" && f.Cold.Sidecar != "" {
		add("cold", "set cold.store or cold.sidecar, not both")
	}
	if (f.Left.ColdTable != "" || f.Right.ColdTable != "") && cold == nil {
		path := "left.cold_table"
		if f.Left.ColdTable == "" {
			path = "right.cold_table"
		}
		add(path, "is set but no cold store is open: set cold.store or cold.sidecar")
	}
	if len(probs) > 0 {
		return Config{}, f.doc.Err(probs)
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
	c.OutputName = f.Output.Topic
	c.ConfigFile = f.doc.Name
	c.Brokers, c.Group, c.InstanceID = common.Brokers, common.Group, common.InstanceID
	c.MaxPollRecords = common.MaxPollRecords
	c.StartFrom = start
	c.StateDir = common.StateDir
	c.Dirty, c.DeadLetterTopic = common.Dirty, common.DeadLetterTopic
	if err := c.validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", f.doc.Name, err)
	}
	if _, err := c.Manifest(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", f.doc.Name, err)
	}
	return c, nil
}

// Manifest returns the manifest of the job the file describes (see
// Config.Manifest), without opening its cold side: what `hotcold join
// manifest --config` prints.
func (f *File) Manifest() (*manifest.Manifest, error) {
	var cold join.Lookuper
	if f.Left.ColdTable != "" || f.Right.ColdTable != "" {
		cold = unopenedCold{}
	}
	c, err := f.Config(cold)
	if err != nil {
		return nil, err
	}
	return c.Manifest()
}

// unopenedCold stands for a cold side that is not needed: deriving the
// manifest never looks anything up.
type unopenedCold struct{ join.Lookuper }
