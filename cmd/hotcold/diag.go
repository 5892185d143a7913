package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/diag"
)

func newDiagCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "diag",
		Short: "Diagnose consumer lag of Kafka/Flink jobs: lag monitor, evidence collectors, rules, reports",
		Long: `diag watches the committed versus end offsets of consumer groups, and when a
group lags it reads the job's evidence for that window (Flink REST API,
Prometheus history, log files) and explains the lag: a restart and its root
exception (dirty data with the raw record, out of memory, checkpoint failure,
Kafka connectivity, a missing class), or without a restart the bottleneck
operator, GC pressure, data skew and hot methods, or a stuck or skewed
partition. Reports are JSON, a terminal table and one self-contained HTML page.`,
		Example: `  hotcold diag watch --brokers kafka:9092 --group orders-enrich --flink http://jobmanager:8081 --job 5d3f0b6c2a9e4f18b7c1d2e3f4a5b6c7
  hotcold diag run --flink http://jobmanager:8081 --job 5d3f0b6c2a9e4f18b7c1d2e3f4a5b6c7 --from 2026-11-22T10:00:00Z --to 2026-11-22T10:30:00Z --out ./report`,
	}
	c.AddCommand(newDiagRunCmd(), newDiagWatchCmd(), newDiagRulesCmd())
	return c
}

// diagSources are the flags shared by run and watch.
type diagSources struct {
	flink, prometheus, job, rules string
	logs                          []string
	logZone                       string
	flameWait                     time.Duration
	commitInterval, stallAfter    time.Duration
	lagWindow                     time.Duration
}

func (s *diagSources) addFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&s.flink, "flink", "", "Flink REST endpoint (http://jobmanager:8081), or file://DIR of recorded responses")
	f.StringVar(&s.job, "job", "", "Flink job ID (32 hex digits; see GET /jobs/overview)")
	f.StringVar(&s.prometheus, "prometheus", "", "Prometheus server (http://prometheus:9090), or file://DIR of recorded responses")
	f.StringSliceVar(&s.logs, "logs", nil, "log files or directories of the JobManager and TaskManagers (repeatable)")
	f.StringVar(&s.logZone, "log-zone", "UTC", "time zone of log timestamps that carry none (IANA name)")
	f.StringVar(&s.rules, "rules", "", "YAML keyword rule file replacing the built-in one (see 'hotcold diag rules')")
	f.DurationVar(&s.flameWait, "flame-graph-wait", 2*time.Second, "wait between flame graph requests while Flink samples")
	f.DurationVar(&s.commitInterval, "commit-interval", time.Minute, "longest normal gap between offset commits (Flink: checkpoint interval + duration)")
	f.DurationVar(&s.stallAfter, "stall-after", 5*time.Minute, "how long offsets may stand still with lag before STALL/STOP (at least 2 commit intervals)")
	f.DurationVar(&s.lagWindow, "lag-window", 10*time.Minute, "sliding window of the lag evaluation")
}

func (s *diagSources) lagConfig() diag.LagConfig {
	return diag.LagConfig{Window: s.lagWindow, CommitInterval: s.commitInterval, StallAfter: s.stallAfter}
}

func (s *diagSources) diagnoser(logger *slog.Logger) (*diag.Diagnoser, error) {
	cfg := diag.DiagnoserConfig{Logger: logger}
	if s.flink != "" {
		fc, err := diag.NewFlinkClient(s.flink, diag.FlinkOptions{FlameGraphWait: s.flameWait})
		if err != nil {
			return nil, fmt.Errorf("%w; give --flink http://jobmanager:8081 or file://DIR", err)
		}
		cfg.Jobs = fc
	}
	if s.prometheus != "" {
		pc, err := diag.NewPrometheusClient(s.prometheus, nil)
		if err != nil {
			return nil, fmt.Errorf("%w; give --prometheus http://prometheus:9090 or file://DIR", err)
		}
		cfg.Metrics = pc
	}
	if len(s.logs) > 0 {
		loc, err := time.LoadLocation(s.logZone)
		if err != nil {
			return nil, fmt.Errorf("--log-zone %q: %w (use an IANA name such as UTC or Europe/Berlin)", s.logZone, err)
		}
		cfg.Logs = &diag.LogFiles{Paths: s.logs, Location: loc}
	}
	if s.rules != "" {
		b, err := os.ReadFile(s.rules)
		if err != nil {
			return nil, fmt.Errorf("--rules: %w", err)
		}
		kr, err := diag.ParseKeywordRules(b)
		if err != nil {
			return nil, fmt.Errorf("--rules %s: %w (print the built-in file with 'hotcold diag rules' to start from)", s.rules, err)
		}
		cfg.Rules = diag.DefaultRules(diag.RuleConfig{}, kr)
	}
	return diag.NewDiagnoser(cfg)
}

