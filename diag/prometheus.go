package diag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// PrometheusClient runs range queries against the Prometheus HTTP API
// (/api/v1/query_range) through client_golang's api/prometheus/v1. It
// implements MetricsSource and is safe for concurrent use.
type PrometheusClient struct {
	api promv1.API
}

// NewPrometheusClient returns a client for the Prometheus server at baseURL
// ("http://prometheus:9090"), or for recorded responses at file://DIR (see
// ReplayHandler: they are answered in-process by an http.RoundTripper). A
// nil hc means a client with a 30 second timeout.
func NewPrometheusClient(baseURL string, hc *http.Client) (*PrometheusClient, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c, base, err := httpClientFor(baseURL, hc)
	if err != nil {
		return nil, fmt.Errorf("diag: Prometheus URL: %w", err)
	}
	ac, err := promapi.NewClient(promapi.Config{Address: base, Client: c})
	if err != nil {
		return nil, fmt.Errorf("diag: Prometheus URL: %w", err)
	}
	return &PrometheusClient{api: promv1.NewAPI(ac)}, nil
}

// QueryRange implements MetricsSource. A zero step means a step that gives
// about 120 points over the window (at least one second).
func (p *PrometheusClient) QueryRange(ctx context.Context, query string, w Window, step time.Duration) ([]Series, error) {
	if w.From.IsZero() || w.To.IsZero() {
		return nil, errors.New("diag: a Prometheus range query needs a closed window")
	}
	if step <= 0 {
		step = max(w.Duration()/120, time.Second)
	}
	v, _, _, err := p.api.QueryRange(ctx, query, promv1.Range{Start: w.From, End: w.To, Step: step})
	if err != nil {
		var ae *promv1.Error
		if errors.As(err, &ae) {
			// Prometheus answers bad queries with 400 and a JSON error body;
			// other HTTP errors say the URL is not a Prometheus API.
			return nil, fmt.Errorf("diag: Prometheus query %q: %w", query, err)
		}
		return nil, fmt.Errorf("diag: Prometheus: %w (is the server reachable?)", err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("diag: Prometheus query %q: result type %q, want matrix", query, v.Type())
	}
	return seriesOf(m), nil
}

// DecodeQueryRange decodes a Prometheus /api/v1/query_range response body:
//
//	{"status":"success","data":{"resultType":"matrix","result":[
//	  {"metric":{"tm_id":"tm-1"},"values":[[1700000000,"1.5"],…]}]}}
//
// An error response ({"status":"error","errorType":…,"error":…}) is
// returned as an error. Sample values may be "NaN" or "±Inf". The series
// are decoded by client_golang's model.Matrix, as PrometheusClient's are.
func DecodeQueryRange(b []byte) ([]Series, error) {
	var resp struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, fmt.Errorf("not a Prometheus API response: %w", err)
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("status %q: %s %s", resp.Status, resp.ErrorType, resp.Error)
	}
	if resp.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("result type %q, want matrix", resp.Data.ResultType)
	}
	var m model.Matrix
	if len(resp.Data.Result) > 0 {
		if err := json.Unmarshal(resp.Data.Result, &m); err != nil {
			return nil, fmt.Errorf("result: %w", err)
		}
	}
	return seriesOf(m), nil
}

// seriesOf converts a range query's matrix (float samples; native
// histograms are not read).
func seriesOf(m model.Matrix) []Series {
	out := make([]Series, 0, len(m))
	for _, ss := range m {
		if ss == nil {
			continue
		}
		s := Series{Labels: make(map[string]string, len(ss.Metric)), Points: make([]Point, 0, len(ss.Values))}
		for k, v := range ss.Metric {
			s.Labels[string(k)] = string(v)
		}
		for _, sp := range ss.Values {
			s.Points = append(s.Points, Point{Time: sp.Timestamp.Time().UTC(), Value: float64(sp.Value)})
		}
		out = append(out, s)
	}
	return out
}

// PromQueries are the PromQL queries that turn a Prometheus history into
// evidence. "$job" in a query is replaced by the job ID. The defaults fit
// Flink's PrometheusReporter (labels job_id, task_id, task_name,
// subtask_index, tm_id); an empty field means its default, "-" disables it.
type PromQueries struct {
	// Busy yields busyTimeMsPerSecond per subtask.
	Busy string
	// BackPressured yields backPressuredTimeMsPerSecond per subtask.
	BackPressured string
	// RecordsIn yields numRecordsInPerSecond per subtask.
	RecordsIn string
	// GCTimeShare yields the fraction of time in GC per TaskManager (tm_id).
	GCTimeShare string
}

