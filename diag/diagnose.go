package diag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DiagnoserConfig configures a Diagnoser. Every source is optional: a
// missing one is reported as missing evidence.
type DiagnoserConfig struct {
	// Jobs reads the job's state (Flink REST). Nil: not collected.
	Jobs JobSource
	// Metrics is the metrics history (Prometheus). Nil: not collected.
	Metrics MetricsSource
	// Queries turn Metrics into evidence. Zero: Flink defaults.
	Queries PromQueries
	// Logs reads log files. Nil: not collected.
	Logs LogSource
	// Rules draw the findings, in report order. Nil: DefaultRules.
	Rules []Rule
	// Now stamps reports. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// Registerer registers the diagnoser's metrics. Nil: not registered.
	Registerer prometheus.Registerer
}

// Query says what to diagnose.
type Query struct {
	// JobID is the stream job (Flink job ID) that consumes the group.
	JobID string
	// Group is the consumer group; empty means every group in Lag.
	Group string
	// Window is the period to diagnose.
	Window Window
	// Lag holds lag evaluations of the window, oldest first; they become
	// the report's timeline and feed the source-side rules.
	Lag []GroupStatus
}

// Diagnoser collects evidence for a window and runs the rules over it. It
// is safe for concurrent use if its sources and rules are.
type Diagnoser struct {
	cfg      DiagnoserConfig
	log      *slog.Logger
	reports  prometheus.Counter
	missing  *prometheus.CounterVec
	findings *prometheus.CounterVec
}

// NewDiagnoser returns a Diagnoser for cfg.
func NewDiagnoser(cfg DiagnoserConfig) (*Diagnoser, error) {
	if cfg.Rules == nil {
		cfg.Rules = DefaultRules(RuleConfig{}, nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Diagnoser{
		cfg: cfg, log: cfg.Logger,
		reports: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "diag", Name: "reports_total", Help: "Diagnosis reports produced.",
		}),
		missing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "diag", Name: "missing_evidence_total",
			Help: "Pieces of evidence that could not be collected, by source.",
		}, []string{"source"}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "diag", Name: "findings_total", Help: "Findings produced, by rule.",
		}, []string{"rule"}),
	}
	if r := cfg.Registerer; r != nil {
		for _, c := range []prometheus.Collector{d.reports, d.missing, d.findings} {
			if err := r.Register(c); err != nil {
				return nil, fmt.Errorf("diag: registering diagnoser metrics: %w", err)
			}
		}
	}
	return d, nil
}

