package coldstore

import (
	"github.com/hotcold/hotcold/internal/promreg"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Prometheus metrics of one store. They are registered on
// the injected Registerer; a store opened twice on the same Registerer
// shares the collectors.
type metrics struct {
	backend     string
	loads       *prometheus.CounterVec   // backend, result
	rows        *prometheus.CounterVec   // backend
	dups        *prometheus.CounterVec   // backend
	loadSecs    *prometheus.HistogramVec // backend
	lookups     *prometheus.CounterVec   // backend, table
	misses      *prometheus.CounterVec   // backend, table
	pinned      *prometheus.GaugeVec     // backend
	pinRefuse   *prometheus.CounterVec   // backend
	rowsLoaded  prometheus.Counter
	pinnedBytes prometheus.Gauge
	pinRefused  prometheus.Counter
	dupsLoaded  prometheus.Counter
	loadTime    prometheus.Observer
}

func newMetrics(reg prometheus.Registerer, backend string) (*metrics, error) {
	var cf promreg.Conflicts
	m := &metrics{
		backend: backend,
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "coldstore", Name: "loads_total",
			Help: "Loads of a table version, by result (ok, error).",
		}, []string{"backend", "result"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "coldstore", Name: "load_rows_total",
			Help: "Distinct rows written by published loads.",
		}, []string{"backend"}),
		dups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "coldstore", Name: "load_duplicates_total",
			Help: "Input rows replaced by a later row with the same key during loads.",
		}, []string{"backend"}),
		loadSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "hotcold", Subsystem: "coldstore", Name: "load_seconds",
			Help:    "Wall time of published loads.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 16),
		}, []string{"backend"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "coldstore", Name: "lookups_total",
			Help: "Keys looked up (Get counts one, MultiGet one per key).",
		}, []string{"backend", "table"}),
		misses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "coldstore", Name: "lookup_misses_total",
			Help: "Keys looked up and not found.",
		}, []string{"backend", "table"}),
		pinned: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "hotcold", Subsystem: "coldstore", Name: "pinned_bytes",
			Help: "Memory held by versions pinned in memory for lookups (Pebble backend).",
		}, []string{"backend"}),
		pinRefuse: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "coldstore", Name: "pin_refused_total",
			Help: "Versions not pinned because they did not fit in the pin memory budget.",
		}, []string{"backend"}),
	}
	if reg != nil {
		m.loads = promreg.Register(reg, m.loads, &cf)
		m.rows = promreg.Register(reg, m.rows, &cf)
		m.dups = promreg.Register(reg, m.dups, &cf)
		m.loadSecs = promreg.Register(reg, m.loadSecs, &cf)
		m.lookups = promreg.Register(reg, m.lookups, &cf)
		m.misses = promreg.Register(reg, m.misses, &cf)
		m.pinned = promreg.Register(reg, m.pinned, &cf)
		m.pinRefuse = promreg.Register(reg, m.pinRefuse, &cf)
	}
	m.rowsLoaded = m.rows.WithLabelValues(backend)
	m.dupsLoaded = m.dups.WithLabelValues(backend)
	m.loadTime = m.loadSecs.WithLabelValues(backend)
	m.pinnedBytes = m.pinned.WithLabelValues(backend)
	m.pinRefused = m.pinRefuse.WithLabelValues(backend)
	return m, cf.Err()
}

func (m *metrics) loaded(res LoadResult, err error) {
	if err != nil {
		m.loads.WithLabelValues(m.backend, "error").Inc()
		return
	}
	m.loads.WithLabelValues(m.backend, "ok").Inc()
	m.rowsLoaded.Add(float64(res.Rows))
	m.dupsLoaded.Add(float64(res.Duplicates))
	m.loadTime.Observe(res.Seconds)
}

// tableCounters returns the per-table lookup counters.
func (m *metrics) tableCounters(table string) (lookups, misses prometheus.Counter) {
	return m.lookups.WithLabelValues(m.backend, table), m.misses.WithLabelValues(m.backend, table)
}