func newDiagRunCmd() *cobra.Command {
	var (
		src            diagSources
		from, to, out  string
		lagFile, group string
		format         string
	)
	c := &cobra.Command{
		Use:   "run",
		Short: "Diagnose one window and write one report (JSON, terminal table, HTML)",
		Long: `run collects the evidence of one window from the given sources, runs the rules
and prints the report as a terminal table (or JSON with --format json). With
--out it also writes report.json, report.txt and report.html to that directory.
Sources that are not given or do not answer are listed as missing evidence;
the report still says what it can.

--flink and --prometheus also accept file://DIR, a directory of recorded API
responses (see diag.ReplayHandler), so a diagnosis can be replayed offline.

The verdict is HEALTHY, ANOMALY or UNKNOWN. UNKNOWN means no anomaly was found
but the window could not be judged: a source that was given could not be read
(Flink not reachable, unknown job, an answer that is not Flink's JSON, log
files that cannot be opened), or there were neither lag samples nor the job's
state. Exit codes: 0 HEALTHY or ANOMALY (the report says which), 1 an error
before any report, 3 UNKNOWN (the report is still printed and written).`,
		Example: `  # replay the recorded dirty-data incident shipped with the sources
  hotcold diag run --flink file://diag/testdata/scenarios/dirty/flink \
    --job 5d3f0b6c2a9e4f18b7c1d2e3f4a5b6c7 --logs diag/testdata/scenarios/dirty/logs \
    --lag-file diag/testdata/scenarios/dirty/lag.jsonl \
    --from 2026-11-22T10:00:00Z --to 2026-11-22T10:30:00Z --out /tmp/diag-report

  # a live job, its Prometheus history, the last hour
  hotcold diag run --flink http://jobmanager:8081 --prometheus http://prometheus:9090 \
    --job 9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b --from 2026-11-22T09:30:00Z --to 2026-11-22T10:30:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := parseWindow(from, to)
			if err != nil {
				return err
			}
			if src.flink == "" && src.prometheus == "" && len(src.logs) == 0 && lagFile == "" {
				return errors.New("nothing to diagnose: give at least one of --flink, --prometheus, --logs or --lag-file")
			}
			if src.flink != "" && src.job == "" {
				return errors.New("--flink needs --job: the Flink job ID (list them with GET <flink>/jobs/overview)")
			}
			if format != "text" && format != "json" {
				return fmt.Errorf("--format %q: want text or json", format)
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			d, err := src.diagnoser(logger)
			if err != nil {
				return err
			}
			q := diag.Query{JobID: src.job, Group: group, Window: w}
			if lagFile != "" {
				f, err := os.Open(lagFile)
				if err != nil {
					return fmt.Errorf("--lag-file: %w", err)
				}
				samples, err := diag.ReadSamples(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("--lag-file %s: %w (one JSON sample per line; see 'hotcold diag watch --samples')", lagFile, err)
				}
				q.Lag, _, err = diag.Replay(samples, src.lagConfig(), w)
				if err != nil {
					return err
				}
			}
			r := d.Diagnose(cmd.Context(), q)
			if out != "" {
				if _, err := diag.WriteReport(cmd.Context(), diag.DirSink{Dir: out}, "", r); err != nil {
					return fmt.Errorf("writing the report to %s: %w", out, err)
				}
			}
			if format == "json" {
				err = r.WriteJSON(cmd.OutOrStdout())
			} else {
				err = r.WriteText(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if out != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s, %s and %s\n", filepath.Join(out, "report.json"), filepath.Join(out, "report.txt"), filepath.Join(out, "report.html"))
			}
			if r.Verdict == diag.VerdictUnknown {
				return &diagUnknown{summary: r.Summary}
			}
			return nil
		},
	}
	src.addFlags(c)
	f := c.Flags()
	f.StringVar(&from, "from", "", "window start, RFC 3339 (2026-11-22T10:00:00Z); required")
	f.StringVar(&to, "to", "", "window end, RFC 3339; required")
	f.StringVar(&out, "out", "", "directory to write report.json, report.txt and report.html to")
	f.StringVar(&lagFile, "lag-file", "", "JSON lines of lag samples (as written by 'diag watch --samples') for the timeline")
	f.StringVar(&group, "group", "", "consumer group of the lag file to diagnose (default: all)")
	f.StringVar(&format, "format", "text", "stdout format: text or json")
	return c
}

// diagExitUnknown is the exit code of 'diag run' when the verdict is
// UNKNOWN: the report was printed, but a source could not be read and
// nothing else showed an anomaly.
const diagExitUnknown = 3

// diagUnknown is the error of an UNKNOWN verdict.
type diagUnknown struct{ summary string }

func (e *diagUnknown) Error() string {
	return "verdict UNKNOWN (exit code 3): the window could not be judged; make the sources under MISSING EVIDENCE readable and run again"
}
func (e *diagUnknown) ExitCode() int { return diagExitUnknown }

func parseWindow(from, to string) (diag.Window, error) {
	if from == "" || to == "" {
		return diag.Window{}, errors.New("give the window with --from and --to, in RFC 3339 (2026-11-22T10:00:00Z)")
	}
	f, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return diag.Window{}, fmt.Errorf("--from %q is not RFC 3339 (2026-11-22T10:00:00Z): %w", from, err)
	}
	t, err := time.Parse(time.RFC3339, to)
	if err != nil {
		return diag.Window{}, fmt.Errorf("--to %q is not RFC 3339 (2026-11-22T10:30:00Z): %w", to, err)
	}
	w := diag.Window{From: f, To: t}
	if err := w.Validate(); err != nil {
		return w, fmt.Errorf("%w: --to must be after --from", err)
	}
	return w, nil
}

func newDiagWatchCmd() *cobra.Command {
	var (
		src                diagSources
		brokers, groups    []string
		reports, events    string
		samples            string
		interval, lookback time.Duration
	)
	c := &cobra.Command{
		Use:   "watch",
		Short: "Watch consumer lag continuously and write a diagnosis report for each anomaly",
		Long: `watch samples the committed and end offsets of the groups every --interval,
evaluates them over a sliding window (statuses OK, WARN, STALL, STOP, REWIND in
the manner of Burrow, tolerant of Flink's checkpoint-period commits), and on
every anomaly start, worsening and end diagnoses the window and writes
report.json, report.txt and report.html to --reports (a gocloud.dev/blob URL).
It keeps running when a source does not answer; stop it with Ctrl-C.`,
		Example: `  hotcold diag watch --brokers kafka:9092 --group orders-enrich \
    --flink http://jobmanager:8081 --job 5d3f0b6c2a9e4f18b7c1d2e3f4a5b6c7 \
    --prometheus http://prometheus:9090 --reports file:///var/lib/hotcold/diag?create_dir=1 \
    --events - --samples /var/lib/hotcold/lag.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(brokers) == 0 {
				return errors.New("give the Kafka brokers with --brokers host:port")
			}
			if len(groups) == 0 {
				return errors.New("give at least one consumer group with --group (the Flink source's properties.group.id)")
			}
			if src.flink != "" && src.job == "" {
				return errors.New("--flink needs --job: the Flink job ID (list them with GET <flink>/jobs/overview)")
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			d, err := src.diagnoser(logger)
			if err != nil {
				return err
			}
			if reports == "" {
				abs, err := filepath.Abs("diag-reports")
				if err != nil {
					return err
				}
				reports = "file://" + filepath.ToSlash(abs) + "?create_dir=1"
			}
			sink, bucket, err := diag.OpenBlobSink(ctx, reports)
			if err != nil {
				return err
			}
			defer bucket.Close()
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
			if err != nil {
				return fmt.Errorf("kafka client: %w", err)
			}
			defer cl.Close()
			mcfg := diag.MonitorConfig{Groups: groups, Interval: interval, Lag: src.lagConfig(), Logger: logger}
			closers, err := openLogs(cmd.OutOrStdout(), events, samples, &mcfg)
			if err != nil {
				return err
			}
			defer closers()
			ch := make(chan diag.Event, 16)
			mcfg.Events = ch
			mon, err := diag.NewMonitor(kadm.NewClient(cl), mcfg)
			if err != nil {
				return err
			}
			watcher, err := diag.NewWatcher(diag.WatcherConfig{Diagnoser: d, History: mon, Sink: sink, JobID: src.job, Lookback: lookback, Logger: logger})
			if err != nil {
				return err
			}
			logger.Info("watching", "groups", strings.Join(groups, ","), "interval", interval.String(), "reports", reports)
			done := make(chan struct{})
			go func() {
				defer close(done)
				watcher.Run(ctx, ch)
			}()
			err = mon.Run(ctx)
			<-done
			return err
		},
	}
	src.addFlags(c)
	f := c.Flags()
	f.StringSliceVar(&brokers, "brokers", nil, "Kafka bootstrap brokers, host:port (repeatable or comma-separated)")
	f.StringSliceVar(&groups, "group", nil, "consumer group to watch (repeatable)")
	f.StringVar(&reports, "reports", "", "where to write reports: a gocloud.dev/blob URL (file:///dir?create_dir=1, s3://bucket); default ./diag-reports")
	f.StringVar(&events, "events", "", "write anomaly events as JSON lines to this file, or - for stdout")
	f.StringVar(&samples, "samples", "", "append every lag sample as a JSON line to this file (replay it with 'diag run --lag-file')")
	f.DurationVar(&interval, "interval", 10*time.Second, "time between two offset samples")
	f.DurationVar(&lookback, "lookback", 10*time.Minute, "how long before an anomaly's start its report begins")
	return c
}

func openLogs(stdout io.Writer, events, samples string, cfg *diag.MonitorConfig) (func(), error) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	switch events {
	case "":
	case "-":
		cfg.EventLog = stdout
	default:
		f, err := os.OpenFile(events, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return closeAll, fmt.Errorf("--events: %w", err)
		}
		files = append(files, f)
		cfg.EventLog = f
	}
	if samples != "" {
		f, err := os.OpenFile(samples, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			closeAll()
			return func() {}, fmt.Errorf("--samples: %w", err)
		}
		files = append(files, f)
		cfg.SampleLog = f
	}
	return closeAll, nil
}

func newDiagRulesCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rules",
		Short:   "Print the built-in keyword rule file, a starting point for --rules",
		Example: "  hotcold diag rules > my-rules.yaml\n  hotcold diag run --rules my-rules.yaml ...",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(diag.DefaultRulesYAML())
			return err
		},
	}
}
