package runner

import (
	"errors"

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
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotcold_join_runner_records_total", Help: "Input records consumed."}),
		outputs: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotcold_join_runner_produced_total", Help: "Changelog records produced."}),
		dirty: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotcold_join_dirty_records_total",
			Help: "Input records that could not be decoded or joined, by topic and policy."}, []string{"topic", "policy"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotcold_join_runner_batch_seconds",
			Help: "Time to join, commit and deliver one poll batch.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}),
	}
	if reg != nil {
		m.records = register(reg, m.records)
		m.outputs = register(reg, m.outputs)
		m.dirty = register(reg, m.dirty)
		m.batchSeconds = register(reg, m.batchSeconds)
	}
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
	}
	return c
}
