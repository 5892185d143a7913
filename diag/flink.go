package diag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrUnknownJob is returned (wrapped) when the engine does not know the job.
var ErrUnknownJob = errors.New("unknown job")

// FlinkOptions configures a FlinkClient. The zero value is usable.
type FlinkOptions struct {
	// HTTPClient makes the requests. Default: a client with Timeout.
	HTTPClient *http.Client
	// Timeout bounds each request. Default 10 seconds.
	Timeout time.Duration
	// MaxVertices caps the vertices whose load is read. Default 64.
	MaxVertices int
	// MaxSubtasks caps the subtasks per vertex whose metrics are read one
	// by one. Default 64.
	MaxSubtasks int
	// Parallel is the number of requests in flight. Default 4.
	Parallel int
	// FlameGraphBusy: flame graphs are fetched for vertices at least this
	// busy. Default 0.5. Negative: never.
	FlameGraphBusy float64
	// FlameGraphAttempts and FlameGraphWait: Flink starts sampling on the
	// first request and answers with an empty graph until it is done, so an
	// empty graph is asked for again up to this many times. Defaults 8 and
	// 2 seconds: Flink's default sampling (rest.flamegraph.num-samples 100,
	// delay-between-samples 50 ms) takes 5 s before the request reaches the
	// TaskManagers and the answer comes back, longer on a loaded cluster.
	FlameGraphAttempts int
	FlameGraphWait     time.Duration
	// MaxExceptions is the maxExceptions query parameter. Default 20.
	MaxExceptions int
	// GCReadGap: Flink before 1.19 has no GC TimeMsPerSecond metric, only
	// the cumulative Status.JVM.GarbageCollector.*.Time, so the GC time
	// share is the growth of that sum between two reads this far apart,
	// divided by the time between them. Default 5 seconds.
	GCReadGap time.Duration
	// Clock times those reads. Default time.Now.
	Clock func() time.Time
}

// FlinkClient collects job evidence from Flink's REST API (the JobManager's
// rest.port, 8081 by default). It implements JobSource and is safe for
// concurrent use.
type FlinkClient struct {
	base   string
	hc     *http.Client
	opt    FlinkOptions
	replay bool // file://: recorded answers, one read of each
}

// NewFlinkClient returns a client for the REST API at baseURL
// ("http://jobmanager:8081"), or for recorded responses at file://DIR (see
// ReplayHandler).
func NewFlinkClient(baseURL string, opt FlinkOptions) (*FlinkClient, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{Timeout: opt.Timeout}
	}
	if opt.MaxVertices <= 0 {
		opt.MaxVertices = 64
	}
	if opt.MaxSubtasks <= 0 {
		opt.MaxSubtasks = 64
	}
	if opt.Parallel <= 0 {
		opt.Parallel = 4
	}
	if opt.FlameGraphBusy == 0 {
		opt.FlameGraphBusy = 0.5
	}
	if opt.FlameGraphAttempts <= 0 {
		opt.FlameGraphAttempts = 8
	}
	if opt.FlameGraphWait <= 0 {
		opt.FlameGraphWait = 2 * time.Second
	}
	if opt.MaxExceptions <= 0 {
		opt.MaxExceptions = 20
	}
	if opt.GCReadGap <= 0 {
		opt.GCReadGap = 5 * time.Second
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	hc, base, err := httpClientFor(baseURL, opt.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("diag: Flink URL: %w", err)
	}
	return &FlinkClient{base: base, hc: hc, opt: opt, replay: strings.HasPrefix(baseURL, "file://")}, nil
}

// httpError is a non-2xx answer.
type httpError struct {
	URL    string
	Code   int
	Detail string
}

