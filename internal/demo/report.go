package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hotcold/hotcold/internal/progress"
)

// Report is the outcome of a demo run: the workload, the cold load, the
// two jobs side by side and the comparison of their outputs. It encodes
// as JSON (the --json output).
type Report struct {
	Days         int    `json:"days"`
	OrdersPerDay int    `json:"orders_per_day"`
	HotDays      int    `json:"hot_days"`
	Partitions   int    `json:"partitions"`
	Seed         uint64 `json:"seed"`
	Dir          string `json:"dir"`
	// Orders and Refunds are the generated input records.
	Orders  int `json:"orders"`
	Refunds int `json:"refunds"`
	// Cold is the warehouse export and the cold store load.
	Cold ColdLoad `json:"cold"`
	// HotCold is the job keeping HotDays in state with the cold store
	// behind the sidecar; Baseline keeps every day in state.
	HotCold  JobReport `json:"hot_cold"`
	Baseline JobReport `json:"baseline"`
	// AggRecords and AggSeconds are the joined records both aggregations
	// consumed and the time they took.
	AggRecords int64   `json:"agg_records"`
	AggSeconds float64 `json:"agg_seconds"`
	// Comparison compares the merged outputs.
	Comparison Comparison `json:"comparison"`
	// Identical reports whether every comparison found equal tables.
	Identical bool `json:"identical"`
	// Seconds is the wall time of the whole run, and CPUSeconds the CPU
	// time (user + system) the process used meanwhile: on a shared
	// machine wall time includes waiting for a core.
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// Steps are the steps of the run in order, with their durations.
	Steps []StepTime `json:"steps"`
}

// StepTime is the duration of one step of a run.
type StepTime struct {
	Step    string  `json:"step"`
	Seconds float64 `json:"seconds"`
	Done    int64   `json:"done"`
	Unit    string  `json:"unit"`
}

// JobReport is what one join job measured.
type JobReport struct {
	Name          string `json:"name"`
	RetentionDays int    `json:"retention_days"`
	// Records is the number of input records the job consumed while it
	// was fed the month live (see the package doc), in Seconds (from its
	// start until it had consumed the last record).
	Records          int64   `json:"records"`
	Seconds          float64 `json:"seconds"`
	RecordsPerSecond float64 `json:"records_per_second"`
	// StateBytes is the job's state on disk after the run (compacted).
	StateBytes int64 `json:"state_bytes"`
	// BootstrapRecords and BootstrapSeconds are what a fresh job of this
	// kind consumes and how long it takes to catch up with the complete
	// topics: all of them for the baseline, the hot window for the
	// hot/cold job (whose older state is the shared cold store).
	BootstrapRecords int64   `json:"bootstrap_records"`
	BootstrapSeconds float64 `json:"bootstrap_seconds"`
	// BootstrapColdHits are the cold hits of the hot/cold bootstrap run.
	BootstrapColdHits int64 `json:"bootstrap_cold_hits,omitempty"`
	// Lookups count where refunds found their orders.
	Lookups Lookups `json:"lookups"`
	// Sidecar is the client-side latency of the cold lookups (hot/cold
	// job only).
	Sidecar *LookupLatency `json:"sidecar,omitempty"`
	// Outputs is the number of changelog records produced; Dirty and Late
	// the rejected and late input records.
	Outputs int64 `json:"outputs"`
	Dirty   int64 `json:"dirty"`
	Late    int64 `json:"late"`
}

