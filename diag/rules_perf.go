package diag

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/dustin/go-humanize"
)

// The rules in this file look for the reason of slow processing. They stay
// silent when the job restarted in the window: a restarting job's load says
// nothing about its steady state, and RestartRule explains the lag.

// BottleneckRule finds the vertex that limits throughput: busy, not itself
// back-pressured, with a back-pressured upstream.
type BottleneckRule struct{ Config RuleConfig }

// Name returns "bottleneck".
func (r *BottleneckRule) Name() string { return "bottleneck" }

// Check implements Rule.
func (r *BottleneckRule) Check(_ context.Context, ev *Evidence) []Finding {
	if len(ev.Restarts()) > 0 {
		return nil
	}
	cfg := r.Config.WithDefaults()
	byID := make(map[string]*Vertex, len(ev.Vertices))
	for i := range ev.Vertices {
		byID[ev.Vertices[i].ID] = &ev.Vertices[i]
	}
	var out []Finding
	for i := range ev.Vertices {
		v := &ev.Vertices[i]
		busy, busyIdx := maxSubtask(v.Subtasks, func(s Subtask) float64 { return s.Busy })
		if busy < cfg.BusyRatio {
			continue
		}
		if bp := v.MaxBackPressured(); bp >= cfg.SelfBackPressure {
			continue
		}
		var ups []*Vertex
		if v.Inputs != nil {
			for _, id := range v.Inputs {
				if u := byID[id]; u != nil {
					ups = append(ups, u)
				}
			}
		} else if i > 0 {
			ups = append(ups, &ev.Vertices[i-1]) // topology unknown: Flink lists vertices in topological order
		}
		var pressured *Vertex
		bpMax := -1.0
		for _, u := range ups {
			if bp := u.MaxBackPressured(); bp >= cfg.UpstreamBackPressure && bp > bpMax {
				pressured, bpMax = u, bp
			}
		}
		if pressured == nil {
			continue
		}
		f := Finding{
			Rule: r.Name(), Severity: SeverityError, Time: ev.Window.To,
			Cause: fmt.Sprintf("Bottleneck: operator %q is saturated and back-pressures its upstream", v.Name),
			Details: []string{
				fmt.Sprintf("%s: busy %s (subtask %d), back-pressured %s, parallelism %d", v.Name, pct(busy), busyIdx, pct(max(v.MaxBackPressured(), 0)), v.Parallelism),
				fmt.Sprintf("upstream %s: back-pressured %s (level %s)", pressured.Name, pct(bpMax), orUnknown(pressured.BackPressureLevel)),
				"load from " + orUnknown(v.MetricsSource),
			},
			Suggestion: fmt.Sprintf("Raise the parallelism of %q (now %d, e.g. to %d) or make it cheaper per record (see the hot-method finding, if any).",
				v.Name, v.Parallelism, max(2, v.Parallelism*2)),
		}
		if why, ok := skewed(*v, cfg); ok {
			// More subtasks do not split one hot key: lead with what does.
			f.Details = append(f.Details, "skewed: "+why)
			f.Suggestion = "One subtask carries the load: hot keys. " + hotKeyAdvice +
				fmt.Sprintf(" Only once the keys are spread does raising the parallelism of %q (now %d) help.", v.Name, v.Parallelism)
		}
		out = append(out, f)
	}
	return out
}

// hotKeyAdvice is what fixes a hot key, after Flink's performance tuning
// guide for streaming aggregation (docs/dev/table/tuning).
const hotKeyAdvice = "Salt the hot keys (append a random bucket to the key) and aggregate in two steps, first by salted key, then by the key; " +
	"for Flink SQL aggregations turn on local-global (two-phase) aggregation, 'table.optimizer.agg-phase-strategy' = 'TWO_PHASE', which needs mini-batch: " +
	"'table.exec.mini-batch.enabled' = 'true' with 'table.exec.mini-batch.allow-latency' (e.g. '5 s') and 'table.exec.mini-batch.size'; " +
	"for COUNT DISTINCT on a hot key split it, 'table.optimizer.distinct-agg.split.enabled' = 'true' (buckets: 'table.optimizer.distinct-agg.split.bucket-num'); " +
	"or key by a more selective field."

