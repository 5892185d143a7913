package ui

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hotcold/hotcold/mock"
)

//go:embed assets
var assets embed.FS

// Config configures a Server. Every area is optional: an area whose
// source is not configured says so in the page instead of showing nothing.
type Config struct {
	// Mock is the store of mock cases and their results (a directory or
	// s3://). Nil: the mock area is off.
	Mock *mock.Store
	// MockOptions returns the options of a mock run (brokers, the --exec
	// job), built as hotcold mock run builds them. Nil: cases can be
	// edited but not run.
	MockOptions func() (mock.Options, error)
	// Reports is the directory that diag watch / diag run write reports to.
	// Empty: the diagnosis area is off.
	Reports string
	// Migrations is a directory of bypass work directories (each holding
	// the bypass.json of hotcold migrate bypass), or one work directory.
	// Empty: the migration area is off.
	Migrations string
	// Bypass resumes (abort false) or aborts a bypass run in a work
	// directory with the code of hotcold migrate bypass; it appends its log
	// to WORK-DIR/bypass.log. Nil: runs are shown but not resumed.
	Bypass func(ctx context.Context, workDir string, abort bool) error
	// Cold is the cold store's admin (tables, versions, rollback). Nil: the
	// cold-store area is off.
	Cold Cold
	// Token, when set, must accompany every request (?token= once, then a
	// cookie, or an Authorization: Bearer header). Required by the
	// command for a non-loopback address.
	Token string
	// Registerer receives the server's metrics. Nil: not registered.
	Registerer prometheus.Registerer
	// Gatherer serves /metrics. Nil: no /metrics.
	Gatherer prometheus.Gatherer
	// Logger receives one line per request and the runs' progress. Nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock (freshness). Nil: time.Now.
	Now func() time.Time
}

// Server is the console: an http.Handler serving the embedded page and
// its JSON APIs. It is safe for concurrent use; Close stops the runs it
// started.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	metrics *metrics
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu struct {
		sync.Mutex
		jobs   map[string]*job
		nextID int
		// bypass holds the work directories with a resume or abort going.
		bypass map[string]*bypassJob
	}
}

type metrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	runs     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotcold_ui_requests_total",
			Help: "HTTP requests served by the console, by route and status code."}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotcold_ui_request_seconds",
			Help: "Time to answer a console request, by route.", Buckets: prometheus.DefBuckets}, []string{"route"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotcold_ui_actions_total",
			Help: "Actions started from the console (mock run, bypass resume/abort, rollback), by action and outcome."}, []string{"action", "outcome"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.seconds, m.runs} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					panic(err) // a programming error: two collectors of one name
				}
			}
		}
	}
	return m
}

// New returns a console for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), metrics: newMetrics(cfg.Registerer), ctx: ctx, cancel: cancel}
	s.mu.jobs = map[string]*job{}
	s.mu.bypass = map[string]*bypassJob{}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	files := http.FileServerFS(static)
	s.route("GET /", "page", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/index.html" {
			if _, err := fs.Stat(static, strings.TrimPrefix(r.URL.Path, "/")); err != nil {
				http.NotFound(w, r)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
	if cfg.Gatherer != nil {
		h := promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{})
		s.route("GET /metrics", "metrics", h.ServeHTTP)
	}
	s.route("GET /api/info", "info", s.info)
	s.mockRoutes()
	s.diagRoutes()
	s.migrationRoutes()
	s.coldRoutes()
	return s, nil
}

// Close stops the runs the server started and waits for them.
func (s *Server) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// go runs fn in a goroutine owned by the server (Close waits for it).
func (s *Server) goOwned(fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
}

// route registers a handler under a pattern with its metrics label.
func (s *Server) route(pattern, name string, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.instrument(name, h))
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) instrument(name string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.requests.WithLabelValues(name, strconv.Itoa(sw.code)).Inc()
		s.metrics.seconds.WithLabelValues(name).Observe(d.Seconds())
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "route", name, "status", sw.code, "duration", d.Round(time.Microsecond).String())
	})
}

