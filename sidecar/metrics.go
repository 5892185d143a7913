package sidecar

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sidecar's own Prometheus metrics; the per-method gRPC
// metrics come from go-grpc-middleware's Prometheus provider.
type metrics struct {
	cacheHits, cacheNegHits, cacheMisses prometheus.Counter
	cacheEvictions                       prometheus.Counter
	coalesced                            prometheus.Counter
	versionRetries                       prometheus.Counter
	versionChanges                       *prometheus.CounterVec
	storeSeconds                         *prometheus.HistogramVec
	storeErrors                          *prometheus.CounterVec
	keys                                 *prometheus.CounterVec
	lookupsVec                           *prometheus.CounterVec
}

func newMetrics() *metrics {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "hotcold", Subsystem: "sidecar", Name: "cache_lookups_total",
		Help: "Keys looked up in the read cache, by result: hit (a row), negative_hit (a cached missing key), miss.",
	}, []string{"result"})
	return &metrics{
		cacheHits:    lookups.WithLabelValues("hit"),
		cacheNegHits: lookups.WithLabelValues("negative_hit"),
		cacheMisses:  lookups.WithLabelValues("miss"),
		cacheEvictions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "sidecar", Name: "cache_evictions_total",
			Help: "Cache entries evicted to stay within the cache size.",
		}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "sidecar", Name: "coalesced_keys_total",
			Help: "Keys answered by waiting for another call's in-flight store fetch of the same key.",
		}),
		versionRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "sidecar", Name: "version_retries_total",
			Help: "Lookups restarted because the store answered from a newer table version than the call started with.",
		}),
		versionChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "sidecar", Name: "version_changes_total",
			Help: "Live version changes of a table observed by the sidecar.",
		}, []string{"table"}),
		storeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "hotcold", Subsystem: "sidecar", Name: "store_seconds",
			Help:    "Latency of cold store calls, by operation (describe, multiget).",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "sidecar", Name: "store_errors_total",
			Help: "Failed cold store calls, by operation.",
		}, []string{"op"}),
		keys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "sidecar", Name: "keys_total",
			Help: "Keys looked up, by job and table (job is empty when authentication is off).",
		}, []string{"job", "table"}),
		lookupsVec: lookups,
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.lookupsVec, m.cacheEvictions, m.coalesced, m.versionRetries, m.versionChanges, m.storeSeconds, m.storeErrors, m.keys}
}

func (m *metrics) storeCall(op string, start time.Time, err error) {
	m.storeSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}