// skewed reports whether a vertex's load sits on one subtask: its input
// rate or busy time is SkewRatio times the median of its subtasks.
func skewed(v Vertex, cfg RuleConfig) (string, bool) {
	if len(v.Subtasks) < 2 {
		return "", false
	}
	if vals, unit := subtaskInputs(v.Subtasks); vals != nil {
		hot, med := slices.Max(vals), median(vals)
		if hot >= cfg.SkewMinRate && (med <= 0 || hot/med >= cfg.SkewRatio) {
			return fmt.Sprintf("the busiest subtask receives %.0f %s, the median %.0f", hot, unit, med), true
		}
	}
	var busy []float64
	for _, s := range v.Subtasks {
		if s.Busy >= 0 {
			busy = append(busy, s.Busy)
		}
	}
	if len(busy) >= 2 {
		hot, med := slices.Max(busy), median(busy)
		if med <= 0 || hot/med >= cfg.SkewRatio {
			return fmt.Sprintf("the busiest subtask is busy %s, the median %s", pct(hot), pct(med)), true
		}
	}
	return "", false
}

func maxSubtask(ss []Subtask, f func(Subtask) float64) (float64, int) {
	m, idx := -1.0, -1
	for _, s := range ss {
		if v := f(s); v >= 0 && v > m {
			m, idx = v, s.Index
		}
	}
	return m, idx
}

// GCRule reports TaskManagers that spend too much of their time in garbage
// collection.
type GCRule struct{ Config RuleConfig }

// Name returns "gc".
func (r *GCRule) Name() string { return "gc" }

// Check implements Rule.
func (r *GCRule) Check(_ context.Context, ev *Evidence) []Finding {
	if len(ev.Restarts()) > 0 {
		return nil
	}
	cfg := r.Config.WithDefaults()
	var out []Finding
	for _, tm := range ev.TaskManagers {
		if tm.GCTimeShare < cfg.GCTimeShare {
			continue
		}
		sev := SeverityWarning
		if tm.GCTimeShare >= 2*cfg.GCTimeShare {
			sev = SeverityError
		}
		f := Finding{
			Rule: r.Name(), Severity: sev, Time: ev.Window.To,
			Cause: fmt.Sprintf("GC pressure: TaskManager %s spends %s of its time in garbage collection", tm.ID, pct(tm.GCTimeShare)),
			Details: []string{
				fmt.Sprintf("GC time share %s (threshold %s), from %s", pct(tm.GCTimeShare), pct(cfg.GCTimeShare), tm.Source),
			},
			Suggestion: "Enlarge the TaskManager heap ('taskmanager.memory.task.heap.size' or 'taskmanager.memory.process.size'); keep large state in RocksDB " +
				"(with enough 'taskmanager.memory.managed.size') instead of the heap state backend; reduce per-record allocations in UDFs; consider G1 tuning.",
		}
		if tm.HeapMax > 0 {
			f.Details = append(f.Details, fmt.Sprintf("heap used %s of %s (%s)", bytesIEC(tm.HeapUsed), bytesIEC(tm.HeapMax), pct(float64(tm.HeapUsed)/float64(tm.HeapMax))))
		}
		out = append(out, f)
	}
	return out
}

// bytesIEC renders a size in binary units (go-humanize): "3.0 GiB".
func bytesIEC(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }

// SkewRule reports vertices whose busiest subtask receives far more records
// than the median subtask, naming the hot subtask.
type SkewRule struct{ Config RuleConfig }

// Name returns "skew".
func (r *SkewRule) Name() string { return "skew" }

