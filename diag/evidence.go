package diag

import (
	"context"
	"slices"
	"time"
)

// JobSource reads a stream job's runtime state: status, failures,
// checkpoints, operator topology and per-subtask load. FlinkClient is the
// implementation for Flink's REST API.
//
// CollectJob returns an error only when nothing could be read (endpoint
// unreachable, unknown job); sub-parts that fail are listed in
// JobEvidence.Missing. Implementations must be safe for concurrent use.
type JobSource interface {
	CollectJob(ctx context.Context, jobID string, w Window) (*JobEvidence, error)
}

// MetricsSource answers range queries over a metrics history (TSDB).
// PrometheusClient is the implementation for Prometheus' HTTP API.
// Implementations must be safe for concurrent use.
type MetricsSource interface {
	QueryRange(ctx context.Context, query string, w Window, step time.Duration) ([]Series, error)
}

// LogSource reads the log entries of a window. LogFiles reads files and
// directories. Unparsable lines and unreadable parts (long lines, binary
// data, files that cannot be read) are reported in LogResult, not as an
// error; an error means no log could be read at all. Implementations must be safe
// for concurrent use.
type LogSource interface {
	Logs(ctx context.Context, w Window) (*LogResult, error)
}

// Missing names a piece of evidence that could not be collected, so the
// report can say what its findings are not based on.
type Missing struct {
	// Source is the collector: "flink", "prometheus", "logs", "lag".
	Source string `json:"source"`
	// What is the piece of evidence: "exceptions", "vertex Map (3f2a...)".
	What string `json:"what"`
	// Reason is the error or explanation, with what to do about it.
	Reason string `json:"reason"`
	// Blocking marks a source that was configured but gave nothing (not
	// reachable, unknown job, an answer that is not what it should be):
	// without it the window cannot be called healthy, so the report's
	// verdict is UNKNOWN unless other evidence shows an anomaly.
	Blocking bool `json:"blocking,omitempty"`
}

// Evidence is everything collected about a job for one window. Rules read
// it; collectors fill it. A nil or empty field means "not collected", and
// Missing says why.
type Evidence struct {
	// Checks are filled by Diagnoser.RunRules: what each rule checked.
	Checks []CheckResult `json:"checks,omitempty"`
	JobID  string        `json:"job_id,omitempty"`
	Group  string        `json:"group,omitempty"`
	Window Window        `json:"window"`

	Job          *JobState         `json:"job,omitempty"`
	Exceptions   []Exception       `json:"exceptions,omitempty"`
	Checkpoints  *Checkpoints      `json:"checkpoints,omitempty"`
	Vertices     []Vertex          `json:"vertices,omitempty"`
	TaskManagers []TaskManager     `json:"task_managers,omitempty"`
	FlameGraphs  []FlameGraph      `json:"flame_graphs,omitempty"`
	Logs         []LogEntry        `json:"-"`
	Lag          []GroupStatus     `json:"-"`
	Missing      []Missing         `json:"missing,omitempty"`
	Notes        []string          `json:"notes,omitempty"`
	Sources      map[string]string `json:"sources,omitempty"`
}

// AddMissing records a piece of evidence that could not be collected.
func (e *Evidence) AddMissing(source, what, reason string) {
	e.Missing = append(e.Missing, Missing{Source: source, What: what, Reason: reason})
}

// AddBlocking records a configured source that gave nothing; see
// Missing.Blocking.
func (e *Evidence) AddBlocking(source, what, reason string) {
	e.Missing = append(e.Missing, Missing{Source: source, What: what, Reason: reason, Blocking: true})
}

// JobState is a job's status as the engine reports it.
type JobState struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
	// Start is when the job (this execution) started.
	Start time.Time `json:"start"`
	// Now is the engine's clock when the state was read.
	Now time.Time `json:"now"`
	// Transitions maps a state (RUNNING, RESTARTING, FAILING, ...) to the
	// last time the job entered it; absent if never.
	Transitions map[string]time.Time `json:"transitions,omitempty"`
	// Restarts is the engine's restart counter, -1 if unknown.
	Restarts int64 `json:"restarts"`
}

