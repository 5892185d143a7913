package ui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/hotcold/hotcold/statemigrate"
)

// BypassLog is the file in a bypass work directory that hotcold migrate
// bypass appends its log to; the console shows it stage by stage.
const BypassLog = "bypass.log"

func (s *Server) migrationRoutes() {
	s.route("GET /api/migrations", "migrations", s.listMigrations)
	s.route("GET /api/migrations/{name}", "migration", s.getMigration)
	s.route("POST /api/migrations/{name}/resume", "migration-resume", s.bypassAction(false))
	s.route("POST /api/migrations/{name}/abort", "migration-abort", s.bypassAction(true))
}

type bypassJob struct {
	action string
	err    string
	done   bool
}

// workDirs maps the name of each bypass run to its work directory: the
// subdirectories of Migrations holding bypass.json, or Migrations itself.
func (s *Server) workDirs() (map[string]string, error) {
	root := s.cfg.Migrations
	out := map[string]string{}
	if _, err := os.Stat(filepath.Join(root, "bypass.json")); err == nil {
		out[filepath.Base(root)] = root
		return out, nil
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "bypass.json")); err == nil {
			out[e.Name()] = dir
		}
	}
	return out, nil
}

// readStatus reads bypass.json as statemigrate writes it.
func readStatus(dir string) (*statemigrate.Status, error) {
	b, err := os.ReadFile(filepath.Join(dir, "bypass.json"))
	if err != nil {
		return nil, err
	}
	var st statemigrate.Status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s is corrupt: %w", filepath.Join(dir, "bypass.json"), err)
	}
	return &st, nil
}

type stageView struct {
	Index int                `json:"index"`
	Stage statemigrate.Stage `json:"stage"`
	// State is done, running (the next stage while a resume goes on),
	// failed (the next stage after an error in the log), or pending.
	State string    `json:"state"`
	At    time.Time `json:"at,omitzero"`
	Log   []string  `json:"log"`
}

type migrationView struct {
	Name    string               `json:"name"`
	Dir     string               `json:"dir"`
	Stage   statemigrate.Stage   `json:"stage"`
	Done    int                  `json:"done"`
	Total   int                  `json:"total"`
	Aborted bool                 `json:"aborted"`
	Running string               `json:"running,omitempty"`
	Error   string               `json:"error,omitempty"`
	Stages  []stageView          `json:"stages"`
	Status  *statemigrate.Status `json:"status"`
	// OnlineOffsets and SideOffsets are the compared offsets, as text.
	OnlineOffsets string `json:"online_offsets,omitempty"`
	SideOffsets   string `json:"side_offsets,omitempty"`
	OffsetsEqual  *bool  `json:"offsets_equal,omitempty"`
}

var stageLine = regexp.MustCompile(`bypass: stage (\d+)/\d+: `)

// stageLogs splits the log into the lines of each stage (1..7); lines
// before the first stage go to stage 1.
func stageLogs(dir string) map[int][]string {
	out := map[int][]string{}
	f, err := os.Open(filepath.Join(dir, BypassLog))
	if err != nil {
		return out
	}
	defer f.Close()
	cur := 1
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		ln := sc.Text()
		if m := stageLine.FindStringSubmatch(ln); m != nil {
			fmt.Sscan(m[1], &cur)
		}
		out[cur] = append(out[cur], ln)
		if len(out[cur]) > 500 {
			out[cur] = out[cur][len(out[cur])-500:]
		}
	}
	return out
}

func (s *Server) migration(name, dir string) (*migrationView, error) {
	st, err := readStatus(dir)
	if err != nil {
		return nil, err
	}
	stages := statemigrate.Stages()
	idx := slices.Index(stages, st.Stage)
	v := &migrationView{Name: name, Dir: dir, Stage: st.Stage, Done: idx, Total: len(stages) - 1, Aborted: st.Aborted, Status: st}
	s.mu.Lock()
	if j := s.mu.bypass[dir]; j != nil {
		if !j.done {
			v.Running = j.action
		}
		v.Error = j.err
	}
	s.mu.Unlock()
	logs := stageLogs(dir)
	at := map[statemigrate.Stage]time.Time{}
	for _, h := range st.History {
		at[h.Stage] = h.At
	}
	for i := 1; i < len(stages); i++ {
		sv := stageView{Index: i, Stage: stages[i], State: "pending", At: at[stages[i]], Log: logs[i]}
		switch {
		case i <= idx:
			sv.State = "done"
		case i == idx+1 && v.Running == "resume":
			sv.State = "running"
		case i == idx+1 && v.Error != "":
			sv.State = "failed"
		}
		if sv.Log == nil {
			sv.Log = []string{}
		}
		v.Stages = append(v.Stages, sv)
	}
	if len(st.OnlineOffsets) > 0 {
		v.OnlineOffsets = st.OnlineOffsets.String()
	}
	if len(st.SideOffsets) > 0 {
		v.SideOffsets = st.SideOffsets.String()
	}
	if len(st.OnlineOffsets) > 0 && len(st.SideOffsets) > 0 {
		eq := st.OnlineOffsets.Equal(st.SideOffsets)
		v.OffsetsEqual = &eq
	}
	return v, nil
}

