package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	aggrunner "github.com/hotcold/hotcold/agg/runner"
	"github.com/hotcold/hotcold/internal/progress"
	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/statemigrate"
	"github.com/hotcold/hotcold/ui"
)

func newMigrateCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Migrate operator state after a logic change, or rebuild it with a side job",
		Long: `A job writes an operator-graph manifest (hotcold-manifest.yaml) next to its state and
refuses to start when its logic no longer matches it. migrate compares manifests
(plan), rewrites saved state into the new schema when the operator graph and keys
are unchanged (apply), and drives a bypass rebuild otherwise (bypass).`,
		Example: `  hotcold migrate plan --from ./state/hotcold-manifest.yaml --to new.yaml
  hotcold migrate apply --state ./state --to new.yaml --out ./state-v2`,
	}
	c.AddCommand(newMigratePlanCmd(), newMigrateApplyCmd(), newMigrateBypassCmd())
	return c
}

// migrateExit is an error with a process exit code.
type migrateExit struct {
	err  error
	code int
}

func (e *migrateExit) Error() string { return e.err.Error() }
func (e *migrateExit) Unwrap() error { return e.err }
func (e *migrateExit) ExitCode() int { return e.code }

// readManifestArg reads a manifest file, or the manifest of a state
// directory.
func readManifestArg(path string) (*manifest.Manifest, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		m, err := statemigrate.ReadJobManifest(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s holds no manifest (%s) and no partition state p0, p1, ...: give the state.dir of a hotcold join or agg job that has run, or the manifest its command prints (hotcold join manifest --config / hotcold agg manifest --config): %w",
				path, manifest.FileName, err)
		}
		return m, err
	}
	return manifest.Read(path)
}

