package diag_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/diag"
)

func scenarioReport(t *testing.T, scenario, job string, prom bool, lag diag.LagConfig) *diag.Report {
	t.Helper()
	d := newDiagnoser(t, scenario, prom)
	q := diag.Query{JobID: job, Window: scenarioWindow}
	q.Lag = replayLag(t, "testdata/scenarios/"+scenario+"/lag.jsonl", lag)
	return d.Diagnose(context.Background(), q)
}

func replayLag(t *testing.T, path string, cfg diag.LagConfig) []diag.GroupStatus {
	t.Helper()
	b, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	samples, err := diag.ReadSamples(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := diag.Replay(samples, cfg, scenarioWindow)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func rules(r *diag.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Rule)
	}
	return out
}

func TestScenarioReports(t *testing.T) {
	cp := diag.LagConfig{CommitInterval: time.Minute}
	for _, tc := range []struct {
		scenario, job string
		prom          bool
		lag           diag.LagConfig
		status        diag.Status
		rules         string
	}{
		{"dirty", dirtyJob, false, cp, diag.StatusStop, "restart/dirty-data"},
		{"skew", skewJob, false, cp, diag.StatusWarn, "bottleneck skew hot-method partition-lag/producer-skew"},
		{"gc", gcJob, true, diag.LagConfig{CommitInterval: 2 * time.Minute}, diag.StatusWarn, "checkpoint bottleneck gc"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			r := scenarioReport(t, tc.scenario, tc.job, tc.prom, tc.lag)
			if r.Status != tc.status || r.Healthy {
				t.Errorf("status %s healthy %t, want %s and unhealthy", r.Status, r.Healthy, tc.status)
			}
			if got := strings.Join(rules(r), " "); got != tc.rules {
				t.Errorf("findings %q, want %q", got, tc.rules)
			}
			if len(r.Timeline) != 61 || !r.Timeline[0].Healthy {
				t.Errorf("timeline of %d points starting healthy=%t, want 61 from a healthy start", len(r.Timeline), r.Timeline[0].Healthy)
			}
		})
	}
}

func TestDirtyDataReportShowsTheRawMessageEverywhere(t *testing.T) {
	r := scenarioReport(t, "dirty", dirtyJob, false, diag.LagConfig{CommitInterval: time.Minute})
	raw := `{"order_id": 1042, "customer": "c-77", "amount": 12,50}`
	if r.Findings[0].Raw != raw {
		t.Fatalf("raw %q, want %q", r.Findings[0].Raw, raw)
	}
	var js, txt, html bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	var back diag.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Findings[0].Raw != raw || back.Status != diag.StatusStop {
		t.Fatalf("JSON does not round-trip: %v", err)
	}
	if !strings.Contains(txt.String(), "raw record: "+raw) || !strings.Contains(txt.String(), "json.ignore-parse-errors") {
		t.Errorf("terminal report lacks the raw record or the suggestion:\n%s", txt.String())
	}
	if !strings.Contains(html.String(), "{&#34;order_id&#34;: 1042") {
		t.Errorf("HTML lacks the escaped raw record")
	}
	// Missing evidence: the unparsable log line and Prometheus.
	if !strings.Contains(txt.String(), "unparsable log lines") || !strings.Contains(txt.String(), "no Prometheus configured") {
		t.Errorf("terminal report does not list the missing evidence:\n%s", txt.String())
	}
}

func TestHTMLReportIsSelfContainedWithTimelineAndFindings(t *testing.T) {
	r := scenarioReport(t, "skew", skewJob, false, diag.LagConfig{CommitInterval: time.Minute})
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	h := b.String()
	if n := strings.Count(h, `class="seg healthy"`) + strings.Count(h, `class="seg anomaly"`); n != len(r.Timeline) {
		t.Errorf("%d timeline segments, want %d", n, len(r.Timeline))
	}
	if !strings.Contains(h, `class="seg healthy"`) || !strings.Contains(h, `class="seg anomaly"`) {
		t.Error("timeline lacks green or red segments")
	}
	for i, f := range r.Findings {
		for _, want := range []string{`id="finding-` + itoa(i+1) + `"`, htmlEscape(f.Cause), htmlEscape(f.Suggestion)} {
			if !strings.Contains(h, want) {
				t.Errorf("HTML lacks %q", want)
			}
		}
	}
	if regexp.MustCompile(`(?i)<(script|link)\b|src=|https?://`).MatchString(h) {
		t.Error("HTML references scripts or external assets")
	}
}

