package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/internal/progress"
	"github.com/hotcold/hotcold/mock"
)

// mockExitError makes the process exit with a code (1: a case failed).
type mockExitError struct {
	code int
	msg  string
}

func (e *mockExitError) Error() string { return e.msg }
func (e *mockExitError) ExitCode() int { return e.code }

func newMockCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mock",
		Short: "Sample, replay and test mock cases against a streaming job",
		Long: `mock debugs a streaming job with files and one command: sample real messages
into a case, edit them, replay them in a controlled order and pace into
isolated per-run topics, merge the job's changelog output into a table and
compare it with the expected table.

A case is a directory with case.yaml (or one YAML file): sources and their
messages (JSONL), the schedule, one sink or several (topic, format, columns,
primary key), and for each sink the expected table and/or its expected
changelog (every change per key, +I -U +U -D). A case passes only when every
sink passes; an empty sink needs evidence that the job read the inputs (a
passed ready check, another sink's output), else the verdict is UNKNOWN.
Results are kept in a store: a local directory, or s3://bucket for a team.`,
		Example: `  hotcold mock sample --brokers kafka:9092 --topic orders --last 20 -o cases/refund/orders.jsonl
  hotcold mock check cases/refund
  hotcold mock run cases/refund --brokers kafka:9092 --exec './start-job.sh'
  hotcold mock test cases/* --brokers kafka:9092 --junit mock-junit.xml`,
	}
	cmd.AddCommand(newMockSampleCmd(), newMockCheckCmd(), newMockRunCmd(), newMockTestCmd(), newMockPushCmd(), newMockPullCmd())
	return cmd
}

func mockKafka(brokers []string) ([]kgo.Opt, error) {
	var seeds []string
	for _, b := range brokers {
		for _, s := range strings.Split(b, ",") {
			if s = strings.TrimSpace(s); s != "" {
				seeds = append(seeds, s)
			}
		}
	}
	if len(seeds) == 0 {
		return nil, errors.New("give the Kafka brokers with --brokers host:port")
	}
	return []kgo.Opt{kgo.SeedBrokers(seeds...)}, nil
}

func mockLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// parseMockTime reads RFC 3339, "2006-01-02 15:04:05" (UTC), a date, epoch
// milliseconds, or a duration meaning that long ago.
func parseMockTime(s string, now time.Time) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--from-time %q: want RFC 3339 (2026-11-22T10:00:00Z), \"2026-11-22 10:00:00\" (UTC), epoch milliseconds, or a duration ago such as 90m", s)
}