func (e *httpError) Error() string {
	s := fmt.Sprintf("GET %s: HTTP %d", e.URL, e.Code)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func getJSON(ctx context.Context, hc *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET %s: reading body: %w", u, err)
	}
	if resp.StatusCode/100 != 2 {
		he := &httpError{URL: u, Code: resp.StatusCode}
		var fe struct {
			Errors []string `json:"errors"`
			Error  string   `json:"error"`
		}
		if json.Unmarshal(body, &fe) == nil {
			he.Detail = firstNonEmpty(strings.Join(fe.Errors, "; "), fe.Error)
		}
		if he.Detail == "" {
			he.Detail = truncate(strings.TrimSpace(string(body)), 200)
		}
		return he
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &jsonError{URL: u, Err: err}
	}
	return nil
}

// jsonError is a 2xx answer that does not decode.
type jsonError struct {
	URL string
	Err error
}

func (e *jsonError) Error() string { return fmt.Sprintf("GET %s: unexpected JSON: %v", e.URL, e.Err) }
func (e *jsonError) Unwrap() error { return e.Err }

func (f *FlinkClient) get(ctx context.Context, p string, v any) error {
	return getJSON(ctx, f.hc, f.base+p, v)
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

type flinkIOMetrics struct {
	ReadRecords  *int64 `json:"read-records"`
	WriteRecords *int64 `json:"write-records"`
}

type flinkJob struct {
	JID        string           `json:"jid"`
	Name       string           `json:"name"`
	State      string           `json:"state"`
	StartTime  int64            `json:"start-time"`
	Now        int64            `json:"now"`
	Timestamps map[string]int64 `json:"timestamps"`
	Vertices   []struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Parallelism int    `json:"parallelism"`
		Status      string `json:"status"`
	} `json:"vertices"`
	Plan json.RawMessage `json:"plan"`
}

type flinkPlan struct {
	Nodes []struct {
		ID     string `json:"id"`
		Inputs []struct {
			ID string `json:"id"`
		} `json:"inputs"`
	} `json:"nodes"`
}

type flinkExceptionInfo struct {
	ExceptionName string `json:"exceptionName"`
	Stacktrace    string `json:"stacktrace"`
	Timestamp     int64  `json:"timestamp"`
	TaskName      string `json:"taskName"`
	Location      string `json:"location"`
	Endpoint      string `json:"endpoint"`
	TaskManagerID string `json:"taskManagerId"`
}

type flinkExceptions struct {
	RootException string `json:"root-exception"`
	Timestamp     int64  `json:"timestamp"`
	AllExceptions []struct {
		Exception     string `json:"exception"`
		Task          string `json:"task"`
		Location      string `json:"location"`
		Timestamp     int64  `json:"timestamp"`
		TaskManagerID string `json:"taskManagerId"`
	} `json:"all-exceptions"`
	ExceptionHistory *struct {
		Entries []struct {
			flinkExceptionInfo
			ConcurrentExceptions []flinkExceptionInfo `json:"concurrentExceptions"`
		} `json:"entries"`
	} `json:"exceptionHistory"`
}

type flinkCheckpoint struct {
	ID               int64  `json:"id"`
	Status           string `json:"status"`
	IsSavepoint      bool   `json:"is_savepoint"`
	TriggerTimestamp int64  `json:"trigger_timestamp"`
	LatestAck        int64  `json:"latest_ack_timestamp"`
	EndToEnd         int64  `json:"end_to_end_duration"`
	FailureTimestamp int64  `json:"failure_timestamp"`
	FailureMessage   string `json:"failure_message"`
}

type flinkCheckpoints struct {
	Counts struct {
		Restored  int64 `json:"restored"`
		Completed int64 `json:"completed"`
		Failed    int64 `json:"failed"`
	} `json:"counts"`
	Latest struct {
		Completed *flinkCheckpoint `json:"completed"`
		Failed    *flinkCheckpoint `json:"failed"`
	} `json:"latest"`
	History []flinkCheckpoint `json:"history"`
}

type flinkVertex struct {
	Subtasks []struct {
		Subtask int `json:"subtask"`
		// Endpoint is "host:port" since Flink 1.17 (2.2.1's only field);
		// Host is the older name.
		Endpoint      string         `json:"endpoint"`
		Host          string         `json:"host"`
		TaskManagerID string         `json:"taskmanager-id"`
		Metrics       flinkIOMetrics `json:"metrics"`
	} `json:"subtasks"`
}

