// Package yamlerr decodes YAML documents (gopkg.in/yaml.v3 nodes) into Go
// structs with errors a user can act on: each names the file, line and
// column, the field as the user wrote it (sink.partitions, sources[1].key)
// and what was wanted, never a Go type or YAML tag (!!str, int32,
// mock.caseYAML). A field that does not decode is reported once and left
// at its zero value; Errors.Has tells a caller which paths failed, so that
// later checks skip them instead of adding follow-on errors.
//
//	var cfg config
//	errs := yamlerr.Decode("case.yaml", data, &cfg)
//	for _, e := range errs.List { fmt.Println(e) } // case.yaml:4:15: sink.partitions: want an integer, got "two"
//
// Struct fields are matched by their yaml tag (the lower-cased field name
// without one); a yaml.Node field receives the node as is, for the caller
// to walk. Supported kinds: strings, bools, signed and unsigned integers,
// floats, time.Duration (Go syntax: 500ms, 2s), pointers, slices, string
// maps and structs, and types that implement encoding.TextUnmarshaler
// (read from a scalar; its error is the message).
package yamlerr

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a YAML document.
type Error struct {
	File   string
	Line   int // 0: unknown
	Column int // 0: unknown
	// Path is the field as the user wrote it, e.g. sources[1].partitions;
	// empty for the document itself.
	Path string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors are the problems of one decode, in document order.
type Errors struct {
	List []*Error
	bad  map[string]bool
}

// Has reports whether path, or a field above it, failed to decode (or was
// misspelt as a close unknown field).
func (es *Errors) Has(path string) bool {
	for p := path; ; {
		if es.bad[p] {
			return true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// Err returns the errors joined, or nil.
func (es *Errors) Err() error {
	if len(es.List) == 0 {
		return nil
	}
	errs := make([]error, len(es.List))
	for i, e := range es.List {
		errs[i] = e
	}
	return errors.Join(errs...)
}

func (es *Errors) add(file string, n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	es.List = append(es.List, e)
	es.mark(path)
}

func (es *Errors) mark(path string) {
	if es.bad == nil {
		es.bad = map[string]bool{}
	}
	es.bad[path] = true
}

var syntaxRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse parses data into a document node. A syntax error is an *Error
// with the line yaml.v3 reports (it reports no column, and for some
// problems the line just before the offending one).
func Parse(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		e := &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
		if g := syntaxRE.FindStringSubmatch(err.Error()); g != nil {
			e.Line, _ = strconv.Atoi(g[1])
			e.Msg = g[2]
		}
		return nil, e
	}
	return &doc, nil
}

// Decode parses data and decodes its document into v (a pointer to a
// struct). A syntax error is the only entry of the result.
func Decode(file string, data []byte, v any) *Errors {
	es := &Errors{}
	doc, err := Parse(file, data)
	if err != nil {
		es.List = append(es.List, err.(*Error))
		return es
	}
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	DecodeNode(file, n, "", v, es)
	return es
}

// DecodeNode decodes n into v (a pointer), adding problems to es with
// paths below path.
func DecodeNode(file string, n *yaml.Node, path string, v any, es *Errors) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("yamlerr: DecodeNode needs a non-nil pointer")
	}
	d := decoder{file: file, es: es}
	d.value(n, path, rv.Elem())
}

type decoder struct {
	file string
	es   *Errors
}

var (
	nodeType     = reflect.TypeOf(yaml.Node{})
	durationType = reflect.TypeOf(time.Duration(0))
)

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// describe names what a node holds, in the user's terms.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

func (d *decoder) value(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if v.Type() == nodeType {
		v.Set(reflect.ValueOf(*n))
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // left at its zero value
	}
	if v.CanAddr() {
		if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
			if n.Kind != yaml.ScalarNode {
				d.es.add(d.file, n, path, "want a single value, got %s", describe(n))
				return
			}
			if err := tu.UnmarshalText([]byte(n.Value)); err != nil {
				d.es.add(d.file, n, path, "%v", err)
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.value(n, path, p.Elem())
		v.Set(p)
	case reflect.Struct:
		d.structure(n, path, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.es.add(d.file, n, path, "want a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.value(c, fmt.Sprintf("%s[%d]", path, i), s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode || v.Type().Key().Kind() != reflect.String {
			d.es.add(d.file, n, path, "want a mapping, got %s", describe(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			e := reflect.New(v.Type().Elem()).Elem()
			d.value(n.Content[i+1], join(path, n.Content[i].Value), e)
			m.SetMapIndex(reflect.ValueOf(n.Content[i].Value).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	default:
		d.scalar(n, path, v)
	}
}

func (d *decoder) scalar(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.es.add(d.file, n, path, "want %s, got %s", want(v.Type()), describe(n))
		return
	}
	s := n.Value
	switch {
	case v.Type() == durationType:
		dur, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			d.es.add(d.file, n, path, "want a duration such as 500ms, 2s or 1m30s, got %q", s)
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(s)))
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "yes", "on":
			b, err = true, nil
		case "no", "off":
			b, err = false, nil
		}
		if err != nil {
			d.es.add(d.file, n, path, "want true or false, got %q", s)
			return
		}
		v.SetBool(b)
	case v.CanInt():
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
		if err != nil {
			if _, ferr := strconv.ParseFloat(s, 64); ferr == nil && n.Tag != "!!int" {
				d.es.add(d.file, n, path, "want a whole number, got %s", s)
			} else if errors.Is(err, strconv.ErrRange) {
				d.es.add(d.file, n, path, "%s is out of range (%d to %d)", s, minInt(v.Type().Bits()), maxInt(v.Type().Bits()))
			} else {
				d.es.add(d.file, n, path, "want a whole number, got %q", s)
			}
			return
		}
		v.SetInt(i)
	case v.CanUint():
		u, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
		if err != nil {
			d.es.add(d.file, n, path, "want a non-negative whole number, got %q", s)
			return
		}
		v.SetUint(u)
	case v.CanFloat():
		f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), v.Type().Bits())
		if err != nil {
			d.es.add(d.file, n, path, "want a number, got %q", s)
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("yamlerr: unsupported field kind %s at %s", v.Kind(), path))
	}
}

func minInt(bits int) int64 { return math.MinInt64 >> (64 - bits) }
func maxInt(bits int) int64 { return math.MaxInt64 >> (64 - bits) }

// want says what a Go type expects, in the user's terms.
func want(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 2s"
	case t.Kind() == reflect.String:
		return "text"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	}
	return "a value"
}

