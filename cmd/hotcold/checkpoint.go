package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotcold/hotcold/internal/runcore"
	"github.com/hotcold/hotcold/statemigrate"
)

// newCheckpointCmd is `hotcold join checkpoint` / `hotcold agg checkpoint`:
// kind is "join" or "agg"; stateDir reads state.dir from a config file.
func newCheckpointCmd(kind string, stateDir func(config string) (string, error)) *cobra.Command {
	var config, dir, out string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "checkpoint --config " + kind + ".yaml --out DIR",
		Short: "Take a consistent copy of a " + kind + " job's state, while it runs or stopped",
		Long: `checkpoint copies the state of the job (state.dir of --config, or --state-dir:
one p<N> directory per partition) into the new directory --out.

While the job runs, the job itself takes the copy: it answers on a control socket
beside its state (STATE-DIR/.hotcold-control.sock) with a Pebble checkpoint of every
partition it has open: the committed state with the input offsets it reflects, so a
job started on the copy resumes exactly there, neither skipping nor repeating
input. The job keeps running. Every partition on disk must be open in that process
(the job has been assigned its partitions); otherwise the command fails and says
which. When no job runs, the stopped state is copied the same way.

The copy is built in OUT.partial, opened read-only to check it, and renamed to OUT.
Use it to migrate state without stopping the job (hotcold migrate apply --state OUT),
to start a second job on it (--state-dir OUT), or as a backup.`,
		Example: `  hotcold ` + kind + ` checkpoint --config ` + kind + `.yaml --out /backup/` + kind + `-2026-12-02
  hotcold ` + kind + ` checkpoint --state-dir /var/lib/hotcold/refunds_by_city --out ./ckpt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("give --out: the new directory to write the checkpoint to")
			}
			if dir == "" {
				if config == "" {
					return fmt.Errorf("give --config (the %s's YAML file, for its state.dir) or --state-dir", kind)
				}
				d, err := stateDir(config)
				if err != nil {
					return err
				}
				dir = d
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			res, err := runcore.Checkpoint(ctx, dir, out)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, p := range slices.Sorted(maps.Keys(res.Offsets)) {
				fmt.Fprintf(w, "partition %-4s offsets %s\n", p, statemigrate.Offsets(res.Offsets[p]).String())
			}
			from := "copied from the stopped state"
			if res.LivePID != 0 {
				from = fmt.Sprintf("taken by the running job (pid %d)", res.LivePID)
			}
			_, err = fmt.Fprintf(w, "checkpoint of %d partitions of %s (%s): %s\n", len(res.Offsets), dir, from, res.Dir)
			return err
		},
	}
	fl := c.Flags()
	fl.StringVar(&config, "config", "", "the "+kind+"'s YAML config file (its state.dir is checkpointed)")
	fl.StringVar(&dir, "state-dir", "", "state directory to checkpoint, instead of state.dir of --config")
	fl.StringVar(&out, "out", "", "new directory for the checkpoint (must not exist)")
	fl.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	return c
}
