package agg

import (
	"github.com/hotcold/hotcold/internal/promreg"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the operator's Prometheus counters, mirrored in atomics for
// Stats.
type metrics struct {
	in      counter
	out     *prometheus.CounterVec
	late    counter
	ignored counter
	outN    atomic.Int64
}

type counter struct {
	c prometheus.Counter
	n *atomic.Int64
}

func (c counter) Inc() { c.c.Inc(); c.n.Add(1) }

var (
	inVec = prometheus.CounterOpts{Name: "hotcold_agg_input_rows_total",
		Help: "Input changelog rows processed by the agg operator."}
	outVec = prometheus.CounterOpts{Name: "hotcold_agg_output_rows_total",
		Help: "Changelog rows emitted by the agg operator, by kind (+I, -U, +U, -D)."}
	lateVec = prometheus.CounterOpts{Name: "hotcold_agg_late_rows_total",
		Help: "Input rows dropped because their day is older than the retention window."}
	ignoredVec = prometheus.CounterOpts{Name: "hotcold_agg_ignored_retractions_total",
		Help: "Retractions for groups that do not exist (never accumulated or expired)."}
)

type statCounters struct{ in, late, ignored atomic.Int64 }

func newMetrics(reg prometheus.Registerer, id string) (*metrics, error) {
	var cf promreg.Conflicts
	in := promreg.Register(reg, prometheus.NewCounterVec(inVec, []string{"operator"}), &cf)
	out := promreg.Register(reg, prometheus.NewCounterVec(outVec, []string{"operator", "kind"}), &cf)
	late := promreg.Register(reg, prometheus.NewCounterVec(lateVec, []string{"operator"}), &cf)
	ign := promreg.Register(reg, prometheus.NewCounterVec(ignoredVec, []string{"operator"}), &cf)
	sc := &statCounters{}
	m := &metrics{
		in:      counter{in.WithLabelValues(id), &sc.in},
		late:    counter{late.WithLabelValues(id), &sc.late},
		ignored: counter{ign.WithLabelValues(id), &sc.ignored},
	}
	m.out = out.MustCurryWith(prometheus.Labels{"operator": id})
	return m, cf.Err()
}

// register registers c, reusing an identical collector already registered
// (several operators share one Registerer).

func (m *metrics) stats() Stats {
	return Stats{In: m.in.n.Load(), Out: m.outN.Load(), Late: m.late.n.Load(), IgnoredRetractions: m.ignored.n.Load()}
}
