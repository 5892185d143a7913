package diag

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a diagnosis: a timeline of evaluation points,
// the findings, and the evidence that was missing.
type Report struct {
	JobID     string    `json:"job_id,omitempty"`
	JobName   string    `json:"job_name,omitempty"`
	JobState  string    `json:"job_state,omitempty"`
	Group     string    `json:"group,omitempty"`
	Window    Window    `json:"window"`
	Generated time.Time `json:"generated"`
	// Status is the worst lag status in the window.
	Status Status `json:"status"`
	// Verdict is HEALTHY, ANOMALY or UNKNOWN; see Verdict.
	Verdict Verdict `json:"verdict"`
	// Healthy is true when the verdict is HEALTHY: no evaluation point is
	// an anomaly, no finding has error severity, and there was evidence
	// to judge the window by.
	Healthy bool `json:"healthy"`
	// Summary is a one-line verdict.
	Summary  string          `json:"summary"`
	Timeline []TimelinePoint `json:"timeline"`
	Findings []Finding       `json:"findings"`
	Missing  []Missing       `json:"missing"`
	Notes    []string        `json:"notes,omitempty"`
	// Checks says, rule by rule, what was checked and passed, found
	// something, or could not be checked.
	Checks []CheckResult `json:"checks,omitempty"`
	// Restarts are the times the job failed or restarted in the window.
	Restarts []time.Time `json:"restarts,omitempty"`
	// Partitions are each partition's lag over the window, for the chart.
	Partitions []PartitionSeries `json:"partitions,omitempty"`
	// Sources says which evidence each part came from.
	Sources map[string]string `json:"sources,omitempty"`
}

// Verdict is a report's overall answer.
type Verdict string

const (
	// VerdictHealthy: the evidence shows no anomaly.
	VerdictHealthy Verdict = "HEALTHY"
	// VerdictAnomaly: a lag status other than OK, or an error finding.
	VerdictAnomaly Verdict = "ANOMALY"
	// VerdictUnknown: no anomaly was found, but a configured source gave
	// nothing (Missing.Blocking), or there was neither lag nor job state
	// to judge the window by. The report names what could not be read.
	VerdictUnknown Verdict = "UNKNOWN"
)

// TimelinePoint is one evaluation in the window.
type TimelinePoint struct {
	Time time.Time `json:"time"`
	// Status is the worst lag status at Time (OK if there were no lag
	// samples and no error finding).
	Status  Status `json:"status"`
	Healthy bool   `json:"healthy"`
	// Lag and TimeLag are the group's total lag and oldest unconsumed
	// message age, when lag samples were given.
	Lag     int64    `json:"lag"`
	TimeLag Duration `json:"time_lag"`
	// Unhealthy counts the partitions that were not OK.
	Unhealthy int `json:"unhealthy_partitions"`
	// Restarts counts the restarts after the previous point, up to this one.
	Restarts int `json:"restarts,omitempty"`
	// NoData marks the one point of a report without lag samples: it is
	// neither healthy nor an anomaly unless a finding makes it one.
	NoData bool `json:"no_data,omitempty"`
	// Findings are indexes into Report.Findings of the findings dated at
	// this point (after the previous point, up to this one).
	Findings []int `json:"findings,omitempty"`
}

// PartitionSeries is one partition's lag at each evaluation point.
type PartitionSeries struct {
	// Name is "topic[partition]", prefixed with the group when the report
	// covers several groups.
	Name       string     `json:"name"`
	Points     []LagPoint `json:"points"`
	MaxLag     int64      `json:"max_lag"`
	MaxTimeLag Duration   `json:"max_time_lag"`
	Worst      Status     `json:"worst_status"`
}

// LagPoint is a partition's lag at one time.
type LagPoint struct {
	Time    time.Time `json:"time"`
	Lag     int64     `json:"lag"`
	TimeLag Duration  `json:"time_lag"`
}