func htmlEscape(s string) string {
	var b bytes.Buffer
	templateEscape(&b, s)
	return b.String()
}

func TestReportsEscapeHostileLogText(t *testing.T) {
	evil := "<script>alert(1)</script>\x1b[31mred"
	ev := &diag.Evidence{Window: scenarioWindow, Missing: []diag.Missing{{Source: "logs", What: "x", Reason: evil}}}
	r := diag.BuildReport(ev, []diag.Finding{{Rule: "r", Severity: diag.SeverityError, Time: t0, Cause: evil, Details: []string{evil}, Suggestion: "s", Raw: evil}}, t0)
	var html, txt bytes.Buffer
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html.String(), "<script>") || !strings.Contains(html.String(), "&lt;script&gt;") {
		t.Error("HTML does not escape log text")
	}
	if strings.Contains(txt.String(), "\x1b") {
		t.Error("terminal report passes escape sequences through")
	}
	if r.Healthy || len(r.Timeline) != 1 || r.Timeline[0].Healthy || r.Timeline[0].Findings[0] != 0 {
		t.Errorf("report without lag %+v: want one unhealthy point carrying the error finding", r.Timeline)
	}
}

// The page marks restarts on the timeline, charts each partition's lag
// over the window in inline SVG, and lists the checks that ran.
func TestHTMLReportShowsRestartsLagChartAndChecks(t *testing.T) {
	r := scenarioReport(t, "dirty", dirtyJob, false, diag.LagConfig{CommitInterval: time.Minute})
	if len(r.Restarts) == 0 || len(r.Partitions) == 0 || len(r.Checks) == 0 {
		t.Fatalf("report has %d restarts, %d partition series, %d checks", len(r.Restarts), len(r.Partitions), len(r.Checks))
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	h := b.String()
	marked := 0
	for _, p := range r.Timeline {
		marked += p.Restarts
	}
	if marked != len(r.Restarts) || strings.Count(h, `<span class="rs"`) == 0 {
		t.Errorf("%d of %d restarts on the timeline, %d restart marks in the page", marked, len(r.Restarts), strings.Count(h, `<span class="rs"`))
	}
	// The first failure, 10:12:04, marks the point of 10:12:30.
	if !strings.Contains(h, `title="2026-11-22T10:12:30Z OK lag 12800, 32s behind, 1 restart(s)"`) {
		t.Error("the first restart is not marked at 10:12:30")
	}
	if n := strings.Count(h, `<svg class="chart"`); n != 2 {
		t.Errorf("%d charts, want offset lag and time lag", n)
	}
	if n := strings.Count(h, "<polyline"); n != 2*len(r.Partitions) {
		t.Errorf("%d lines, want one per partition (%d) in each chart", n, len(r.Partitions))
	}
	if n := strings.Count(h, `<line class="restart"`); n != 2*len(r.Restarts) {
		t.Errorf("%d restart lines in the charts, want %d", n, 2*len(r.Restarts))
	}
	for _, c := range r.Checks {
		if !strings.Contains(h, "<td>"+c.Rule+"</td>") {
			t.Errorf("check %s not listed", c.Rule)
		}
	}
	results := map[string]string{}
	for _, c := range r.Checks {
		results[c.Rule] = c.Result
	}
	if results["restart"] != "found" || results["bottleneck"] != "not checked" || results["checkpoint"] == "" {
		t.Errorf("checks %+v: want restart found, bottleneck not checked (the job restarted), checkpoint listed", r.Checks)
	}
	var txt bytes.Buffer
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "\nCHECKS\n") || !strings.Contains(txt.String(), "bottleneck     not checked: the job restarted in the window") {
		t.Errorf("terminal report does not list the checks:\n%s", txt.String())
	}
}
