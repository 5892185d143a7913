package mock

import (
	"fmt"
	"strings"
	"time"

	"github.com/hotcold/hotcold/row"
)

// Verdict is the outcome of a case run.
type Verdict string

// Verdicts.
const (
	// Pass: the merged sink table equals the expected table.
	Pass Verdict = "pass"
	// Fail: the tables differ, the sink produced no output before the
	// timeout, or the changelog itself is wrong (see Result.Reason).
	Fail Verdict = "fail"
	// Error: the run could not be carried out (Kafka unreachable, the job
	// under test returned an error).
	Error Verdict = "error"
	// Unknown: nothing shows the output is complete: a sink that expects
	// nothing received nothing, and nothing shows the job read the inputs
	// (no ready check was declared, no other sink of the run received
	// output). It is not a pass.
	Unknown Verdict = "unknown"
)

// Modes of a run.
const (
	ModeKafka     = "kafka"
	ModeInProcess = "in-process"
)

// Completion reasons of a run.
const (
	// CompleteQuiet: the sink stayed silent for the quiet period.
	CompleteQuiet = "quiet"
	// CompleteTimeout: the timeout passed after the last input.
	CompleteTimeout = "timeout"
	// CompleteEndOfInput: an in-process job processed every input.
	CompleteEndOfInput = "end of input"
)

// Result is everything a run produced: the inputs as sent, the raw sink
// output, the merged table, merge problems and the diff. Results are
// plain values, safe to read from any goroutine once returned.
type Result struct {
	// Case is the case name.
	Case string
	// RunID identifies the run (and prefixes its isolated topics).
	RunID string
	// Mode is ModeKafka or ModeInProcess.
	Mode string
	// Topics maps each topic named in the case to the topic used.
	Topics map[string]string
	// Verdict is the outcome: Pass only when every sink passes. Reason
	// explains a Fail, Error or Unknown in one line.
	Verdict Verdict
	Reason  string
	// Complete says how the output was judged complete.
	Complete string
	// Sent are the inputs in the order sent.
	Sent []Sent
	// Sinks are the results of the case's sinks, in declaration order;
	// nil on Error.
	Sinks []*SinkResult
	// Output are the messages of every sink, sink after sink, each in the
	// order received.
	Output []Record
	// Table is the merged table of the first sink (rows of kind +I).
	Table []row.Row
	// Problems are the notes and errors of the merge and decoding, of
	// every sink.
	Problems []Problem
	// Diff compares Table with the first sink's expected table; nil on
	// Error or when that sink has no expected table.
	Diff *Diff
	// Changelog compares the first sink's changes with its expected
	// changelog; nil without one.
	Changelog *ChangelogDiff
	// Started and Finished bound the run.
	Started, Finished time.Time
	// Schema is the sink schema.
	Schema *row.Schema
	// Files are the case files as run.
	Files []File

	shared       bool        // the run used the case's own topics
	noEvidence   string      // why something that looks like evidence is none
	sinkProblems [][]Problem // per sink, before evaluate (in-process encoding)
}

// SinkResult is what one sink received and how it compares with what it
// must hold.
type SinkResult struct {
	// Name is the sink's name; Topic the topic read.
	Name, Topic string
	Format      row.Format
	// Verdict is Pass, Fail or Unknown; Reason explains it.
	Verdict Verdict
	Reason  string
	// Evidence, for a sink that passed with no message, is what showed the
	// job read the inputs (a passed ready check, an in-process job's end of
	// input, another sink's output).
	Evidence string
	// Output are the sink's messages in the order received.
	Output []Record
	// Table is the merged table (rows of kind +I).
	Table []row.Row
	// Problems are the notes and errors of decoding and merging.
	Problems []Problem
	// Diff compares Table with the expected table; nil without one.
	Diff *Diff
	// Changelog compares the changes with the expected changelog; nil
	// without one.
	Changelog *ChangelogDiff
	// Schema is the sink schema.
	Schema *row.Schema
}

// Passed reports whether the sink passed.
func (s *SinkResult) Passed() bool { return s.Verdict == Pass }

// Sent is one input message as sent.
type Sent struct {
	// Step is the message's arrival step.
	Step   int
	Source string
	Record Record
	// At is when the message was sent (virtual time in-process).
	At time.Time
	// Pos is where the message was read.
	Pos Pos
}

