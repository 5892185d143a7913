package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hotcold/hotcold/internal/yamlerr"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hotcold/hotcold/row"
)

// Raw is the source format for messages sent as opaque bytes, without any
// check; use it for payloads that are not JSON.
const Raw row.Format = "raw"

// Key formats of a source.
const (
	// KeyJSON (the default): keys are JSON; a key derived from a row is the
	// JSON object of the key columns, as Flink's 'key.format' = 'json'.
	KeyJSON = "json"
	// KeyRaw: keys are opaque bytes; a key derived from a row is the text
	// of its single key column, as Flink's 'key.format' = 'raw'.
	KeyRaw = "raw"
)

// Orders of the schedule.
const (
	// BySources sends every message of the first source, then of the
	// second, and so on (the default without an order list).
	BySources = "sources"
	// ByOrder follows the schedule's order list (implied when it is given).
	ByOrder = "order"
	// ByTimestamp merges the sources by message timestamp; ties keep
	// source declaration order, then file order.
	ByTimestamp = "timestamp"
)

// Defaults of a case.
const (
	DefaultTimeout = 30 * time.Second
	DefaultQuiet   = 2 * time.Second
)

// CaseFile is the name of the case file inside a case directory.
const CaseFile = "case.yaml"

// Case is one mock test case: bounded message sequences for the sources of
// a job, the order and pace in which they arrive, the sink topic the job
// writes its changelog to, and the table expected once that changelog is
// merged. Load one with LoadCase or LoadCaseFS; a loaded Case is valid and
// immutable, and safe for concurrent use.
type Case struct {
	// Name identifies the case in reports, storage paths and run ids.
	Name string
	// Description says what the case checks.
	Description string
	// Sources are the inputs, in declaration order.
	Sources []*Source
	// Schedule is the arrival order and pace.
	Schedule Schedule
	// Sinks are the topics the job under test writes to, in declaration
	// order (the case's sinks list, or its one sink). The case passes only
	// when every sink passes.
	Sinks []*Sink
	// Sink is the first sink (a copy of *Sinks[0]), for one-sink cases.
	Sink Sink
	// Expect is how long to wait for output and, for a one-sink case, the
	// expected table of its sink (a copy of Sinks[0].Expect's fields; with
	// a sinks list only Timeout and Quiet are set: each sink has its own
	// expectation in Sink.Expect).
	Expect Expect
	// Ready is how to tell that the job under test is ready to read its
	// sources; a run waits for it before sending (zero: it does not wait).
	Ready Ready
	// Path is the case file the case was loaded from.
	Path string

	steps []Step
	files []File
}

// File is one file of a case as read (the case file and the JSONL files it
// references), with its name relative to the case directory.
type File struct {
	Name string
	Data []byte
}

// Source is one input topic of the job under test.
type Source struct {
	// Name identifies the source in the schedule.
	Name string
	// Topic is the topic the job reads. An isolated run sends to a per-run
	// copy named "<run id>.<topic>".
	Topic string
	// Format is the value format: Raw, or one of row.Formats() (default
	// row.FormatJSON). Values are checked against it.
	Format row.Format
	// KeyFormat is KeyJSON (default) or KeyRaw.
	KeyFormat string
	// Schema holds the declared columns and key, or nil. With a schema,
	// messages may be written as rows and values are checked against it.
	Schema *row.Schema
	// Partitions is the partition count of an isolated topic (default 1).
	Partitions int32
	// Messages are the messages in file order (after loading, the
	// source's end messages follow, one per partition).
	Messages []Message
	// End, when set, is the source's declared end (the case's
	// sources[i].end): after the last scheduled message it is sent once to
	// every partition of the source, with its timestamp (default EndOfTime),
	// so that an event-time job's watermark passes every window and
	// interval and nothing is held back by this source. Its row must carry
	// a far-future event time where the job's watermark reads one.
	End *Message

	codec *row.Codec
}

// Schedule says in which global order and with which waits the messages of
// all sources are sent.
type Schedule struct {
	// Interval is the default wait between two messages; the first message
	// is sent at once unless it has its own wait.
	Interval time.Duration
	// By is BySources, ByOrder or ByTimestamp.
	By string
	// Order is the list followed with ByOrder.
	Order []OrderEntry
}

// OrderEntry takes the next Count messages of a source (0: all remaining).
type OrderEntry struct {
	Source string
	Count  int
	// After, when set, is the wait before the first message of the entry.
	After *time.Duration
	Pos   Pos
}

// Sink is a topic the job under test writes its changelog to, and what
// it must hold.
type Sink struct {
	// Name identifies the sink in reports and in SinksJob output: the
	// case's sinks[i].name, default its topic.
	Name string
	// Topic is the sink topic; an isolated run reads "<run id>.<topic>".
	Topic string
	// Format is the changelog format the job writes (one of row.Formats()).
	Format row.Format
	// Schema holds the sink columns. Its key is the primary key the
	// changelog is merged by; without a key the table is a multiset.
	Schema *row.Schema
	// Partitions is the partition count of an isolated topic (default 1).
	Partitions int32
	// Isolation is how the sink is read: ReadCommitted (the default: a
	// job writing with Kafka transactions has its aborted records left
	// out) or ReadUncommitted (every record written). Options.Isolation
	// overrides it.
	Isolation Isolation
	// Expect is what the sink must hold: an expected table, an expected
	// changelog, or both.
	Expect SinkExpect

	codec *row.Codec
	field string // sink or sinks[i], for messages
	at    []any  // its YAML path
}

