package runner

import (
	"fmt"

	"github.com/hotcold/hotcold/state"
)

// Manifest returns the manifest the runner writes into, and checks
// against, every partition state directory: the job (Config.Job), one join
// operator (Join.Name, its type, its inputs by name and its output) whose
// state is one table per input, namespace <name>/<input>, keyed by the
// join key, holding the input's columns with their types, nullability and
// defaults. Its version is the inputs' schema version (join.yaml's
// version:).
func (c *Config) Manifest() (*state.Manifest, error) {
	jc := c.Join
	name := jc.Name
	if name == "" {
		name = "join"
	}
	if jc.Left.Schema == nil || jc.Right.Schema == nil {
		return nil, fmt.Errorf("runner: Join.Left.Schema and Join.Right.Schema are required")
	}
	lv, rv := jc.Left.Schema.Version(), jc.Right.Schema.Version()
	if lv != rv {
		return nil, fmt.Errorf("runner: the left input's schema has version %d and the right's %d: the join's state has one version, give both schemas the same", lv, rv)
	}
	left, right := jc.Left.Name, jc.Right.Name
	if left == "" {
		left = "left"
	}
	if right == "" {
		right = "right"
	}
	output := c.OutputName
	if output == "" {
		output = c.OutputTopic
	}
	job := c.Job
	if job == "" {
		job = name
	}
	op := state.Operator{
		ID: name, Kind: state.KindJoin, JoinType: jc.Type.String(),
		Inputs: []string{left, right}, Output: output, Version: lv,
		Tables: []state.Table{
			{Namespace: name + "/" + left, Input: left, Key: append([]string(nil), jc.Left.Key...), Columns: state.ColumnsOf(jc.Left.Schema)},
			{Namespace: name + "/" + right, Input: right, Key: append([]string(nil), jc.Right.Key...), Columns: state.ColumnsOf(jc.Right.Schema)},
		},
	}
	m := &state.Manifest{Job: job, Operators: []state.Operator{op}}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("runner: the join's manifest: %w", err)
	}
	return m, nil
}
