package mock

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of running many cases.
type Report struct {
	// Results are in the order the cases were given.
	Results []*Result
	// Stored maps a case's run id to where its result was stored.
	Stored map[string]string
}

// Failed returns the number of cases that did not pass.
func (r *Report) Failed() int {
	n := 0
	for _, res := range r.Results {
		if !res.Passed() {
			n++
		}
	}
	return n
}

// WriteTable writes a pass/fail table, then the report of every case that
// did not pass.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tRESULT\tSENT\tRECEIVED\tROWS\tMISSING\tUNEXPECTED\tCHANGED\tTIME")
	counts := func(d *Diff) (string, string, string) {
		if d == nil {
			return "-", "-", "-"
		}
		return fmt.Sprint(len(d.Missing)), fmt.Sprint(len(d.Unexpected)), fmt.Sprint(len(d.Changed))
	}
	for _, res := range r.Results {
		var m, u, c string
		if len(res.Sinks) > 1 {
			m, u, c = "", "", "" // per sink below
		} else {
			m, u, c = counts(res.Diff)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", res.Case, strings.ToUpper(string(res.Verdict)), len(res.Sent), len(res.Output), res.rows(), m, u, c, res.Duration().Round(time.Millisecond))
		if len(res.Sinks) > 1 {
			for _, s := range res.Sinks {
				m, u, c := counts(s.Diff)
				fmt.Fprintf(tw, "  sink %s\t%s\t\t%d\t%d\t%s\t%s\t%s\t\n", s.Name, strings.ToUpper(string(s.Verdict)), len(s.Output), len(s.Table), m, u, c)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, res := range r.Results {
		if res.Passed() {
			continue
		}
		if _, err := fmt.Fprintf(w, "\n%s", res.Report()); err != nil {
			return err
		}
		if where := r.Stored[res.RunID]; where != "" {
			if _, err := fmt.Fprintf(w, "  stored at %s\n", where); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "\n%d passed, %d failed\n", len(r.Results)-r.Failed(), r.Failed())
	return err
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as JUnit XML, one testcase per case, with
// the diff in the failure text, for CI systems to show.
func (r *Report) WriteJUnit(w io.Writer) error {
	s := junitSuite{Name: "hotcold mock"}
	var total time.Duration
	for i, res := range r.Results {
		if i == 0 && !res.Started.IsZero() {
			s.Timestamp = res.Started.UTC().Format("2006-01-02T15:04:05")
		}
		total += res.Duration()
		jc := junitCase{Name: res.Case, Classname: "hotcold.mock." + res.Mode, Time: seconds(res.Duration())}
		out := fmt.Sprintf("run %s (%s): %d inputs sent, %d sink messages, %d rows", res.RunID, res.Mode, len(res.Sent), len(res.Output), res.rows())
		if len(res.Sinks) > 1 {
			for _, s := range res.Sinks {
				out += fmt.Sprintf("\nsink %s (%s): %s, %d messages, %d rows", s.Name, s.Topic, s.Verdict, len(s.Output), len(s.Table))
			}
		}
		if where := r.Stored[res.RunID]; where != "" {
			out += "\nstored at " + where
		}
		jc.SystemOut = out
		switch res.Verdict {
		case Fail:
			s.Failures++
			jc.Failure = &junitProblem{Message: res.Reason, Type: "fail", Text: res.Report()}
		case Error:
			s.Errors++
			jc.Error = &junitProblem{Message: res.Reason, Type: "error", Text: res.Report()}
		case Unknown:
			// not a pass: no evidence the output is complete
			s.Errors++
			jc.Error = &junitProblem{Message: res.Reason, Type: "unknown", Text: res.Report()}
		}
		s.Cases = append(s.Cases, jc)
	}
	s.Tests = len(r.Results)
	s.Time = seconds(total)
	doc := junitSuites{Name: s.Name, Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("mock: write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// SuiteOptions configures RunSuite.
type SuiteOptions struct {
	// Run configures every run; its RunID is only used for a single case.
	Run Options
	// Job, if set, runs every case in-process against it instead of
	// through Kafka.
	Job Job
	// Store, if set, keeps every result (see Store.SaveResult).
	Store *Store
	// Load loads a case by name. Default LoadCase (a directory or YAML
	// file path).
	Load func(ctx context.Context, name string) (*Case, error)
	// OnResult, if set, is called after each case with its result.
	OnResult func(*Result)
}

// RunSuite loads and runs the named cases one after another. A case that
// cannot be loaded or run is reported as an Error result and the suite
// goes on; RunSuite itself fails only when ctx ends or a result cannot be
// stored.
func RunSuite(ctx context.Context, names []string, o SuiteOptions) (*Report, error) {
	rep := &Report{Stored: map[string]string{}}
	load := o.Load
	if load == nil {
		load = func(_ context.Context, name string) (*Case, error) { return LoadCase(name) }
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		started := time.Now()
		var res *Result
		c, err := load(ctx, name)
		if err != nil {
			res = &Result{Case: defaultName(name, !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml")), RunID: "load-" + started.UTC().Format("20060102t150405"), Mode: "load",
				Verdict: Error, Reason: "the case does not load: " + err.Error(), Started: started, Finished: time.Now()}
		} else {
			ro := o.Run
			if len(names) > 1 {
				ro.RunID = "" // one run id per case
			}
			if o.Job != nil {
				res, err = RunInProcess(ctx, c, o.Job, ro)
			} else {
				res, err = Run(ctx, c, ro)
			}
			if res == nil {
				res = &Result{Case: c.Name, RunID: "invalid", Verdict: Error, Reason: err.Error(), Started: started, Finished: time.Now()}
			}
		}
		if o.Store != nil && res.Mode != "load" {
			prefix, err := o.Store.SaveResult(ctx, res)
			if err != nil {
				return rep, err
			}
			rep.Stored[res.RunID] = o.Store.Where(prefix)
		}
		rep.Results = append(rep.Results, res)
		if o.OnResult != nil {
			o.OnResult(res)
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	return rep, nil
}