// SinkExpect is what one sink must hold. At least one of the expected
// table (HasRows) and the expected changelog (HasChangelog) is given.
type SinkExpect struct {
	// HasRows says an expected table was given (rows: [] is an empty one).
	HasRows bool
	// Rows is the expected table (insert rows in the sink schema), and
	// RowPos where each row was read.
	Rows   []row.Row
	RowPos []Pos
	// HasChangelog says an expected changelog was given.
	HasChangelog bool
	// Changelog is the expected changelog (expect.changelog): every change
	// the sink must hold, each row's Kind its change (+I, -U, +U, -D as
	// Flink prints them). Changes are compared per primary key, in order
	// within a key; the order between keys is not compared.
	// ChangelogPos is where each change was read.
	Changelog    []row.Row
	ChangelogPos []Pos
	// Ignore names columns left out of both comparisons.
	Ignore []string
	// FloatTolerance is as Expect.FloatTolerance.
	FloatTolerance float64
}

// expectsOutput reports whether the sink must receive at least one message.
func (e *SinkExpect) expectsOutput() bool { return len(e.Rows) > 0 || len(e.Changelog) > 0 }

// Isolation is how the sink topic is read.
type Isolation string

// Isolation levels.
const (
	// ReadCommitted reads only records of committed transactions (and
	// every non-transactional record), as a downstream read_committed
	// consumer sees the sink.
	ReadCommitted Isolation = "read_committed"
	// ReadUncommitted reads every record written, aborted transactions
	// included.
	ReadUncommitted Isolation = "read_uncommitted"
)

// ParseIsolation reads an isolation level: read_committed (or committed)
// and read_uncommitted (or uncommitted); "" is ReadCommitted.
func ParseIsolation(s string) (Isolation, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "read_committed", "committed":
		return ReadCommitted, nil
	case "read_uncommitted", "uncommitted":
		return ReadUncommitted, nil
	}
	return "", fmt.Errorf("unknown isolation %q: use read_committed (the default) or read_uncommitted", s)
}

// Expect is the expected result of a case.
type Expect struct {
	// Rows is the expected table (insert rows in the sink schema).
	Rows []row.Row
	// RowPos is where each expected row was read.
	RowPos []Pos
	// Ignore names columns left out of the comparison.
	Ignore []string
	// FloatTolerance is the largest difference at which two float values
	// still count as equal, relative to their magnitude when that is above
	// 1. Zero compares floats exactly.
	FloatTolerance float64
	// Timeout bounds the wait for output after the last input is sent
	// (default 30s): a sink that never produces output ends here.
	Timeout time.Duration
	// Quiet is how long the sink must stay silent before its output counts
	// as complete (default 2s).
	Quiet time.Duration
}

// Steps returns the messages of all sources in arrival order with their
// waits. The caller must not modify the slice.
func (c *Case) Steps() []Step { return c.steps }

// Files returns the files the case was read from (the case file first),
// for storing it. The caller must not modify them.
func (c *Case) Files() []File { return c.files }