// Check implements Rule.
func (r *SkewRule) Check(_ context.Context, ev *Evidence) []Finding {
	if len(ev.Restarts()) > 0 {
		return nil
	}
	cfg := r.Config.WithDefaults()
	var out []Finding
	for _, v := range ev.Vertices {
		if len(v.Subtasks) < 2 {
			continue
		}
		vals, unit := subtaskInputs(v.Subtasks)
		if vals == nil {
			continue
		}
		hot, hotIdx := -1.0, -1
		for i, x := range vals {
			if x > hot {
				hot, hotIdx = x, v.Subtasks[i].Index
			}
		}
		if hot < cfg.SkewMinRate {
			continue
		}
		med := median(vals)
		ratio := math.Inf(1)
		if med > 0 {
			ratio = hot / med
		}
		if ratio < cfg.SkewRatio {
			continue
		}
		ratioText := "∞"
		if !math.IsInf(ratio, 1) {
			ratioText = fmt.Sprintf("%.1f", ratio)
		}
		f := Finding{
			Rule: r.Name(), Severity: SeverityWarning, Time: ev.Window.To,
			Cause: fmt.Sprintf("Data skew in %q: subtask %d receives %s× the median input", v.Name, hotIdx, ratioText),
			Details: []string{
				fmt.Sprintf("subtask %d: %.0f %s; median of %d subtasks: %.0f %s (threshold %.1f×)", hotIdx, hot, unit, len(vals), med, unit, cfg.SkewRatio),
				"load from " + orUnknown(v.MetricsSource),
			},
			Suggestion: "A few hot keys land on one subtask. " + hotKeyAdvice + " Raising the parallelism does not spread a single hot key.",
		}
		if busy := v.Subtasks[slices.IndexFunc(v.Subtasks, func(s Subtask) bool { return s.Index == hotIdx })].Busy; busy >= 0 {
			f.Details = append(f.Details, fmt.Sprintf("subtask %d is busy %s", hotIdx, pct(busy)))
		}
		out = append(out, f)
	}
	return out
}

// subtaskInputs returns the per-subtask input rate if every subtask has
// one, else the cumulative record counts, else nil.
func subtaskInputs(ss []Subtask) ([]float64, string) {
	vals := make([]float64, len(ss))
	ok := true
	for i, s := range ss {
		if s.RecordsInPerSecond < 0 {
			ok = false
			break
		}
		vals[i] = s.RecordsInPerSecond
	}
	if ok {
		return vals, "records/s"
	}
	for i, s := range ss {
		if s.RecordsIn < 0 {
			return nil, ""
		}
		vals[i] = float64(s.RecordsIn)
	}
	return vals, "records"
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// HotMethodRule reports the frames that dominate a vertex's CPU flame
// graph.
type HotMethodRule struct{ Config RuleConfig }

// Name returns "hot-method".
func (r *HotMethodRule) Name() string { return "hot-method" }

// Check implements Rule.
func (r *HotMethodRule) Check(_ context.Context, ev *Evidence) []Finding {
	if len(ev.Restarts()) > 0 {
		return nil
	}
	cfg := r.Config.WithDefaults()
	var out []Finding
	for _, fg := range ev.FlameGraphs {
		var hot []HotMethod
		for _, h := range fg.HotMethods(5) {
			if h.Share >= cfg.HotMethodShare {
				hot = append(hot, h)
			}
		}
		if len(hot) == 0 {
			continue
		}
		f := Finding{
			Rule: r.Name(), Severity: SeverityWarning, Time: fg.Time,
			Cause:      fmt.Sprintf("Hot method in %q: %s takes %s of the CPU samples", fg.VertexName, hot[0].Frame, pct(hot[0].Share)),
			Suggestion: hotMethodAdvice(hot[0].Frame),
		}
		if f.Time.IsZero() {
			f.Time = ev.Window.To
		}
		for _, h := range hot {
			f.Details = append(f.Details, fmt.Sprintf("%s: %s of samples (self time)", h.Frame, pct(h.Share)))
		}
		out = append(out, f)
	}
	return out
}

func hotMethodAdvice(frame string) string {
	l := strings.ToLower(frame)
	switch {
	case strings.Contains(l, "kryo"):
		return "Records fall back to Kryo serialisation: make the types Flink POJOs or register serializers, and avoid generic types in state and between operators."
	case strings.Contains(l, "rocksdb"):
		return "State access dominates: give RocksDB more managed memory ('taskmanager.memory.managed.fraction'), keep state small (TTL), and avoid reading large values per record."
	case strings.Contains(l, "regex") || strings.Contains(l, "pattern"):
		return "Regular expressions dominate: compile patterns once (not per record) or replace them with plain string operations."
	case strings.Contains(l, "json") || strings.Contains(l, "jackson"):
		return "JSON parsing dominates: parse once at the source, project only the needed fields, or use a binary format (Avro, Protobuf)."
	default:
		return "Optimise this code path (it runs for every record), or raise the operator's parallelism if it cannot be made cheaper."
	}
}