// Exception is one failure of the job or one of its tasks.
type Exception struct {
	Time time.Time `json:"time"`
	// Name is the exception's class and message, the first line.
	Name string `json:"name"`
	// Stacktrace is the full Java stack trace text.
	Stacktrace  string `json:"stacktrace,omitempty"`
	Task        string `json:"task,omitempty"`
	Location    string `json:"location,omitempty"`
	TaskManager string `json:"task_manager,omitempty"`
	// Concurrent marks an exception that happened together with a root
	// failure (Flink's concurrentExceptions).
	Concurrent bool `json:"concurrent,omitempty"`
	// Source is where it was read: "flink-rest" or "log FILE:LINE".
	Source string `json:"source"`
	// Also lists the other places the same failure was seen (same root
	// cause within FailureMatchWindow), e.g. the log lines of a failure in
	// the exception history.
	Also []string `json:"also,omitempty"`
}

// Checkpoints summarises checkpointing.
type Checkpoints struct {
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	Restored  int64 `json:"restored"`
	// LastCompleted is when the latest completed checkpoint was
	// acknowledged; zero if none.
	LastCompleted time.Time `json:"last_completed,omitzero"`
	// History holds the recent checkpoints the engine remembers.
	History []Checkpoint `json:"history,omitempty"`
}

// Checkpoint is one checkpoint attempt.
type Checkpoint struct {
	ID       int64     `json:"id"`
	Status   string    `json:"status"`
	Trigger  time.Time `json:"trigger"`
	Duration Duration  `json:"duration"`
	// FailureTime and FailureMessage are set for failed checkpoints when
	// the engine reports them.
	FailureTime    time.Time `json:"failure_time,omitzero"`
	FailureMessage string    `json:"failure_message,omitempty"`
	Savepoint      bool      `json:"savepoint,omitempty"`
}

// Vertex is an operator chain of the job graph (a Flink job vertex).
type Vertex struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Parallelism int    `json:"parallelism"`
	// Inputs are the IDs of the upstream vertices; nil if the topology is
	// unknown.
	Inputs []string `json:"inputs,omitempty"`
	// BackPressureLevel is the engine's verdict: ok, low or high.
	BackPressureLevel string    `json:"back_pressure_level,omitempty"`
	Subtasks          []Subtask `json:"subtasks,omitempty"`
	// MetricsSource says where the subtask load comes from: "flink-rest"
	// (a snapshot when collected) or "prometheus" (window average).
	MetricsSource string `json:"metrics_source,omitempty"`
}

// Subtask is the load of one parallel instance of a vertex. Ratios are
// fractions of time in [0, 1]; a negative value means unknown.
type Subtask struct {
	Index       int    `json:"index"`
	TaskManager string `json:"task_manager,omitempty"`
	Host        string `json:"host,omitempty"`
	// Busy is the share of time processing records (busyTimeMsPerSecond/1000).
	Busy float64 `json:"busy"`
	// BackPressured is the share of time blocked on output buffers.
	BackPressured float64 `json:"back_pressured"`
	// Idle is the share of time waiting for input.
	Idle float64 `json:"idle"`
	// RecordsInPerSecond is the input rate; negative if unknown.
	RecordsInPerSecond float64 `json:"records_in_per_second"`
	// RecordsIn and RecordsOut are cumulative counts since the task
	// started; negative if unknown.
	RecordsIn  int64 `json:"records_in"`
	RecordsOut int64 `json:"records_out"`
}

func unknownSubtask(i int) Subtask {
	return Subtask{Index: i, Busy: -1, BackPressured: -1, Idle: -1, RecordsInPerSecond: -1, RecordsIn: -1, RecordsOut: -1}
}

// MaxBusy is the largest known subtask busy ratio, or -1.
func (v Vertex) MaxBusy() float64 {
	return maxOf(v.Subtasks, func(s Subtask) float64 { return s.Busy })
}

