package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
)

func (s *Server) mockRoutes() {
	s.route("GET /api/cases", "cases", s.listCases)
	s.route("GET /api/cases/{name}", "case", s.getCase)
	s.route("POST /api/cases/{name}/check", "case-check", s.checkCase)
	s.route("PUT /api/cases/{name}", "case-save", s.saveCase)
	s.route("POST /api/cases/{name}/run", "case-run", s.runCase)
	s.route("GET /api/cases/{name}/runs", "case-runs", s.caseRuns)
	s.route("GET /api/cases/{name}/runs/{run}", "case-result", s.caseResult)
	s.route("GET /api/jobs/{id}", "job", s.getJob)
}

func (s *Server) needMock(w http.ResponseWriter) bool {
	if s.cfg.Mock == nil {
		writeError(w, http.StatusNotFound, "no mock store: start hotcold ui with --mock-store DIR or s3://bucket (or --data DIR)")
		return false
	}
	return true
}

// caseSummary is one line of the case list.
type caseSummary struct {
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	Invalid     string        `json:"invalid,omitempty"`
	Runs        int           `json:"runs"`
	Last        *mock.Summary `json:"last,omitempty"`
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request) {
	if !s.needMock(w) {
		return
	}
	ctx := r.Context()
	names, err := s.cfg.Mock.Cases(ctx)
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	sort.Strings(names)
	out := []caseSummary{}
	for _, n := range names {
		cs := caseSummary{Name: n}
		if c, err := s.cfg.Mock.LoadCase(ctx, n); err != nil {
			cs.Invalid = err.Error()
		} else {
			cs.Description = c.Description
		}
		hist, err := s.history(ctx, n)
		if err != nil {
			writeError(w, http.StatusBadGateway, err.Error())
			return
		}
		cs.Runs = len(hist)
		if len(hist) > 0 {
			cs.Last = hist[0]
		}
		out = append(out, cs)
	}
	writeJSON(w, http.StatusOK, out)
}

// caseFiles are the files of a case by name relative to its directory.
type caseFiles map[string]string

// editable says where the messages of a source or the expected rows are.
type editable struct {
	// File is the JSONL file, relative to the case directory; empty when
	// they are written inline in case.yaml.
	File string `json:"file"`
}

// caseYAMLRefs are the parts of case.yaml that name files.
type caseYAMLRefs struct {
	Name    string `yaml:"name"`
	Sources []struct {
		Name     string    `yaml:"name"`
		Messages yaml.Node `yaml:"messages"`
	} `yaml:"sources"`
	Expect struct {
		Rows yaml.Node `yaml:"rows"`
	} `yaml:"expect"`
}

// refs reads the names of the JSONL files that case.yaml references (a
// case.yaml that does not parse references none: its validation says
// why).
func refs(caseYAML []byte) (name string, sources map[string]string, expect string) {
	var y caseYAMLRefs
	sources = map[string]string{}
	if yaml.Unmarshal(caseYAML, &y) != nil {
		return "", sources, ""
	}
	for _, src := range y.Sources {
		if src.Messages.Kind == yaml.ScalarNode {
			sources[src.Name] = src.Messages.Value
		}
	}
	if y.Expect.Rows.Kind == yaml.ScalarNode {
		expect = y.Expect.Rows.Value
	}
	return y.Name, sources, expect
}

// readCaseFiles reads case.yaml of a stored case and the files it names.
func (s *Server) readCaseFiles(ctx context.Context, name string) (caseFiles, error) {
	if !caseNameRE.MatchString(name) {
		return nil, fmt.Errorf("%q is not a case name", name)
	}
	prefix := "cases/" + name + "/"
	y, err := s.cfg.Mock.ReadFile(ctx, prefix+mock.CaseFile)
	if err != nil {
		return nil, err
	}
	files := caseFiles{mock.CaseFile: string(y)}
	_, srcs, exp := refs(y)
	names := []string{exp}
	for _, k := range slices.Sorted(maps.Keys(srcs)) {
		names = append(names, srcs[k])
	}
	for _, f := range names {
		if f == "" || !fs.ValidPath(f) {
			continue
		}
		if b, err := s.cfg.Mock.ReadFile(ctx, prefix+f); err == nil {
			files[f] = string(b)
		}
	}
	return files, nil
}

var caseNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// cellError is one problem of a case, placed where the grid shows it.
type cellError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty"`
	Problem string `json:"problem"`
	// Cell is the grid column the problem is about: a message field (key,
	// value, timestamp, after, partition, headers, op, note), a column of
	// a row, or "" for the whole line.
	Cell string `json:"cell,omitempty"`
	// Text is the whole message, as the CLI prints it.
	Text string `json:"text"`
}

var columnInProblem = regexp.MustCompile(`^column "([^"]+)"`)

// validate loads the files as hotcold mock check does and returns the case
// or its problems.
func validate(name string, files caseFiles) (*mock.Case, []cellError, error) {
	y, ok := files[mock.CaseFile]
	if !ok {
		return nil, []cellError{{File: mock.CaseFile, Problem: "a case needs its case.yaml", Text: "case.yaml: missing"}}, nil
	}
	fsys := fstest.MapFS{}
	for n, text := range files {
		if !fs.ValidPath(n) || strings.HasPrefix(n, ".") {
			return nil, []cellError{{File: n, Problem: "a case file name must be a path inside the case directory", Text: n + ": not a path inside the case"}}, nil
		}
		fsys[n] = &fstest.MapFile{Data: []byte(text), Mode: 0o644}
	}
	c, err := mock.LoadCaseFS(fsys, mock.CaseFile)
	var ces mock.CaseErrors
	if errors.As(err, &ces) {
		out := make([]cellError, 0, len(ces))
		for _, e := range ces {
			out = append(out, toCellError(e))
		}
		return nil, out, nil
	}
	var ce *mock.CaseError
	if errors.As(err, &ce) {
		return nil, []cellError{toCellError(ce)}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if yn, _, _ := refs([]byte(y)); yn != "" && yn != name {
		return nil, []cellError{{File: mock.CaseFile, Line: 1, Field: "name", Problem: fmt.Sprintf("the case is stored as %q but its name field says %q: make them equal or remove name", name, yn), Text: "case.yaml: name"}}, nil
	}
	c.Name = name
	return c, nil, nil
}

func toCellError(e *mock.CaseError) cellError {
	ce := cellError{File: path.Clean(e.File), Line: e.Line, Column: e.Column, Field: e.Field, Problem: e.Problem, Text: e.Error()}
	switch f := e.Field; {
	case f == "row":
		if m := columnInProblem.FindStringSubmatch(e.Problem); m != nil {
			ce.Cell = "row." + m[1]
		} else if m := regexp.MustCompile(`column "?([A-Za-z0-9_]+)"? is not a column`).FindStringSubmatch(e.Problem); m != nil {
			ce.Cell = "row." + m[1]
		}
	case slices.Contains([]string{"key", "key_text", "key_base64"}, f):
		ce.Cell = "key"
	case slices.Contains([]string{"value", "value_text", "value_base64"}, f):
		ce.Cell = "value"
	case slices.Contains([]string{"timestamp", "after", "partition", "headers", "op", "note"}, f):
		ce.Cell = f
	case f != "" && !strings.ContainsAny(f, ".[") && e.File != mock.CaseFile:
		ce.Cell = "row." + f // an expected row's column
	}
	return ce
}

// column is a column of a source or the sink, for the grid.
type column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Key      bool   `json:"key,omitempty"`
	Nullable bool   `json:"nullable,omitempty"`
	// JSON says how a cell's text becomes a JSON value: "number" and
	// "boolean" cells are sent as JSON literals, "string" cells as strings.
	JSON string `json:"json"`
}

func columnsOf(s *row.Schema) []column {
	if s == nil {
		return nil
	}
	var out []column
	key := s.Key()
	for i, c := range s.Columns() {
		js := "string"
		switch c.Type.ID {
		case row.TypeInt32, row.TypeInt64, row.TypeFloat32, row.TypeFloat64:
			js = "number"
		case row.TypeBool:
			js = "boolean"
		}
		out = append(out, column{Name: c.Name, Type: c.Type.String(), Key: slices.Contains(key, i), Nullable: c.Nullable, JSON: js})
	}
	return out
}

type sourceDetail struct {
	Name      string   `json:"name"`
	Topic     string   `json:"topic"`
	Format    string   `json:"format"`
	KeyFormat string   `json:"key_format"`
	Columns   []column `json:"columns"`
	Messages  int      `json:"messages"`
	editable
}

