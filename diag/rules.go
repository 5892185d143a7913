package diag

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Severity grades a finding.
type Severity uint8

const (
	// SeverityInfo: context worth knowing, not a cause by itself.
	SeverityInfo Severity = iota + 1
	// SeverityWarning: a likely contributor to the lag.
	SeverityWarning
	// SeverityError: a cause of the lag that needs action.
	SeverityError
)

var severityNames = [...]string{"", "info", "warning", "error"}

// String returns info, warning or error.
func (s Severity) String() string {
	if s > 0 && int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("Severity(%d)", s)
}

// MarshalText encodes the severity as its name.
func (s Severity) MarshalText() ([]byte, error) {
	if s == 0 || int(s) >= len(severityNames) {
		return nil, fmt.Errorf("diag: invalid severity %d", s)
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText parses info, warning (or warn) or error.
func (s *Severity) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "info":
		*s = SeverityInfo
	case "warning", "warn":
		*s = SeverityWarning
	case "error":
		*s = SeverityError
	default:
		return fmt.Errorf("diag: unknown severity %q (want info, warning or error)", b)
	}
	return nil
}

// Finding is one conclusion of a rule: a cause, the evidence for it and
// what to do.
type Finding struct {
	// Rule is the name of the rule that produced it.
	Rule     string    `json:"rule"`
	Severity Severity  `json:"severity"`
	Time     time.Time `json:"time"`
	// Cause is a one-line statement of the cause.
	Cause string `json:"cause"`
	// Details are the evidence, one fact per line.
	Details []string `json:"details,omitempty"`
	// Suggestion says what to do.
	Suggestion string `json:"suggestion"`
	// Raw is the raw record that caused a failure (dirty data), verbatim.
	Raw string `json:"raw,omitempty"`
}

// Rule draws findings from evidence. Check must not modify ev, must be
// safe to call concurrently, and returns nil when it finds nothing.
type Rule interface {
	Name() string
	Check(ctx context.Context, ev *Evidence) []Finding
}

// Preconditions is implemented by rules that need some evidence to check
// anything. NotCheckable returns why ev does not let the rule check (so a
// rule without findings is "not checked", not "passed"), or "".
type Preconditions interface {
	NotCheckable(ev *Evidence) string
}

// CheckResult says whether a rule checked the window and what it found.
type CheckResult struct {
	Rule string `json:"rule"`
	// Result is "found" (Findings > 0), "passed" (checked, nothing found)
	// or "not checked" (Reason says why).
	Result   string `json:"result"`
	Findings int    `json:"findings"`
	Reason   string `json:"reason,omitempty"`
}

func checkResult(r Rule, ev *Evidence, findings int) CheckResult {
	c := CheckResult{Rule: r.Name(), Findings: findings, Result: "passed"}
	if p, ok := r.(Preconditions); ok {
		c.Reason = p.NotCheckable(ev)
	}
	switch {
	case findings > 0:
		c.Result, c.Reason = "found", ""
	case c.Reason != "":
		c.Result = "not checked"
	}
	return c
}

const restartedNotSteady = "the job restarted in the window: a restarting job's load is not its steady state"

// NotCheckable implements Preconditions.
func (r *RestartRule) NotCheckable(ev *Evidence) string {
	if ev.Sources["job"] == "" && ev.Sources["logs"] == "" {
		return "neither the job's exception history nor logs were read"
	}
	return ""
}

// NotCheckable implements Preconditions.
func (r *CheckpointRule) NotCheckable(ev *Evidence) string {
	if ev.Checkpoints == nil {
		return "the job's checkpoints were not read"
	}
	return ""
}

// NotCheckable implements Preconditions.
func (r *BottleneckRule) NotCheckable(ev *Evidence) string {
	return loadUnchecked(ev, len(ev.Vertices) > 0)
}

// NotCheckable implements Preconditions.
func (r *SkewRule) NotCheckable(ev *Evidence) string { return loadUnchecked(ev, len(ev.Vertices) > 0) }

