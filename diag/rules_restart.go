package diag

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Restarts returns the times in the window at which the job failed or
// restarted, from the engine's exception history, its state transitions
// and the logs, sorted. Every exception history entry is a restart; a
// transition or log line within FailureMatchWindow of one is the same
// restart seen elsewhere and counts once.
func (e *Evidence) Restarts() []time.Time {
	// Each entry of Flink's exception history is one failure, however
	// close to the previous one: a fixed-delay restart strategy fails
	// every second on a dirty record. The job's state transitions and the
	// log lines are other reports of those failures, so they count only
	// when no failure of the history, and no earlier such report, lies
	// within FailureMatchWindow of them.
	var hist, other []time.Time
	for _, x := range e.Exceptions {
		if !x.Concurrent && !x.Time.IsZero() && e.Window.Contains(x.Time) {
			hist = append(hist, x.Time)
		}
	}
	add := func(t time.Time) {
		if !t.IsZero() && e.Window.Contains(t) {
			other = append(other, t)
		}
	}
	if e.Job != nil {
		for _, st := range []string{"RESTARTING", "FAILING", "FAILED"} {
			add(e.Job.Transitions[st])
		}
	}
	for _, l := range e.Logs {
		if isRestartLog(l.Message) {
			add(l.Time)
		}
	}
	sortTimes(hist)
	sortTimes(other)
	out := slices.CompactFunc(hist, time.Time.Equal)
	near := func(t time.Time, ts []time.Time) bool {
		for _, u := range ts {
			if d := t.Sub(u); d <= FailureMatchWindow && d >= -FailureMatchWindow {
				return true
			}
		}
		return false
	}
	var extra []time.Time
	for _, t := range other {
		if !near(t, out) && !near(t, extra) {
			extra = append(extra, t)
		}
	}
	out = append(out, extra...)
	sortTimes(out)
	return out
}