type stepDetail struct {
	Seq    int    `json:"seq"`
	Source string `json:"source"`
	Index  int    `json:"index"`
	Line   int    `json:"line"`
	WaitMS int64  `json:"wait_ms"`
	AtMS   int64  `json:"at_ms"`
}

type caseDetail struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Where       string         `json:"where"`
	Files       caseFiles      `json:"files"`
	Sources     []sourceDetail `json:"sources"`
	Sink        struct {
		Topic   string   `json:"topic"`
		Format  string   `json:"format"`
		Columns []column `json:"columns"`
	} `json:"sink"`
	Expect struct {
		editable
		Rows int `json:"rows"`
	} `json:"expect"`
	Schedule struct {
		IntervalMS int64  `json:"interval_ms"`
		By         string `json:"by"`
	} `json:"schedule"`
	Steps  []stepDetail `json:"steps"`
	Errors []cellError  `json:"errors,omitempty"`
}

func (s *Server) detail(name string, files caseFiles) (*caseDetail, error) {
	d := &caseDetail{Name: name, Files: files, Where: s.cfg.Mock.Where("cases/" + name + "/")}
	c, problems, err := validate(name, files)
	if err != nil {
		return nil, err
	}
	_, srcFiles, expFile := refs([]byte(files[mock.CaseFile]))
	d.Expect.File = expFile
	d.Errors = problems
	if c == nil {
		for n, f := range srcFiles {
			d.Sources = append(d.Sources, sourceDetail{Name: n, editable: editable{File: f}})
		}
		sort.Slice(d.Sources, func(i, j int) bool { return d.Sources[i].Name < d.Sources[j].Name })
		return d, nil
	}
	d.Description = c.Description
	for _, src := range c.Sources {
		n := len(src.Messages)
		if src.End != nil {
			n -= int(max(src.Partitions, 1))
		}
		d.Sources = append(d.Sources, sourceDetail{Name: src.Name, Topic: src.Topic, Format: string(src.Format), KeyFormat: src.KeyFormat,
			Columns: columnsOf(src.Schema), Messages: n, editable: editable{File: srcFiles[src.Name]}})
	}
	d.Sink.Topic, d.Sink.Format, d.Sink.Columns = c.Sink.Topic, string(c.Sink.Format), columnsOf(c.Sink.Schema)
	d.Expect.Rows = len(c.Expect.Rows)
	d.Schedule.IntervalMS, d.Schedule.By = c.Schedule.Interval.Milliseconds(), c.Schedule.By
	var at time.Duration
	for _, st := range c.Steps() {
		at += st.Wait
		d.Steps = append(d.Steps, stepDetail{Seq: st.Seq, Source: st.Source.Name, Index: st.Index, Line: st.Message().Pos.Line,
			WaitMS: st.Wait.Milliseconds(), AtMS: at.Milliseconds()})
	}
	return d, nil
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request) {
	if !s.needMock(w) {
		return
	}
	name := r.PathValue("name")
	files, err := s.readCaseFiles(r.Context(), name)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	d, err := s.detail(name, files)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, d)
}

type filesBody struct {
	Files caseFiles `json:"files"`
}

// checkCase validates edited files without saving them.
func (s *Server) checkCase(w http.ResponseWriter, r *http.Request) {
	if !s.needMock(w) {
		return
	}
	var b filesBody
	if !readJSON(w, r, &b) {
		return
	}
	name := r.PathValue("name")
	if !caseNameRE.MatchString(name) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a case name: use letters, digits, '.', '_' and '-'", name))
		return
	}
	d, err := s.detail(name, b.Files)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// saveCase validates edited files and, when the case is valid, stores it
// as hotcold mock push does.
func (s *Server) saveCase(w http.ResponseWriter, r *http.Request) {
	if !s.needMock(w) {
		return
	}
	var b filesBody
	if !readJSON(w, r, &b) {
		return
	}
	name := r.PathValue("name")
	if !caseNameRE.MatchString(name) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a case name: use letters, digits, '.', '_' and '-'", name))
		return
	}
	c, problems, err := validate(name, b.Files)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if c == nil {
		d, err := s.detail(name, b.Files)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		d.Errors = problems
		writeJSON(w, http.StatusUnprocessableEntity, d)
		return
	}
	if _, err := s.cfg.Mock.SaveCase(r.Context(), c); err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	s.log.Info("case saved", "case", name, "store", s.cfg.Mock.String())
	d, err := s.detail(name, b.Files)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// job is a mock run started from the console.
