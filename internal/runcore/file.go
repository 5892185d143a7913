package runcore

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
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
// with yaml tags. Unknown fields and values of the wrong shape are errors
// naming file:line:col and the YAML path, all reported at once. example
// names the documented example file for the empty-file error.
func ParseDoc(name string, data []byte, v any, example string) (*Doc, error) {
	d := &Doc{Name: name, Root: &yaml.Node{}}
	if err := yaml.Unmarshal(data, d.Root); err != nil {
		return nil, fmt.Errorf("runner: %s", d.yamlError(err))
	}
	if d.Root.Kind == 0 || len(d.Root.Content) == 0 {
		return nil, fmt.Errorf("runner: %s is empty: see %s for a documented example", name, example)
	}
	var probs []Problem
	CheckShape(d.Root, reflect.TypeOf(v).Elem(), "", &probs)
	if len(probs) > 0 {
		return nil, d.Err(probs)
	}
	if err := d.Root.Decode(v); err != nil {
		return nil, fmt.Errorf("runner: %s", d.yamlError(err))
	}
	return d, nil
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError rewrites a yaml.v3 error ("yaml: line 3: ...") as file:line.
func (d *Doc) yamlError(err error) string {
	var lines []string
	msgs := []string{err.Error()}
	if te, ok := err.(*yaml.TypeError); ok {
		msgs = te.Errors
	}
	for _, m := range msgs {
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			lines = append(lines, fmt.Sprintf("%s:%s: %s", d.Name, g[1], g[2]))
		} else {
			lines = append(lines, d.Name+": "+strings.TrimPrefix(m, "yaml: "))
		}
	}
	return strings.Join(lines, "\n")
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

// Err is one error listing every problem in file order, each as
// file:line:col: path: message.
func (d *Doc) Err(probs []Problem) error {
	sort.SliceStable(probs, func(i, j int) bool {
		if probs[i].Line != probs[j].Line {
			return probs[i].Line < probs[j].Line
		}
		return probs[i].Col < probs[j].Col
	})
	errs := make([]error, len(probs))
	for i, p := range probs {
		where := d.Name
		if p.Line > 0 {
			where = fmt.Sprintf("%s:%d:%d", d.Name, p.Line, p.Col)
		}
		if p.Path != "" {
			errs[i] = fmt.Errorf("%s: %s: %s", where, p.Path, p.Msg)
		} else {
			errs[i] = fmt.Errorf("%s: %s", where, p.Msg)
		}
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
