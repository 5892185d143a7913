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
	// Verdict is the outcome; Reason explains a Fail or Error in one line.
	Verdict Verdict
	Reason  string
	// Complete says how the output was judged complete.
	Complete string
	// Sent are the inputs in the order sent.
	Sent []Sent
	// Output are the sink messages in the order received.
	Output []Record
	// Table is the merged sink table (rows of kind +I).
	Table []row.Row
	// Problems are the notes and errors of the merge and decoding.
	Problems []Problem
	// Diff compares Table with the expected table; nil on Error.
	Diff *Diff
	// Started and Finished bound the run.
	Started, Finished time.Time
	// Schema is the sink schema.
	Schema *row.Schema
	// Files are the case files as run.
	Files []File
}

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

// Summary is a one-line account of the result.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (%d inputs, %d outputs, %d rows, %s)", r.Case, strings.ToUpper(string(r.Verdict)), len(r.Sent), len(r.Output), len(r.Table), r.Duration().Round(time.Millisecond))
	if r.Reason != "" {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	return b.String()
}

// Report renders the result for people: the summary, merge problems and
// the diff.
func (r *Result) Report() string {
	var b strings.Builder
	b.WriteString(r.Summary())
	b.WriteByte('\n')
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	if r.Diff != nil && !r.Diff.Empty() {
		for _, ln := range strings.Split(strings.TrimRight(r.Diff.String(), "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", ln)
		}
	}
	return b.String()
}

// evaluate decodes the sink output with the sink format, merges it and
// compares it with the expected table, setting Table, Problems, Diff and
// the verdict.
func evaluate(c *Case, res *Result, timeout time.Duration) {
	s := c.Sink.Schema
	res.Schema = s
	t := NewTable(s)
	var rows []row.Row
	var decodeProblems []Problem
	for _, rec := range res.Output {
		var err error
		rows, err = c.Sink.codec.Decode(rows[:0], row.Message{Key: rec.Key, Value: rec.Value})
		if err != nil {
			decodeProblems = append(decodeProblems, Problem{Seq: -1, Row: fmt.Sprintf("%s/%d@%d", rec.Topic, rec.Partition, rec.Offset), Text: fmt.Sprintf("cannot decode sink message as %s: %v (value %s)", c.Sink.Format, err, quoteBytes(rec.Value)), Fatal: true})
			continue
		}
		for _, r := range rows {
			t.Apply(r)
		}
	}
	res.Problems = append(res.Problems, decodeProblems...)
	res.Problems = append(res.Problems, t.Problems()...)
	res.Table = t.Rows()
	res.Diff = Compare(s, c.Expect.Rows, res.Table, CompareOptions{Ignore: c.Expect.Ignore, FloatTolerance: c.Expect.FloatTolerance})
	fatal := 0
	for _, p := range res.Problems {
		if p.Fatal {
			fatal++
		}
	}
	switch {
	case res.Verdict == Error:
	case res.Complete == CompleteTimeout && len(res.Output) == 0 && len(c.Expect.Rows) > 0:
		res.Verdict = Fail
		res.Reason = fmt.Sprintf("no output on sink topic %s within %s after the last input; check that the job is running, reads %s and writes %s", res.Topics[c.Sink.Topic], timeout, sourceTopics(c, res), res.Topics[c.Sink.Topic])
	case fatal > 0:
		res.Verdict = Fail
		res.Reason = fmt.Sprintf("%d error(s) in the sink changelog", fatal)
		if !res.Diff.Empty() {
			res.Reason += "; " + diffSummary(res.Diff)
		}
	case !res.Diff.Empty():
		res.Verdict = Fail
		res.Reason = diffSummary(res.Diff)
	default:
		res.Verdict = Pass
	}
	if res.Verdict == Fail && res.Complete == CompleteTimeout && len(res.Output) > 0 {
		res.Reason += fmt.Sprintf(" (output was still arriving when the %s timeout passed)", timeout)
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