func newMigratePlanCmd() *cobra.Command {
	var from, to string
	var asJSON bool
	c := &cobra.Command{
		Use:   "plan",
		Short: "Show, per operator, whether saved state can be migrated to new logic",
		Long: `plan compares the manifest of saved state (--from: a manifest file or a state
directory) with the manifest of the new logic (--to) and prints a verdict per
operator with the reasons: unchanged, migrate (hotcold migrate apply: metadata
only, or a rewrite of the values), rebuild (hotcold migrate bypass), or fix
(the new manifest is not a valid successor).

Exit status: 0 for unchanged or migrate, 2 for rebuild, 3 for fix.`,
		Example: `  hotcold migrate plan --from ./state --to new.yaml
  hotcold migrate plan --from old.yaml --to new.yaml --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return errors.New("give --from (the saved state's manifest or state directory) and --to (the new logic's manifest)")
			}
			old, err := readManifestArg(from)
			if err != nil {
				return err
			}
			nm, err := manifest.Read(to)
			if err != nil {
				return err
			}
			p := statemigrate.NewPlan(old, nm)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(p); err != nil {
					return err
				}
			} else if err := p.Format(out); err != nil {
				return err
			}
			switch p.Verdict {
			case statemigrate.Rebuild:
				return &migrateExit{fmt.Errorf("the state needs a bypass rebuild (hotcold migrate bypass)"), 2}
			case statemigrate.Fix:
				return &migrateExit{fmt.Errorf("fix the new manifest %s and plan again", to), 3}
			}
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "manifest of the saved state, or its state directory")
	c.Flags().StringVar(&to, "to", "", "manifest of the new logic")
	c.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return c
}

func newMigrateApplyCmd() *cobra.Command {
	var stateDir, to, out, progressFlag string
	var every int64
	var asJSON bool
	c := &cobra.Command{
		Use:   "apply",
		Short: "Rewrite a stopped job's state (or a checkpoint) into the schema of new logic",
		Long: `apply streams the state in --state (a stopped job's state directory or a checkpoint;
it is never modified) into a new state directory --out in the schema of the
manifest --to, with progress, verification (row counts per operator, sample
decodes) and a manifest that marks new aggregates as counted from the migration
point. The output is built in OUT.partial and renamed when complete; re-running
a completed migration does nothing. Start the new job on --out.

--state may be a job's state root (the state.dir of hotcold join or hotcold agg,
one p<N> directory per partition): every partition is migrated, with progress
per partition, into OUT.partial/p<N>, and OUT.partial is renamed to OUT only
once all are complete, so the set is published together or not at all. Run the
same command again after a crash: complete partitions are not redone.`,
		Example: `  hotcold migrate apply --state ./state --to new.yaml --out ./state-v2
  hotcold migrate apply --state /var/lib/hotcold/refunds_by_city --to new.yaml --out /var/lib/hotcold/refunds_by_city-v2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stateDir == "" || to == "" || out == "" {
				return errors.New("give --state (the saved state), --to (the new logic's manifest) and --out (a new directory)")
			}
			old, err := readManifestArg(stateDir)
			if err != nil {
				return err
			}
			nm, err := manifest.Read(to)
			if err != nil {
				return err
			}
			plan := statemigrate.NewPlan(old, nm)
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			mode, err := progress.ModeFor(progressFlag, asJSON, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			rep := progress.New(cmd.ErrOrStderr(), mode)
			defer rep.Done()
			opts := statemigrate.ApplyOptions{ProgressEvery: every, Logger: log}
			if rep.Enabled() {
				opts.Progress = func(p statemigrate.ApplyProgress) {
					rep.Report(progress.Event{Op: "migrate " + filepath.Join(stateDir, p.Partition), Done: p.Keys, Unit: "keys",
						Detail: progress.Count(p.Rows) + " rows", Elapsed: p.Elapsed, Final: p.Done})
				}
			}
			if statemigrate.IsJobRoot(stateDir) {
				res, err := statemigrate.ApplyJob(cmd.Context(), stateDir, plan, out, opts)
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if res.AlreadyDone {
					fmt.Fprintf(w, "%s already holds this migration; nothing to do\n", res.Out)
				}
				for _, p := range slices.Sorted(maps.Keys(res.Partitions)) {
					fmt.Fprintf(w, "partition %-4s keys %d\n", p, res.Partitions[p].Keys)
				}
				_, err = fmt.Fprintf(w, "migrated state of %d partitions: %s (start the new job with --state-dir %s)\n", len(res.Partitions), res.Out, res.Out)
				return err
			}
			res, err := statemigrate.Apply(cmd.Context(), stateDir, plan, out, opts)
			if err != nil {
				return err
			}
			return printApply(cmd.OutOrStdout(), res)
		},
	}
	c.Flags().StringVar(&stateDir, "state", "", "state directory or checkpoint to migrate (read only)")
	c.Flags().StringVar(&to, "to", "", "manifest of the new logic")
	c.Flags().StringVar(&out, "out", "", "new state directory to write (must not exist)")
	c.Flags().Int64Var(&every, "progress-every", 0, "log progress every N keys (default 1000000)")
	c.Flags().StringVar(&progressFlag, "progress", "auto", "progress on stderr: auto (a bar on a terminal), always (plain lines off a terminal), never")
	c.Flags().BoolVar(&asJSON, "json", false, "progress on stderr as JSON events, one object a line")
	return c
}

func printApply(w io.Writer, res *statemigrate.ApplyResult) error {
	if res.AlreadyDone {
		fmt.Fprintf(w, "%s already holds this migration; nothing to do\n", res.Out)
	}
	for _, op := range res.Operators {
		fmt.Fprintf(w, "%-20s rows %-10d rewritten %-10d sampled %d\n", op.ID, op.Rows, op.Rewritten, op.Sampled)
	}
	for _, op := range res.Manifest.Operators {
		for _, t := range op.Tables {
			for _, c := range t.Columns {
				if c.CountedFrom != nil {
					fmt.Fprintf(w, "%s.%s counted from %s\n", op.ID, c.Name, c.CountedFrom.Time.Format("2006-01-02T15:04:05Z07:00"))
				}
			}
		}
	}
	_, err := fmt.Fprintf(w, "migrated state: %s (start the new job on it)\n", res.Out)
	return err
}