// Passed reports whether the verdict is Pass.
func (r *Result) Passed() bool { return r.Verdict == Pass }

// Duration returns how long the run took.
func (r *Result) Duration() time.Duration { return r.Finished.Sub(r.Started) }

// rows counts the rows of every sink's merged table.
func (r *Result) rows() int {
	if len(r.Sinks) == 0 {
		return len(r.Table)
	}
	n := 0
	for _, s := range r.Sinks {
		n += len(s.Table)
	}
	return n
}

// Summary is a one-line account of the result.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (%d inputs, %d outputs, %d rows, %s)", r.Case, strings.ToUpper(string(r.Verdict)), len(r.Sent), len(r.Output), r.rows(), r.Duration().Round(time.Millisecond))
	if r.Reason != "" {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	return b.String()
}

// Report renders the result for people: the summary, then merge problems,
// the table diff and the changelog diff; with several sinks, each sink's
// verdict and those details under it.
func (r *Result) Report() string {
	var b strings.Builder
	b.WriteString(r.Summary())
	b.WriteByte('\n')
	if len(r.Sinks) <= 1 {
		if len(r.Sinks) == 0 {
			for _, p := range r.Problems {
				fmt.Fprintf(&b, "  %s\n", p)
			}
		}
		for _, s := range r.Sinks {
			s.details(&b, "  ")
		}
		return b.String()
	}
	for _, s := range r.Sinks {
		fmt.Fprintf(&b, "  sink %s (topic %s, %s): %s (%d messages, %d rows)", s.Name, s.Topic, s.Format, strings.ToUpper(string(s.Verdict)), len(s.Output), len(s.Table))
		if s.Reason != "" {
			fmt.Fprintf(&b, ": %s", s.Reason)
		}
		b.WriteByte('\n')
		s.details(&b, "    ")
	}
	return b.String()
}

// details writes the sink's problems and diffs, each line indented.
func (s *SinkResult) details(b *strings.Builder, indent string) {
	for _, p := range s.Problems {
		fmt.Fprintf(b, "%s%s\n", indent, p)
	}
	if s.Diff != nil && !s.Diff.Empty() {
		for _, ln := range strings.Split(strings.TrimRight(s.Diff.String(), "\n"), "\n") {
			fmt.Fprintf(b, "%s%s\n", indent, ln)
		}
	}
	if s.Changelog != nil && !s.Changelog.Empty() {
		for _, ln := range strings.Split(strings.TrimRight(s.Changelog.String(), "\n"), "\n") {
			fmt.Fprintf(b, "%s%s\n", indent, ln)
		}
	}
}

// evaluate decodes every sink's output (outputs[i] is what c.Sinks[i]
// received) with its format, merges it, compares it with the sink's
// expected table and changelog, and sets the sinks' and the run's verdict.
// evidence, when not "", is what shows the job read the inputs (a passed
// ready check, an in-process job's end of input); without it a sink that
// received nothing and expects nothing is Unknown, not Pass.
func evaluate(c *Case, res *Result, outputs [][]Record, timeout time.Duration, evidence string) {
	res.Output = nil
	res.Problems = res.Problems[:0:0]
	anyOutput := false
	for _, out := range outputs {
		anyOutput = anyOutput || len(out) > 0
	}
	for i, sk := range c.Sinks {
		sr := &SinkResult{Name: sk.Name, Topic: res.Topics[sk.Topic], Format: sk.Format, Schema: sk.Schema, Output: outputs[i]}
		if i < len(res.sinkProblems) {
			sr.Problems = append(sr.Problems, res.sinkProblems[i]...)
		}
		ev := evidence
		if ev == "" && anyOutput && len(sr.Output) == 0 && res.Mode == ModeKafka && !res.shared {
			ev = "another sink of the run received output"
		}
		evaluateSink(c, sk, res, sr, timeout, ev)
		res.Sinks = append(res.Sinks, sr)
		res.Output = append(res.Output, sr.Output...)
		res.Problems = append(res.Problems, sr.Problems...)
	}
	res.sinkProblems = nil
	if len(res.Sinks) > 0 {
		first := res.Sinks[0]
		res.Schema, res.Table, res.Diff, res.Changelog = first.Schema, first.Table, first.Diff, first.Changelog
	}
	if res.Verdict == Error {
		return
	}
	res.Verdict = Pass
	var reasons []string
	for _, v := range []Verdict{Fail, Unknown} {
		for _, sr := range res.Sinks {
			if sr.Verdict != v {
				continue
			}
			if res.Verdict == Pass {
				res.Verdict = v
			}
			if len(res.Sinks) > 1 {
				reasons = append(reasons, "sink "+sr.Name+": "+sr.Reason)
			} else {
				reasons = append(reasons, sr.Reason)
			}
		}
	}
	res.Reason = strings.Join(reasons, "; ")
}

