package mock

import (
	"encoding/json"
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// yamlToJSON converts an inline YAML value (a message or an expected row
// written in the case file) to JSON, keeping the order of mapping keys and
// the spelling of numbers, so that it reads exactly like a JSONL line.
func yamlToJSON(n *yaml.Node) ([]byte, error) {
	return appendYAMLJSON(nil, n, 0)
}

func appendYAMLJSON(dst []byte, n *yaml.Node, depth int) ([]byte, error) {
	if depth > 100 {
		return nil, fmt.Errorf("line %d: nested too deeply", n.Line)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return append(dst, "null"...), nil
		}
		return appendYAMLJSON(dst, n.Content[0], depth+1)
	case yaml.AliasNode:
		return appendYAMLJSON(dst, n.Alias, depth+1)
	case yaml.MappingNode:
		dst = append(dst, '{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				dst = append(dst, ',')
			}
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a mapping key must be a plain value", k.Line)
			}
			dst = appendJSONString(dst, k.Value)
			dst = append(dst, ':')
			var err error
			if dst, err = appendYAMLJSON(dst, n.Content[i+1], depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case yaml.SequenceNode:
		dst = append(dst, '[')
		for i, c := range n.Content {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendYAMLJSON(dst, c, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return append(dst, "null"...), nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, fmt.Errorf("line %d: %v", n.Line, err)
			}
			return strconv.AppendBool(dst, b), nil
		case "!!int", "!!float":
			if json.Valid([]byte(n.Value)) {
				return append(dst, n.Value...), nil
			}
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, fmt.Errorf("line %d: %v", n.Line, err)
			}
			b, err := json.Marshal(f)
			if err != nil {
				return appendJSONString(dst, n.Value), nil // .inf, .nan: as Flink writes them
			}
			return append(dst, b...), nil
		default:
			return appendJSONString(dst, n.Value), nil
		}
	}
	return nil, fmt.Errorf("line %d: unsupported YAML value", n.Line)
}
