package state

import (
	"github.com/hotcold/hotcold/internal/promreg"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	buckets       *prometheus.GaugeVec
	bytes         *prometheus.GaugeVec
	lagging       *prometheus.GaugeVec
	expired       *prometheus.CounterVec
	commitSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var cf promreg.Conflicts
	m := &metrics{
		buckets: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hotcold_state_buckets",
			Help: "Live event-time day buckets per state namespace (summed over open DBs)."}, []string{"namespace"}),
		bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hotcold_state_bytes",
			Help: "Estimated on-disk bytes of committed rows per state namespace (summed over open DBs)."}, []string{"namespace"}),
		lagging: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hotcold_state_lagging_buckets",
			Help: "Buckets past the hot window kept because the cold store does not cover them yet."}, []string{"namespace"}),
		expired: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotcold_state_expired_buckets_total",
			Help: "Buckets dropped, by reason (aged: past the window and covered; over_cap_uncovered: past the hard cap, not covered)."}, []string{"namespace", "reason"}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotcold_state_commit_seconds",
			Help: "Latency of state batch commits.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
	}
	if reg != nil {
		m.buckets = promreg.Register(reg, m.buckets, &cf)
		m.bytes = promreg.Register(reg, m.bytes, &cf)
		m.lagging = promreg.Register(reg, m.lagging, &cf)
		m.expired = promreg.Register(reg, m.expired, &cf)
		m.commitSeconds = promreg.Register(reg, m.commitSeconds, &cf)
	}
	return m, cf.Err()
}

// register registers c, or returns the collector already registered under
// the same description, so that many DBs share one set of metrics.

func (ns *Namespace) initMetrics() { ns.refreshBytes(); ns.reportMetrics() }

// reportMetrics publishes deltas so that gauges of many DBs add up.
func (ns *Namespace) reportMetrics() {
	m := ns.db.m
	b := ns.bucketCount.Load()
	m.buckets.WithLabelValues(ns.name).Add(float64(b - ns.reportedBuckets))
	ns.reportedBuckets = b
	by := ns.bytes.Load()
	m.bytes.WithLabelValues(ns.name).Add(float64(by - ns.reportedBytes))
	ns.reportedBytes = by
	m.lagging.WithLabelValues(ns.name).Add(float64(ns.lagging - ns.reportedLagging))
	ns.reportedLagging = ns.lagging
}

func (ns *Namespace) closeMetrics() {
	m := ns.db.m
	m.buckets.WithLabelValues(ns.name).Add(float64(-ns.reportedBuckets))
	m.bytes.WithLabelValues(ns.name).Add(float64(-ns.reportedBytes))
	m.lagging.WithLabelValues(ns.name).Add(float64(-ns.reportedLagging))
	ns.reportedBuckets, ns.reportedBytes, ns.reportedLagging = 0, 0, 0
}