type field struct {
	name  string
	index int
}

func fields(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, field{name, i})
	}
	return out
}

func (d *decoder) structure(n *yaml.Node, path string, v reflect.Value) {
	fs := fields(v.Type())
	if n.Kind != yaml.MappingNode {
		names := make([]string, len(fs))
		for i, f := range fs {
			names[i] = f.name
		}
		d.es.add(d.file, n, path, "want a mapping with %s, got %s", strings.Join(names, ", "), describe(n))
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		at := slices.IndexFunc(fs, func(f field) bool { return f.name == k.Value })
		if at < 0 {
			d.unknown(k, path, fs)
			continue
		}
		if prev := seen[k.Value]; prev != nil {
			d.es.add(d.file, k, join(path, k.Value), "given twice (first on line %d)", prev.Line)
			continue
		}
		seen[k.Value] = k
		d.value(val, join(path, k.Value), v.Field(fs[at].index))
	}
}

// unknown reports an unknown field, suggesting a close known one (which
// is then marked as failed, since its value went to the misspelt key).
func (d *decoder) unknown(k *yaml.Node, path string, fs []field) {
	names := make([]string, len(fs))
	best, bestDist := "", 3
	for i, f := range fs {
		names[i] = f.name
		if dist := Distance(strings.ToLower(k.Value), f.name); dist < bestDist {
			best, bestDist = f.name, dist
		}
	}
	if best != "" {
		d.es.add(d.file, k, join(path, k.Value), "unknown field; did you mean %s? (known fields: %s)", best, strings.Join(names, ", "))
		d.es.mark(join(path, best))
		return
	}
	d.es.add(d.file, k, join(path, k.Value), "unknown field (known fields: %s)", strings.Join(names, ", "))
}

// Distance is the Levenshtein distance of a and b (bytes), for suggesting
// the known name closest to a misspelt one.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Locate returns the node of a field path such as operators[1].state[0].key
// (the paths Decode reports) in a document, or the deepest node found on
// the way when the path goes further than the document (a field left out
// is reported at its parent), so that checks made after decoding can be
// reported with a line and column too. n may be a document node.
func Locate(n *yaml.Node, path string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	best := n
	if path == "" {
		return best
	}
	for _, part := range strings.Split(path, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			name = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		if n.Kind != yaml.MappingNode {
			return best
		}
		var next *yaml.Node
		for k := 0; k+1 < len(n.Content); k += 2 {
			if n.Content[k].Value == name {
				next = n.Content[k+1]
				best = n.Content[k]
				break
			}
		}
		if next == nil {
			return best
		}
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return best
			}
			n = n.Content[idx]
		}
		best = n
	}
	return best
}