func newMockSampleCmd() *cobra.Command {
	var (
		brokers    []string
		o          mock.SampleOptions
		partitions []int
		fromTime   string
		out        string
		groupFree  bool
		verbose    bool
	)
	cmd := &cobra.Command{
		Use:   "sample --brokers HOST:PORT --topic TOPIC [--last N | --from-time T | --from-start]",
		Short: "Copy real messages of a topic into a case JSONL file, without a consumer group",
		Long: `sample reads messages of a topic from explicit offsets and writes them as JSONL
in the case message format (key, value, headers, timestamp, and an
informational origin). It never joins a consumer group and never commits
offsets, so it is safe against production topics. It stops at the end
offsets listed when it starts. Without --last, --from-time or --from-start it
takes the last 10 messages of each partition.`,
		Example: `  hotcold mock sample --brokers kafka:9092 --topic orders --last 20 -o cases/refund/orders.jsonl
  hotcold mock sample --brokers kafka:9092 --topic refunds --from-time "2026-11-22 10:00:00" --max 100 -o refunds.jsonl
  hotcold mock sample --brokers kafka:9092 --topic orders --partition 3 --from-time 15m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kopts, err := mockKafka(brokers)
			if err != nil {
				return err
			}
			if !groupFree {
				return errors.New("sampling never joins a consumer group; drop --group-free=false")
			}
			if o.Topic == "" {
				return errors.New("name the topic to sample with --topic")
			}
			if fromTime != "" {
				if o.FromTime, err = parseMockTime(fromTime, time.Now()); err != nil {
					return err
				}
			}
			for _, p := range partitions {
				o.Partitions = append(o.Partitions, int32(p))
			}
			o.Kafka = kopts
			o.Logger = mockLogger(cmd.ErrOrStderr(), verbose)
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
					return err
				}
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			n, err := mock.Sample(cmd.Context(), o, w)
			if err != nil {
				return err
			}
			if out != "" && out != "-" {
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d messages of %s to %s\n", n, o.Topic, out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&brokers, "brokers", nil, "Kafka bootstrap brokers, host:port (repeatable or comma-separated)")
	f.StringVar(&o.Topic, "topic", "", "topic to sample")
	f.IntSliceVar(&partitions, "partition", nil, "sample only these partitions (repeatable; default all)")
	f.IntVar(&o.Last, "last", 0, "the last N messages of each partition (default 10 when no other start is given)")
	f.StringVar(&fromTime, "from-time", "", "start at the first message at or after this time (RFC 3339, \"2006-01-02 15:04:05\" UTC, epoch ms, or a duration ago like 90m)")
	f.BoolVar(&o.FromStart, "from-start", false, "start at the earliest retained message")
	f.IntVar(&o.Max, "max", 1000, "stop after this many messages in total (0: no limit)")
	f.DurationVar(&o.Idle, "idle", 10*time.Second, "stop when no message arrives for this long")
	f.BoolVar(&groupFree, "group-free", true, "read without a consumer group and without committing offsets (always on)")
	f.StringVarP(&out, "out", "o", "", "write to this file (default stdout)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log progress to stderr")
	return cmd
}

func newMockCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check CASE...",
		Short: "Validate case files without running them",
		Long: `check loads every case and reports every problem with file, line and field;
for a valid case it prints the sources, the arrival order and the sink.`,
		Example: `  hotcold mock check cases/refund-before-order
  hotcold mock check cases/*`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			bad := 0
			for _, p := range args {
				c, err := mock.LoadCase(p)
				if err != nil {
					bad++
					fmt.Fprintf(w, "%s: INVALID\n%v\n", p, err)
					continue
				}
				var sinks []string
				for _, sk := range c.Sinks {
					key := "none (multiset)"
					if k := sk.Schema.KeyNames(); len(k) > 0 {
						key = strings.Join(k, ", ")
					}
					var expect []string
					if sk.Expect.HasRows {
						expect = append(expect, fmt.Sprintf("%d expected rows", len(sk.Expect.Rows)))
					}
					if sk.Expect.HasChangelog {
						expect = append(expect, fmt.Sprintf("%d expected changes", len(sk.Expect.Changelog)))
					}
					name := sk.Topic
					if sk.Name != sk.Topic {
						name = sk.Name + " on " + sk.Topic
					}
					sinks = append(sinks, fmt.Sprintf("sink %s (%s, key %s), %s", name, sk.Format, key, strings.Join(expect, ", ")))
				}
				fmt.Fprintf(w, "%s: ok: %d sources, %d messages, %s\n", c.Name, len(c.Sources), len(c.Steps()), strings.Join(sinks, "; "))
				var order []string
				var total time.Duration
				for _, st := range c.Steps() {
					total += st.Wait
					order = append(order, st.Source.Name)
				}
				if len(order) > 12 {
					order = append(order[:12], "...")
				}
				fmt.Fprintf(w, "  order: %s (%s of scheduled waits)\n", strings.Join(order, " "), total)
			}
			if bad > 0 {
				return &mockExitError{code: 1, msg: fmt.Sprintf("%d of %d cases are invalid", bad, len(args))}
			}
			return nil
		},
	}
}

// mockRunFlags are the flags shared by run and test.
type mockRunFlags struct {
	brokers   []string
	speed     float64
	fullSpeed bool
	shared    bool
	keep      bool
	runID     string
	timeout   time.Duration
	quiet     time.Duration
	store     string
	exec      string
	stopGrace time.Duration
	isolation string
	verbose   bool
	asJSON    bool
}

func (f *mockRunFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringSliceVar(&f.brokers, "brokers", nil, "Kafka bootstrap brokers, host:port (repeatable or comma-separated)")
	fs.Float64Var(&f.speed, "speed", 1, "scale the scheduled waits: 2 is twice as fast; 0 sends at full speed")
	fs.BoolVar(&f.fullSpeed, "full-speed", false, "send without waiting (same as --speed 0)")
	fs.BoolVar(&f.shared, "shared", false, "use the topics named in the case (they must exist) instead of isolated per-run topics")
	fs.BoolVar(&f.keep, "keep-topics", false, "keep the isolated per-run topics after the run")
	fs.StringVar(&f.runID, "run-id", "", "run id (prefix of isolated topics; default <case>-<time>-<random>)")
	fs.DurationVar(&f.timeout, "timeout", 0, "override expect.timeout: give up waiting for output this long after the last input")
	fs.DurationVar(&f.quiet, "quiet", 0, "override expect.quiet: output is complete after this long without a sink message")
	fs.StringVar(&f.store, "store", ".hotcold/mock", `where results (and pushed cases) are kept: a directory, file:///dir or s3://bucket?region=... ("" keeps nothing)`)
	fs.StringVar(&f.isolation, "isolation", "", "read the sink read_committed or read_uncommitted (default: the case's sink.isolation, else read_committed)")
	fs.DurationVar(&f.stopGrace, "stop-grace", 10*time.Second, "how long the --exec job has to stop after SIGINT before its process group is killed")
	fs.StringVar(&f.exec, "exec", "", "start this shell command as the job under test for each run; it gets HOTCOLD_SOURCE_<NAME>, HOTCOLD_SINK_TOPIC, HOTCOLD_BROKERS, HOTCOLD_RUN_ID")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "log progress to stderr")
	fs.BoolVar(&f.asJSON, "json", false, "replay progress on stderr as JSON events, one object a line (also without -v)")
}

func (f *mockRunFlags) options(cmd *cobra.Command) (mock.Options, error) {
	kopts, err := mockKafka(f.brokers)
	if err != nil {
		return mock.Options{}, err
	}
	if f.speed < 0 {
		return mock.Options{}, fmt.Errorf("--speed %v: want a positive factor, or 0 for full speed", f.speed)
	}
	o := mock.Options{
		Kafka: kopts, Speed: f.speed, FullSpeed: f.fullSpeed || f.speed == 0, Shared: f.shared, KeepTopics: f.keep,
		RunID: f.runID, Timeout: f.timeout, Quiet: f.quiet, Logger: mockLogger(cmd.ErrOrStderr(), f.verbose),
	}
	if o.FullSpeed {
		o.Speed = 1
	}
	o.Brokers = strings.Join(f.brokers, ",")
	if f.isolation != "" {
		iso, err := mock.ParseIsolation(f.isolation)
		if err != nil {
			return mock.Options{}, fmt.Errorf("--isolation: %w", err)
		}
		o.Isolation = iso
	}
	if f.exec != "" {
		o.StartJob = mock.ExecJob(f.exec, strings.Join(f.brokers, ","), f.stopGrace, cmd.ErrOrStderr(), cmd.ErrOrStderr())
		o.StopTimeout = 2*f.stopGrace + 5*time.Second
	}
	if f.verbose || f.asJSON {
		o.Progress = replayProgress(cmd.ErrOrStderr(), f.asJSON)
	}
	return o, nil
}

// replayProgress shows the progress of replays on w: a bar per case on a
// terminal, plain lines otherwise, JSON events when asJSON.
func replayProgress(w io.Writer, asJSON bool) func(mock.Progress) {
	mode, _ := progress.ModeFor("always", asJSON, w)
	rep := progress.New(w, mode)
	var (
		mu    sync.Mutex
		start = map[string]time.Time{}
	)
	return func(p mock.Progress) {
		mu.Lock()
		t0, ok := start[p.Case]
		if !ok {
			t0 = time.Now()
			start[p.Case] = t0
		}
		mu.Unlock()
		rep.Report(progress.Event{Op: "replay " + p.Case, Done: int64(p.Sent), Total: int64(p.Total), Unit: "messages",
			Detail: progress.Count(int64(p.Received)) + " received", Elapsed: time.Since(t0), Final: p.Final})
	}
}

func (f *mockRunFlags) openStore(ctx context.Context) (*mock.Store, error) {
	if f.store == "" {
		return nil, nil
	}
	return mock.OpenStore(ctx, f.store)
}

// mockLoad loads a case from a path, or "store:NAME" from the store.
func mockLoad(store *mock.Store) func(ctx context.Context, name string) (*mock.Case, error) {
	return func(ctx context.Context, name string) (*mock.Case, error) {
		if n, ok := strings.CutPrefix(name, "store:"); ok {
			if store == nil {
				return nil, fmt.Errorf("%s: give --store to load stored cases", name)
			}
			return store.LoadCase(ctx, n)
		}
		return mock.LoadCase(name)
	}
}

func newMockRunCmd() *cobra.Command {
	var f mockRunFlags
	cmd := &cobra.Command{
		Use:   "run CASE --brokers HOST:PORT",
		Short: "Replay one case through Kafka and compare the job's output",
		Long: `run creates isolated per-run topics named "<run id>.<topic>" (or, with
--shared, uses the case's topics), starts the job with --exec if given, sends
the messages in the scheduled order with the scheduled waits, reads every sink
topic until they are quiet (or the timeout passes), merges each changelog into a
table and compares it with the sink's expected table and changelog. The inputs as sent, the raw
output, the merged table and the diff are kept in --store.

CASE is a case directory, a case YAML file, or store:NAME for a case pushed to
--store. Exit status 1 means the case failed or its verdict is unknown.
--exec gets HOTCOLD_SOURCE_<NAME>, HOTCOLD_SINK_TOPIC (the first sink),
HOTCOLD_SINK_<NAME> (every sink), HOTCOLD_TOPIC_<TOPIC>, HOTCOLD_BROKERS and
HOTCOLD_RUN_ID.`,
		Example: `  hotcold mock run cases/refund-before-order --brokers kafka:9092 --exec 'flink run -d job.jar --orders $HOTCOLD_SOURCE_ORDERS --sink $HOTCOLD_SINK_TOPIC'
  hotcold mock run cases/refund-before-order --brokers kafka:9092 --shared --speed 10
  hotcold mock run store:refund-before-order --brokers kafka:9092 --store 's3://team-mock?region=eu-west-1'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			store, err := f.openStore(ctx)
			if err != nil {
				return err
			}
			if store != nil {
				defer store.Close()
			}
			c, err := mockLoad(store)(ctx, args[0])
			if err != nil {
				return err
			}
			res, runErr := mock.Run(ctx, c, o)
			if res == nil {
				return runErr
			}
			w := cmd.OutOrStdout()
			fmt.Fprint(w, res.Report())
			if store != nil {
				prefix, err := store.SaveResult(ctx, res)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "stored at %s\n", store.Where(prefix))
			}
			if runErr != nil {
				return runErr
			}
			if res.Verdict == mock.Unknown {
				return &mockExitError{code: 1, msg: fmt.Sprintf("case %s did not pass: verdict unknown: %s", res.Case, res.Reason)}
			}
			if !res.Passed() {
				return &mockExitError{code: 1, msg: fmt.Sprintf("case %s failed: %s", res.Case, res.Reason)}
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newMockTestCmd() *cobra.Command {
	var (
		f     mockRunFlags
		junit string
	)
	cmd := &cobra.Command{
		Use:   "test CASE... --brokers HOST:PORT",
		Short: "Run many cases, print a pass/fail table and write JUnit XML",
		Long: `test runs every case one after another as "mock run" does, prints a pass/fail
table and the diff of every failing case, optionally writes JUnit XML for CI,
and exits with status 1 if any case failed or could not run.`,
		Example: `  hotcold mock test cases/* --brokers kafka:9092 --exec ./start-job.sh --junit mock-junit.xml
  hotcold mock test store:refund-before-order store:late-payment --brokers kafka:9092 --store s3://team-mock?region=eu-west-1`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			if f.runID != "" && len(args) > 1 {
				return errors.New("--run-id names one run; drop it when testing several cases")
			}
			store, err := f.openStore(ctx)
			if err != nil {
				return err
			}
			if store != nil {
				defer store.Close()
			}
			w := cmd.OutOrStdout()
			rep, err := mock.RunSuite(ctx, args, mock.SuiteOptions{Run: o, Store: store, Load: mockLoad(store),
				OnResult: func(r *mock.Result) {
					fmt.Fprintf(cmd.ErrOrStderr(), "%-5s %s\n", strings.ToUpper(string(r.Verdict)), r.Case)
				}})
			if err != nil {
				return err
			}
			fmt.Fprintln(w)
			if err := rep.WriteTable(w); err != nil {
				return err
			}
			if junit != "" {
				if err := writeMockJUnit(rep, junit); err != nil {
					return err
				}
				fmt.Fprintf(w, "JUnit XML written to %s\n", junit)
			}
			if n := rep.Failed(); n > 0 {
				return &mockExitError{code: 1, msg: fmt.Sprintf("%d of %d cases failed", n, len(rep.Results))}
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&junit, "junit", "", "write JUnit XML to this file")
	return cmd
}

func writeMockJUnit(rep *mock.Report, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteJUnit(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func newMockPushCmd() *cobra.Command {
	var store string
	cmd := &cobra.Command{
		Use:   "push CASE... --store URL",
		Short: "Upload cases to the store so a team can run them as store:NAME",
		Example: `  hotcold mock push cases/refund-before-order --store 's3://team-mock?region=eu-west-1'
  hotcold mock push cases/* --store /shared/mock`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := mock.OpenStore(ctx, store)
			if err != nil {
				return err
			}
			defer s.Close()
			for _, p := range args {
				c, err := mock.LoadCase(p)
				if err != nil {
					return err
				}
				prefix, err := s.SaveCase(ctx, c)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "pushed %s to %s (run it as store:%s)\n", c.Name, s.Where(prefix), c.Name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&store, "store", ".hotcold/mock", "the store: a directory, file:///dir or s3://bucket?region=...")
	return cmd
}

func newMockPullCmd() *cobra.Command {
	var store, to string
	cmd := &cobra.Command{
		Use:   "pull NAME... --store URL [--to DIR]",
		Short: "Download stored cases into local directories to edit them",
		Example: `  hotcold mock pull refund-before-order --store 's3://team-mock?region=eu-west-1' --to cases
  hotcold mock pull --store /shared/mock    # without names: list the stored cases`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := mock.OpenStore(ctx, store)
			if err != nil {
				return err
			}
			defer s.Close()
			if len(args) == 0 {
				names, err := s.Cases(ctx)
				if err != nil {
					return err
				}
				for _, n := range names {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
				return nil
			}
			for _, name := range args {
				c, err := s.LoadCase(ctx, name)
				if err != nil {
					return err
				}
				dir := filepath.Join(to, c.Name)
				for i, file := range c.Files() {
					n := file.Name
					if i == 0 {
						n = mock.CaseFile
					}
					p := filepath.Join(dir, filepath.FromSlash(n))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						return err
					}
					if err := os.WriteFile(p, file.Data, 0o644); err != nil {
						return err
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "pulled %s into %s\n", c.Name, dir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&store, "store", ".hotcold/mock", "the store: a directory, file:///dir or s3://bucket?region=...")
	cmd.Flags().StringVar(&to, "to", ".", "directory to write the cases into (each in its own subdirectory)")
	return cmd
}