// Source returns the named source, or nil.
func (c *Case) Source(name string) *Source {
	for _, s := range c.Sources {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Codec returns the sink's codec.
func (s *Sink) Codec() *row.Codec { return s.codec }

// SinkNamed returns the named sink, or nil.
func (c *Case) SinkNamed(name string) *Sink {
	for _, s := range c.Sinks {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func sinkNames(c *Case) string {
	names := make([]string, len(c.Sinks))
	for i, s := range c.Sinks {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// LoadCase loads a case from a directory holding case.yaml, or from a YAML
// file. Files the case references are read relative to the case file and
// must lie in its directory or below. Every problem is reported at once as
// CaseErrors naming file, line and field.
func LoadCase(p string) (*Case, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("mock: case %s: %w", p, err)
	}
	dir, file := p, CaseFile
	if !st.IsDir() {
		dir, file = filepath.Dir(p), filepath.Base(p)
	}
	c, err := loadCase(os.DirFS(dir), file, dir)
	if err != nil {
		return nil, err
	}
	if c.Name == "" {
		c.Name = defaultName(p, st.IsDir())
	}
	return c, nil
}

// LoadCaseFS is LoadCase on a file system: name is a case file, or a
// directory holding case.yaml, in fsys.
func LoadCaseFS(fsys fs.FS, name string) (*Case, error) {
	file := name
	isDir := false
	if st, err := fs.Stat(fsys, name); err == nil && st.IsDir() {
		file = path.Join(name, CaseFile)
		isDir = true
	}
	dir := path.Dir(file)
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("mock: case %s: %w", name, err)
	}
	c, err := loadCase(sub, path.Base(file), dir)
	if err != nil {
		return nil, err
	}
	if c.Name == "" {
		c.Name = defaultName(name, isDir)
	}
	return c, nil
}

func defaultName(p string, isDir bool) string {
	p = filepath.ToSlash(filepath.Clean(p))
	base := path.Base(p)
	if !isDir {
		base = strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
		if base == "case" {
			base = path.Base(path.Dir(p))
		}
	}
	if abs, err := filepath.Abs(p); err == nil && (base == "." || base == "/" || base == "") {
		base = filepath.Base(abs)
	}
	return sanitizeName(base)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	s = strings.TrimLeft(string(b), ".-_")
	if s == "" {
		s = "case"
	}
	return s
}

// YAML forms. Fields that need positions or several shapes are yaml.Nodes.
type caseYAML struct {
	Name        string       `yaml:"name"`
	Description string       `yaml:"description"`
	Sources     []sourceYAML `yaml:"sources"`
	Schedule    scheduleYAML `yaml:"schedule"`
	Sink        sinkYAML     `yaml:"sink"`
	Sinks       []sinkYAML   `yaml:"sinks"`
	Expect      expectYAML   `yaml:"expect"`
	Ready       readyYAML    `yaml:"ready"`
}

type sourceYAML struct {
	Name       string    `yaml:"name"`
	Topic      string    `yaml:"topic"`
	Format     string    `yaml:"format"`
	KeyFormat  string    `yaml:"key_format"`
	Columns    yaml.Node `yaml:"columns"`
	Key        []string  `yaml:"key"`
	Partitions int32     `yaml:"partitions"`
	Messages   yaml.Node `yaml:"messages"`
	End        yaml.Node `yaml:"end"`
}

type scheduleYAML struct {
	Interval string    `yaml:"interval"`
	By       string    `yaml:"by"`
	Order    yaml.Node `yaml:"order"`
}

type sinkYAML struct {
	Name       string    `yaml:"name"`
	Topic      string    `yaml:"topic"`
	Format     string    `yaml:"format"`
	Columns    yaml.Node `yaml:"columns"`
	Key        []string  `yaml:"key"`
	Partitions int32     `yaml:"partitions"`
	Isolation  string    `yaml:"isolation"`
	// Expect is a sink's own expectation, in a sinks list only.
	Expect sinkExpectYAML `yaml:"expect"`
}

// sinkExpectYAML is sinks[i].expect.
type sinkExpectYAML struct {
	Rows           yaml.Node `yaml:"rows"`
	Changelog      yaml.Node `yaml:"changelog"`
	Ignore         []string  `yaml:"ignore"`
	FloatTolerance float64   `yaml:"float_tolerance"`
}

type readyYAML struct {
	Group   string `yaml:"group"`
	Command string `yaml:"command"`
	HTTP    string `yaml:"http"`
	Timeout string `yaml:"timeout"`
}

type expectYAML struct {
	Rows           yaml.Node `yaml:"rows"`
	Changelog      yaml.Node `yaml:"changelog"`
	Ignore         []string  `yaml:"ignore"`
	FloatTolerance float64   `yaml:"float_tolerance"`
	Timeout        string    `yaml:"timeout"`
	Quiet          string    `yaml:"quiet"`
}

// loader carries the state of one LoadCase.
type loader struct {
	fsys    fs.FS  // rooted at the case directory
	display string // the case directory as the user named it, for messages
	file    string // case file name within fsys
	root    *yaml.Node
	ps      problems
	files   []File
}

func (l *loader) shown(name string) string {
	if l.display == "" || l.display == "." {
		return name
	}
	if strings.Contains(l.display, "://") {
		return strings.TrimSuffix(l.display, "/") + "/" + name
	}
	return filepath.Join(l.display, name)
}

// pos returns the position of the node at a path of mapping keys and
// sequence indexes below the document root (the deepest node found).
func (l *loader) pos(p ...any) Pos {
	n := l.root
	line := 1
	if n != nil {
		line = n.Line
	}
	for _, step := range p {
		if n == nil {
			break
		}
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						next = n.Content[i+1]
						line = n.Content[i].Line
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				next = n.Content[s]
				line = next.Line
			}
		}
		n = next
	}
	return Pos{File: l.shown(l.file), Line: line}
}

// has reports whether the case file has a top-level key.
func (l *loader) has(key string) bool {
	for i := 0; i+1 < len(l.root.Content); i += 2 {
		if l.root.Content[i].Value == key {
			return true
		}
	}
	return false
}

// node returns the node at a path of mapping keys and sequence indexes
// below the document root, and the key node naming it (nil for a sequence
// item or the root); nil when there is none.
func (l *loader) node(p ...any) (n, key *yaml.Node) {
	n = l.root
	for _, step := range p {
		if n == nil {
			return nil, nil
		}
		var next, k *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						next, k = n.Content[i+1], n.Content[i]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s >= 0 && s < len(n.Content) {
				next = n.Content[s]
			}
		}
		n, key = next, k
	}
	return n, key
}

// hasAt reports whether the node at a path exists.
func (l *loader) hasAt(p ...any) bool {
	n, _ := l.node(p...)
	return n != nil
}

// at is a position with its column (0: unknown).
type at struct {
	Pos
	Col int
}

// posCol is pos with the column: of the key naming the deepest node found,
// or of the sequence item.
func (l *loader) posCol(p ...any) at {
	for len(p) > 0 {
		n, key := l.node(p...)
		switch {
		case key != nil:
			return at{Pos{File: l.shown(l.file), Line: key.Line}, key.Column}
		case n != nil:
			return at{Pos{File: l.shown(l.file), Line: n.Line}, n.Column}
		}
		p = p[:len(p)-1]
	}
	if l.root != nil {
		return at{Pos{File: l.shown(l.file), Line: l.root.Line}, l.root.Column}
	}
	return at{Pos{File: l.shown(l.file), Line: 1}, 0}
}

func loadCase(fsys fs.FS, file, display string) (*Case, error) {
	l := &loader{fsys: fsys, display: display, file: file}
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("mock: read case: %w", err)
	}
	l.files = append(l.files, File{Name: file, Data: data})
	shown := l.shown(file)

	doc, err := yamlerr.Parse(shown, data)
	if err != nil {
		var ye *yamlerr.Error
		errors.As(err, &ye)
		l.ps.addErr(&CaseError{File: ye.File, Line: ye.Line, Column: ye.Column, Problem: ye.Msg})
		return nil, l.ps.err()
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		l.ps.add(Pos{File: shown, Line: 1}, "", "a case file is a YAML mapping with sources, schedule, sink and expect")
		return nil, l.ps.err()
	}
	l.root = doc.Content[0]
	var cy caseYAML
	decoded := &yamlerr.Errors{}
	yamlerr.DecodeNode(shown, l.root, "", &cy, decoded)
	for _, e := range decoded.List {
		l.ps.addErr(&CaseError{File: e.File, Line: e.Line, Column: e.Column, Field: e.Path, Problem: e.Msg})
	}
	l.ps.decoded = decoded
	c := &Case{Name: cy.Name, Description: cy.Description, Path: shown}
	if c.Name != "" && !nameRE.MatchString(c.Name) {
		l.ps.add(l.pos("name"), "name", "%q: use letters, digits, '.', '_' and '-' (it names storage paths and topics)", c.Name)
	}
	l.sources(c, cy.Sources)
	l.sinks(c, &cy)
	l.schedule(c, cy.Schedule)
	l.expect(c, cy.Expect)
	l.ready(c, cy.Ready)
	if err := l.ps.err(); err != nil {
		return nil, err
	}
	c.files = l.files
	return c, nil
}

var topicRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

func (l *loader) sources(c *Case, list []sourceYAML) {
	if len(list) == 0 {
		l.ps.add(l.pos("sources"), "sources", "a case needs at least one source")
	}
	seen := map[string]bool{}
	for i, sy := range list {
		field := fmt.Sprintf("sources[%d]", i)
		s := &Source{Name: sy.Name, Topic: sy.Topic, Partitions: sy.Partitions, KeyFormat: sy.KeyFormat}
		switch {
		case s.Name == "":
			l.ps.add(l.pos("sources", i), field+".name", "every source needs a name")
		case !nameRE.MatchString(s.Name):
			l.ps.add(l.pos("sources", i, "name"), field+".name", "%q: use letters, digits, '.', '_' and '-'", s.Name)
		case seen[s.Name]:
			l.ps.add(l.pos("sources", i, "name"), field+".name", "source %q is declared twice", s.Name)
		}
		seen[s.Name] = true
		l.topic(s.Topic, field+".topic", "sources", i, "topic")
		switch sy.Format {
		case "":
			s.Format = row.FormatJSON
		case string(Raw):
			s.Format = Raw
		default:
			f, err := row.ParseFormat(sy.Format)
			if err != nil {
				l.ps.add(l.pos("sources", i, "format"), field+".format", "%v, or raw", err)
			}
			s.Format = f
		}
		switch s.KeyFormat {
		case "":
			s.KeyFormat = KeyJSON
		case KeyJSON, KeyRaw:
		default:
			l.ps.add(l.pos("sources", i, "key_format"), field+".key_format", "%q: want json or raw", s.KeyFormat)
		}
		if s.Partitions < 0 {
			l.ps.add(l.pos("sources", i, "partitions"), field+".partitions", "%d is negative", s.Partitions)
		}
		if s.Partitions == 0 {
			s.Partitions = 1
		}
		s.Schema = l.columns(&sy.Columns, sy.Key, field, "sources", i)
		if s.Schema != nil && s.Format != Raw {
			codec, err := row.NewCodec(s.Format, s.Schema)
			if err != nil {
				l.ps.add(l.pos("sources", i, "format"), field+".format", "%v", err)
			} else {
				s.codec = codec
			}
		}
		if s.Schema == nil && len(sy.Key) > 0 {
			l.ps.add(l.pos("sources", i, "key"), field+".key", "key columns need declared columns")
		}
		if s.KeyFormat == KeyRaw && s.Schema != nil && len(s.Schema.Key()) > 1 {
			l.ps.add(l.pos("sources", i, "key_format"), field+".key_format", "a raw key holds one column, but key names %d", len(s.Schema.Key()))
		}
		if s.Name != "" && (s.Schema == nil || s.codec != nil || s.Format == Raw) {
			l.messages(s, &sy.Messages, field, i)
			l.end(s, &sy.End, field, i)
		}
		c.Sources = append(c.Sources, s)
	}
}

func (l *loader) topic(t, field string, p ...any) {
	switch {
	case t == "":
		l.ps.add(l.pos(p[:len(p)-1]...), field, "a topic is required")
	case !topicRE.MatchString(t):
		l.ps.add(l.pos(p...), field, "%q is not a valid Kafka topic name (letters, digits, '.', '_', '-')", t)
	}
}

// sqlTypeProblem words a type error in the Flink SQL names cases use.
func sqlTypeProblem(ts string, err error) string {
	msg := strings.TrimPrefix(err.Error(), "row: ")
	if strings.HasPrefix(msg, "unknown type") {
		return fmt.Sprintf("unknown type %q: use a Flink SQL type: BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, STRING, BYTES, DATE, TIMESTAMP(3), TIMESTAMP(6), TIMESTAMP_LTZ(3), DECIMAL(p, s), optionally followed by NOT NULL", ts)
	}
	return msg
}

// columns reads a mapping of column name to SQL type ("BIGINT NOT NULL").
func (l *loader) columns(n *yaml.Node, key []string, field string, p ...any) *row.Schema {
	if n.Kind == 0 {
		return nil
	}
	at := append(append([]any{}, p...), "columns")
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		l.ps.add(l.pos(at...), field+".columns", "want a mapping of column name to type, e.g. {order_id: BIGINT NOT NULL, amount: DECIMAL(10, 2)}")
		return nil
	}
	var cols []row.Column
	bad := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, tn := n.Content[i], n.Content[i+1]
		pos := Pos{File: l.shown(l.file), Line: name.Line}
		if tn.Kind != yaml.ScalarNode {
			l.ps.add(pos, field+".columns."+name.Value, "want a type such as BIGINT, STRING, DECIMAL(10, 2), TIMESTAMP(3)")
			bad = true
			continue
		}
		ts := strings.TrimSpace(tn.Value)
		nullable := true
		if up := strings.ToUpper(ts); strings.HasSuffix(up, " NOT NULL") {
			ts = strings.TrimSpace(ts[:len(ts)-len(" NOT NULL")])
			nullable = false
		}
		t, err := row.ParseType(ts)
		if err != nil {
			hint := ""
			if strings.Count(ts, "(") != strings.Count(ts, ")") || strings.Contains(name.Value, ")") {
				hint = ` (in a {...} mapping, quote types that hold a comma: "DECIMAL(10, 2)")`
			}
			l.ps.addCol(pos, tn.Column, field+".columns."+name.Value, "%s%s", sqlTypeProblem(ts, err), hint)
			bad = true
			continue
		}
		cols = append(cols, row.Column{Name: name.Value, Type: t, Nullable: nullable})
	}
	if bad {
		return nil
	}
	s, err := row.NewSchema(cols, key, 1)
	if err != nil {
		l.ps.add(l.pos(at...), field+".columns", "%v", err)
		return nil
	}
	return s
}