type job struct {
	ID   string `json:"id"`
	Case string `json:"case"`

	mu       sync.Mutex
	state    string // running, done, error
	phase    string
	progress mock.Progress
	summary  *mock.Summary
	err      string
	started  time.Time
	finished time.Time
}

type jobView struct {
	ID       string        `json:"id"`
	Case     string        `json:"case"`
	State    string        `json:"state"`
	Phase    string        `json:"phase"`
	Sent     int           `json:"sent"`
	Total    int           `json:"total"`
	Received int           `json:"received"`
	Summary  *mock.Summary `json:"summary,omitempty"`
	Error    string        `json:"error,omitempty"`
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished,omitzero"`
}

func (j *job) view() jobView {
	j.mu.Lock()
	defer j.mu.Unlock()
	return jobView{ID: j.ID, Case: j.Case, State: j.state, Phase: j.phase, Sent: j.progress.Sent, Total: j.progress.Total,
		Received: j.progress.Received, Summary: j.summary, Error: j.err, Started: j.started, Finished: j.finished}
}

func (j *job) set(fn func(j *job)) {
	j.mu.Lock()
	fn(j)
	j.mu.Unlock()
}

func (s *Server) runCase(w http.ResponseWriter, r *http.Request) {
	if !s.needMock(w) {
		return
	}
	if s.cfg.MockOptions == nil {
		writeError(w, http.StatusConflict, "this console cannot run cases: start hotcold ui with --brokers (and --exec to start the job under test)")
		return
	}
	var body struct{}
	if !readJSON(w, r, &body) {
		return
	}
	name := r.PathValue("name")
	c, err := s.cfg.Mock.LoadCase(r.Context(), name)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	o, err := s.cfg.MockOptions()
	if err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	s.mu.Lock()
	s.mu.nextID++
	j := &job{ID: fmt.Sprintf("run-%d", s.mu.nextID), Case: name, state: "running", phase: "starting",
		progress: mock.Progress{Case: name, Total: len(c.Steps())}, started: s.cfg.Now()}
	s.mu.jobs[j.ID] = j
	s.mu.Unlock()
	user := o.Progress
	o.Progress = func(p mock.Progress) {
		j.set(func(j *job) {
			j.progress = p
			j.phase = "sending"
			if p.Total > 0 && p.Sent == p.Total {
				j.phase = "reading the sink until it is quiet"
			}
		})
		if user != nil {
			user(p)
		}
	}
	s.log.Info("mock run started", "case", name, "job", j.ID)
	s.goOwned(func(ctx context.Context) {
		res, runErr := mock.Run(ctx, c, o)
		var sum *mock.Summary
		var saveErr error
		if res != nil {
			prefix, err := s.cfg.Mock.SaveResult(ctx, res)
			if err != nil {
				saveErr = err
			} else {
				sum, saveErr = s.cfg.Mock.LoadSummary(ctx, prefix)
			}
		}
		err := errors.Join(runErr, saveErr)
		outcome := "error"
		if sum != nil {
			outcome = string(sum.Verdict)
		}
		s.metrics.runs.WithLabelValues("mock-run", outcome).Inc()
		j.set(func(j *job) {
			j.state, j.phase, j.summary, j.finished = "done", "done", sum, s.cfg.Now()
			if err != nil {
				j.state, j.err = "error", err.Error()
			}
		})
		s.log.Info("mock run finished", "case", name, "job", j.ID, "outcome", outcome, "err", err)
	})
	writeJSON(w, http.StatusAccepted, j.view())
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	j := s.mu.jobs[r.PathValue("id")]
	s.mu.Unlock()
	if j == nil {
		writeError(w, http.StatusNotFound, "no such run (runs are kept while the console runs; see the case's history)")
		return
	}
	writeJSON(w, http.StatusOK, j.view())
}

