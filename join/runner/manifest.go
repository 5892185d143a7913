package runner

import (
	"fmt"

	"github.com/hotcold/hotcold/manifest"
)

// Manifest returns the manifest the runner writes into, and checks
// against, every partition state directory: the job (Config.Job) and its
// one join operator (manifest.FromJoin: the join's name and type, its
// inputs by name, OutputName as its output, one state table per input with
// the input's columns, types, nullability and defaults). Its version is
// the inputs' schema version (join.yaml's version:).
func (c *Config) Manifest() (*manifest.Manifest, error) {
	output := c.OutputName
	if output == "" {
		output = c.OutputTopic
	}
	op, err := manifest.FromJoin(c.Join, output)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	job := c.Job
	if job == "" {
		job = op.ID
	}
	m := &manifest.Manifest{Job: job, Operators: []manifest.Operator{op}}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("runner: the join's manifest: %w", err)
	}
	return m, nil
}
