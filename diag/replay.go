package diag

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ReplayHandler serves recorded Flink REST and Prometheus HTTP API
// responses from a directory, so that a diagnosis can be replayed offline
// (`hotcold diag run --flink file://DIR`) and tests run against the APIs'
// exact JSON shapes.
//
// A request for URL path P is answered with the file DIR/P.json, for
// example /jobs/ID/exceptions with DIR/jobs/ID/exceptions.json. Query
// parameters are ignored except:
//
//   - get: for Flink metric endpoints (…/metrics?get=a,b) only the listed
//     metrics are returned, and without get only the metric ids, as Flink
//     does;
//   - query: /api/v1/query_range (and /api/v1/query) read
//     DIR/api/v1/query_range.json, a JSON array of
//     {"match": "substring of the PromQL", "response": {…}} entries; the first
//     entry whose match occurs in the query answers, and an empty matrix
//     answers a query nothing matches, as Prometheus does for absent series.
//
// A missing file is a 404 with a Flink-style {"errors": [...]} body.
func ReplayHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean("/" + r.URL.Path)
		if p == "/api/v1/query_range" || p == "/api/v1/query" {
			// the query is in the URL (GET) or the form body (POST, as
			// client_golang sends it)
			serveRecordedQuery(w, filepath.Join(dir, "api", "v1", "query_range.json"), r.FormValue("query"))
			return
		}
		file := filepath.Join(dir, filepath.FromSlash(p)+".json")
		b, err := os.ReadFile(file)
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string][]string{"errors": {"Not found: " + p}})
			return
		}
		if strings.HasSuffix(p, "/metrics") {
			b, err = filterMetrics(b, r.URL.Query().Get("get"))
			if err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string][]string{"errors": {err.Error()}})
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func filterMetrics(b []byte, get string) ([]byte, error) {
	var ms []struct {
		ID    string  `json:"id"`
		Value *string `json:"value,omitempty"`
	}
	if err := json.Unmarshal(b, &ms); err != nil {
		return nil, fmt.Errorf("recorded metrics are not a Flink metric list: %w", err)
	}
	want := make(map[string]bool)
	for _, id := range strings.Split(get, ",") {
		if id != "" {
			want[id] = true
		}
	}
	out := ms[:0]
	for _, m := range ms {
		if get == "" {
			m.Value = nil
			out = append(out, m)
		} else if want[m.ID] {
			out = append(out, m)
		}
	}
	return json.Marshal(out)
}

func serveRecordedQuery(w http.ResponseWriter, file, query string) {
	var entries []struct {
		Match    string          `json:"match"`
		Response json.RawMessage `json:"response"`
	}
	b, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(b, &entries)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"status": "error", "errorType": "internal", "error": err.Error()})
		return
	}
	for _, e := range entries {
		if e.Match != "" && strings.Contains(query, e.Match) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(e.Response)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
}

// replayTransport answers requests with a handler in-process.
type replayTransport struct{ h http.Handler }

func (t replayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := &recorder{header: make(http.Header), code: http.StatusOK}
	t.h.ServeHTTP(rec, req)
	return &http.Response{
		StatusCode: rec.code, Status: fmt.Sprintf("%d %s", rec.code, http.StatusText(rec.code)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(bytes.NewReader(rec.buf.Bytes())),
		ContentLength: int64(rec.buf.Len()), Request: req,
	}, nil
}

type recorder struct {
	header http.Header
	code   int
	buf    bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(c int) {
	if !r.wrote {
		r.code, r.wrote = c, true
	}
}
func (r *recorder) Write(b []byte) (int, error) { r.wrote = true; return r.buf.Write(b) }

// httpClientFor returns the client and base URL for base, which is an
// http(s) URL or file://DIR for recorded responses (see ReplayHandler).
func httpClientFor(base string, hc *http.Client) (*http.Client, string, error) {
	if dir, ok := strings.CutPrefix(base, "file://"); ok {
		if dir == "" {
			return nil, "", errors.New("file:// URL without a directory")
		}
		st, err := os.Stat(dir)
		if err != nil {
			return nil, "", fmt.Errorf("recorded responses: %w", err)
		}
		if !st.IsDir() {
			return nil, "", fmt.Errorf("recorded responses: %s is not a directory", dir)
		}
		return &http.Client{Transport: replayTransport{ReplayHandler(dir)}}, "http://replay", nil
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, "", fmt.Errorf("%q is not an http(s):// or file:// URL", base)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return hc, strings.TrimRight(base, "/"), nil
}
