package runcore

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hotcold/hotcold/internal/yamlerr"
	"gopkg.in/yaml.v3"
)

// Problem is one mistake in a configuration file, at a YAML node.
type Problem struct {
	Line, Col int
	Path      string // YAML field path: kafka.group, left.columns[2].type
	Msg       string // what is wrong and how to fix it
}

// CheckShape walks the YAML document against the fields of v's type (by
// their yaml tags) and reports, with positions and YAML paths, unknown
// keys (with the nearest known one), values of the wrong shape (a list
// where a mapping is wanted, ...) and scalars that do not parse as the
// field's type. The messages never name Go types.
func CheckShape(n *yaml.Node, t reflect.Type, path string, out *[]Problem) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			CheckShape(c, t, path, out)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		// Not followed (an alias bomb would make the walk exponential);
		// Decode checks what it expands to, with yaml's own guard.
		return
	}
	add := func(n *yaml.Node, p, format string, a ...any) {
		*out = append(*out, Problem{n.Line, n.Column, p, fmt.Sprintf(format, a...)})
	}
	if n.Tag == "!!null" {
		return // an empty value: the field's default
	}
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		if n.Kind != yaml.ScalarNode {
			add(n, path, "want a duration such as 30s, 1m or 2h")
		} else if _, err := time.ParseDuration(n.Value); err != nil {
			add(n, path, "%q is not a duration: write it like 30s, 1m or 2h", n.Value)
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			add(n, path, "want a mapping of %s (key: value lines), not %s", strings.Join(yamlKeys(t), ", "), nodeKind(n))
			return
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if name := yamlName(f); name != "" {
				fields[name] = f.Type
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			ft, ok := fields[k.Value]
			if !ok {
				hint := ""
				if near := nearest(k.Value, yamlKeys(t)); near != "" {
					hint = fmt.Sprintf(": did you mean %s?", near)
				}
				where := "at the top level"
				if path != "" {
					where = "in " + path
				}
				add(k, p, "unknown field %q %s%s (known: %s)", k.Value, where, hint, strings.Join(yamlKeys(t), ", "))
				continue
			}
			if seen[k.Value] {
				add(k, p, "appears twice: keep one")
			}
			seen[k.Value] = true
			CheckShape(v, ft, p, out)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			add(n, path, "want a list ([a, b] or lines starting with -), not %s", nodeKind(n))
			return
		}
		for i, c := range n.Content {
			CheckShape(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			add(n, path, "want a single value, not %s", nodeKind(n))
			return
		}
		switch t.Kind() {
		case reflect.Int:
			if _, err := strconv.Atoi(n.Value); err != nil {
				add(n, path, "%q is not a whole number", n.Value)
			}
		case reflect.Bool:
			if n.Value != "true" && n.Value != "false" {
				add(n, path, "%q is not true or false", n.Value)
			}
		}
	}
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if n := yamlName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("the value %q", n.Value)
}

// nearest returns the known key closest to s by edit distance, if close.
func nearest(s string, known []string) string {
	best, bestD := "", len(s)/2+2
	for _, k := range known {
		if d := yamlerr.Distance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// Lookup returns the node at a YAML path (a.b[2].c) below root, or the
// deepest node on the way there, so that a missing field is reported at its
// parent.
func Lookup(root *yaml.Node, path string) *yaml.Node {
	n := root
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, part := range strings.Split(path, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			name = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		next := (*yaml.Node)(nil)
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == name {
					next = n.Content[i+1]
				}
			}
		}
		if next == nil {
			return n
		}
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return n
			}
			n = n.Content[idx]
		}
	}
	return n
}
