package diag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
)

// MonitorConfig configures a Monitor. Only Groups is required.
type MonitorConfig struct {
	// Groups are the consumer groups to watch. Required.
	Groups []string
	// Interval is the time between two samples. Default 10 seconds.
	Interval time.Duration
	// Lag holds the evaluation window and thresholds.
	Lag LagConfig
	// Events receives anomaly events. A send blocks until the event is
	// received or the context ends, so the receiver must keep reading.
	// Nil: events are not sent on a channel.
	Events chan<- Event
	// EventLog receives every event as one JSON line. Nil: not written.
	EventLog io.Writer
	// SampleLog receives every sample as one JSON line, in the format of
	// ReadSamples, so that a watch can be replayed by `hotcold diag run
	// --lag-file`. Nil: not written.
	SampleLog io.Writer
	// History is how many evaluations per group History keeps. Default 720.
	History int
	// Now returns the current time. Default time.Now; tests inject a clock.
	Now func() time.Time
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// Registerer registers the monitor's metrics. Nil: not registered.
	Registerer prometheus.Registerer
}

// Monitor samples the committed and end offsets of consumer groups through
// the Kafka admin API, evaluates them with a Tracker and reports anomalies.
//
// Run owns the sampling loop; Tick performs one step and is what tests drive.
// History may be called concurrently with Run; Run and Tick must not be
// called concurrently with each other.
type Monitor struct {
	adm     *kadm.Client
	cfg     MonitorConfig
	tracker *Tracker
	log     *slog.Logger
	m       monitorMetrics
	samples *SampleWriter
	events  *json.Encoder

	mu struct {
		sync.Mutex
		history map[string][]GroupStatus
	}
}

type monitorMetrics struct {
	lag        *prometheus.GaugeVec
	timeLag    *prometheus.GaugeVec
	status     *prometheus.GaugeVec
	anomalies  *prometheus.CounterVec
	errors     *prometheus.CounterVec
	evalSecond prometheus.Histogram
}

