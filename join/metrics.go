package join

import (
	"github.com/hotcold/hotcold/internal/promreg"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

type opMetrics struct {
	records, late, hotHits, coldHits, misses, possiblyMissed [2]prometheus.Counter
	outputs, coldRetries                                     prometheus.Counter
	coldSeconds                                              *prometheus.HistogramVec
	coversUntil                                              *prometheus.GaugeVec
}

func newOpMetrics(reg prometheus.Registerer, op, left, right string) (*opMetrics, error) {
	var cf promreg.Conflicts
	vec := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"operator", "input"})
		if reg != nil {
			v = promreg.Register(reg, v, &cf)
		}
		return v
	}
	pair := func(v *prometheus.CounterVec) [2]prometheus.Counter {
		return [2]prometheus.Counter{v.WithLabelValues(op, left), v.WithLabelValues(op, right)}
	}
	m := &opMetrics{
		records:        pair(vec("hotcold_join_records_total", "Input records joined, by input.")),
		late:           pair(vec("hotcold_join_late_records_total", "Records older than the hot window at arrival: joined but not stored.")),
		hotHits:        pair(vec("hotcold_join_hot_hits_total", "Lookups answered by hot state, by looked-up input.")),
		coldHits:       pair(vec("hotcold_join_cold_hits_total", "Lookups answered by the cold store after a hot miss, by looked-up input.")),
		misses:         pair(vec("hotcold_join_misses_total", "Lookups that found nothing hot or cold, by looked-up input.")),
		possiblyMissed: pair(vec("hotcold_join_possibly_missed_total", "Misses on an input whose uncovered buckets were dropped past the hard cap: matches possibly missed.")),
		coldSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotcold_join_cold_lookup_seconds",
			Help: "Latency of one batched cold MultiGet.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, []string{"operator", "input"}),
		coversUntil: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hotcold_join_cold_covers_until_seconds",
			Help: "Covers-until of the cold table backing an input (unix seconds)."}, []string{"operator", "input"}),
	}
	out := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotcold_join_output_rows_total", Help: "Changelog rows emitted."}, []string{"operator"})
	if reg != nil {
		out = promreg.Register(reg, out, &cf)
		m.coldSeconds = promreg.Register(reg, m.coldSeconds, &cf)
		m.coversUntil = promreg.Register(reg, m.coversUntil, &cf)
	}
	m.outputs = out.WithLabelValues(op)
	retries := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotcold_join_cold_lookup_retries_total",
		Help: "Cold MultiGet calls that failed and were retried."}, []string{"operator"})
	if reg != nil {
		retries = promreg.Register(reg, retries, &cf)
	}
	m.coldRetries = retries.WithLabelValues(op)
	return m, cf.Err()
}

type statsCounters struct {
	records, late, hotHits, coldHits, misses, possiblyMissed, expired [2]atomic.Int64
	outputs, coldLookups                                              atomic.Int64
}

// SideStats are the counters of one input. Lookup counters (HotHits,
// ColdHits, Misses, PossiblyMissed) count lookups *into* this input.
type SideStats struct {
	Input          string
	Records        int64
	Late           int64
	HotHits        int64
	ColdHits       int64
	Misses         int64
	PossiblyMissed int64
	ExpiredBuckets int64
	// Buckets is the number of live day buckets of the input's hot state.
	Buckets int
	// StateBytes is the estimated on-disk size of the input's hot state.
	StateBytes int64
}

// Stats is a snapshot of an operator's counters.
type Stats struct {
	Left, Right SideStats
	Outputs     int64
	// ColdLookups is the number of MultiGet calls made.
	ColdLookups int64
}

// Stats returns the counters so far. Safe for concurrent use.
func (o *Operator) Stats() Stats {
	st := Stats{Outputs: o.stats.outputs.Load(), ColdLookups: o.stats.coldLookups.Load()}
	for i, p := range []*SideStats{&st.Left, &st.Right} {
		c := o.stats
		s := o.sides[i]
		*p = SideStats{Input: s.in.Name, Records: c.records[i].Load(), Late: c.late[i].Load(), HotHits: c.hotHits[i].Load(),
			ColdHits: c.coldHits[i].Load(), Misses: c.misses[i].Load(), PossiblyMissed: c.possiblyMissed[i].Load(),
			ExpiredBuckets: c.expired[i].Load(), Buckets: s.ns.BucketCount(), StateBytes: s.ns.Bytes()}
	}
	return st
}
