package main

import (
	"fmt"

	"github.com/spf13/cobra"

	aggrunner "github.com/hotcold/hotcold/agg/runner"
	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/manifest"
)

// newRunnerManifestCmd is `hotcold join manifest` / `hotcold agg
// manifest`: print the manifest a job derives from its config.
func newRunnerManifestCmd(cmdName, what, example string, derive func(path string) (*manifest.Manifest, error)) *cobra.Command {
	var config string
	c := &cobra.Command{
		Use:   "manifest --config " + example,
		Short: "Print the state manifest " + what + " config describes",
		Long: `manifest prints, as YAML, the manifest ` + cmdName + ` derives from its config: the job,
its stateful operators and the schema of their state (keys, columns with
types, nullability and defaults, the schema version). The job writes it into
every partition state directory (` + manifest.FileName + `) on first start and
refuses, naming the change, state whose manifest differs.

Give it to hotcold migrate: after changing the config, print the new
manifest and plan the migration of the saved state to it. It reads only the
config: nothing connects and no state is opened.`,
		Example: `  ` + cmdName + ` manifest --config ` + example + `
  ` + cmdName + ` manifest --config new-` + example + ` > new-manifest.yaml
  hotcold migrate plan --from ./state --to new-manifest.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config == "" {
				return fmt.Errorf("--config is required: pass %s YAML file", what)
			}
			m, err := derive(config)
			if err != nil {
				return err
			}
			out, err := m.Marshal()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	c.Flags().StringVar(&config, "config", "", what+" YAML config file (required)")
	return c
}

func joinManifest(path string) (*manifest.Manifest, error) {
	f, err := runner.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return f.Manifest()
}

func aggManifest(path string) (*manifest.Manifest, error) {
	f, err := aggrunner.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return f.Manifest()
}