// NewMonitor returns a Monitor that reads offsets through adm. The caller
// keeps ownership of adm (and closes it after Run returns).
func NewMonitor(adm *kadm.Client, cfg MonitorConfig) (*Monitor, error) {
	if adm == nil {
		return nil, errors.New("diag: NewMonitor needs a kadm client")
	}
	if len(cfg.Groups) == 0 {
		return nil, errors.New("diag: MonitorConfig.Groups is empty; name at least one consumer group")
	}
	if cfg.Interval < 0 || cfg.History < 0 {
		return nil, errors.New("diag: MonitorConfig.Interval and History must not be negative")
	}
	if cfg.Interval == 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.History == 0 {
		cfg.History = 720
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tr, err := NewTracker(cfg.Lag)
	if err != nil {
		return nil, err
	}
	m := &Monitor{adm: adm, cfg: cfg, tracker: tr, log: cfg.Logger}
	m.mu.history = make(map[string][]GroupStatus)
	if cfg.SampleLog != nil {
		m.samples = NewSampleWriter(cfg.SampleLog)
	}
	if cfg.EventLog != nil {
		m.events = json.NewEncoder(cfg.EventLog)
	}
	m.m = monitorMetrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "hotcold", Subsystem: "diag", Name: "group_lag_messages",
			Help: "Total lag of a consumer group in messages at the last evaluation.",
		}, []string{"group"}),
		timeLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "hotcold", Subsystem: "diag", Name: "group_time_lag_seconds",
			Help: "Age of the oldest unconsumed message of a consumer group at the last evaluation.",
		}, []string{"group"}),
		status: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "hotcold", Subsystem: "diag", Name: "group_status",
			Help: "Worst partition status of a consumer group: 0 OK, 1 WARN, 2 STALL, 3 STOP, 4 REWIND.",
		}, []string{"group"}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "diag", Name: "anomalies_total",
			Help: "Consumer group anomalies started.",
		}, []string{"group"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "diag", Name: "sample_errors_total",
			Help: "Failed offset samples of a consumer group.",
		}, []string{"group"}),
		evalSecond: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "hotcold", Subsystem: "diag", Name: "evaluate_seconds",
			Help:    "Time to evaluate all watched partitions once.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12),
		}),
	}
	if r := cfg.Registerer; r != nil {
		for _, c := range []prometheus.Collector{m.m.lag, m.m.timeLag, m.m.status, m.m.anomalies, m.m.errors, m.m.evalSecond} {
			if err := r.Register(c); err != nil {
				return nil, fmt.Errorf("diag: registering monitor metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Run samples every Interval until ctx ends, then returns nil. A failed
// sample is logged and counted, never fatal.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := m.Tick(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("lag sample failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick samples all groups once, evaluates them, records history and
// metrics, and emits events. It returns the group statuses; an error means
// some group could not be sampled (the others are still evaluated).
func (m *Monitor) Tick(ctx context.Context) ([]GroupStatus, error) {
	now := m.cfg.Now()
	lags, err := m.adm.Lag(ctx, m.cfg.Groups...)
	var errs []error
	if err != nil {
		errs = append(errs, fmt.Errorf("listing lag: %w", err))
		for _, g := range m.cfg.Groups {
			m.m.errors.WithLabelValues(g).Inc()
		}
	}
	for _, gl := range lags.Sorted() {
		if e := gl.Error(); e != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", gl.Group, e))
			m.m.errors.WithLabelValues(gl.Group).Inc()
			continue
		}
		for _, ml := range gl.Lag.Sorted() {
			if ml.Err != nil {
				errs = append(errs, fmt.Errorf("group %s %s/%d: %w", gl.Group, ml.Topic, ml.Partition, ml.Err))
				continue
			}
			ps := PartitionSample{Group: gl.Group, Topic: ml.Topic, Partition: ml.Partition, Sample: Sample{
				Time: now, Committed: ml.Commit.At, End: ml.End.Offset, Live: ml.Member != nil,
			}}
			m.tracker.Observe(ps)
			if m.samples != nil {
				if err := m.samples.Write(ps); err != nil {
					errs = append(errs, fmt.Errorf("writing sample log: %w", err))
				}
			}
		}
	}
	start := time.Now()
	statuses, events := m.tracker.Evaluate(now)
	m.m.evalSecond.Observe(time.Since(start).Seconds())

	m.mu.Lock()
	for _, st := range statuses {
		h := append(m.mu.history[st.Group], st)
		if len(h) > m.cfg.History {
			h = append(h[:0], h[len(h)-m.cfg.History:]...)
		}
		m.mu.history[st.Group] = h
	}
	m.mu.Unlock()

	for _, st := range statuses {
		m.m.lag.WithLabelValues(st.Group).Set(float64(st.TotalLag))
		m.m.timeLag.WithLabelValues(st.Group).Set(time.Duration(st.MaxTimeLag).Seconds())
		m.m.status.WithLabelValues(st.Group).Set(float64(st.Status))
	}
	for _, ev := range events {
		if ev.Kind == EventStart {
			m.m.anomalies.WithLabelValues(ev.Group).Inc()
		}
		m.log.Info("lag anomaly", "kind", ev.Kind.String(), "group", ev.Group, "status", ev.Status.String(),
			"lag", ev.TotalLag, "time_lag", ev.MaxTimeLag.String(), "partitions", len(ev.Partitions))
		if m.events != nil {
			if err := m.events.Encode(ev); err != nil {
				errs = append(errs, fmt.Errorf("writing event log: %w", err))
			}
		}
		if m.cfg.Events != nil {
			select {
			case m.cfg.Events <- ev:
			case <-ctx.Done():
				return statuses, ctx.Err()
			}
		}
	}
	return statuses, errors.Join(errs...)
}

// History returns the kept evaluations of group that fall in w, oldest
// first. The returned slice is a copy owned by the caller.
func (m *Monitor) History(group string, w Window) []GroupStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []GroupStatus
	for _, st := range m.mu.history[group] {
		if w.Contains(st.Time) {
			out = append(out, st)
		}
	}
	return out
}