// lines returns the lines of a JSONL file or an inline YAML list, as JSON,
// with their positions.
func (l *loader) lines(n *yaml.Node, field string, p ...any) (lines [][]byte, pos []Pos, ok bool) {
	switch n.Kind {
	case 0:
		return nil, nil, false
	case yaml.ScalarNode:
		name := n.Value
		if !fs.ValidPath(name) {
			l.ps.add(l.pos(p...), field, "%q: give a path relative to the case file, inside its directory", name)
			return nil, nil, true
		}
		data, err := fs.ReadFile(l.fsys, name)
		if err != nil {
			l.ps.add(l.pos(p...), field, "cannot read %s: %v", name, errors.Unwrap(err))
			return nil, nil, true
		}
		l.files = append(l.files, File{Name: name, Data: data})
		shown := l.shown(name)
		for i, ln := range bytes.Split(data, []byte("\n")) {
			ln = bytes.TrimSpace(ln)
			if len(ln) == 0 || ln[0] == '#' {
				continue
			}
			lines = append(lines, ln)
			pos = append(pos, Pos{File: shown, Line: i + 1})
		}
		return lines, pos, true
	case yaml.SequenceNode:
		for _, item := range n.Content {
			js, err := yamlToJSON(item)
			if err != nil {
				l.ps.add(Pos{File: l.shown(l.file), Line: item.Line}, field, "%v", err)
				continue
			}
			lines = append(lines, js)
			pos = append(pos, Pos{File: l.shown(l.file), Line: item.Line})
		}
		return lines, pos, true
	}
	l.ps.add(l.pos(p...), field, "want the name of a JSONL file or a list")
	return nil, nil, true
}

func (l *loader) messages(s *Source, n *yaml.Node, field string, i int) {
	lines, pos, ok := l.lines(n, field+".messages", "sources", i, "messages")
	if !ok {
		l.ps.add(l.pos("sources", i), field+".messages", "give the messages: a JSONL file name or a list")
		return
	}
	for j, ln := range lines {
		if m, ok := parseMessage(ln, pos[j], s, &l.ps); ok {
			s.Messages = append(s.Messages, m)
		}
	}
}

// EndOfTime is the default timestamp of a source's end message:
// 9999-12-31 23:59:59.999 UTC, later than any event time a case holds.
var EndOfTime = time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)

// end reads a source's declared end: one message like those of messages.
func (l *loader) end(s *Source, n *yaml.Node, field string, i int) {
	if n.Kind == 0 {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.ps.addCol(l.pos("sources", i, "end"), n.Column, field+".end", "want one message, e.g. {row: {order_id: 0, order_time: \"9999-12-31 23:59:59.999\"}}")
		return
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}, Line: n.Line, Column: n.Column}
	lines, pos, ok := l.lines(seq, field+".end", "sources", i, "end")
	if !ok || len(lines) != 1 {
		return
	}
	m, ok := parseMessage(lines[0], pos[0], s, &l.ps)
	if !ok {
		return
	}
	if m.Timestamp.IsZero() {
		m.Timestamp = EndOfTime
	}
	if m.Note == "" {
		m.Note = "end of source " + s.Name
	}
	s.End = &m
}