// NotCheckable implements Preconditions.
func (r *HotMethodRule) NotCheckable(ev *Evidence) string {
	if len(ev.FlameGraphs) == 0 && len(ev.Restarts()) == 0 {
		return "no flame graph was read (only vertices that are busy get one)"
	}
	return loadUnchecked(ev, true)
}

// NotCheckable implements Preconditions.
func (r *GCRule) NotCheckable(ev *Evidence) string {
	has := false
	for _, tm := range ev.TaskManagers {
		has = has || tm.GCTimeShare >= 0
	}
	if !has && len(ev.Restarts()) == 0 {
		return "no TaskManager's GC time was read"
	}
	return loadUnchecked(ev, true)
}

// NotCheckable implements Preconditions.
func (r *PartitionLagRule) NotCheckable(ev *Evidence) string {
	if len(ev.Lag) == 0 {
		return "no lag evaluations in the window"
	}
	return ""
}

func loadUnchecked(ev *Evidence, has bool) string {
	if len(ev.Restarts()) > 0 {
		return restartedNotSteady
	}
	if !has {
		return "the operators' load was not read"
	}
	return ""
}

// RuleConfig holds the thresholds of the built-in rules. Zero fields mean
// their defaults.
type RuleConfig struct {
	// BusyRatio: a subtask this busy (share of time) is saturated. Default 0.8.
	BusyRatio float64
	// UpstreamBackPressure: an upstream vertex back-pressured this much
	// points at its downstream. Default 0.5.
	UpstreamBackPressure float64
	// SelfBackPressure: a bottleneck is itself back-pressured less than
	// this. Default 0.2.
	SelfBackPressure float64
	// GCTimeShare: a TaskManager spending more of its time in GC is under
	// GC pressure. Default 0.1.
	GCTimeShare float64
	// SkewRatio: max/median of per-subtask input above this is skew.
	// Default 3.
	SkewRatio float64
	// SkewMinRate: ignore vertices whose busiest subtask receives fewer
	// records per second (or, for counts, fewer records). Default 10.
	SkewMinRate float64
	// HotMethodShare: a frame with at least this share of self samples is
	// hot. Default 0.15.
	HotMethodShare float64
	// PartitionLagShare: lag on at most this share of a topic's partitions
	// counts as "only some partitions". Default 0.5.
	PartitionLagShare float64
	// ProducerSkewRatio: a lagging partition receiving this many times the
	// median produce rate points at producer skew. Default 3.
	ProducerSkewRatio float64
}

// WithDefaults returns c with zero fields set to their defaults.
func (c RuleConfig) WithDefaults() RuleConfig {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.BusyRatio, 0.8)
	def(&c.UpstreamBackPressure, 0.5)
	def(&c.SelfBackPressure, 0.2)
	def(&c.GCTimeShare, 0.1)
	def(&c.SkewRatio, 3)
	def(&c.SkewMinRate, 10)
	def(&c.HotMethodShare, 0.15)
	def(&c.PartitionLagShare, 0.5)
	def(&c.ProducerSkewRatio, 3)
	return c
}

// DefaultRules returns the built-in rules in report order: restarts and
// their root exception, checkpoints, then (for windows without a restart)
// the bottleneck vertex, GC pressure, data skew and hot methods, and the
// source-side partition rule. A nil kr means DefaultKeywordRules.
func DefaultRules(cfg RuleConfig, kr *KeywordRules) []Rule {
	if kr == nil {
		kr = DefaultKeywordRules()
	}
	cfg = cfg.WithDefaults()
	return []Rule{
		&RestartRule{Keywords: kr},
		&CheckpointRule{},
		&BottleneckRule{Config: cfg},
		&GCRule{Config: cfg},
		&SkewRule{Config: cfg},
		&HotMethodRule{Config: cfg},
		&PartitionLagRule{Config: cfg},
	}
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

func ts(t time.Time) string {
	if t.IsZero() {
		return "unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}
