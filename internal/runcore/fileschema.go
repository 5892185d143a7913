package runcore

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one mistake in a configuration file, at a YAML node.
type Problem struct {
	Line, Col int
	Path      string // YAML field path: kafka.group, left.columns[2].type
	Msg       string // what is wrong and how to fix it
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