// MaxBackPressured is the largest known subtask back-pressure ratio, or -1.
func (v Vertex) MaxBackPressured() float64 {
	return maxOf(v.Subtasks, func(s Subtask) float64 { return s.BackPressured })
}

func maxOf(ss []Subtask, f func(Subtask) float64) float64 {
	m := -1.0
	for _, s := range ss {
		if v := f(s); v >= 0 && v > m {
			m = v
		}
	}
	return m
}

// TaskManager is the JVM state of one worker.
type TaskManager struct {
	ID string `json:"id"`
	// GCTimeShare is the fraction of wall time spent in garbage collection;
	// negative if unknown.
	GCTimeShare float64 `json:"gc_time_share"`
	// HeapUsed and HeapMax are bytes; zero if unknown.
	HeapUsed int64 `json:"heap_used,omitempty"`
	HeapMax  int64 `json:"heap_max,omitempty"`
	// Source is "flink-rest" or "prometheus".
	Source string `json:"source"`
}

// FlameGraph is a sampled CPU profile of one vertex.
type FlameGraph struct {
	VertexID   string    `json:"vertex_id"`
	VertexName string    `json:"vertex_name"`
	Time       time.Time `json:"time"`
	Root       FlameNode `json:"-"`
}

// FlameNode is a frame of a flame graph: its name, the number of samples
// in which it is on the stack, and its callees.
type FlameNode struct {
	Name     string      `json:"name"`
	Value    int64       `json:"value"`
	Children []FlameNode `json:"children,omitempty"`
}

// HotMethod is a frame and its share of the samples in which it was the
// innermost (self) frame.
type HotMethod struct {
	Frame string  `json:"frame"`
	Share float64 `json:"share"`
}

// HotMethods returns the frames with the largest self time, at most n,
// largest first. Self time of a frame is its value minus its children's.
func (f FlameGraph) HotMethods(n int) []HotMethod {
	total := f.Root.Value
	if total <= 0 {
		for _, c := range f.Root.Children {
			total += c.Value
		}
	}
	if total <= 0 || n <= 0 {
		return nil
	}
	self := make(map[string]int64)
	var walk func(nd *FlameNode, depth int)
	walk = func(nd *FlameNode, depth int) {
		if depth > 4096 {
			return
		}
		var kids int64
		for i := range nd.Children {
			kids += nd.Children[i].Value
			walk(&nd.Children[i], depth+1)
		}
		if s := nd.Value - kids; s > 0 && depth > 0 {
			self[nd.Name] += s
		}
	}
	walk(&f.Root, 0)
	out := make([]HotMethod, 0, len(self))
	for fr, v := range self {
		out = append(out, HotMethod{Frame: fr, Share: float64(v) / float64(total)})
	}
	slices.SortFunc(out, func(a, b HotMethod) int {
		if a.Share != b.Share {
			if a.Share > b.Share {
				return -1
			}
			return 1
		}
		if a.Frame < b.Frame {
			return -1
		}
		if a.Frame > b.Frame {
			return 1
		}
		return 0
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// JobEvidence is what a JobSource collected.
type JobEvidence struct {
	Job          *JobState
	Exceptions   []Exception
	Checkpoints  *Checkpoints
	Vertices     []Vertex
	TaskManagers []TaskManager
	FlameGraphs  []FlameGraph
	Missing      []Missing
}

// Series is one labelled time series from a MetricsSource.
type Series struct {
	Labels map[string]string `json:"labels"`
	Points []Point           `json:"points"`
}

// Point is one value of a Series.
type Point struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// Mean is the average of the finite values of the points within w, and
// whether there was any.
func (s Series) Mean(w Window) (float64, bool) {
	sum, n := 0.0, 0
	for _, p := range s.Points {
		if !w.Contains(p.Time) || p.Value != p.Value || p.Value > 1e300 || p.Value < -1e300 {
			continue
		}
		sum += p.Value
		n++
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}