func partitionSeries(lag []GroupStatus) []PartitionSeries {
	groups := map[string]bool{}
	for _, gs := range lag {
		groups[gs.Group] = true
	}
	idx := map[string]int{}
	var out []PartitionSeries
	for _, gs := range lag {
		for _, p := range gs.Partitions {
			name := fmt.Sprintf("%s[%d]", p.Topic, p.Partition)
			if len(groups) > 1 {
				name = gs.Group + " " + name
			}
			i, ok := idx[name]
			if !ok {
				i = len(out)
				idx[name] = i
				out = append(out, PartitionSeries{Name: name})
			}
			s := &out[i]
			s.Points = append(s.Points, LagPoint{Time: gs.Time.UTC(), Lag: p.Lag, TimeLag: p.TimeLag})
			s.MaxLag, s.MaxTimeLag, s.Worst = max(s.MaxLag, p.Lag), max(s.MaxTimeLag, p.TimeLag), max(s.Worst, p.Status)
		}
	}
	for i := range out {
		sort.SliceStable(out[i].Points, func(a, b int) bool { return out[i].Points[a].Time.Before(out[i].Points[b].Time) })
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// BuildReport assembles a report from evidence and findings.
func BuildReport(ev *Evidence, findings []Finding, now time.Time) *Report {
	r := &Report{
		JobID: ev.JobID, Group: ev.Group, Window: ev.Window, Generated: now.UTC(),
		Findings: findings, Missing: ev.Missing, Notes: ev.Notes, Sources: ev.Sources,
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Missing == nil {
		r.Missing = []Missing{}
	}
	if ev.Job != nil {
		r.JobName, r.JobState = ev.Job.Name, ev.Job.State
	}
	// Merge the groups' evaluations by time: the worst status per time.
	byTime := make(map[int64]*TimelinePoint)
	for _, gs := range ev.Lag {
		k := gs.Time.UnixNano()
		p := byTime[k]
		if p == nil {
			p = &TimelinePoint{Time: gs.Time.UTC()}
			byTime[k] = p
		}
		p.Status = max(p.Status, gs.Status)
		p.Lag += gs.TotalLag
		p.TimeLag = max(p.TimeLag, gs.MaxTimeLag)
		p.Unhealthy += len(gs.Unhealthy())
	}
	for _, p := range byTime {
		r.Timeline = append(r.Timeline, *p)
	}
	sort.Slice(r.Timeline, func(i, j int) bool { return r.Timeline[i].Time.Before(r.Timeline[j].Time) })
	errorFinding := false
	for _, f := range findings {
		if f.Severity == SeverityError {
			errorFinding = true
		}
	}
	noLag := len(r.Timeline) == 0
	if noLag {
		at := ev.Window.To
		if at.IsZero() {
			at = now
		}
		r.Timeline = []TimelinePoint{{Time: at.UTC(), NoData: true}}
		if errorFinding {
			// Without lag samples the findings decide the point's health.
			r.Timeline[0].Status = StatusWarn
		}
	}
	for i := range r.Timeline {
		p := &r.Timeline[i]
		p.Healthy = p.Status == StatusOK && !p.NoData
		r.Status = max(r.Status, p.Status)
	}
	r.Checks, r.Restarts, r.Partitions = ev.Checks, ev.Restarts(), partitionSeries(ev.Lag)
	for _, t := range r.Restarts {
		idx := len(r.Timeline) - 1
		for i, p := range r.Timeline {
			if !t.After(p.Time) {
				idx = i
				break
			}
		}
		r.Timeline[idx].Restarts++
	}
	for fi, f := range findings {
		idx := len(r.Timeline) - 1
		for i, p := range r.Timeline {
			if !f.Time.After(p.Time) {
				idx = i
				break
			}
		}
		r.Timeline[idx].Findings = append(r.Timeline[idx].Findings, fi)
	}
	blocked := false
	for _, m := range r.Missing {
		blocked = blocked || m.Blocking
	}
	switch {
	case r.Status != StatusOK || errorFinding:
		r.Verdict = VerdictAnomaly
	case blocked || (noLag && ev.Job == nil):
		r.Verdict = VerdictUnknown
	default:
		r.Verdict = VerdictHealthy
	}
	r.Healthy = r.Verdict == VerdictHealthy
	r.Summary = summarize(r)
	return r
}

func summarize(r *Report) string {
	anomalies := 0
	for _, p := range r.Timeline {
		if !p.Healthy && !(p.NoData && p.Status == StatusOK) {
			anomalies++
		}
	}
	var b strings.Builder
	switch r.Verdict {
	case VerdictUnknown:
		b.WriteString("UNKNOWN: no anomaly found, but the window cannot be judged: ")
		var unread []string
		for _, m := range r.Missing {
			if m.Blocking {
				unread = append(unread, m.Source+": "+m.What)
			}
		}
		if len(unread) > 0 {
			b.WriteString("could not read " + strings.Join(unread, ", "))
		} else {
			b.WriteString("neither lag samples nor the job's state were read")
		}
		fmt.Fprintf(&b, "; %d finding(s)", len(r.Findings))
		if len(r.Missing) > 0 {
			fmt.Fprintf(&b, "; %d piece(s) of evidence missing", len(r.Missing))
		}
		return b.String()
	case VerdictHealthy:
		b.WriteString("HEALTHY")
	default:
		fmt.Fprintf(&b, "ANOMALY (%s)", r.Status)
	}
	fmt.Fprintf(&b, ": %d of %d evaluation point(s) unhealthy, %d finding(s)", anomalies, len(r.Timeline), len(r.Findings))
	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "; top: %s", r.Findings[0].Cause)
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(&b, "; %d piece(s) of evidence missing", len(r.Missing))
	}
	return b.String()
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a terminal: a header, the timeline as a
// table, the findings and the missing evidence. Text from logs and
// exceptions is stripped of control characters so it cannot move the
// cursor or change colours.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	title := "hotcold diag report"
	fmt.Fprintf(ew, "%s\n%s\n", title, strings.Repeat("=", len(title)))
	if r.JobID != "" || r.JobName != "" {
		fmt.Fprintf(ew, "job:       %s %s %s\n", clean(r.JobName), clean(r.JobID), paren(clean(r.JobState)))
	}
	if r.Group != "" {
		fmt.Fprintf(ew, "group:     %s\n", clean(r.Group))
	}
	fmt.Fprintf(ew, "window:    %s\n", r.Window)
	fmt.Fprintf(ew, "verdict:   %s\n\n", clean(r.Summary))

	fmt.Fprintf(ew, "TIMELINE\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tHEALTH\tSTATUS\tLAG\tTIME LAG\tBAD PARTITIONS\tFINDINGS")
	for _, p := range r.Timeline {
		health := "healthy"
		if p.NoData && p.Status == StatusOK {
			health = "no data"
		} else if !p.Healthy {
			health = "ANOMALY"
		}
		var fs []string
		for _, i := range p.Findings {
			fs = append(fs, fmt.Sprintf("#%d", i+1))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\n", p.Time.Format(time.RFC3339), health, p.Status, p.Lag, time.Duration(p.TimeLag).Round(time.Second), p.Unhealthy, strings.Join(fs, " "))
	}
	tw.Flush()

	fmt.Fprintf(ew, "\nFINDINGS\n")
	if len(r.Findings) == 0 {
		fmt.Fprintf(ew, "  none\n")
	}
	for i, f := range r.Findings {
		fmt.Fprintf(ew, "#%d [%s] %s  (%s, %s)\n", i+1, strings.ToUpper(f.Severity.String()), clean(f.Cause), clean(f.Rule), f.Time.UTC().Format(time.RFC3339))
		for _, d := range f.Details {
			fmt.Fprintf(ew, "     - %s\n", clean(d))
		}
		if f.Raw != "" {
			fmt.Fprintf(ew, "     raw record: %s\n", clean(truncate(f.Raw, 300)))
		}
		fmt.Fprintf(ew, "     suggestion: %s\n", clean(f.Suggestion))
	}
	if len(r.Checks) > 0 {
		fmt.Fprintf(ew, "\nCHECKS\n")
		for _, c := range r.Checks {
			switch c.Result {
			case "found":
				fmt.Fprintf(ew, "  %-14s found %d\n", clean(c.Rule), c.Findings)
			case "passed":
				fmt.Fprintf(ew, "  %-14s passed\n", clean(c.Rule))
			default:
				fmt.Fprintf(ew, "  %-14s not checked: %s\n", clean(c.Rule), clean(c.Reason))
			}
		}
	}
	fmt.Fprintf(ew, "\nMISSING EVIDENCE\n")
	if len(r.Missing) == 0 {
		fmt.Fprintf(ew, "  none\n")
	}
	for _, m := range r.Missing {
		fmt.Fprintf(ew, "  - %s: %s: %s\n", clean(m.Source), clean(m.What), clean(m.Reason))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(ew, "note: %s\n", clean(n))
	}
	return ew.err
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

// clean makes s safe for one line of terminal output: line breaks and tabs
// become spaces, other control characters (escape sequences) become U+FFFD.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return '�'
		}
		return r
	}, s)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