// Comparison compares the merged (upsert by key) output tables.
type Comparison struct {
	// JoinIdentical: the hot/cold job's joined table equals the
	// baseline's. JoinRows is the baseline's row count.
	JoinIdentical bool `json:"join_identical"`
	JoinRows      int  `json:"join_rows"`
	// AggIdentical: the refund totals per city and day computed from the
	// two joined streams are equal. AggRows is their row count.
	AggIdentical bool `json:"agg_identical"`
	AggRows      int  `json:"agg_rows"`
	// BootstrapIdentical: the freshly bootstrapped hot/cold job produced
	// the baseline's rows for the refunds of the hot window.
	BootstrapIdentical bool `json:"bootstrap_identical"`
	BootstrapRows      int  `json:"bootstrap_rows"`
	// MatchesReference: the baseline's tables equal the join and
	// aggregation computed in memory from the generated data.
	MatchesReference bool `json:"matches_reference"`
	// Diffs describe the comparisons that failed.
	Diffs []string `json:"diffs,omitempty"`
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ratios of the headline numbers (0 when not measurable).
func (r *Report) stateRatio() float64 { return ratio(r.Baseline.StateBytes, r.HotCold.StateBytes) }
func (r *Report) bootstrapRatio() float64 {
	return ratioF(r.Baseline.BootstrapSeconds, r.HotCold.BootstrapSeconds)
}
func (r *Report) throughputRatio() float64 {
	return ratioF(r.HotCold.RecordsPerSecond, r.Baseline.RecordsPerSecond)
}

func ratio(a, b int64) float64 { return ratioF(float64(a), float64(b)) }

func ratioF(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return a / b
}

// rows are the comparison table: metric, hot/cold, baseline, note.
func (r *Report) rows() [][4]string {
	hc, bl := &r.HotCold, &r.Baseline
	lat := "-"
	latNote := ""
	if hc.Sidecar != nil && hc.Sidecar.Calls > 0 {
		lat = fmt.Sprintf("%s / %s", ms(hc.Sidecar.P50), ms(hc.Sidecar.P99))
		latNote = fmt.Sprintf("per batched lookup (%s calls, %s keys)", count(hc.Sidecar.Calls), count(hc.Sidecar.Keys))
	}
	identical := "NO"
	if r.Identical {
		identical = "yes"
	}
	return [][4]string{
		{"records/s", count(int64(hc.RecordsPerSecond)), count(int64(bl.RecordsPerSecond)), times(r.throughputRatio(), "the baseline's rate")},
		{"state bytes", bytesText(hc.StateBytes), bytesText(bl.StateBytes), times(r.stateRatio(), "smaller")},
		{"bootstrap time", secs(hc.BootstrapSeconds), secs(bl.BootstrapSeconds), times(r.bootstrapRatio(), "faster")},
		{"  records to read", count(hc.BootstrapRecords), count(bl.BootstrapRecords), fmt.Sprintf("hot window vs all %d days", r.Days)},
		{"hot hits", count(hc.Lookups.HotHits), count(bl.Lookups.HotHits), "refunds that found their order in local state"},
		{"cold hits", count(hc.Lookups.ColdHits), count(bl.Lookups.ColdHits), "... in the shared cold store, via the sidecar"},
		{"misses", count(hc.Lookups.Misses), count(bl.Lookups.Misses), "refunds read before their order (joined when it arrives)"},
		{"sidecar p50 / p99", lat, "-", latNote},
		{"outputs identical", identical, identical, fmt.Sprintf("%s joined rows, %s city-day totals", count(int64(r.Comparison.JoinRows)), count(int64(r.Comparison.AggRows)))},
	}
}

// WriteTable writes the report for people: the workload, the cold load,
// the side-by-side table and what it shows.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "hotcold demo: %d days x %s orders/day = %s orders, %s refunds (seed %d, %d partitions)\n",
		r.Days, count(int64(r.OrdersPerDay)), count(int64(r.Orders)), count(int64(r.Refunds)), r.Seed, r.Partitions)
	fmt.Fprintf(&b, "warehouse export: %d days of orders as %d Parquet files (%s) in %s\n",
		r.Cold.Days, r.Cold.Files, bytesText(r.Cold.FileBytes), secs(r.Cold.ExportSeconds))
	fmt.Fprintf(&b, "cold store: %s orders bulk-loaded in %s (%s rows/s), %s on disk, version %s covers until %s\n\n",
		count(r.Cold.Rows), secs(r.Cold.LoadSeconds), count(int64(ratioF(float64(r.Cold.Rows), r.Cold.LoadSeconds))),
		bytesText(r.Cold.StoreBytes), r.Cold.Version, r.Cold.CoversUntil.UTC().Format(time.DateOnly))
	var tb strings.Builder
	tw := tabwriter.NewWriter(&tb, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "\thot/cold (%d days hot)\tbaseline (%d days hot)\t\n", r.HotCold.RetentionDays, r.Baseline.RetentionDays)
	for _, row := range r.rows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row[0], row[1], row[2], row[3])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(tb.String(), "\n") {
		b.WriteString(strings.TrimRight(line, " \n"))
		if strings.HasSuffix(line, "\n") {
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "\n%s\n", r.Shows())
	fmt.Fprintf(&b, "\nThe whole run took %s (%s of CPU).\n", secs(r.Seconds), secs(r.CPUSeconds))
	for _, d := range r.Comparison.Diffs {
		fmt.Fprintf(&b, "\nDIFFERENCE %s\n", d)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Shows is the one-paragraph "what this shows" summary.
func (r *Report) Shows() string {
	hc := &r.HotCold
	if !r.Identical {
		return "What this shows: the outputs DIFFER (see below); this is a bug, please report it with the JSON output (--json)."
	}
	coldShare := 0.0
	if n := hc.Lookups.HotHits + hc.Lookups.ColdHits; n > 0 {
		coldShare = 100 * float64(hc.Lookups.ColdHits) / float64(n)
	}
	p99 := ""
	if hc.Sidecar != nil && hc.Sidecar.Calls > 0 {
		p99 = fmt.Sprintf(" at a p99 of %s per batched lookup", ms(hc.Sidecar.P99))
	}
	less := fmt.Sprintf("%.0fx less state", r.stateRatio())
	if r.stateRatio() < 1.5 {
		less = "at this size hardly less state" // a handful of days
	}
	return fmt.Sprintf("What this shows: the hot/cold job keeps %d of %d days in local state (%s, plus one %s cold copy that all jobs share),\n"+
		"a new job catches up %.0fx faster because it reads only the hot window from Kafka (which then need not keep all %d days),\n"+
		"%.0f%% of refunds found their order in the cold store through the sidecar%s,\n"+
		"and the joined rows and the refund totals per city and day are identical to the full-retention baseline's.",
		hc.RetentionDays, r.Days, less, bytesText(r.Cold.StoreBytes), r.bootstrapRatio(), r.Days, coldShare, p99)
}

// WriteMarkdown writes the report as a markdown section for BENCHMARKS.md:
// the workload, the side-by-side table, and the targets.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Workload: %d days x %s orders/day = %s orders and %s refunds (seed %d, %d partitions, in-process Kafka); "+
		"cold store: %s orders from %d Parquet files (%s), loaded in %s, %s on disk.\n\n",
		r.Days, count(int64(r.OrdersPerDay)), count(int64(r.Orders)), count(int64(r.Refunds)), r.Seed, r.Partitions,
		count(r.Cold.Rows), r.Cold.Files, bytesText(r.Cold.FileBytes), secs(r.Cold.LoadSeconds), bytesText(r.Cold.StoreBytes))
	fmt.Fprintf(&b, "| | hot/cold (%d days hot) | baseline (%d days hot) | |\n|---|---:|---:|---|\n", r.HotCold.RetentionDays, r.Baseline.RetentionDays)
	for _, row := range r.rows() {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", strings.TrimSpace(row[0]), row[1], row[2], row[3])
	}
	verdict := func(ok bool) string {
		if ok {
			return "meets"
		}
		return "**misses**"
	}
	fmt.Fprintf(&b, "\n| target | measured | verdict |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| merged outputs identical (join, agg, bootstrap, reference) | %v | %s |\n", r.Identical, verdict(r.Identical))
	fmt.Fprintf(&b, "| hot/cold state smaller than the baseline's | %.1fx smaller | %s |\n", r.stateRatio(), verdict(r.stateRatio() > 1))
	timeVerdict := "reported (the target is for the default size)"
	if r.Days == DefaultDays && r.OrdersPerDay == DefaultOrdersPerDay {
		timeVerdict = verdict(r.Seconds < 120)
	}
	fmt.Fprintf(&b, "| whole demo (default size) < 2 minutes | %s wall (%s CPU) | %s |\n", secs(r.Seconds), secs(r.CPUSeconds), timeVerdict)
	fmt.Fprintf(&b, "\n%s\n\nSteps:", strings.ReplaceAll(r.Shows(), "\n", " "))
	for i, s := range r.Steps {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(&b, "%s %s %s", sep, s.Step, secs(s.Seconds))
	}
	b.WriteString(".\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func times(x float64, what string) string {
	if x == 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx %s", x, what)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

func secs(s float64) string {
	return progress.Round(time.Duration(s * float64(time.Second))).String()
}
