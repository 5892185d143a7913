package diag

import (
	_ "embed"
	"html/template"
	"io"
	"time"
)

//go:embed report.html.tmpl
var reportHTML string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"fmtTime": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format(time.RFC3339)
	},
	"round":  func(d Duration) string { return time.Duration(d).Round(time.Second).String() },
	"plus1":  func(i int) int { return i + 1 },
	"last":   func(p []TimelinePoint) TimelinePoint { return p[len(p)-1] },
	"nodata": func(p TimelinePoint) bool { return p.NoData && p.Status == StatusOK },
	"lagChart": func(r *Report) template.HTML {
		return lagChartSVG(r, "offset lag per partition (messages)", func(p LagPoint) float64 { return float64(p.Lag) }, lagLabel)
	},
	"timeLagChart": func(r *Report) template.HTML {
		return lagChartSVG(r, "time lag per partition", func(p LagPoint) float64 { return float64(p.TimeLag) }, timeLagLabel)
	},
	"chartSeries": func(r *Report) []PartitionSeries { return r.chartSeries() },
	"color":       chartColor,
}).Parse(reportHTML))

// WriteHTML writes the report as one self-contained HTML page: inline CSS
// and SVG, no scripts, no external assets. A green/red bar shows the
// timeline with the restarts and findings marked on it; two charts show
// each partition's offset lag and time lag over the window (restarts as
// dashed lines); every finding shows its cause, details, raw record and
// suggestion; a table lists the checks that found something, passed or
// could not run. Long names and URLs wrap, so the page fits a narrow
// window. All text is HTML-escaped.
func (r *Report) WriteHTML(w io.Writer) error {
	if len(r.Timeline) == 0 {
		// The template needs a first and last point.
		c := *r
		c.Timeline = []TimelinePoint{{Time: r.Generated, Healthy: r.Healthy, NoData: true}}
		r = &c
	}
	return reportTmpl.Execute(w, r)
}
