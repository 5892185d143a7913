package sidecar

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hotcold/hotcold/coldstore"
)

// TableHealthService is the gRPC health service name of one table's
// readiness: ServiceName + "/" + table, e.g.
// "hotcold.lookup.v1.LookupService/orders". It is SERVING while the table
// has a live version and NOT_SERVING otherwise (and while the store is
// unreachable). Tables the server has never known report SERVICE_UNKNOWN
// (NOT_FOUND on Check).
func TableHealthService(table string) string { return ServiceName + "/" + table }

// DefaultReadinessInterval is the default of Options.ReadinessInterval.
const DefaultReadinessInterval = 5 * time.Second

// readiness recomputes the health statuses and the freshness gauges from
// the store: once in NewServer, then every Options.ReadinessInterval from
// a goroutine started by the first Serve and stopped by Shutdown.
type readiness struct {
	s *Server

	published, coversUntil, rows *prometheus.GaugeVec

	mu    sync.Mutex // serialises checks; guards known and ready
	known map[string]bool
	// lossLogged is the last data loss logged per table.
	lossLogged map[string]string
	ready      *bool // last overall verdict, nil before the first check
	started    bool
	stop       chan struct{}
	done       chan struct{}
}

func newReadiness(s *Server) *readiness {
	r := &readiness{
		s:          s,
		known:      map[string]bool{},
		lossLogged: map[string]string{},
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		published: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "hotcold", Subsystem: "sidecar", Name: "table_published_seconds",
			Help: "When the live version of the table was published (unix seconds).",
		}, []string{"table"}),
		coversUntil: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "hotcold", Subsystem: "sidecar", Name: "table_covers_until_seconds",
			Help: "Event-time watermark of the live version of the table (unix seconds): every event before it is in the cold store. Absent when the version does not say.",
		}, []string{"table"}),
		rows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "hotcold", Subsystem: "sidecar", Name: "table_rows",
			Help: "Rows in the live version of the table.",
		}, []string{"table"}),
	}
	// Tables granted to a job by name must have a live version.
	for _, j := range s.opts.Jobs {
		for _, t := range j.Tables {
			if t != "*" {
				r.known[t] = true
			}
		}
	}
	return r
}

func (r *readiness) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.published, r.coversUntil, r.rows}
}

// start runs the periodic check; later calls do nothing.
func (r *readiness) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return
	}
	r.started = true
	go func() { // owned by the Server: ends at Shutdown (r.close)
		defer close(r.done)
		t := time.NewTicker(r.s.opts.ReadinessInterval)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				r.check(context.Background())
			}
		}
	}()
}

// close stops the periodic check and waits for it.
func (r *readiness) close() {
	r.mu.Lock()
	started := r.started
	r.started = true // no start after close
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.mu.Unlock()
	if started {
		<-r.done
	} else {
		close(r.done) // never started (Shutdown before Serve): nothing to wait for
	}
}

// check asks the store for its tables and sets the health statuses and
// gauges. The overall service ("" and ServiceName) is SERVING only when
// the store answered and every known table (granted to a job by name, or
// seen live since start) has a live version that the store (when it is a
// coldstore.Verifier) found complete.
func (r *readiness) check(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, r.s.opts.CallTimeout)
	defer cancel()
	h := r.s.health
	infos, err := r.s.store.Tables(ctx)
	if err != nil {
		// Unknown, not "no tables": every table is NOT_SERVING; the
		// gauges keep the last values learned.
		for t := range r.known {
			h.SetServingStatus(TableHealthService(t), healthpb.HealthCheckResponse_NOT_SERVING)
		}
		r.setOverall(false, "the cold store is unreachable", "err", err)
		return
	}
	live := make(map[string]bool, len(infos))
	var lost, unverified []string
	for _, info := range infos {
		r.known[info.Name] = true
		if err := r.verify(ctx, info.Name); err != nil {
			if errors.Is(err, coldstore.ErrDataLoss) {
				lost = append(lost, info.Name)
			} else {
				unverified = append(unverified, info.Name)
			}
			h.SetServingStatus(TableHealthService(info.Name), healthpb.HealthCheckResponse_NOT_SERVING)
			continue
		}
		live[info.Name] = true
		h.SetServingStatus(TableHealthService(info.Name), healthpb.HealthCheckResponse_SERVING)
		r.published.WithLabelValues(info.Name).Set(unixSeconds(info.LoadedAt))
		if info.CoversUntil.IsZero() {
			r.coversUntil.DeleteLabelValues(info.Name)
		} else {
			r.coversUntil.WithLabelValues(info.Name).Set(unixSeconds(info.CoversUntil))
		}
		r.rows.WithLabelValues(info.Name).Set(float64(info.Rows))
	}
	var missing []string
	for t := range r.known {
		if !live[t] && !slices.Contains(lost, t) && !slices.Contains(unverified, t) {
			if errors.Is(r.verify(ctx, t), coldstore.ErrDataLoss) {
				lost = append(lost, t) // e.g. listed in Redis, metadata gone
			} else {
				missing = append(missing, t)
			}
			h.SetServingStatus(TableHealthService(t), healthpb.HealthCheckResponse_NOT_SERVING)
			r.published.DeleteLabelValues(t)
			r.coversUntil.DeleteLabelValues(t)
			r.rows.DeleteLabelValues(t)
		}
	}
	sort.Strings(missing)
	sort.Strings(lost)
	sort.Strings(unverified)
	switch {
	case len(lost) > 0:
		r.setOverall(false, "tables whose live version is incomplete in the store (reload or roll back them)", "tables", lost, "without_live_version", missing)
	case len(unverified) > 0:
		r.setOverall(false, "tables whose completeness could not be checked (the cold store did not answer)", "tables", unverified, "without_live_version", missing)
	default:
		r.setOverall(len(missing) == 0, "tables without a live version (load them)", "tables", missing)
	}
}

// verify asks a store that can (coldstore.Verifier) whether the live
// version of table is complete: nil when it is (or the store cannot tell,
// or the table is gone: the Tables check covers that), an error wrapping
// coldstore.ErrDataLoss when it is not, another error when the store did
// not answer. A loss is logged once per distinct message.
func (r *readiness) verify(ctx context.Context, table string) error {
	v, ok := r.s.store.(coldstore.Verifier)
	if !ok {
		return nil
	}
	err := v.Verify(ctx, table)
	if err == nil || errors.Is(err, coldstore.ErrNoTable) {
		delete(r.lossLogged, table)
		return nil
	}
	if !errors.Is(err, coldstore.ErrDataLoss) {
		return err
	}
	if r.lossLogged[table] != err.Error() {
		r.lossLogged[table] = err.Error()
		r.s.opts.Logger.Error("sidecar: table NOT_SERVING: its live version is incomplete in the cold store; lookups answer DataLoss", "table", table, "err", err)
	}
	return err
}

// setOverall sets "" and ServiceName, logging changes of the verdict.
func (r *readiness) setOverall(ok bool, why string, args ...any) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	r.s.health.SetServingStatus("", st)
	r.s.health.SetServingStatus(ServiceName, st)
	if r.ready != nil && *r.ready == ok {
		return
	}
	r.ready = &ok
	if ok {
		r.s.opts.Logger.Info("sidecar: ready (health SERVING)")
	} else {
		r.s.opts.Logger.Warn("sidecar: not ready (health NOT_SERVING): "+why, args...)
	}
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