func (s *Server) caseRuns(w http.ResponseWriter, r *http.Request) {
	if !s.needMock(w) {
		return
	}
	out, err := s.history(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// history reads the summaries of a case's stored runs, newest first (run
// ids started within one second do not sort by time).
func (s *Server) history(ctx context.Context, name string) ([]*mock.Summary, error) {
	runs, err := s.cfg.Mock.Runs(ctx, name)
	if err != nil {
		return nil, err
	}
	out := []*mock.Summary{}
	for _, id := range runs {
		sum, err := s.cfg.Mock.LoadSummary(ctx, "runs/"+name+"/"+id+"/")
		if err != nil {
			continue // a run being written
		}
		out = append(out, sum)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// resultDetail is a stored run: its summary (with the diff), and the
// merged table with the differences marked, values as text exactly as
// stored (a decimal keeps its scale).
type resultDetail struct {
	Summary *mock.Summary `json:"summary"`
	Columns []string      `json:"columns"`
	Rows    []markedRow   `json:"rows"`
	Report  string        `json:"report"`
}

// markedRow is one row of the result table: an actual row (mark ""), an
// unexpected one, a changed one (Expected holds the expected text of each
// changed column), or an expected row that is missing.
type markedRow struct {
	Mark     string            `json:"mark,omitempty"`
	Cells    map[string]string `json:"cells"`
	Expected map[string]string `json:"expected,omitempty"`
}

// cells reads a JSON object's members in order, each value as its JSON
// text (a string without quotes).
func cells(raw []byte) ([]string, map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, fmt.Errorf("not a JSON object")
	}
	var keys []string
	out := map[string]string{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		var str string
		if json.Unmarshal(v, &str) == nil {
			out[k] = str
		} else {
			out[k] = string(v)
		}
	}
	return keys, out, nil
}

func compact(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func (s *Server) caseResult(w http.ResponseWriter, r *http.Request) {
	if !s.needMock(w) {
		return
	}
	name, run := r.PathValue("name"), r.PathValue("run")
	if !caseNameRE.MatchString(name) || !caseNameRE.MatchString(run) {
		writeError(w, http.StatusBadRequest, "not a case or run name")
		return
	}
	prefix := "runs/" + name + "/" + run + "/"
	sum, err := s.cfg.Mock.LoadSummary(r.Context(), prefix)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	d := resultDetail{Summary: sum, Columns: []string{}, Rows: []markedRow{}}
	unexpected := map[string]int{}
	changed := map[string][]mock.ChangeSummary{}
	if sum.Diff != nil {
		for _, u := range sum.Diff.Unexpected {
			unexpected[compact(u)]++
		}
		for _, ch := range sum.Diff.Changed {
			k := compact(ch.Actual)
			changed[k] = append(changed[k], ch)
		}
	}
	addCols := func(keys []string) {
		for _, k := range keys {
			if !slices.Contains(d.Columns, k) {
				d.Columns = append(d.Columns, k)
			}
		}
	}
	if b, err := s.cfg.Mock.ReadFile(r.Context(), prefix+"table.jsonl"); err == nil {
		for _, ln := range strings.Split(string(b), "\n") {
			if ln = strings.TrimSpace(ln); ln == "" {
				continue
			}
			keys, cs, err := cells([]byte(ln))
			if err != nil {
				continue
			}
			addCols(keys)
			mr := markedRow{Cells: cs}
			k := compact([]byte(ln))
			switch {
			case len(changed[k]) > 0:
				ch := changed[k][0]
				changed[k] = changed[k][1:]
				mr.Mark, mr.Expected = "changed", map[string]string{}
				for _, cd := range ch.Columns {
					mr.Expected[cd.Column] = cd.Expected
				}
			case unexpected[k] > 0:
				unexpected[k]--
				mr.Mark = "unexpected"
			}
			d.Rows = append(d.Rows, mr)
		}
	}
	if sum.Diff != nil {
		for _, m := range sum.Diff.Missing {
			keys, cs, err := cells(m)
			if err != nil {
				continue
			}
			addCols(keys)
			d.Rows = append(d.Rows, markedRow{Mark: "missing", Cells: cs})
		}
	}
	if b, err := s.cfg.Mock.ReadFile(r.Context(), prefix+"report.txt"); err == nil {
		d.Report = string(b)
	}
	writeJSON(w, http.StatusOK, d)
}