// sinks reads the case's sink: the one-sink form (sink: with the
// expectation in the case's expect) or a sinks list, each with its own
// expect.
func (l *loader) sinks(c *Case, cy *caseYAML) {
	switch {
	case l.has("sink") && l.has("sinks"):
		l.ps.addAt(l.posCol("sinks"), "sinks", "give either sink (one sink) or sinks (a list), not both; move the sink into the sinks list")
		return
	case l.has("sinks"):
		if len(cy.Sinks) == 0 {
			l.ps.addAt(l.posCol("sinks"), "sinks", "want a list of sinks, each {name, topic, format, columns, key, expect: {rows, changelog}}")
			return
		}
		for i, sy := range cy.Sinks {
			field := fmt.Sprintf("sinks[%d]", i)
			s := l.sink(c, sy, field, "sinks", i)
			if s == nil {
				continue
			}
			if sy.Expect.Rows.Kind == 0 && sy.Expect.Changelog.Kind == 0 {
				// no expectation at all: never a silent pass
				if sy.Expect.Ignore != nil || sy.Expect.FloatTolerance != 0 || l.hasAt("sinks", i, "expect") {
					l.ps.addAt(l.posCol("sinks", i, "expect"), field+".expect", "give the sink's expected table (rows: a JSONL file or a list, [] for an empty table) or its expected changelog (changelog), or both")
				} else {
					l.ps.addAt(l.posCol("sinks", i), field+".expect", "sink %q has no expectation: give expect.rows (its expected table, [] for an empty one) or expect.changelog (its expected changes), or both", s.Name)
				}
			}
			l.sinkExpect(s, expectFields{rows: &sy.Expect.Rows, changelog: &sy.Expect.Changelog, ignore: sy.Expect.Ignore, tol: sy.Expect.FloatTolerance},
				field+".expect", "sinks", i, "expect")
		}
		for _, k := range []string{"rows", "changelog", "ignore", "float_tolerance"} {
			if l.hasAt("expect", k) {
				l.ps.addAt(l.posCol("expect", k), "expect."+k, "with a sinks list each sink has its own expectation: move expect.%s into sinks[i].expect.%s (the case's expect keeps timeout and quiet)", k, k)
			}
		}
	case l.has("sink"):
		s := l.sink(c, cy.Sink, "sink", "sink")
		if s == nil {
			return
		}
		ey := cy.Expect
		if l.hasAt("sink", "expect") {
			for _, k := range []string{"rows", "changelog", "ignore", "float_tolerance"} {
				if l.hasAt("expect", k) {
					l.ps.addAt(l.posCol("expect", k), "expect."+k, "sink.expect is given too: give the sink's expectation once, in sink.expect or in expect")
				}
			}
			sy := cy.Sink.Expect
			l.sinkExpect(s, expectFields{rows: &sy.Rows, changelog: &sy.Changelog, ignore: sy.Ignore, tol: sy.FloatTolerance}, "sink.expect", "sink", "expect")
			if sy.Rows.Kind == 0 && sy.Changelog.Kind == 0 {
				l.ps.addAt(l.posCol("sink", "expect"), "sink.expect", "give the sink's expected table (rows: a JSONL file or a list, [] for an empty table) or its expected changelog (changelog), or both")
			}
			break
		}
		if ey.Rows.Kind == 0 && ey.Changelog.Kind == 0 {
			at := []any{"expect"}
			if !l.has("expect") {
				at = nil
			}
			l.ps.addAt(l.posCol(at...), "expect.rows", "give the expected table: a JSONL file name or a list ([] for an empty table); or the expected changelog (expect.changelog); or both")
		}
		l.sinkExpect(s, expectFields{rows: &ey.Rows, changelog: &ey.Changelog, ignore: ey.Ignore, tol: ey.FloatTolerance}, "expect", "expect")
	default:
		l.ps.add(l.pos(), "sink", "a case needs a sink: topic, format and columns (or a sinks list of them)")
		return
	}
	if len(c.Sinks) > 0 {
		c.Sink = *c.Sinks[0]
		if !l.has("sinks") {
			e := c.Sinks[0].Expect
			c.Expect.Rows, c.Expect.RowPos, c.Expect.Ignore, c.Expect.FloatTolerance = e.Rows, e.RowPos, e.Ignore, e.FloatTolerance
		}
	}
	// a topic shared by sources and sinks must agree on partitions
	for j, s := range c.Sinks {
		for i, src := range c.Sources {
			if src.Topic == s.Topic && src.Partitions != s.Partitions {
				l.ps.add(l.pos(s.path("partitions")...), s.field+".partitions", "%d, but sources[%d] uses the same topic with %d partitions", s.Partitions, i, src.Partitions)
			}
		}
		for _, o := range c.Sinks[:j] {
			switch {
			case o.Topic == s.Topic && s.Topic != "":
				l.ps.addAt(l.posCol(s.path("topic")...), s.field+".topic", "sink %q already reads topic %s; a topic is one sink", o.Name, s.Topic)
			case o.Name == s.Name && s.Name != "":
				l.ps.addAt(l.posCol(s.path("name")...), s.field+".name", "sink %q is declared twice; give each sink its own name", s.Name)
			}
		}
	}
	for i, a := range c.Sources {
		for _, b := range c.Sources[:i] {
			if a.Topic == b.Topic && a.Partitions != b.Partitions {
				l.ps.add(l.pos("sources", i, "partitions"), fmt.Sprintf("sources[%d].partitions", i), "%d, but source %q uses the same topic with %d partitions", a.Partitions, b.Name, b.Partitions)
			}
		}
	}
}

// sink reads one sink at field (sink or sinks[i]) and appends it to
// c.Sinks; it returns nil when the sink is too broken to read its
// expectation.
func (l *loader) sink(c *Case, sy sinkYAML, field string, p ...any) *Sink {
	s := &Sink{Name: sy.Name, Topic: sy.Topic, Partitions: sy.Partitions, field: field, at: p}
	if s.Name == "" {
		s.Name = s.Topic
	} else if !nameRE.MatchString(s.Name) {
		l.ps.addAt(l.posCol(s.path("name")...), field+".name", "%q: use letters, digits, '.', '_' and '-'", s.Name)
	}
	l.topic(s.Topic, field+".topic", s.path("topic")...)
	if sy.Format == "" {
		l.ps.addAt(l.posCol(p...), field+".format", "give the changelog format the job writes: %s", formatNames())
	} else {
		f, err := row.ParseFormat(sy.Format)
		if err != nil {
			l.ps.addAt(l.posCol(s.path("format")...), field+".format", "%v", err)
		}
		s.Format = f
	}
	if s.Partitions < 0 {
		l.ps.addAt(l.posCol(s.path("partitions")...), field+".partitions", "%d is negative", s.Partitions)
	}
	if s.Partitions == 0 {
		s.Partitions = 1
	}
	if iso, err := ParseIsolation(sy.Isolation); err != nil {
		l.ps.addAt(l.posCol(s.path("isolation")...), field+".isolation", "%v", err)
	} else {
		s.Isolation = iso
	}
	c.Sinks = append(c.Sinks, s)
	if sy.Columns.Kind == 0 {
		l.ps.addAt(l.posCol(p...), field+".columns", "declare the sink columns and their types, e.g. {order_id: BIGINT NOT NULL, amount: DECIMAL(10, 2)}")
		return nil
	}
	s.Schema = l.columns(&sy.Columns, sy.Key, field, p...)
	if s.Schema != nil && s.Format != "" {
		codec, err := row.NewCodec(s.Format, s.Schema)
		if err != nil {
			l.ps.addAt(l.posCol(s.path("format")...), field+".format", "%v", err)
		}
		s.codec = codec
	}
	return s
}

// path returns the YAML path of a field of the sink.
func (s *Sink) path(field ...any) []any { return append(append([]any{}, s.at...), field...) }

