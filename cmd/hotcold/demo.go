package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hotcold/hotcold/internal/demo"
	"github.com/hotcold/hotcold/internal/progress"
)

func newDemoCmd() *cobra.Command {
	var (
		cfg      demo.Config
		asJSON   bool
		markdown bool
		quiet    bool
		logLevel string
		keepDir  string
	)
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole hot/cold story on one machine and compare it with a full-retention job",
		Long: `demo generates a month of orders and refunds (deterministic), exports the cold
days as Parquet partitions as a warehouse would (DIR/warehouse/orders/dt=YYYY-MM-DD/part-0.parquet),
bulk-loads them into an embedded Pebble cold store, serves it with the lookup
sidecar on a unix socket, and starts an in-process Kafka. It feeds the month,
as a live stream, to the orders-refunds join twice: the hot/cold job (2 days
in local state, older orders through the sidecar) and a baseline keeping every
day in local state. Then a fresh job of each kind bootstraps from Kafka (the
baseline from the beginning, the hot/cold job from the hot window only), and
the refund total per city and day is aggregated over both joined streams.

It prints, for both jobs, records/s, state bytes, bootstrap time, where the
refunds found their orders (hot hits, cold hits, misses), the sidecar's
p50/p99 lookup latency, and whether the merged outputs are identical. It
exits with status 1 when they are not. Nothing needs to be installed but Go.

Progress goes to stderr (bars on a terminal, plain lines otherwise, JSON events
with --json). Without
--dir the files go to a temporary directory removed at exit; with --dir they
are kept for you to inspect (the directory must be new, empty, or a previous
demo's). --keep DIR keeps them too and adds what the web console shows: mock
cases in DIR/mock, a diagnosis report in DIR/diag, a small cities table
loaded twice into the cold store (to try a rollback), DIR/bypass for bypass
runs and the admin token of rollbacks in DIR/admin.token; then
"hotcold ui --data DIR" opens it all.`,
		Example: `  hotcold demo
  go run ./cmd/hotcold demo --days 30 --orders-per-day 20000
  hotcold demo --days 6 --orders-per-day 300 --dir ./demo-out   # small, and keep the files
  hotcold demo --keep ./demo && hotcold ui --data ./demo          # then open the console
  hotcold demo --json > demo.json
  hotcold demo --markdown >> BENCHMARKS.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && markdown {
				return errors.New("--json and --markdown exclude each other: pick one output format")
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			stderr := cmd.ErrOrStderr()
			cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			if !quiet {
				mode, _ := progress.ModeFor("always", asJSON, stderr)
				rep := progress.New(stderr, mode)
				defer rep.Done()
				cfg.Progress = rep.Report
			}
			if keepDir != "" {
				if cfg.Dir != "" && cfg.Dir != keepDir {
					return errors.New("--keep DIR already names the directory: drop --dir")
				}
				cfg.Dir = keepDir
			}
			keep := cfg.Dir != ""
			if !keep {
				tmp, err := os.MkdirTemp("", "hotcold-demo-")
				if err != nil {
					return fmt.Errorf("create a temporary directory: %w (pass --dir)", err)
				}
				defer os.RemoveAll(tmp)
				cfg.Dir = tmp
			}
			rep, err := demo.Run(cmd.Context(), cfg)
			if errors.Is(err, context.Canceled) {
				return errors.New("demo interrupted")
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case asJSON:
				err = rep.WriteJSON(out)
			case markdown:
				err = rep.WriteMarkdown(out)
			default:
				err = rep.WriteTable(out)
			}
			if err != nil {
				return err
			}
			if keepDir != "" {
				if err := seedConsole(cmd.Context(), keepDir); err != nil {
					return fmt.Errorf("write the console's demo data to %s: %w", keepDir, err)
				}
				fmt.Fprintf(stderr, "\nThe console's data is in %s (mock cases, a diagnosis report, the cold store): open it with\n  hotcold ui --data %s\n", keepDir, keepDir)
			}
			if keep && !quiet {
				fmt.Fprintf(stderr, "\nThe files are kept in %s: the warehouse export (warehouse/), the cold store (cold/) and the jobs' state (state/).\n"+
					"Serve the cold store:  hotcold serve --store pebble:%s --unix /tmp/hotcold.sock\n"+
					"and look an order up:  hotcold lookup --addr unix:///tmp/hotcold.sock --table orders 42\n", cfg.Dir, filepath.Join(cfg.Dir, "cold"))
			}
			if !rep.Identical {
				return errors.New("the hot/cold and baseline outputs differ (see the differences above): this is a bug, please report it with the --json output")
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.IntVar(&cfg.Days, "days", demo.DefaultDays, "days of orders and refunds (more than the 2 hot days)")
	fl.IntVar(&cfg.OrdersPerDay, "orders-per-day", demo.DefaultOrdersPerDay, "orders per day (about 15% are refunded)")
	fl.StringVar(&keepDir, "keep", "", "keep the files in this directory and add the web console's data (mock cases, a report); then run hotcold ui --data DIR")
	fl.StringVar(&cfg.Dir, "dir", "", "directory to write and keep the warehouse export, cold store and state in (default: a temporary directory removed at exit)")
	fl.Uint64Var(&cfg.Seed, "seed", demo.DefaultSeed, "seed of the generated data")
	fl.IntVar(&cfg.Partitions, "partitions", demo.DefaultPartitions, "partitions of every input topic (the joined topics, which the aggregation reads, have one)")
	fl.BoolVar(&asJSON, "json", false, "print the report as JSON, and the progress on stderr as JSON events")
	fl.BoolVar(&markdown, "markdown", false, "print the report as a markdown section (for BENCHMARKS.md)")
	fl.BoolVar(&quiet, "quiet", false, "do not show progress")
	fl.StringVar(&logLevel, "log-level", "error", "log level of the components: debug, info, warn or error")
	return c
}