type flinkBackPressure struct {
	Status      string `json:"status"`
	Level       string `json:"backpressureLevel"`
	LevelLegacy string `json:"backpressure-level"`
	Subtasks    []struct {
		Subtask   int      `json:"subtask"`
		Ratio     *float64 `json:"ratio"`
		BusyRatio *float64 `json:"busyRatio"`
		IdleRatio *float64 `json:"idleRatio"`
	} `json:"subtasks"`
}

type flinkMetric struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

type flinkFlameGraph struct {
	EndTimestamp int64      `json:"endTimestamp"`
	Data         *FlameNode `json:"data"`
}

// CollectJob implements JobSource. It reads the job's details first: if
// that fails (unreachable endpoint, unknown job) it returns the error;
// every later failure becomes a Missing entry.
func (f *FlinkClient) CollectJob(ctx context.Context, jobID string, w Window) (*JobEvidence, error) {
	if jobID == "" {
		return nil, errors.New("diag: no Flink job ID given; find it with GET /jobs/overview or in the Flink UI")
	}
	jp := "/jobs/" + url.PathEscape(jobID)
	var job flinkJob
	if err := f.get(ctx, jp, &job); err != nil {
		var he *httpError
		if errors.As(err, &he) && he.Code == http.StatusNotFound {
			return nil, fmt.Errorf("diag: Flink job %s: %w (list the running jobs with GET %s/jobs/overview): %v", jobID, ErrUnknownJob, f.base, err)
		}
		var je *jsonError
		if errors.As(err, &je) {
			return nil, fmt.Errorf("diag: Flink REST API: %w (the answer is not the JSON of Flink's GET /jobs/:jobid: truncated, or not Flink's REST endpoint?)", err)
		}
		return nil, fmt.Errorf("diag: Flink REST API: %w (is the JobManager's REST endpoint, rest.port 8081 by default, reachable?)", err)
	}
	je := &JobEvidence{}
	miss := func(what string, err error) {
		je.Missing = append(je.Missing, Missing{Source: "flink", What: what, Reason: err.Error()})
	}
	je.Job = &JobState{ID: job.JID, Name: job.Name, State: job.State, Start: msTime(job.StartTime), Now: msTime(job.Now), Restarts: -1}
	for st, t := range job.Timestamps {
		if t > 0 {
			if je.Job.Transitions == nil {
				je.Job.Transitions = make(map[string]time.Time)
			}
			je.Job.Transitions[st] = msTime(t)
		}
	}
	var nr []flinkMetric
	if err := f.get(ctx, jp+"/metrics?get=numRestarts", &nr); err == nil {
		for _, m := range nr {
			if m.ID == "numRestarts" {
				if v, err := strconv.ParseInt(m.Value, 10, 64); err == nil {
					je.Job.Restarts = v
				}
			}
		}
	}
	inputs := parsePlan(job.Plan)

	var exc flinkExceptions
	if err := f.get(ctx, fmt.Sprintf("%s/exceptions?maxExceptions=%d", jp, f.opt.MaxExceptions), &exc); err != nil {
		miss("exception history", err)
	} else {
		je.Exceptions = convertExceptions(exc)
	}

	var cps flinkCheckpoints
	if err := f.get(ctx, jp+"/checkpoints", &cps); err != nil {
		miss("checkpoints", err)
	} else {
		je.Checkpoints = convertCheckpoints(cps)
	}

	vs := job.Vertices
	if len(vs) > f.opt.MaxVertices {
		miss("vertices", fmt.Errorf("only the first %d of %d vertices were read (FlinkOptions.MaxVertices)", f.opt.MaxVertices, len(vs)))
		vs = vs[:f.opt.MaxVertices]
	}
	je.Vertices = make([]Vertex, len(vs))
	var mu sync.Mutex
	sem := make(chan struct{}, f.opt.Parallel)
	var wg sync.WaitGroup
	for i, jv := range vs {
		v := &je.Vertices[i]
		v.ID, v.Name, v.Parallelism, v.MetricsSource = jv.ID, jv.Name, jv.Parallelism, "flink-rest (snapshot at "+ts(je.Job.Now)+")"
		if inputs != nil {
			v.Inputs = append([]string{}, inputs[jv.ID]...)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs := f.collectVertex(ctx, jp, v)
			mu.Lock()
			for _, err := range errs {
				miss(fmt.Sprintf("load of vertex %q", v.Name), err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()

	// Task managers that run the job.
	var tms []string
	for _, v := range je.Vertices {
		for _, s := range v.Subtasks {
			if s.TaskManager != "" && !slices.Contains(tms, s.TaskManager) {
				tms = append(tms, s.TaskManager)
			}
		}
	}
	slices.Sort(tms)
	// In parallel: before Flink 1.19 each one takes two reads GCReadGap apart.
	tmRes := make([]TaskManager, len(tms))
	tmErr := make([]error, len(tms))
	for i, id := range tms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			tmRes[i], tmErr[i] = f.taskManager(ctx, id)
		}()
	}
	wg.Wait()
	for i, id := range tms {
		if tmErr[i] != nil {
			miss("GC time of TaskManager "+id, tmErr[i])
		}
		if tmErr[i] == nil || tmRes[i].HeapMax > 0 {
			je.TaskManagers = append(je.TaskManagers, tmRes[i])
		}
	}

	// Flame graphs of busy vertices.
	if f.opt.FlameGraphBusy >= 0 {
		for _, v := range je.Vertices {
			if v.MaxBusy() < f.opt.FlameGraphBusy {
				continue
			}
			fg, err := f.flameGraph(ctx, jp, v)
			if err != nil {
				miss(fmt.Sprintf("flame graph of %q", v.Name), err)
				continue
			}
			je.FlameGraphs = append(je.FlameGraphs, fg)
		}
	}
	return je, nil
}

func parsePlan(raw json.RawMessage) map[string][]string {
	if len(raw) == 0 {
		return nil
	}
	var p flinkPlan
	if raw[0] == '"' { // some versions send the plan as a JSON string
		var s string
		if json.Unmarshal(raw, &s) != nil || json.Unmarshal([]byte(s), &p) != nil {
			return nil
		}
	} else if json.Unmarshal(raw, &p) != nil {
		return nil
	}
	if len(p.Nodes) == 0 {
		return nil
	}
	out := make(map[string][]string, len(p.Nodes))
	for _, n := range p.Nodes {
		ins := []string{}
		for _, in := range n.Inputs {
			ins = append(ins, in.ID)
		}
		out[n.ID] = ins
	}
	return out
}

func convertExceptions(exc flinkExceptions) []Exception {
	var out []Exception
	conv := func(x flinkExceptionInfo, concurrent bool) Exception {
		name := x.ExceptionName
		if st := ParseStackTrace(x.Stacktrace); len(st.Causes) > 0 {
			name = st.Causes[0].Header()
		}
		return Exception{
			Time: msTime(x.Timestamp), Name: name, Stacktrace: x.Stacktrace, Task: x.TaskName,
			Location: firstNonEmpty(x.Endpoint, x.Location), TaskManager: x.TaskManagerID,
			Concurrent: concurrent, Source: "flink-rest",
		}
	}
	if exc.ExceptionHistory != nil && len(exc.ExceptionHistory.Entries) > 0 {
		for _, e := range exc.ExceptionHistory.Entries {
			out = append(out, conv(e.flinkExceptionInfo, false))
			for _, c := range e.ConcurrentExceptions {
				out = append(out, conv(c, true))
			}
		}
		return out
	}
	// Legacy fields (Flink before 1.13, removed in 2.0).
	if exc.RootException != "" {
		out = append(out, conv(flinkExceptionInfo{Stacktrace: exc.RootException, Timestamp: exc.Timestamp}, false))
	}
	for _, a := range exc.AllExceptions {
		out = append(out, conv(flinkExceptionInfo{Stacktrace: a.Exception, Timestamp: a.Timestamp, TaskName: a.Task, Location: a.Location, TaskManagerID: a.TaskManagerID}, true))
	}
	return out
}

func convertCheckpoints(c flinkCheckpoints) *Checkpoints {
	out := &Checkpoints{Completed: c.Counts.Completed, Failed: c.Counts.Failed, Restored: c.Counts.Restored}
	if lc := c.Latest.Completed; lc != nil {
		out.LastCompleted = msTime(lc.LatestAck)
	}
	conv := func(h flinkCheckpoint) Checkpoint {
		return Checkpoint{
			ID: h.ID, Status: h.Status, Trigger: msTime(h.TriggerTimestamp), Duration: Duration(time.Duration(h.EndToEnd) * time.Millisecond),
			FailureTime: msTime(h.FailureTimestamp), FailureMessage: h.FailureMessage, Savepoint: h.IsSavepoint,
		}
	}
	seen := make(map[int64]bool)
	for _, h := range c.History {
		seen[h.ID] = true
		out.History = append(out.History, conv(h))
	}
	if lf := c.Latest.Failed; lf != nil {
		if !seen[lf.ID] {
			out.History = append(out.History, conv(*lf))
		} else {
			for i := range out.History {
				if out.History[i].ID == lf.ID && out.History[i].FailureMessage == "" {
					out.History[i].FailureMessage = lf.FailureMessage
					out.History[i].FailureTime = msTime(lf.FailureTimestamp)
				}
			}
		}
	}
	slices.SortFunc(out.History, func(a, b Checkpoint) int { return a.Trigger.Compare(b.Trigger) })
	return out
}

// collectVertex fills v's subtasks from the vertex details, the
// back-pressure endpoint and per-subtask metrics (those one subtask at a
// time, to keep the load on the JobManager bounded).
func (f *FlinkClient) collectVertex(ctx context.Context, jp string, v *Vertex) []error {
	var errs []error
	vp := jp + "/vertices/" + url.PathEscape(v.ID)
	var det flinkVertex
	if err := f.get(ctx, vp, &det); err != nil {
		errs = append(errs, err)
	}
	n := max(v.Parallelism, len(det.Subtasks))
	v.Subtasks = make([]Subtask, n)
	for i := range v.Subtasks {
		v.Subtasks[i] = unknownSubtask(i)
	}
	at := func(i int) *Subtask {
		if i < 0 || i >= len(v.Subtasks) {
			return nil
		}
		return &v.Subtasks[i]
	}
	for _, s := range det.Subtasks {
		if st := at(s.Subtask); st != nil {
			st.Host, st.TaskManager = firstNonEmpty(s.Endpoint, s.Host), s.TaskManagerID
			if s.Metrics.ReadRecords != nil {
				st.RecordsIn = *s.Metrics.ReadRecords
			}
			if s.Metrics.WriteRecords != nil {
				st.RecordsOut = *s.Metrics.WriteRecords
			}
		}
	}
	var bp flinkBackPressure
	if err := f.get(ctx, vp+"/backpressure", &bp); err != nil {
		errs = append(errs, err)
	} else if bp.Status == "deprecated" {
		// Flink 2.2.1 answers only {"status": "deprecated"} while its
		// metric store holds no metrics of the vertex: the tasks are not
		// running (a restarting job), or the metric fetcher
		// (metrics.fetcher.update-interval) has not run since they started.
		errs = append(errs, fmt.Errorf("GET %s/backpressure: no back-pressure yet: Flink has no metrics of the vertex (status \"deprecated\": its tasks are not running, or metrics.fetcher.update-interval has not passed since they started)", f.base+vp))
	} else {
		v.BackPressureLevel = firstNonEmpty(bp.Level, bp.LevelLegacy)
		for _, s := range bp.Subtasks {
			st := at(s.Subtask)
			if st == nil {
				continue
			}
			if s.Ratio != nil {
				st.BackPressured = *s.Ratio
			}
			if s.BusyRatio != nil {
				st.Busy = *s.BusyRatio
			}
			if s.IdleRatio != nil {
				st.Idle = *s.IdleRatio
			}
		}
	}
	limit := min(len(v.Subtasks), f.opt.MaxSubtasks)
	for i := 0; i < limit; i++ {
		var ms []flinkMetric
		if err := f.get(ctx, fmt.Sprintf("%s/subtasks/%d/metrics?get=busyTimeMsPerSecond,backPressuredTimeMsPerSecond,idleTimeMsPerSecond,numRecordsInPerSecond", vp, i), &ms); err != nil {
			errs = append(errs, err)
			break
		}
		st := &v.Subtasks[i]
		for _, m := range ms {
			x, err := strconv.ParseFloat(m.Value, 64)
			if err != nil || x != x || x < 0 {
				continue
			}
			switch m.ID {
			case "busyTimeMsPerSecond":
				st.Busy = min(x/1000, 1)
			case "backPressuredTimeMsPerSecond":
				st.BackPressured = min(x/1000, 1)
			case "idleTimeMsPerSecond":
				st.Idle = min(x/1000, 1)
			case "numRecordsInPerSecond":
				st.RecordsInPerSecond = x
			}
		}
	}
	return errs
}

func (f *FlinkClient) taskManager(ctx context.Context, id string) (TaskManager, error) {
	tm := TaskManager{ID: id, GCTimeShare: -1, Source: "flink-rest"}
	mp := "/taskmanagers/" + url.PathEscape(id) + "/metrics"
	var avail []flinkMetric
	if err := f.get(ctx, mp, &avail); err != nil {
		return tm, err
	}
	var perSecond, all, cumulative []string
	for _, m := range avail {
		if !strings.HasPrefix(m.ID, "Status.JVM.GarbageCollector.") {
			continue
		}
		switch {
		case strings.HasSuffix(m.ID, ".TimeMsPerSecond") && strings.Contains(m.ID, ".All."):
			all = append(all, m.ID)
		case strings.HasSuffix(m.ID, ".TimeMsPerSecond"):
			perSecond = append(perSecond, m.ID)
		case strings.HasSuffix(m.ID, ".Time") && !strings.Contains(m.ID, ".All."):
			cumulative = append(cumulative, m.ID)
		}
	}
	if len(all) > 0 {
		perSecond = all
	}
	if len(perSecond) == 0 && len(cumulative) > 0 {
		if f.replay {
			_, err := f.taskManagerCumulativeGCRead(ctx, &tm, mp, cumulative)
			if err == nil {
				err = errors.New("only the cumulative Status.JVM.GarbageCollector.*.Time (Flink before 1.19), and a recording holds one read of it: the GC rate needs two; give --prometheus for the GC time share")
			}
			return tm, err
		}
		return f.taskManagerCumulativeGC(ctx, tm, mp, cumulative)
	}
	get := append(slices.Clone(perSecond), "Status.JVM.Memory.Heap.Used", "Status.JVM.Memory.Heap.Max")
	var vals []flinkMetric
	if err := f.get(ctx, mp+"?get="+strings.Join(get, ","), &vals); err != nil {
		return tm, err
	}
	share, found := 0.0, false
	for _, m := range vals {
		x, err := strconv.ParseFloat(m.Value, 64)
		if err != nil || x != x {
			continue
		}
		switch {
		case slices.Contains(perSecond, m.ID):
			share += x / 1000
			found = true
		case m.ID == "Status.JVM.Memory.Heap.Used":
			tm.HeapUsed = int64(x)
		case m.ID == "Status.JVM.Memory.Heap.Max":
			tm.HeapMax = int64(x)
		}
	}
	if !found {
		return tm, errors.New("no Status.JVM.GarbageCollector.*.TimeMsPerSecond (Flink 1.19+) or .Time metric; give --prometheus for the GC time share")
	}
	tm.GCTimeShare = min(share, 1)
	return tm, nil
}

// taskManagerCumulativeGCRead reads the sum of the cumulative GC times (ms)
// and the heap figures into tm.
func (f *FlinkClient) taskManagerCumulativeGCRead(ctx context.Context, tm *TaskManager, mp string, ids []string) (float64, error) {
	var vals []flinkMetric
	get := mp + "?get=" + strings.Join(append(slices.Clone(ids), "Status.JVM.Memory.Heap.Used", "Status.JVM.Memory.Heap.Max"), ",")
	if err := f.get(ctx, get, &vals); err != nil {
		return 0, err
	}
	gcMs, found := 0.0, 0
	for _, m := range vals {
		x, err := strconv.ParseFloat(m.Value, 64)
		if err != nil || x != x {
			continue
		}
		switch {
		case slices.Contains(ids, m.ID):
			gcMs += x
			found++
		case m.ID == "Status.JVM.Memory.Heap.Used":
			tm.HeapUsed = int64(x)
		case m.ID == "Status.JVM.Memory.Heap.Max":
			tm.HeapMax = int64(x)
		}
	}
	if found != len(ids) {
		return 0, fmt.Errorf("%d of the %d Status.JVM.GarbageCollector.*.Time metrics had a value", found, len(ids))
	}
	return gcMs, nil
}

// taskManagerCumulativeGC derives the GC time share from two reads of the
// cumulative GC time (Flink 1.17, 1.18), GCReadGap apart.
func (f *FlinkClient) taskManagerCumulativeGC(ctx context.Context, tm TaskManager, mp string, ids []string) (TaskManager, error) {
	read := func() (float64, time.Time, error) {
		gcMs, err := f.taskManagerCumulativeGCRead(ctx, &tm, mp, ids)
		return gcMs, f.opt.Clock(), err
	}
	gc1, t1, err := read()
	if err != nil {
		return tm, err
	}
	select {
	case <-ctx.Done():
		return tm, ctx.Err()
	case <-time.After(f.opt.GCReadGap):
	}
	gc2, t2, err := read()
	if err != nil {
		return tm, err
	}
	switch dt := t2.Sub(t1); {
	case dt <= 0:
		return tm, errors.New("the two reads of the cumulative GC time were not apart in time")
	case gc2 < gc1:
		return tm, fmt.Errorf("the cumulative GC time went back from %.0f ms to %.0f ms between two reads (TaskManager restarted?)", gc1, gc2)
	default:
		tm.GCTimeShare = min((gc2-gc1)/(float64(dt)/float64(time.Millisecond)), 1)
		tm.Source = fmt.Sprintf("flink-rest (cumulative GC time read twice, %s apart)", dt.Round(time.Millisecond))
	}
	return tm, nil
}

func (f *FlinkClient) flameGraph(ctx context.Context, jp string, v Vertex) (FlameGraph, error) {
	u := jp + "/vertices/" + url.PathEscape(v.ID) + "/flamegraph?type=on_cpu"
	for attempt := 1; ; attempt++ {
		var fg flinkFlameGraph
		if err := f.get(ctx, u, &fg); err != nil {
			return FlameGraph{}, err
		}
		if fg.Data != nil && (fg.Data.Value > 0 || len(fg.Data.Children) > 0) {
			return FlameGraph{VertexID: v.ID, VertexName: v.Name, Time: msTime(fg.EndTimestamp), Root: *fg.Data}, nil
		}
		// Flink's VertexFlameGraph: endTimestamp -2 is disabled(), -1
		// terminated(), both final; -3 waiting() for the first samples.
		switch fg.EndTimestamp {
		case -2:
			return FlameGraph{}, errors.New("flame graphs are disabled on this cluster (set rest.flamegraph.enabled: true in the Flink configuration)")
		case -1:
			return FlameGraph{}, errors.New("no flame graph: the vertex's tasks are not running")
		}
		if attempt >= f.opt.FlameGraphAttempts {
			return FlameGraph{}, fmt.Errorf("the flame graph stayed empty after %d attempts: sampling did not finish (rest.flamegraph.delay-between-samples, rest.flamegraph.num-samples)", attempt)
		}
		select {
		case <-ctx.Done():
			return FlameGraph{}, ctx.Err()
		case <-time.After(f.opt.FlameGraphWait):
		}
	}
}
