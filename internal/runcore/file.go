package runcore

import (
	"errors"
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/hotcold/hotcold/internal/yamlerr"
)

// The sections every runner's configuration file shares (kafka:, state:,
// dirty:, metrics:), read by File.Common.

// KafkaSection is the kafka: section.
type KafkaSection struct {
	Brokers        []string `yaml:"brokers"`
	Group          string   `yaml:"group"`
	InstanceID     string   `yaml:"instance_id"`
	StartFrom      string   `yaml:"start_from"`
	MaxPollRecords int      `yaml:"max_poll_records"`
}

// StateSection is the state: section.
type StateSection struct {
	Dir string `yaml:"dir"`
}

// DirtySection is the dirty: section.
type DirtySection struct {
	Policy          string `yaml:"policy"`
	DeadLetterTopic string `yaml:"dead_letter_topic"`
}

// MetricsSection is the metrics: section: where the command serves
// Prometheus metrics ("" = not served).
type MetricsSection struct {
	Listen string `yaml:"listen"`
}

// Doc is a parsed configuration file: its name (for errors) and its YAML
// tree (for positions).
type Doc struct {
	Name string
	Root *yaml.Node
}

// ParseDoc parses data (a file called name) into v, a pointer to a struct
// with yaml tags, through internal/yamlerr: unknown fields (with the
// nearest known one), values of the wrong shape and scalars that do not
// parse are errors naming file:line:col and the YAML path, all reported at
// once, never a Go type. example names the documented example file for
// the empty-file error.
func ParseDoc(name string, data []byte, v any, example string) (*Doc, error) {
	root, err := yamlerr.Parse(name, data)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	if root.Kind == 0 || len(root.Content) == 0 || root.Content[0].Tag == "!!null" {
		return nil, fmt.Errorf("runner: %s is empty: see %s for a documented example", name, example)
	}
	d := &Doc{Name: name, Root: root}
	var es yamlerr.Errors
	yamlerr.DecodeNode(name, root.Content[0], "", v, &es)
	if len(es.List) > 0 {
		probs := make([]Problem, len(es.List))
		for i, e := range es.List {
			probs[i] = Problem{Line: e.Line, Col: e.Column, Path: e.Path, Msg: e.Msg}
		}
		return nil, d.Err(probs)
	}
	return d, nil
}

// Add records a problem at the YAML path (at its parent when the field is
// missing).
func (d *Doc) Add(probs *[]Problem, path string, format string, args ...any) {
	p := Problem{Path: path, Msg: fmt.Sprintf(format, args...)}
	if d != nil {
		if n := Lookup(d.Root, path); n != nil {
			p.Line, p.Col = n.Line, n.Column
		}
	}
	*probs = append(*probs, p)
}

// Err is one error listing every problem in file order, each a
// *yamlerr.Error: file:line:col: path: message.
func (d *Doc) Err(probs []Problem) error {
	sort.SliceStable(probs, func(i, j int) bool {
		if probs[i].Line != probs[j].Line {
			return probs[i].Line < probs[j].Line
		}
		return probs[i].Col < probs[j].Col
	})
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = &yamlerr.Error{File: d.Name, Line: p.Line, Column: p.Col, Path: p.Path, Msg: p.Msg}
	}
	return fmt.Errorf("runner: invalid config (%d problem%s):\n%w", len(probs), plural(len(probs)), errors.Join(errs...))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Common checks the shared sections and copies them into c (Brokers,
// Group, InstanceID, MaxPollRecords, StateDir, Dirty, DeadLetterTopic).
// groupExample is a group name for the missing-group hint.
func (d *Doc) Common(probs *[]Problem, k KafkaSection, s StateSection, dy DirtySection, groupExample string, c *Config) {
	if len(k.Brokers) == 0 {
		d.Add(probs, "kafka.brokers", "is missing: list the seed brokers, e.g. brokers: [localhost:9092] (or pass --brokers)")
	}
	if k.Group == "" {
		d.Add(probs, "kafka.group", "is missing: name the consumer group that assigns partitions, e.g. group: %s", groupExample)
	}
	if k.MaxPollRecords < 0 {
		d.Add(probs, "kafka.max_poll_records", "is %d: want 1 or more (default 10000)", k.MaxPollRecords)
	}
	if s.Dir == "" {
		d.Add(probs, "state.dir", "is missing: give the directory of the partitions' state (or pass --state-dir)")
	}
	dirty, err := ParseDirtyPolicy(dy.Policy)
	if err != nil {
		d.Add(probs, "dirty.policy", "%q: want fail, skip or dead-letter", dy.Policy)
	}
	if dirty == DeadLetter && dy.DeadLetterTopic == "" {
		d.Add(probs, "dirty.dead_letter_topic", "is missing: policy dead-letter needs the topic that receives dirty records")
	}
	c.Brokers, c.Group, c.InstanceID, c.MaxPollRecords = k.Brokers, k.Group, k.InstanceID, k.MaxPollRecords
	c.StateDir = s.Dir
	c.Dirty, c.DeadLetterTopic = dirty, dy.DeadLetterTopic
}