func formatNames() string {
	names := make([]string, len(row.Formats()))
	for i, f := range row.Formats() {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

var orderItemRE = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9._-]*)(\*(\d*))?$`)

func (l *loader) schedule(c *Case, sy scheduleYAML) {
	sc := &c.Schedule
	if sy.Interval != "" {
		d, err := parseDuration(sy.Interval)
		if err != nil {
			l.ps.add(l.pos("schedule", "interval"), "schedule.interval", "%v", err)
		}
		sc.Interval = d
	}
	sc.By = sy.By
	switch sy.By {
	case "":
		sc.By = BySources
		if sy.Order.Kind != 0 {
			sc.By = ByOrder
		}
	case BySources, ByTimestamp:
		if sy.Order.Kind != 0 {
			l.ps.add(l.pos("schedule", "by"), "schedule.by", "%q ignores the order list; drop one of them", sy.By)
		}
	case ByOrder:
		if sy.Order.Kind == 0 {
			l.ps.add(l.pos("schedule", "by"), "schedule.order", "by: order needs an order list")
		}
	default:
		l.ps.add(l.pos("schedule", "by"), "schedule.by", "%q: want sources, order or timestamp", sy.By)
	}
	if sy.Order.Kind != 0 {
		if sy.Order.Kind != yaml.SequenceNode {
			l.ps.add(l.pos("schedule", "order"), "schedule.order", "want a list of source names (\"orders\", \"orders*3\", \"orders*\" for the rest) or {source, count, after} entries")
		}
		for i, item := range sy.Order.Content {
			e, ok := l.orderEntry(c, item, i)
			if ok {
				sc.Order = append(sc.Order, e)
			}
		}
	}
	if len(l.ps.list) == 0 {
		steps, err := plan(c)
		if err != nil {
			l.ps.addErr(err)
		}
		c.steps = steps
	}
}

func (l *loader) orderEntry(c *Case, item *yaml.Node, i int) (OrderEntry, bool) {
	field := fmt.Sprintf("schedule.order[%d]", i)
	e := OrderEntry{Count: 1, Pos: Pos{File: l.shown(l.file), Line: item.Line}}
	switch item.Kind {
	case yaml.ScalarNode:
		g := orderItemRE.FindStringSubmatch(item.Value)
		if g == nil {
			l.ps.add(e.Pos, field, "%q: want a source name, NAME*N for N messages, or NAME* for the rest", item.Value)
			return e, false
		}
		e.Source = g[1]
		if g[2] != "" {
			e.Count = 0
			if g[3] != "" {
				e.Count, _ = strconv.Atoi(g[3])
				if e.Count == 0 {
					l.ps.add(e.Pos, field, "%q sends no message", item.Value)
				}
			}
		}
	case yaml.MappingNode:
		var m struct {
			Source string `yaml:"source"`
			Count  string `yaml:"count"`
			After  string `yaml:"after"`
		}
		for j := 0; j+1 < len(item.Content); j += 2 {
			switch k := item.Content[j].Value; k {
			case "source", "count", "after":
			default:
				l.ps.add(Pos{File: e.Pos.File, Line: item.Content[j].Line}, field+"."+k, "unknown field (known fields: source, count, after)")
			}
		}
		if err := item.Decode(&m); err != nil {
			l.ps.add(e.Pos, field, "%v", err)
			return e, false
		}
		e.Source = m.Source
		switch m.Count {
		case "":
		case "all", "*":
			e.Count = 0
		default:
			n, err := strconv.Atoi(m.Count)
			if err != nil || n < 1 {
				l.ps.add(e.Pos, field+".count", "%q: want a positive number or all", m.Count)
			}
			e.Count = n
		}
		if m.After != "" {
			d, err := parseDuration(m.After)
			if err != nil {
				l.ps.add(e.Pos, field+".after", "%v", err)
			}
			e.After = &d
		}
	default:
		l.ps.add(e.Pos, field, "want a source name or a {source, count, after} mapping")
		return e, false
	}
	if c.Source(e.Source) == nil {
		l.ps.add(e.Pos, field, "no source is named %q (sources: %s)", e.Source, sourceNames(c))
		return e, false
	}
	return e, true
}

func sourceNames(c *Case) string {
	names := make([]string, len(c.Sources))
	for i, s := range c.Sources {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// DefaultReadyTimeout bounds the wait for a declared readiness check.
const DefaultReadyTimeout = 60 * time.Second

func (l *loader) ready(c *Case, ry readyYAML) {
	r := &c.Ready
	r.Group, r.Command, r.HTTP, r.Timeout = ry.Group, ry.Command, ry.HTTP, DefaultReadyTimeout
	if ry.HTTP != "" && !strings.HasPrefix(ry.HTTP, "http://") && !strings.HasPrefix(ry.HTTP, "https://") {
		l.ps.add(l.pos("ready", "http"), "ready.http", "%q: want an http:// or https:// URL", ry.HTTP)
	}
	if ry.Timeout != "" {
		d, err := parseDuration(ry.Timeout)
		if err != nil || d == 0 {
			l.ps.add(l.pos("ready", "timeout"), "ready.timeout", "want a positive duration such as 60s")
		}
		r.Timeout = d
	} else if l.has("ready") && r.Group == "" && r.Command == "" && r.HTTP == "" {
		l.ps.add(l.pos("ready"), "ready", "declare a check: group (the job's consumer group), command or http")
	}
}

func (l *loader) expect(c *Case, ey expectYAML) {
	e := &c.Expect
	e.Timeout, e.Quiet = DefaultTimeout, DefaultQuiet
	if ey.Timeout != "" {
		d, err := parseDuration(ey.Timeout)
		if err != nil || d == 0 {
			l.ps.add(l.pos("expect", "timeout"), "expect.timeout", "want a positive duration such as 30s")
		}
		e.Timeout = d
	}
	if ey.Quiet != "" {
		d, err := parseDuration(ey.Quiet)
		if err != nil || d == 0 {
			l.ps.add(l.pos("expect", "quiet"), "expect.quiet", "want a positive duration such as 2s")
		}
		e.Quiet = d
	}
}

// expectFields are the fields of a sink's expectation, wherever written.
type expectFields struct {
	rows, changelog *yaml.Node
	ignore          []string
	tol             float64
}

// sinkExpect reads a sink's expectation at field (expect, sink.expect or
// sinks[i].expect).
func (l *loader) sinkExpect(sk *Sink, ey expectFields, field string, p ...any) {
	e := &sk.Expect
	e.Ignore, e.FloatTolerance = ey.ignore, ey.tol
	sub := func(k string) []any { return append(append([]any{}, p...), k) }
	if e.FloatTolerance < 0 {
		l.ps.addAt(l.posCol(sub("float_tolerance")...), field+".float_tolerance", "%v is negative", e.FloatTolerance)
	}
	s := sk.Schema
	if s != nil {
		for _, name := range e.Ignore {
			i := s.Index(name)
			switch {
			case i < 0:
				l.ps.addAt(l.posCol(sub("ignore")...), field+".ignore", "%q is not a column of sink %s (columns: %s)", name, sk.Name, strings.Join(s.Names(), ", "))
			case isKey(s, i):
				l.ps.addAt(l.posCol(sub("ignore")...), field+".ignore", "%q is a key column; key columns are always compared", name)
			}
		}
	}
	if ey.rows.Kind != 0 {
		e.HasRows = true
		lines, pos, _ := l.lines(ey.rows, field+".rows", sub("rows")...)
		inline := ey.rows.Kind == yaml.SequenceNode && len(ey.rows.Content) == len(lines)
		if s != nil {
			keys := map[string]Pos{}
			for j, ln := range lines {
				r, err := parseRow(ln, pos[j], s)
				if err != nil {
					if inline && err.Column == 0 {
						if err.Field != "" {
							err.Column = yamlColumn(ey.rows.Content[j])(err.Field)
						} else {
							err.Column = ey.rows.Content[j].Column
						}
					}
					l.ps.addErr(err)
					continue
				}
				if len(s.Key()) > 0 {
					k, kerr := row.AppendKey(nil, s.KeyTypes(), r.KeyValues(s))
					if kerr == nil {
						if prev, dup := keys[string(k)]; dup {
							l.ps.add(pos[j], "", "a second expected row with key %s (first at %s); with a primary key the table holds one row per key", keyText(s, r), prev)
							continue
						}
						keys[string(k)] = pos[j]
					}
				}
				e.Rows = append(e.Rows, r)
				e.RowPos = append(e.RowPos, pos[j])
			}
		}
	}
	if ey.changelog.Kind != 0 {
		e.HasChangelog = true
		l.changelog(sk, ey.changelog, field+".changelog", sub("changelog")...)
	}
}

func isKey(s *row.Schema, i int) bool {
	for _, k := range s.Key() {
		if k == i {
			return true
		}
	}
	return false
}

// parseRow reads one expected-table line: a JSON object of sink columns.
func parseRow(line []byte, pos Pos, s *row.Schema) (row.Row, *CaseError) {
	obj, err := decodeObject(line)
	if err != nil {
		var syn *json.SyntaxError
		ce := &CaseError{File: pos.File, Line: pos.Line, Problem: err.Error()}
		if errors.As(err, &syn) {
			ce.Column = int(syn.Offset)
		}
		return row.Row{}, ce
	}
	if u := unknownColumns(obj, s); u != "" {
		return row.Row{}, &CaseError{File: pos.File, Line: pos.Line, Field: strings.Trim(u, `"`), Problem: "not a sink column (columns: " + strings.Join(s.Names(), ", ") + ")"}
	}
	var r row.Row
	if err := s.RowFromMap(obj, &r); err != nil {
		ce := &CaseError{File: pos.File, Line: pos.Line, Problem: err.Error()}
		var fe *row.FieldError
		if errors.As(err, &fe) {
			ce.Field = fe.Column
			ce.Problem = fmt.Sprintf("value %s: %s (column type %s)", fe.Value, fe.Reason, sqlTypeName(fe.Type))
		}
		return row.Row{}, ce
	}
	return r.Clone(), nil
}