func isRestartLog(msg string) bool {
	for _, s := range []string{"to RESTARTING", "to FAILING", "switched from state RUNNING to FAILED", "Restarting job"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// FailureMatchWindow is how far apart in time two reports of a failure with
// the same root cause (class and message) may be and still be one failure:
// the JobManager's exception history stamps it when it handles it, the
// TaskManager's log when it is thrown, and each log its own clock.
const FailureMatchWindow = 10 * time.Second

// failureKey is a failure's root cause, class and message.
func failureKey(x Exception) string {
	text := x.Stacktrace
	if text == "" {
		text = x.Name
	}
	if root, ok := ParseStackTrace(text).Root(); ok {
		return root.Header()
	}
	return x.Name
}

// Failures returns the exceptions in the window: the engine's (root
// exceptions first) and those found in ERROR/WARN log records with a stack
// trace, in time order. A log record of a failure already seen (in the
// exception history or another log: the same root cause within
// FailureMatchWindow) is not a failure of its own: its place is added to
// the first report's Also.
func (e *Evidence) Failures() []Exception {
	var out []Exception
	var keys []string
	for _, x := range e.Exceptions {
		if e.Window.Contains(x.Time) {
			out = append(out, x)
			keys = append(keys, failureKey(x))
		}
	}
	for _, l := range e.Logs {
		if l.Level != "ERROR" && l.Level != "WARN" {
			continue
		}
		text := l.Text()
		st := ParseStackTrace(text)
		if len(st.Causes) == 0 {
			continue
		}
		x := Exception{
			Time: l.Time, Name: st.Causes[0].Header(), Stacktrace: text,
			Source: fmt.Sprintf("log %s:%d", l.File, l.Line),
		}
		key, dup := failureKey(x), false
		for i := range out {
			if keys[i] == key && out[i].Time.Sub(x.Time).Abs() <= FailureMatchWindow {
				out[i].Also = append(out[i].Also, x.Source)
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, x)
			keys = append(keys, key)
		}
	}
	slices.SortStableFunc(out, func(a, b Exception) int { return a.Time.Compare(b.Time) })
	return out
}

// RestartRule finds the root exception of each failure in the window and
// classifies it with keyword rules (dirty data, out of memory, checkpoint
// failure, Kafka connectivity, missing class or UDF, or the user's own).
type RestartRule struct {
	Keywords *KeywordRules
}

// Name returns "restart".
func (r *RestartRule) Name() string { return "restart" }

// Check implements Rule.
func (r *RestartRule) Check(_ context.Context, ev *Evidence) []Finding {
	restarts := ev.Restarts()
	failures := ev.Failures()
	if len(restarts) == 0 && len(failures) == 0 {
		return nil
	}
	kr := r.Keywords
	if kr == nil {
		kr = DefaultKeywordRules()
	}
	type group struct {
		cls   Classification
		first Exception
		count int
		srcs  []string
	}
	var order []string
	groups := make(map[string]*group)
	for _, x := range failures {
		text := x.Stacktrace
		if text == "" {
			text = x.Name
		}
		cls := kr.Classify(text)
		key := "unclassified:" + cls.Root.Class
		if cls.Rule != nil {
			key = cls.Rule.Name
		}
		g := groups[key]
		if g == nil {
			g = &group{cls: cls, first: x}
			groups[key] = g
			order = append(order, key)
		}
		g.count++
		for _, src := range append([]string{x.Source}, x.Also...) {
			if len(g.srcs) < 3 && !slices.Contains(g.srcs, src) {
				g.srcs = append(g.srcs, src)
			}
		}
		if g.cls.Raw == "" && cls.Raw != "" {
			g.cls.Raw = cls.Raw
		}
	}
	restartLine := fmt.Sprintf("the job failed or restarted %d time(s) in the window", len(restarts))
	if len(restarts) > 0 {
		restartLine += ", first at " + ts(restarts[0])
	}
	var out []Finding
	for _, key := range order {
		g := groups[key]
		f := Finding{Rule: r.Name(), Time: g.first.Time, Severity: SeverityError}
		root := g.cls.Matched
		if root.Class == "" {
			root = Cause{Class: g.first.Name}
		}
		f.Details = append(f.Details, restartLine)
		f.Details = append(f.Details, fmt.Sprintf("root exception (%d occurrence(s)): %s", g.count, truncate(root.Header(), 500)))
		if len(root.Frames) > 0 {
			f.Details = append(f.Details, "at "+root.Frames[0])
		}
		if g.first.Task != "" || g.first.TaskManager != "" {
			f.Details = append(f.Details, fmt.Sprintf("task %s on %s", orUnknown(g.first.Task), orUnknown(firstNonEmpty(g.first.Location, g.first.TaskManager))))
		}
		f.Details = append(f.Details, "seen in: "+strings.Join(g.srcs, ", "))
		if g.cls.Rule != nil {
			f.Rule = r.Name() + "/" + g.cls.Rule.Name
			f.Severity = g.cls.Rule.Severity
			f.Cause = g.cls.Rule.Cause
			f.Suggestion = g.cls.Rule.Suggestion
			if g.cls.Raw != "" {
				f.Raw = truncate(g.cls.Raw, 4096)
			}
		} else {
			f.Rule = r.Name() + "/unclassified"
			f.Cause = "The job failed with " + orUnknown(root.Class)
			f.Suggestion = "No keyword rule matched this exception. Read the full stack trace in the job's exception history or logs, fix its cause, and add a rule for it to the rule file (--rules) so the next occurrence is classified."
		}
		out = append(out, f)
	}
	if len(failures) == 0 {
		out = append(out, noExceptionFinding(r.Name(), ev, restarts[0], restartLine))
	}
	return out
}

// noExceptionFinding says why no exception of a restart is known: what
// could not be read, or which sources were not given, and only asks for
// what was not given.
func noExceptionFinding(rule string, ev *Evidence, at time.Time, restartLine string) Finding {
	var unread, todo []string
	flinkRead := ev.Sources["job"] != ""
	logsRead := ev.Sources["logs"] != ""
	flinkGiven, logsGiven := flinkRead, logsRead
	for _, m := range ev.Missing {
		switch {
		case m.Source == "flink" && m.Blocking:
			flinkGiven = true
			unread = append(unread, "the Flink REST API ("+m.Reason+")")
		case m.Source == "flink" && m.What == "exception history":
			unread = append(unread, "the exception history ("+m.Reason+")")
		case m.Source == "logs" && m.Blocking:
			logsGiven = true
			unread = append(unread, "the logs ("+m.Reason+")")
		}
	}
	if !flinkGiven {
		todo = append(todo, "give the job's exception history (--flink and --job)")
	}
	if !logsGiven {
		todo = append(todo, "give the JobManager and TaskManager logs for the window (--logs)")
	} else if logsRead {
		todo = append(todo, "check that the logs given cover the window and the TaskManagers that failed (no WARN or ERROR record in them has a stack trace)")
	}
	f := Finding{Rule: rule + "/no-exception", Severity: SeverityError, Time: at, Details: []string{restartLine}}
	if len(unread) > 0 {
		f.Cause = "The job restarted, and its exception could not be read"
		for _, u := range unread {
			f.Details = append(f.Details, "could not read "+u)
		}
		todo = append([]string{"make what could not be read readable (see the reasons above) and run again"}, todo...)
	} else {
		f.Cause = "The job restarted, and neither its exception history nor its logs hold the exception"
	}
	f.Suggestion = strings.ToUpper(todo[0][:1]) + todo[0][1:]
	if len(todo) > 1 {
		f.Suggestion += "; " + strings.Join(todo[1:], "; ")
	}
	f.Suggestion += ", so the root exception can be found."
	return f
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// CheckpointRule reports checkpoints that failed in the window: Flink
// commits Kafka offsets only on completed checkpoints, so failing
// checkpoints stop the committed offsets even when records flow.
type CheckpointRule struct{}

// Name returns "checkpoint".
func (r *CheckpointRule) Name() string { return "checkpoint" }

// Check implements Rule.
func (r *CheckpointRule) Check(_ context.Context, ev *Evidence) []Finding {
	cp := ev.Checkpoints
	if cp == nil {
		return nil
	}
	var failed []Checkpoint
	completed := 0
	for _, c := range cp.History {
		if !ev.Window.Contains(c.Trigger) && (c.FailureTime.IsZero() || !ev.Window.Contains(c.FailureTime)) {
			continue
		}
		switch c.Status {
		case "FAILED":
			failed = append(failed, c)
		case "COMPLETED":
			completed++
		}
	}
	if len(failed) == 0 {
		return nil
	}
	last := failed[len(failed)-1]
	at := last.FailureTime
	if at.IsZero() {
		at = last.Trigger
	}
	f := Finding{
		Rule: r.Name(), Severity: SeverityError, Time: failed[0].Trigger,
		Cause: fmt.Sprintf("%d checkpoint(s) failed in the window (%d completed)", len(failed), completed),
		Details: []string{
			fmt.Sprintf("last failure: checkpoint %d at %s after %s", last.ID, ts(at), last.Duration),
		},
		Suggestion: "Flink commits Kafka offsets only when a checkpoint completes, so the consumer group's offsets stand still while checkpoints fail. " +
			"If they expire, the barriers are slowed by back-pressure: fix the bottleneck, enable unaligned checkpoints, or raise 'execution.checkpointing.timeout'; otherwise fix the failure message's cause (storage, state size).",
	}
	if last.FailureMessage != "" {
		f.Details = append(f.Details, "failure message: "+truncate(last.FailureMessage, 500))
	}
	if !cp.LastCompleted.IsZero() {
		f.Details = append(f.Details, "last completed checkpoint: "+ts(cp.LastCompleted))
	}
	return []Finding{f}
}