func evaluateSink(c *Case, sk *Sink, res *Result, sr *SinkResult, timeout time.Duration, evidence string) {
	s := sk.Schema
	t := NewTable(s)
	var rows []row.Row
	var changes []observed
	for j := range sr.Output {
		rec := &sr.Output[j]
		var err error
		rows, err = sk.codec.Decode(rows[:0], row.Message{Key: rec.Key, Value: rec.Value})
		if err != nil {
			sr.Problems = append(sr.Problems, Problem{Seq: -1, Row: recordAt(*rec), Text: fmt.Sprintf("cannot decode sink message as %s: %v (value %s)", sk.Format, err, quoteBytes(rec.Value)), Fatal: true})
			continue
		}
		for _, r := range rows {
			t.Apply(r)
			if sk.Expect.HasChangelog {
				changes = append(changes, observed{row: r.Clone(), rec: rec})
			}
		}
	}
	sr.Problems = append(sr.Problems, t.Problems()...)
	sr.Table = t.Rows()
	e := &sk.Expect
	co := CompareOptions{Ignore: e.Ignore, FloatTolerance: e.FloatTolerance}
	if e.HasRows {
		sr.Diff = Compare(s, e.Rows, sr.Table, co)
	}
	if e.HasChangelog {
		sr.Changelog = compareChangelog(s, sk.Format, e.Changelog, e.ChangelogPos, changes, co)
	}
	fatal := 0
	for _, p := range sr.Problems {
		if p.Fatal {
			fatal++
		}
	}
	var why []string
	if fatal > 0 {
		why = append(why, fmt.Sprintf("%d error(s) in the sink changelog", fatal))
	}
	if sr.Diff != nil && !sr.Diff.Empty() {
		why = append(why, diffSummary(sr.Diff))
	}
	if sr.Changelog != nil && !sr.Changelog.Empty() {
		d := sr.Changelog
		why = append(why, fmt.Sprintf("changelog differs: %d diverged, %d missing, %d unexpected key(s)", len(d.Diverged), len(d.Missing), len(d.Unexpected)))
	}
	topic := res.Topics[sk.Topic]
	switch {
	case len(sr.Output) == 0 && e.expectsOutput():
		sr.Verdict = Fail
		if res.Mode == ModeInProcess {
			sr.Reason = fmt.Sprintf("no output on sink %s: the job emitted no row for it", sk.Name)
		} else {
			sr.Reason = fmt.Sprintf("no output on sink topic %s within %s after the last input; check that the job is running, reads %s and writes %s", topic, timeout, sourceTopics(c, res), topic)
		}
		return
	case len(why) > 0:
		sr.Verdict = Fail
		sr.Reason = strings.Join(why, "; ")
	case len(sr.Output) == 0 && evidence == "":
		sr.Verdict = Unknown
		sr.Reason = fmt.Sprintf("no message on sink topic %s, as expected, but nothing shows that the job read the inputs: declare a ready check (ready: group, command or http) so that an empty sink is evidence", topic)
		if res.noEvidence != "" {
			sr.Reason += " (" + res.noEvidence + ")"
		}
		return
	default:
		sr.Verdict = Pass
		if len(sr.Output) == 0 {
			sr.Evidence = evidence
		}
		return
	}
	if res.Complete == CompleteTimeout && len(sr.Output) > 0 {
		sr.Reason += fmt.Sprintf(" (output was still arriving when the %s timeout passed)", timeout)
	}
}

func diffSummary(d *Diff) string {
	return fmt.Sprintf("table differs: %d missing, %d unexpected, %d changed", len(d.Missing), len(d.Unexpected), len(d.Changed))
}

func sourceTopics(c *Case, res *Result) string {
	var names []string
	seen := map[string]bool{}
	for _, s := range c.Sources {
		t := res.Topics[s.Topic]
		if !seen[t] {
			seen[t] = true
			names = append(names, t)
		}
	}
	return strings.Join(names, ", ")
}