// Handler returns the console's handler with its safety checks: the token,
// the Host check against DNS rebinding, same-origin checks on every
// state-changing request, and security headers (CSP default-src 'self').
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Referrer-Policy", "no-referrer")
		if s.cfg.Token != "" && !s.authorized(w, r) {
			return
		}
		if s.cfg.Token == "" && !loopbackName(r.Host) {
			// Without a token the console serves only loopback names, so a
			// page of another site cannot reach it by DNS rebinding.
			writeError(w, http.StatusMisdirectedRequest, "this console answers only as localhost or 127.0.0.1 (start it with --token to serve other names)")
			return
		}
		if isStateChanging(r.Method) {
			if err := sameOrigin(r); err != nil {
				s.metrics.requests.WithLabelValues("refused", "403").Inc()
				s.log.Warn("refused a cross-origin request", "method", r.Method, "path", r.URL.Path, "reason", err.Error())
				writeError(w, http.StatusForbidden, err.Error())
				return
			}
		}
		s.mux.ServeHTTP(w, r)
	})
}

const tokenCookie = "hotcold_ui_token"

// authorized checks the token: ?token= (which sets the cookie and
// redirects to the same page without it), the cookie, or a bearer header.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	want := []byte(s.cfg.Token)
	if q := r.URL.Query().Get("token"); q != "" && r.Method == http.MethodGet {
		if subtle.ConstantTimeCompare([]byte(q), want) != 1 {
			writeError(w, http.StatusUnauthorized, "wrong token: open the console with the token given to hotcold ui --token")
			return false
		}
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: s.cookieValue(), Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		u := *r.URL
		q := u.Query()
		q.Del("token")
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return false
	}
	if c, err := r.Cookie(tokenCookie); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.cookieValue())) == 1 {
		return true
	}
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && subtle.ConstantTimeCompare([]byte(b), want) == 1 {
		return true
	}
	writeError(w, http.StatusUnauthorized, "this console needs its token: open it as http://HOST:PORT/?token=TOKEN (the --token of hotcold ui)")
	return false
}

// cookieValue is what the cookie holds: a digest of the token, so that the
// token itself is never sent back.
func (s *Server) cookieValue() string {
	sum := sha256.Sum256([]byte("hotcold-ui-session\x00" + s.cfg.Token))
	return hex.EncodeToString(sum[:])
}

func isStateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// sameOrigin refuses a state-changing request that a browser marks as
// coming from another site (Sec-Fetch-Site), whose Origin is not this
// server, or whose body is not JSON (an HTML form of another site cannot
// send application/json without a CORS preflight, which this server never
// grants).
func sameOrigin(r *http.Request) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return fmt.Errorf("cross-origin request refused (Sec-Fetch-Site: %s): use the console's own page", site)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return fmt.Errorf("cross-origin request refused (Origin %s is not %s)", o, r.Host)
		}
	}
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if strings.TrimSpace(ct) != "application/json" {
		return errors.New("state-changing requests must send Content-Type: application/json")
	}
	return nil
}

// LoopbackHost reports whether a listen address binds only the loopback
// interface (127.0.0.0/8, ::1, localhost).
func LoopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackName reports whether a Host header names the loopback
// interface.
func loopbackName(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	info := map[string]any{
		"mock":       s.cfg.Mock != nil,
		"store":      "",
		"can_run":    s.cfg.MockOptions != nil,
		"reports":    s.cfg.Reports != "",
		"migrations": s.cfg.Migrations != "",
		"can_resume": s.cfg.Bypass != nil,
		"cold":       s.cfg.Cold != nil,
	}
	if s.cfg.Mock != nil {
		info["store"] = s.cfg.Mock.String()
	}
	if s.cfg.Cold != nil {
		info["cold_where"] = s.cfg.Cold.Where()
	}
	writeJSON(w, http.StatusOK, info)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// readJSON decodes a request body of at most 8 MiB into v.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "the request body is not the JSON this call takes: "+err.Error())
		return false
	}
	return true
}