// sqlTypeName names a type as a case declares it (Flink SQL).
func sqlTypeName(t row.Type) string {
	switch t.ID {
	case row.TypeBool:
		return "BOOLEAN"
	case row.TypeInt32:
		return "INT"
	case row.TypeInt64:
		return "BIGINT"
	case row.TypeFloat32:
		return "FLOAT"
	case row.TypeFloat64:
		return "DOUBLE"
	case row.TypeString:
		return "STRING"
	case row.TypeBinary:
		return "BYTES"
	case row.TypeDate32:
		return "DATE"
	case row.TypeDecimal128:
		return fmt.Sprintf("DECIMAL(%d, %d)", t.Precision, t.Scale)
	case row.TypeTimestamp:
		p := 3
		if t.Unit == row.Microsecond {
			p = 6
		}
		if t.Zone != "" {
			return fmt.Sprintf("TIMESTAMP_LTZ(%d)", p)
		}
		return fmt.Sprintf("TIMESTAMP(%d)", p)
	}
	return strings.ToUpper(t.String())
}

func keyText(s *row.Schema, r row.Row) string {
	var b strings.Builder
	for i, k := range s.Key() {
		if i > 0 {
			b.WriteString(", ")
		}
		c := s.Column(k)
		b.WriteString(c.Name)
		b.WriteByte('=')
		b.WriteString(r.Values[k].Format(c.Type))
	}
	return b.String()
}