func (s *Server) needMigrations(w http.ResponseWriter) (map[string]string, bool) {
	if s.cfg.Migrations == "" {
		writeError(w, http.StatusNotFound, "no migrations directory: start hotcold ui with --migrations DIR (a bypass --work-dir, or a directory of them)")
		return nil, false
	}
	dirs, err := s.workDirs()
	if err != nil {
		writeError(w, http.StatusNotFound, "migrations directory: "+err.Error())
		return nil, false
	}
	return dirs, true
}

func (s *Server) listMigrations(w http.ResponseWriter, r *http.Request) {
	dirs, ok := s.needMigrations(w)
	if !ok {
		return
	}
	out := []*migrationView{}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range dirs {
			if !yield(k) {
				return
			}
		}
	}) {
		v, err := s.migration(name, dirs[name])
		if err != nil {
			out = append(out, &migrationView{Name: name, Dir: dirs[name], Error: err.Error(), Stages: []stageView{}})
			continue
		}
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getMigration(w http.ResponseWriter, r *http.Request) {
	dirs, ok := s.needMigrations(w)
	if !ok {
		return
	}
	dir, ok := dirs[r.PathValue("name")]
	if !ok {
		writeError(w, http.StatusNotFound, "no bypass run named "+r.PathValue("name"))
		return
	}
	v, err := s.migration(r.PathValue("name"), dir)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// bypassAction resumes or aborts a run with Config.Bypass, the code of
// hotcold migrate bypass, in a goroutine the server owns; the page follows
// it through bypass.json and bypass.log.
func (s *Server) bypassAction(abort bool) http.HandlerFunc {
	action := "resume"
	if abort {
		action = "abort"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		dirs, ok := s.needMigrations(w)
		if !ok {
			return
		}
		var body struct{}
		if !readJSON(w, r, &body) {
			return
		}
		if s.cfg.Bypass == nil {
			writeError(w, http.StatusConflict, "this console cannot resume or abort bypass runs (hotcold ui wires them to hotcold migrate bypass)")
			return
		}
		name := r.PathValue("name")
		dir, ok := dirs[name]
		if !ok {
			writeError(w, http.StatusNotFound, "no bypass run named "+name)
			return
		}
		s.mu.Lock()
		if j := s.mu.bypass[dir]; j != nil && !j.done {
			s.mu.Unlock()
			writeError(w, http.StatusConflict, fmt.Sprintf("a %s of %s is already going on", j.action, name))
			return
		}
		j := &bypassJob{action: action}
		s.mu.bypass[dir] = j
		s.mu.Unlock()
		s.log.Info("bypass "+action+" started", "run", name, "dir", dir)
		s.goOwned(func(ctx context.Context) {
			err := s.cfg.Bypass(ctx, dir, abort)
			outcome := "ok"
			if err != nil {
				outcome = "error"
			}
			s.metrics.runs.WithLabelValues("bypass-"+action, outcome).Inc()
			s.mu.Lock()
			j.done = true
			if err != nil {
				j.err = err.Error()
			}
			s.mu.Unlock()
			s.log.Info("bypass "+action+" finished", "run", name, "err", err)
		})
		v, err := s.migration(name, dir)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSON(w, http.StatusAccepted, v)
	}
}

// AppendBypassLog opens WORK-DIR/bypass.log for appending (creating the
// directory), for hotcold migrate bypass to tee its log into.
func AppendBypassLog(workDir string) (*os.File, error) {
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(workDir, BypassLog), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
}

var errNoArgs = errors.New("no saved arguments")

// BypassArgsFile is the file in a bypass work directory where hotcold
// migrate bypass keeps the arguments it was run with, so that the console
// resumes or aborts the run with the same configuration.
const BypassArgsFile = "bypass-args.json"

// SaveBypassArgs writes the arguments of a hotcold migrate bypass run.
func SaveBypassArgs(workDir string, args []string) error {
	b, err := json.Marshal(args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(workDir, "."+BypassArgsFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(workDir, BypassArgsFile))
}

// LoadBypassArgs reads the arguments SaveBypassArgs wrote.
func LoadBypassArgs(workDir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(workDir, BypassArgsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s (the run was started by a hotcold older than the console; resume it with hotcold migrate bypass)", errNoArgs, workDir, BypassArgsFile)
	}
	if err != nil {
		return nil, err
	}
	var args []string
	if err := json.Unmarshal(bytes.TrimSpace(b), &args); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(workDir, BypassArgsFile), err)
	}
	return args, nil
}
