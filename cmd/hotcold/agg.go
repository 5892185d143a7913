package main

import (
	"fmt"

	"github.com/spf13/cobra"

	aggrunner "github.com/hotcold/hotcold/agg/runner"
)

func newAggCmd() *cobra.Command {
	var rf runnerFlags
	c := &cobra.Command{
		Use:   "agg --config agg.yaml",
		Short: "Run an incremental group-by aggregation of a Kafka changelog topic",
		Long: `agg consumes a changelog topic (+I, -U, +U, -D: the output of 'hotcold join', a
CDC stream, ...), keeps one accumulator row per group in local Pebble state and
produces the changelog of the aggregate table (count, sum, min, max, avg,
first_value, last_value per group) to an output topic.

Each partition has its own state, so every row of a group must be in one input
partition: key the input by the group columns or by a subset of them.

It runs on the same runner core as 'hotcold join': a consumer group (with
--instance-id a static member that takes its partitions back at once after a
restart), state, consumed offsets and outputs committed atomically per poll
batch, a restart resuming from the offsets in state. SIGTERM or Ctrl-C finishes
the batch in hand, commits it and leaves the group. On an error nothing
pending is committed: the next start re-reads it. A record that does not
decode goes to dirty.policy: fail (default), skip or dead-letter.

Every partition state directory holds the job's manifest (written on first
start, derived from the config: 'hotcold agg manifest --config agg.yaml'
prints it). A start on state of another job, of other logic or without a
manifest is refused with the change and the command to run next.

The config file is documented in agg/testdata/agg.yaml.`,
		Example: `  hotcold agg --config agg.yaml
  hotcold agg --config agg.yaml --brokers kafka-1:9092,kafka-2:9092 --state-dir /var/lib/hotcold/refunds_by_city
  hotcold agg --config agg.yaml --instance-id refunds-by-city-2   # a second process of the group
  hotcold agg --config agg.yaml --stop-at refunds/0=1200,refunds/1=980   # process up to these offsets, then exit 0
  hotcold agg manifest --config agg.yaml   # print the state manifest the config describes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := rf.start(cmd.ErrOrStderr(), "the aggregation's", "agg/testdata/agg.yaml")
			if err != nil {
				return err
			}
			f, err := aggrunner.ReadFile(rf.config)
			if err != nil {
				return err
			}
			stop, err := rf.override(&f.Kafka, &f.State)
			if err != nil {
				return err
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			reg := runnerRegistry()
			cfg.Registerer = reg
			cfg.Logger = log
			cfg.StopAt = stop
			if rf.outTopic != "" {
				// Only where the outputs go: the state's manifest keeps
				// the config's output name, so that a bypass's side job
				// (another topic) builds state the switched job accepts.
				cfg.OutputTopic = rf.outTopic
			}
			r, err := aggrunner.New(cfg)
			if err != nil {
				return err
			}
			if f.Metrics.Listen != "" {
				stop, addr, err := serveJoinMetrics(f.Metrics.Listen, reg)
				if err != nil {
					return err
				}
				defer stop()
				log.Info("serving metrics", "url", "http://"+addr+"/metrics")
			}
			err = r.Run(cmd.Context())
			st := r.Stats()
			fmt.Fprintf(cmd.OutOrStdout(), "read %d records (%.0f/s): %d aggregated, %d skipped as dirty, %d dead-lettered; produced %d changes\n",
				st.Records, st.RecordsPerSecond, st.Aggregated, st.Skipped, st.DeadLettered, st.Outputs)
			return err
		},
	}
	c.AddCommand(newCheckpointCmd("agg", func(config string) (string, error) {
		f, err := aggrunner.ReadFile(config)
		if err != nil {
			return "", err
		}
		return f.State.Dir, nil
	}))
	fl := c.Flags()
	rf.register(fl, "the aggregation's")
	c.AddCommand(newRunnerManifestCmd("hotcold agg", "the aggregation's", "agg.yaml", aggManifest))
	return c
}
