package ui

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hotcold/hotcold/diag"
)

func (s *Server) diagRoutes() {
	s.route("GET /api/reports", "reports", s.listReports)
	s.route("GET /reports/{path...}", "report-file", s.reportFile)
}

// reportSummary is one report in the list.
type reportSummary struct {
	// Path is the report's directory relative to the reports directory
	// ("" for a report written by diag run --out into it).
	Path      string       `json:"path"`
	Job       string       `json:"job,omitempty"`
	Group     string       `json:"group,omitempty"`
	Verdict   diag.Verdict `json:"verdict"`
	Status    string       `json:"status"`
	Summary   string       `json:"summary"`
	From      time.Time    `json:"from"`
	To        time.Time    `json:"to"`
	Generated time.Time    `json:"generated"`
	Findings  int          `json:"findings"`
	Missing   int          `json:"missing"`
	HTML      bool         `json:"html"`
}

func (s *Server) listReports(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Reports == "" {
		writeError(w, http.StatusNotFound, "no reports directory: start hotcold ui with --reports DIR (where diag watch --reports file://DIR or diag run --out DIR write)")
		return
	}
	out := []reportSummary{}
	root := s.cfg.Reports
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil // an unreadable subdirectory: skip it
		}
		if d.IsDir() || d.Name() != "report.json" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		var rep diag.Report
		if json.Unmarshal(b, &rep) != nil {
			return nil // not a diagnosis report
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		_, herr := os.Stat(filepath.Join(filepath.Dir(p), "report.html"))
		job := rep.JobName
		if job == "" {
			job = rep.JobID
		}
		out = append(out, reportSummary{Path: rel, Job: job, Group: rep.Group, Verdict: rep.Verdict, Status: rep.Status.String(),
			Summary: rep.Summary, From: rep.Window.From, To: rep.Window.To, Generated: rep.Generated,
			Findings: len(rep.Findings), Missing: len(rep.Missing), HTML: herr == nil})
		return nil
	})
	if err != nil {
		writeError(w, http.StatusNotFound, "reports directory "+root+": "+err.Error())
		return
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Generated.After(out[j].Generated) })
	writeJSON(w, http.StatusOK, out)
}

// reportFile serves report.html, report.json or report.txt of a report,
// read through an os.Root so that no path leaves the reports directory.
func (s *Server) reportFile(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Reports == "" {
		http.NotFound(w, r)
		return
	}
	p := r.PathValue("path")
	base := path.Base(p)
	ctype := map[string]string{"report.html": "text/html; charset=utf-8", "report.json": "application/json", "report.txt": "text/plain; charset=utf-8"}[base]
	if ctype == "" || !fs.ValidPath(p) || strings.Contains(p, "\\") {
		http.NotFound(w, r)
		return
	}
	root, err := os.OpenRoot(s.cfg.Reports)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(p))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		writeError(w, http.StatusForbidden, "this file cannot be served")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	// The report is self-contained HTML without script: it may use its
	// inline styles and data: images, and nothing else.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
	h.Set("Content-Type", ctype)
	http.ServeContent(w, r, base, st.ModTime(), f)
}
