package diag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// LagHistory gives the lag evaluations of a group in a window. Monitor
// implements it.
type LagHistory interface {
	History(group string, w Window) []GroupStatus
}

// WatcherConfig configures a Watcher. Diagnoser and Sink are required.
type WatcherConfig struct {
	Diagnoser *Diagnoser
	// History supplies the lag timeline of a report. Nil: reports carry
	// only the evaluation in the event.
	History LagHistory
	// Sink stores the reports. Required.
	Sink ReportSink
	// JobID is the stream job that consumes the watched groups.
	JobID string
	// Lookback is how long before an anomaly's start its report begins, so
	// the cause (a restart, a deploy) is in the window. Default 10 minutes.
	Lookback time.Duration
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
}

// Watcher turns anomaly events into reports: one when an anomaly starts,
// one each time it gets worse, and a final one over the whole anomaly when
// it ends. It keeps going when a diagnosis or a write fails.
type Watcher struct {
	cfg   WatcherConfig
	log   *slog.Logger
	worst map[string]Status // per group, worst status reported in the current anomaly
	seq   int
}

// NewWatcher returns a Watcher for cfg.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	if cfg.Diagnoser == nil || cfg.Sink == nil {
		return nil, errors.New("diag: WatcherConfig needs a Diagnoser and a Sink")
	}
	if cfg.Lookback < 0 {
		return nil, errors.New("diag: WatcherConfig.Lookback is negative")
	}
	if cfg.Lookback == 0 {
		cfg.Lookback = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{cfg: cfg, log: cfg.Logger, worst: make(map[string]Status)}, nil
}

// Run handles events until ctx ends or events is closed, then returns nil.
// Run must not be called concurrently with itself or Handle.
func (w *Watcher) Run(ctx context.Context, events <-chan Event) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if _, err := w.Handle(ctx, ev); err != nil {
				w.log.Error("diagnosis report failed", "group", ev.Group, "kind", ev.Kind.String(), "err", err)
			}
		}
	}
}

// Handle diagnoses one event if it calls for a report and stores the
// report. It returns the report's name prefix, or "" if the event needed
// no report.
func (w *Watcher) Handle(ctx context.Context, ev Event) (string, error) {
	switch ev.Kind {
	case EventStart:
		w.worst[ev.Group] = ev.Status
	case EventUpdate:
		if ev.Status <= w.worst[ev.Group] {
			return "", nil
		}
		w.worst[ev.Group] = ev.Status
	case EventEnd:
		delete(w.worst, ev.Group)
	default:
		return "", fmt.Errorf("diag: unknown event kind %d", ev.Kind)
	}
	since := ev.Since
	if since.IsZero() {
		since = ev.Time
	}
	win := Window{From: since.Add(-w.cfg.Lookback), To: ev.Time}
	q := Query{JobID: w.cfg.JobID, Group: ev.Group, Window: win}
	if w.cfg.History != nil {
		q.Lag = w.cfg.History.History(ev.Group, win)
	}
	if len(q.Lag) == 0 {
		q.Lag = []GroupStatus{{Group: ev.Group, Time: ev.Time, Status: ev.Status, TotalLag: ev.TotalLag, MaxTimeLag: ev.MaxTimeLag, Partitions: ev.Partitions}}
	}
	r := w.cfg.Diagnoser.Diagnose(ctx, q)
	w.seq++
	prefix := fmt.Sprintf("%s/%s/%03d-%s", safeName(ev.Group), since.UTC().Format("20060102T150405Z"), w.seq, ev.Kind)
	names, err := WriteReport(ctx, w.cfg.Sink, prefix, r)
	if err != nil {
		return prefix, err
	}
	w.log.Info("diagnosis report written", "group", ev.Group, "kind", ev.Kind.String(), "status", r.Status.String(),
		"findings", len(r.Findings), "files", names)
	return prefix, nil
}

// safeName makes a group name usable as a path segment.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || string(b) == "." || string(b) == ".." {
		return "_"
	}
	return string(b)
}