func newMigrateBypassCmd() *cobra.Command {
	var (
		cfg                statemigrate.BypassConfig
		jobs               statemigrate.CommandJobs
		to, format         string
		onlineConfig       string
		newConfig          string
		abort, status      bool
		brokers, inputs    []string
		onlineOut, sideOut string
	)
	c := &cobra.Command{
		Use:   "bypass",
		Short: "Rebuild a job's state with a side job running the new logic, then switch the online job over",
		Long: `bypass runs the bypass-rebuild workflow, resuming where it stopped:

  1. start a side job with the new logic from the earliest offsets, into its own
     state (WORK-DIR/side-state) and its own output topic;
  2. watch its consumer lag (kadm) until it has caught up;
  3. compare its output with the online job's (merged changelogs, a sample diff);
  4. stop the online job at a committed state;
  5. bring both jobs to the same offsets and checkpoint the side job's state;
  6. check that the committed offsets match per partition, so that the switched job
     neither skips nor repeats input;
  7. start the online job with the new logic on the side job's state (with
     --retract-old-keys first retracting the keys the new logic no longer produces),
     and wait until it runs: a member of the online group whose lag falls or is at
     --caught-up-lag, within --switch-timeout. If it exits or shows no progress, it is
     stopped, the old job is restarted on its untouched state, the run is marked
     aborted and the command fails saying why.

Progress is kept in WORK-DIR/bypass.json: run the same command again after a crash
to resume (also after kill -9), --status to show it, and the same flags plus --abort
to stop the side job and restart the online job as it was.

The jobs are processes started from --old-cmd and --new-cmd, with the placeholders
{state}, {output}, {group}, {stop_at} (topic/partition=offset,..., or empty) and
{logic}. A job must take its state directory, output topic and consumer group from
them, stop by itself once its committed offsets reach {stop_at}, commit its offsets
to the group, and commit and exit on SIGTERM. --online-pid-file names the pid file of
the online job that runs now.`,
		Example: `  hotcold migrate bypass --work-dir ./bypass --brokers localhost:9092 --input orders,refunds \
    --online-state ./state --online-output refunds_by_city --online-group refunds_by_city \
    --online-pid-file ./job.pid --side-output refunds_by_city_v2 --side-group refunds_by_city_v2 \
    --to new.yaml --old-cmd './job --state {state} --output {output} --group {group} --stop-at {stop_at}' \
    --new-cmd './job-v2 --state {state} --output {output} --group {group} --stop-at {stop_at}'
  hotcold migrate bypass --work-dir ./bypass --status
  hotcold migrate bypass --work-dir ./bypass ... --abort
  hotcold migrate bypass ... --online-config join.yaml --new-config join-v2.yaml \
    --old-cmd 'hotcold join --config join.yaml --state-dir {state} --output-topic {output} --group {group} --stop-at {stop_at}' \
    --new-cmd 'hotcold join --config join-v2.yaml --state-dir {state} --output-topic {output} --group {group} --stop-at {stop_at}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.WorkDir == "" {
				return errors.New("give --work-dir: the directory that keeps the workflow's progress and the side job's state")
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			out := cmd.OutOrStdout()
			if !status {
				// The log goes to WORK-DIR/bypass.log too, and the arguments
				// of a run to WORK-DIR/bypass-args.json: hotcold ui shows the
				// log stage by stage and resumes or aborts with them.
				lf, err := ui.AppendBypassLog(cfg.WorkDir)
				if err != nil {
					return fmt.Errorf("--work-dir %s: %w", cfg.WorkDir, err)
				}
				defer lf.Close()
				log = slog.New(slog.NewTextHandler(io.MultiWriter(cmd.ErrOrStderr(), lf), nil))
				if !abort {
					if err := ui.SaveBypassArgs(cfg.WorkDir, bypassArgs(cmd)); err != nil {
						return fmt.Errorf("--work-dir %s: %w", cfg.WorkDir, err)
					}
				}
			}
			if status {
				b, err := os.ReadFile(filepath.Join(cfg.WorkDir, "bypass.json"))
				if err != nil {
					return fmt.Errorf("no bypass in %s: %w", cfg.WorkDir, err)
				}
				_, err = out.Write(b)
				return err
			}
			f, err := row.ParseFormat(format)
			if err != nil {
				return err
			}
			cfg.Brokers, cfg.InputTopics, cfg.Logger = brokers, inputs, log
			cfg.OnlineOutput = statemigrate.Output{Topic: onlineOut, Format: f}
			cfg.SideOutput = statemigrate.Output{Topic: sideOut, Format: f}
			if abort {
				// An abort compares no outputs: it needs neither manifest
				// (without this, --abort failed NewBypass's check for the
				// output schemas). With them it can undo a retraction.
				cfg.SkipCompare = true
				cfg.RetractOldKeys = false
			}
			if !cfg.SkipCompare || cfg.RetractOldKeys || abort && (to != "" || newConfig != "") {
				err := bypassSchemas(&cfg, to, onlineConfig, newConfig)
				if abort && err != nil {
					// Only needed to undo a retraction.
					log.Warn("bypass: no output schemas for the abort", "err", err)
				} else if err != nil {
					return err
				}
			}
			jobs.Dir, jobs.Logger, jobs.OnlineStateDir = cfg.WorkDir, log, cfg.OnlineStateDir
			cfg.Jobs = &jobs
			b, err := statemigrate.NewBypass(cfg)
			if err != nil {
				return err
			}
			var st *statemigrate.Status
			if abort {
				st, err = b.Abort(cmd.Context())
			} else {
				st, err = b.Run(cmd.Context())
			}
			if st != nil {
				fmt.Fprintf(out, "bypass in %s: stage %s", cfg.WorkDir, st.Stage)
				if st.Aborted {
					fmt.Fprint(out, " (aborted)")
				}
				fmt.Fprintln(out)
			}
			if err != nil {
				return fmt.Errorf("%w\n(run the same command again to resume, or add --abort)", err)
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&cfg.WorkDir, "work-dir", "", "directory for the workflow's progress, the side job's state and its checkpoint")
	fl.StringSliceVar(&brokers, "brokers", []string{"localhost:9092"}, "Kafka seed brokers")
	fl.StringSliceVar(&inputs, "input", nil, "the jobs' input topics")
	fl.StringVar(&cfg.OnlineStateDir, "online-state", "", "state directory of the online job (never modified)")
	fl.StringVar(&onlineOut, "online-output", "", "output topic of the online job")
	fl.StringVar(&cfg.OnlineGroup, "online-group", "", "consumer group of the online job")
	fl.StringVar(&jobs.OnlinePIDFile, "online-pid-file", "", "pid file of the running online job (stage 4 sends it SIGTERM)")
	fl.StringVar(&sideOut, "side-output", "", "output topic of the side job")
	fl.StringVar(&cfg.SideGroup, "side-group", "", "consumer group of the side job")
	fl.StringVar(&cfg.NewStateDir, "new-state", "", "state directory of the online job after the switch (default WORK-DIR/online-state)")
	fl.StringVar(&to, "to", "", "manifest of the new logic (for the output check of an aggregation; or give --online-config and --new-config)")
	fl.StringVar(&onlineConfig, "online-config", "", "config file of the online job (hotcold join or agg): the output check reads its output with the schema and format it declares")
	fl.StringVar(&newConfig, "new-config", "", "config file of the new logic (hotcold join or agg), for the output check")
	fl.StringVar(&jobs.Old, "old-cmd", "", "command line of the job with the old logic")
	fl.StringVar(&jobs.New, "new-cmd", "", "command line of the job with the new logic")
	fl.StringVar(&format, "format", string(row.FormatChangelogJSON), "encoding of both output topics")
	fl.Int64Var(&cfg.CaughtUpLag, "caught-up-lag", 0, "total lag at or below which the side job counts as caught up")
	fl.DurationVar(&cfg.PollInterval, "poll", time.Second, "how often to check the side job's lag")
	fl.Float64Var(&cfg.MaxMismatch, "max-mismatch", 0, "fraction of compared output rows that may differ")
	fl.BoolVar(&cfg.SkipCompare, "skip-compare", false, "skip the output check (stage 3)")
	fl.BoolVar(&cfg.AcceptUncompared, "accept-uncompared", false, "let the output check (stage 3) pass when it compared no row (the outputs share no key, e.g. after a key change); without it that fails")
	fl.DurationVar(&cfg.SwitchTimeout, "switch-timeout", 2*time.Minute, "how long stage 7 waits for the switched job to show it runs (a member of the online group whose lag falls or is at --caught-up-lag); otherwise it is stopped and the old job restarted")
	fl.BoolVar(&cfg.RetractOldKeys, "retract-old-keys", false, "at the switch, retract the keys of the online output the new logic no longer produces (tombstones for upsert-kafka, deletes for changelog formats; needs --to)")
	fl.DurationVar(&jobs.StopTimeout, "stop-timeout", time.Minute, "how long to wait for a job to stop after SIGTERM before SIGKILL")
	fl.BoolVar(&abort, "abort", false, "stop the side job and restart the online job as it was")
	fl.BoolVar(&status, "status", false, "print the workflow's progress and exit")
	return c
}

// bypassSchemas sets the output schemas of cfg from the online state's
// manifest and the new logic's (--to).
func bypassSchemas(cfg *statemigrate.BypassConfig, to, onlineConfig, newConfig string) error {
	if onlineConfig != "" || newConfig != "" {
		if onlineConfig == "" || newConfig == "" {
			return errors.New("give both --online-config and --new-config (the old and the new logic's hotcold join or agg config files)")
		}
		var err error
		if cfg.OnlineOutput.Schema, cfg.OnlineOutput.Format, err = configOutput(onlineConfig); err != nil {
			return fmt.Errorf("--online-config: %w", err)
		}
		if cfg.SideOutput.Schema, cfg.SideOutput.Format, err = configOutput(newConfig); err != nil {
			return fmt.Errorf("--new-config: %w", err)
		}
		return nil
	}
	if to == "" || cfg.OnlineStateDir == "" {
		return errors.New("give --online-config and --new-config (the jobs' config files), or --to (the new logic's manifest) and --online-state, or --skip-compare")
	}
	oldM, err := readManifestArg(cfg.OnlineStateDir)
	if err != nil {
		return err
	}
	newM, err := manifest.Read(to)
	if err != nil {
		return err
	}
	if cfg.OnlineOutput.Schema, err = statemigrate.OutputSchema(oldM); err != nil {
		return err
	}
	cfg.SideOutput.Schema, err = statemigrate.OutputSchema(newM)
	return err
}

// configOutput is the output schema and encoding of a hotcold join or
// hotcold agg config file.
func configOutput(path string) (*row.Schema, row.Format, error) {
	// Only the output is read: the runner is built over an empty state
	// directory, not checked against the config's state.dir.
	empty, err := os.MkdirTemp("", "hotcold-bypass-config-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(empty)
	jf, jerr := runner.ReadFile(path)
	if jerr == nil {
		jc, err := jf.Config(nil)
		if err != nil {
			return nil, "", err
		}
		jc.StateDir = empty
		r, err := runner.New(jc)
		if err != nil {
			return nil, "", err
		}
		return r.OutputSchema(), r.OutputFormat(), nil
	}
	af, aerr := aggrunner.ReadFile(path)
	if aerr != nil {
		return nil, "", fmt.Errorf("%s is neither a hotcold join config (%v) nor a hotcold agg config (%v)", path, jerr, aerr)
	}
	ac, err := af.Config()
	if err != nil {
		return nil, "", err
	}
	ac.StateDir = empty
	r, err := aggrunner.New(ac)
	if err != nil {
		return nil, "", err
	}
	return r.OutputSchema(), r.OutputFormat(), nil
}

// bypassArgs are the flags a bypass run was given, without --abort and
// --status, as arguments that run it again.
func bypassArgs(cmd *cobra.Command) []string {
	var args []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name == "abort" || f.Name == "status" {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+f.Name+"="+v)
			}
			return
		}
		args = append(args, "--"+f.Name+"="+f.Value.String())
	})
	return args
}