// Collect gathers the evidence for q. It never fails: whatever cannot be
// collected is listed in Evidence.Missing.
func (d *Diagnoser) Collect(ctx context.Context, q Query) *Evidence {
	ev := &Evidence{JobID: q.JobID, Group: q.Group, Window: q.Window, Sources: map[string]string{}}
	if err := q.Window.Validate(); err != nil {
		ev.AddMissing("diag", "window", err.Error())
		return ev
	}
	switch {
	case d.cfg.Jobs == nil:
		ev.AddMissing("flink", "job state, exceptions, checkpoints, operator load", "no Flink REST endpoint configured (give --flink URL)")
	case q.JobID == "":
		ev.AddMissing("flink", "job state, exceptions, checkpoints, operator load", "no job ID given (give --job ID; see GET /jobs/overview)")
	default:
		je, err := d.cfg.Jobs.CollectJob(ctx, q.JobID, q.Window)
		if err != nil {
			what := "job state, exceptions, checkpoints, operator load"
			if errors.Is(err, ErrUnknownJob) {
				what = "job " + q.JobID
			}
			ev.AddBlocking("flink", what, err.Error())
		} else {
			ev.Sources["job"] = "flink-rest"
			ev.Job, ev.Exceptions, ev.Checkpoints = je.Job, je.Exceptions, je.Checkpoints
			ev.Vertices, ev.TaskManagers, ev.FlameGraphs = je.Vertices, je.TaskManagers, je.FlameGraphs
			ev.Missing = append(ev.Missing, je.Missing...)
		}
	}
	if d.cfg.Metrics == nil {
		ev.AddMissing("prometheus", "metrics history", "no Prometheus configured (give --prometheus URL); operator load is a snapshot of now, not of the window")
	} else {
		ev.Sources["metrics"] = "prometheus"
		applyMetrics(ctx, d.cfg.Metrics, d.cfg.Queries, ev)
		// GC time the REST API could not give but Prometheus did is not missing.
		kept := ev.Missing[:0]
		for _, m := range ev.Missing {
			if id, ok := strings.CutPrefix(m.What, "GC time of TaskManager "); ok && m.Source == "flink" && ev.taskManager(id).GCTimeShare >= 0 {
				continue
			}
			kept = append(kept, m)
		}
		ev.Missing = kept
	}
	if d.cfg.Logs == nil {
		ev.AddMissing("logs", "log files", "no logs configured (give --logs PATH)")
	} else {
		res, err := d.cfg.Logs.Logs(ctx, q.Window)
		if err != nil {
			ev.AddBlocking("logs", "log files", err.Error())
		}
		if res != nil {
			ev.Logs = res.Entries
			if res.Unparsable > 0 {
				reason := fmt.Sprintf("%d line(s) could not be parsed and were skipped", res.Unparsable)
				if len(res.Bad) > 0 {
					b := res.Bad[0]
					reason += fmt.Sprintf("; first: %s:%d: %q", b.File, b.Line, b.Text)
				}
				ev.AddMissing("logs", "unparsable log lines", reason)
			}
			const maxListed = 20
			for i, u := range res.Unreadable {
				if i == maxListed {
					ev.AddMissing("logs", fmt.Sprintf("%d more unreadable part(s) of the logs", len(res.Unreadable)-maxListed), "see the ones above")
					break
				}
				ev.AddMissing("logs", "log "+u.Where(), u.Reason)
			}
			if res.Truncated {
				ev.AddMissing("logs", "log entries", "too many entries in the window; only the first were read (LogFiles.MaxEntries)")
			}
			ev.Sources["logs"] = fmt.Sprintf("%d file(s), %d entries in the window", res.Files, len(res.Entries))
		}
	}
	for _, gs := range q.Lag {
		if (q.Group == "" || gs.Group == q.Group) && q.Window.Contains(gs.Time) {
			ev.Lag = append(ev.Lag, gs)
		}
	}
	if len(ev.Lag) == 0 {
		ev.AddMissing("lag", "consumer lag", "no lag evaluations in the window (give --brokers and --group, or --lag-file)")
	}
	if r := ev.Restarts(); len(r) > 0 {
		ev.Notes = append(ev.Notes, fmt.Sprintf("the job failed or restarted %d time(s) in the window: the load rules (bottleneck, GC, skew, hot methods) were skipped, a restarting job's load is not its steady state", len(r)))
	}
	for _, m := range ev.Missing {
		d.missing.WithLabelValues(m.Source).Inc()
	}
	return ev
}

// Diagnose collects the evidence for q, runs the rules and builds the
// report. It never fails; missing evidence is listed in the report.
func (d *Diagnoser) Diagnose(ctx context.Context, q Query) *Report {
	ev := d.Collect(ctx, q)
	findings := d.RunRules(ctx, ev)
	r := BuildReport(ev, findings, d.cfg.Now())
	d.reports.Inc()
	d.log.Info("diagnosis", "job", q.JobID, "group", q.Group, "window", q.Window.String(),
		"status", r.Status.String(), "findings", len(r.Findings), "missing", len(r.Missing))
	return r
}

// RunRules runs the configured rules over ev. A rule that panics is
// reported as missing evidence instead of crashing the caller.
func (d *Diagnoser) RunRules(ctx context.Context, ev *Evidence) []Finding {
	var out []Finding
	for _, rule := range d.cfg.Rules {
		fs, err := runRule(ctx, rule, ev)
		if err != nil {
			ev.AddMissing("rules", "rule "+rule.Name(), err.Error())
			ev.Checks = append(ev.Checks, CheckResult{Rule: rule.Name(), Result: "not checked", Reason: err.Error()})
			continue
		}
		ev.Checks = append(ev.Checks, checkResult(rule, ev, len(fs)))
		for _, f := range fs {
			if f.Rule == "" {
				f.Rule = rule.Name()
			}
			d.findings.WithLabelValues(rule.Name()).Inc()
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if a.Severity != b.Severity {
			return int(b.Severity) - int(a.Severity)
		}
		return 0
	})
	return out
}

func runRule(ctx context.Context, r Rule, ev *Evidence) (fs []Finding, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("rule panicked: %v", p)
		}
	}()
	return r.Check(ctx, ev), nil
}
