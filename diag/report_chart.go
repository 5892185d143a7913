package diag

import (
	"fmt"
	"html"
	"html/template"
	"strings"
	"time"
)

// chartColors are the partitions' line colours, repeated when there are
// more partitions.
var chartColors = []string{"#3b7dd8", "#d93636", "#2fa84f", "#e29b19", "#8a4fd8", "#1aa5a5", "#c2417f", "#6b7a2f", "#5a6275", "#b35c1e"}

// maxChartLines caps the partitions drawn: the ones with the largest lag.
const maxChartLines = 10

// lagChartSVG draws one inline SVG chart over the window: a line per
// partition of value(point), restart markers as dashed vertical lines. It
// scales to the width of its container (viewBox, width 100%) and uses no
// external assets or scripts.
func lagChartSVG(r *Report, title string, value func(LagPoint) float64, label func(float64) string) template.HTML {
	const w, h, left, right, top, bottom = 1000.0, 200.0, 70.0, 10.0, 10.0, 24.0
	from, to := r.Window.From, r.Window.To
	if !to.After(from) {
		return ""
	}
	series := r.chartSeries()
	maxV := 0.0
	for _, s := range series {
		for _, p := range s.Points {
			maxV = max(maxV, value(p))
		}
	}
	if maxV <= 0 {
		maxV = 1
	}
	x := func(t time.Time) float64 {
		return left + (w-left-right)*float64(t.Sub(from))/float64(to.Sub(from))
	}
	y := func(v float64) float64 { return top + (h-top-bottom)*(1-v/maxV) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s">`, w, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="#fff" stroke="#cfd4dc"/>`, left, top, w-left-right, h-top-bottom)
	for _, frac := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="12" text-anchor="end" fill="#5a6275">%s</text>`, left-6, y(maxV*frac)+4, html.EscapeString(label(maxV*frac)))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" fill="#5a6275">%s</text>`, left, h-6, html.EscapeString(from.UTC().Format(time.RFC3339)))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" text-anchor="end" fill="#5a6275">%s</text>`, w-right, h-6, html.EscapeString(to.UTC().Format(time.RFC3339)))
	for _, t := range r.Restarts {
		fmt.Fprintf(&b, `<line class="restart" x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#1d2330" stroke-width="2" stroke-dasharray="5 4"><title>restart %s</title></line>`,
			x(t), top, x(t), h-bottom, html.EscapeString(t.UTC().Format(time.RFC3339)))
	}
	for i, s := range series {
		var pts []string
		for _, p := range s.Points {
			if p.Time.Before(from) || p.Time.After(to) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.Time), y(value(p))))
		}
		if len(pts) == 0 {
			continue
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`,
			chartColors[i%len(chartColors)], strings.Join(pts, " "), html.EscapeString(s.Name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers and escaped text
}

// chartSeries are the partitions drawn: at most maxChartLines, those with
// the largest lag first, in name order.
func (r *Report) chartSeries() []PartitionSeries {
	if len(r.Partitions) <= maxChartLines {
		return r.Partitions
	}
	idx := make([]int, len(r.Partitions))
	for i := range idx {
		idx[i] = i
	}
	// Keep the largest by MaxLag, stable by name.
	for i := 0; i < maxChartLines; i++ {
		best := i
		for j := i + 1; j < len(idx); j++ {
			if r.Partitions[idx[j]].MaxLag > r.Partitions[idx[best]].MaxLag {
				best = j
			}
		}
		idx[i], idx[best] = idx[best], idx[i]
	}
	keep := idx[:maxChartLines]
	out := make([]PartitionSeries, 0, maxChartLines)
	for i, s := range r.Partitions {
		for _, k := range keep {
			if k == i {
				out = append(out, s)
			}
		}
	}
	return out
}

// chartColor is the colour of the i-th drawn series.
func chartColor(i int) template.CSS { return template.CSS(chartColors[i%len(chartColors)]) }

func lagLabel(v float64) string { return fmt.Sprintf("%.0f", v) }

func timeLagLabel(v float64) string { return time.Duration(v).Round(time.Second).String() }
