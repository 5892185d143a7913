package runcore

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/internal/promreg"
)

type metrics struct {
	records      prometheus.Counter
	outputs      prometheus.Counter
	dirty        *prometheus.CounterVec
	batchSeconds prometheus.Histogram
}

// newMetrics makes the runner's metrics, named after its kind:
// hotcold_<kind>_runner_records_total, hotcold_<kind>_runner_produced_total,
// hotcold_<kind>_dirty_records_total{topic,policy} and
// hotcold_<kind>_runner_batch_seconds.
func newMetrics(reg prometheus.Registerer, kind string) (*metrics, error) {
	var cf promreg.Conflicts
	m := &metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotcold_" + kind + "_runner_records_total",
			Help: "Input records consumed and committed (processed, dirty or passed over)."}),
		outputs: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotcold_" + kind + "_runner_produced_total", Help: "Changelog records produced."}),
		dirty: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotcold_" + kind + "_dirty_records_total",
			Help: "Input records that could not be decoded or processed, by topic and policy; counted when their skip or dead letter is committed."}, []string{"topic", "policy"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotcold_" + kind + "_runner_batch_seconds",
			Help: "Time to process, commit and deliver one poll batch.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}),
	}
	if reg != nil {
		m.records = promreg.Register(reg, m.records, &cf)
		m.outputs = promreg.Register(reg, m.outputs, &cf)
		m.dirty = promreg.Register(reg, m.dirty, &cf)
		m.batchSeconds = promreg.Register(reg, m.batchSeconds, &cf)
	}
	return m, cf.Err()
}