// WithDefaults fills empty queries with the defaults for Flink.
func (q PromQueries) WithDefaults() PromQueries {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&q.Busy, `flink_taskmanager_job_task_busyTimeMsPerSecond{job_id="$job"}`)
	def(&q.BackPressured, `flink_taskmanager_job_task_backPressuredTimeMsPerSecond{job_id="$job"}`)
	def(&q.RecordsIn, `flink_taskmanager_job_task_numRecordsInPerSecond{job_id="$job"}`)
	def(&q.GCTimeShare, `sum by (tm_id) (rate({__name__=~"flink_taskmanager_Status_JVM_GarbageCollector_.+_Time",__name__!~".+_All_Time"}[2m])) / 1000`)
	return q
}

// applyMetrics merges a metrics history into ev: per-subtask load becomes
// the window average (replacing a REST snapshot, which describes "now",
// not the window) and GC shares fill the TaskManagers.
func applyMetrics(ctx context.Context, src MetricsSource, q PromQueries, ev *Evidence) {
	q = q.WithDefaults()
	var asked, failed int
	var lastErr error
	run := func(what, query string) []Series {
		if query == "-" {
			return nil
		}
		asked++
		query = strings.ReplaceAll(query, "$job", ev.JobID)
		s, err := src.QueryRange(ctx, query, ev.Window, 0)
		if err != nil {
			failed++
			lastErr = err
			ev.AddMissing("prometheus", what, err.Error())
			return nil
		}
		if len(s) == 0 {
			ev.AddMissing("prometheus", what, fmt.Sprintf("no series for %s in the window", query))
		}
		return s
	}
	set := func(series []Series, f func(*Subtask, float64)) {
		for _, s := range series {
			vid := s.Labels["task_id"]
			idx, err := strconv.Atoi(s.Labels["subtask_index"])
			if vid == "" || err != nil || idx < 0 || idx > 1<<16 {
				continue
			}
			mean, ok := s.Mean(ev.Window)
			if !ok {
				continue
			}
			v := ev.vertex(vid, s.Labels["task_name"])
			for len(v.Subtasks) <= idx {
				v.Subtasks = append(v.Subtasks, unknownSubtask(len(v.Subtasks)))
			}
			if v.Parallelism < len(v.Subtasks) {
				v.Parallelism = len(v.Subtasks)
			}
			v.MetricsSource = "prometheus (window average)"
			st := &v.Subtasks[idx]
			if st.TaskManager == "" {
				st.TaskManager = s.Labels["tm_id"]
			}
			f(st, mean)
		}
	}
	set(run("busy time", q.Busy), func(s *Subtask, x float64) { s.Busy = clamp01(x / 1000) })
	set(run("back-pressured time", q.BackPressured), func(s *Subtask, x float64) { s.BackPressured = clamp01(x / 1000) })
	set(run("records in", q.RecordsIn), func(s *Subtask, x float64) { s.RecordsInPerSecond = max(x, 0) })
	for _, s := range run("GC time", q.GCTimeShare) {
		id := s.Labels["tm_id"]
		mean, ok := s.Mean(ev.Window)
		if id == "" || !ok {
			continue
		}
		tm := ev.taskManager(id)
		tm.GCTimeShare, tm.Source = clamp01(mean), "prometheus (window average)"
	}
	// A configured Prometheus that answered no query gave no evidence at
	// all: the window cannot be called healthy on it (UNKNOWN), as for an
	// unreadable Flink REST API.
	if asked > 0 && failed == asked {
		ev.AddBlocking("prometheus", "every query", fmt.Sprintf("%d of %d queries failed; the last: %v", failed, asked, lastErr))
	}
}

func clamp01(x float64) float64 { return min(max(x, 0), 1) }

// vertex returns the vertex with id, adding it if absent.
func (e *Evidence) vertex(id, name string) *Vertex {
	for i := range e.Vertices {
		if e.Vertices[i].ID == id {
			return &e.Vertices[i]
		}
	}
	e.Vertices = append(e.Vertices, Vertex{ID: id, Name: firstNonEmpty(name, id)})
	return &e.Vertices[len(e.Vertices)-1]
}

// taskManager returns the TaskManager with id, adding it if absent. Flink's
// Prometheus reporter replaces characters other than [a-zA-Z0-9_] in label
// values with '_', so ids are compared in that form.
func (e *Evidence) taskManager(id string) *TaskManager {
	for i := range e.TaskManagers {
		if promSanitize(e.TaskManagers[i].ID) == promSanitize(id) {
			return &e.TaskManagers[i]
		}
	}
	e.TaskManagers = append(e.TaskManagers, TaskManager{ID: id, GCTimeShare: -1})
	return &e.TaskManagers[len(e.TaskManagers)-1]
}

func promSanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
