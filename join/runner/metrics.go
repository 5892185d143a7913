package runner

import (
	"github.com/hotcold/hotcold/internal/promreg"

	"github.com/prometheus/client_golang/prometheus"
)

type runnerMetrics struct {
	records      prometheus.Counter
	outputs      prometheus.Counter
	dirty        *prometheus.CounterVec
	batchSeconds prometheus.Histogram
}

func newRunnerMetrics(reg prometheus.Registerer) *runnerMetrics {
	m := &runnerMetrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotcold_join_runner_records_total", Help: "Input records consumed and committed (joined, dirty or before the hot window)."}),
		outputs: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotcold_join_runner_produced_total", Help: "Changelog records produced."}),
		dirty: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotcold_join_dirty_records_total",
			Help: "Input records that could not be decoded or joined, by topic and policy."}, []string{"topic", "policy"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotcold_join_runner_batch_seconds",
			Help: "Time to join, commit and deliver one poll batch.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}),
	}
	if reg != nil {
		m.records = promreg.Register(reg, m.records)
		m.outputs = promreg.Register(reg, m.outputs)
		m.dirty = promreg.Register(reg, m.dirty)
		m.batchSeconds = promreg.Register(reg, m.batchSeconds)
	}
	return m
}
