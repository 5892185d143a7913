package ui

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/sidecar"
)

// Cold is the cold store's admin as the console uses it: the calls of
// hotcold load list and hotcold load rollback.
type Cold interface {
	// Versions lists the retained versions of every table.
	Versions(ctx context.Context) ([]coldstore.VersionInfo, error)
	// Rollback makes a retained version of table live (to "": the one
	// before the live one) after checking the admin token.
	Rollback(ctx context.Context, adminToken, table, to string) (coldstore.TableInfo, error)
	// Where names the store (without secrets).
	Where() string
}

// ErrAdminToken is returned by Cold.Rollback for a wrong admin token.
var ErrAdminToken = errors.New("wrong admin token")

// SidecarCold goes through a running hotcold serve's admin service, as
// hotcold load --sidecar does: listing uses listToken (its
// --admin-token-file), a rollback the admin token the user types, which the
// sidecar checks.
func SidecarCold(addr, listToken string, opts ...grpc.DialOption) Cold {
	return &sidecarCold{addr: addr, token: listToken, opts: opts}
}

type sidecarCold struct {
	addr  string
	token string
	opts  []grpc.DialOption
}

func (c *sidecarCold) Where() string { return "sidecar " + c.addr }

func (c *sidecarCold) Versions(ctx context.Context) ([]coldstore.VersionInfo, error) {
	if c.token == "" {
		return nil, errors.New("listing through the sidecar needs its admin token: start hotcold ui with --admin-token-file FILE")
	}
	ac, err := sidecar.NewAdminClient(ctx, c.addr, c.token, c.opts...)
	if err != nil {
		return nil, err
	}
	defer ac.Close()
	return ac.Versions(ctx, "")
}

func (c *sidecarCold) Rollback(ctx context.Context, token, table, to string) (coldstore.TableInfo, error) {
	ac, err := sidecar.NewAdminClient(ctx, c.addr, token, c.opts...)
	if err != nil {
		return coldstore.TableInfo{}, err
	}
	defer ac.Close()
	ti, err := ac.Rollback(ctx, table, to)
	if code := status.Code(err); code == codes.Unauthenticated || code == codes.PermissionDenied {
		return ti, fmt.Errorf("%w: the sidecar refused it (%v)", ErrAdminToken, err)
	}
	return ti, err
}

// StoreCold uses an open store, as hotcold load --store does; a rollback
// needs adminToken (empty: rollbacks are refused).
func StoreCold(b coldstore.Backend, where, adminToken string) Cold {
	return &storeCold{b: b, where: where, token: adminToken}
}

type storeCold struct {
	b     coldstore.Backend
	where string
	token string
}

func (c *storeCold) Where() string { return c.where }

func (c *storeCold) Versions(ctx context.Context) ([]coldstore.VersionInfo, error) {
	ts, err := c.b.Tables(ctx)
	if err != nil {
		return nil, err
	}
	var all []coldstore.VersionInfo
	for _, t := range ts {
		vs, err := c.b.Versions(ctx, t.Name)
		if err != nil {
			return nil, err
		}
		all = append(all, vs...)
	}
	return all, nil
}

func (c *storeCold) Rollback(ctx context.Context, token, table, to string) (coldstore.TableInfo, error) {
	if c.token == "" {
		return coldstore.TableInfo{}, fmt.Errorf("%w: rollbacks are off: start hotcold ui with --admin-token-file FILE", ErrAdminToken)
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(c.token)) != 1 {
		return coldstore.TableInfo{}, ErrAdminToken
	}
	return c.b.Rollback(ctx, table, to)
}

func (s *Server) coldRoutes() {
	s.route("GET /api/cold", "cold", s.listCold)
	s.route("POST /api/cold/{table}/rollback", "cold-rollback", s.rollback)
}

type versionView struct {
	Version     string    `json:"version"`
	Live        bool      `json:"live"`
	Rows        int64     `json:"rows"`
	Duplicates  int64     `json:"duplicates"`
	Bytes       int64     `json:"bytes"`
	CoversUntil time.Time `json:"covers_until,omitzero"`
	LoadedAt    time.Time `json:"loaded_at"`
}

type tableView struct {
	Table       string    `json:"table"`
	Live        string    `json:"live"`
	Rows        int64     `json:"rows"`
	CoversUntil time.Time `json:"covers_until,omitzero"`
	LoadedAt    time.Time `json:"loaded_at,omitzero"`
	// LoadedAgo and BehindSeconds are the freshness: how long ago the live
	// version was published, and how far covers-until is behind now
	// (-1: covers-until unknown).
	LoadedAgo     float64       `json:"loaded_ago_seconds"`
	BehindSeconds float64       `json:"covers_until_behind_seconds"`
	Versions      []versionView `json:"versions"`
}

func (s *Server) listCold(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Cold == nil {
		writeError(w, http.StatusNotFound, "no cold store: start hotcold ui with --cold pebble:DIR (or redis://...), or --sidecar ADDR --admin-token-file FILE")
		return
	}
	vs, err := s.cfg.Cold.Versions(r.Context())
	if err != nil {
		writeError(w, http.StatusBadGateway, fmt.Sprintf("%s: %v", s.cfg.Cold.Where(), err))
		return
	}
	now := s.cfg.Now()
	byTable := map[string]*tableView{}
	var names []string
	for _, v := range vs {
		t := byTable[v.Table]
		if t == nil {
			t = &tableView{Table: v.Table, BehindSeconds: -1}
			byTable[v.Table] = t
			names = append(names, v.Table)
		}
		t.Versions = append(t.Versions, versionView{Version: v.Version, Live: v.Live, Rows: v.Rows, Duplicates: v.Duplicates,
			Bytes: v.Bytes, CoversUntil: v.CoversUntil, LoadedAt: v.LoadedAt})
		if v.Live {
			t.Live, t.Rows, t.CoversUntil, t.LoadedAt = v.Version, v.Rows, v.CoversUntil, v.LoadedAt
			t.LoadedAgo = now.Sub(v.LoadedAt).Seconds()
			if !v.CoversUntil.IsZero() {
				t.BehindSeconds = now.Sub(v.CoversUntil).Seconds()
			}
		}
	}
	sort.Strings(names)
	out := []*tableView{}
	for _, n := range names {
		out = append(out, byTable[n])
	}
	writeJSON(w, http.StatusOK, map[string]any{"where": s.cfg.Cold.Where(), "tables": out})
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Cold == nil {
		writeError(w, http.StatusNotFound, "no cold store")
		return
	}
	var body struct {
		To         string `json:"to"`
		AdminToken string `json:"admin_token"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	table := r.PathValue("table")
	if body.AdminToken == "" {
		writeError(w, http.StatusUnauthorized, "a rollback needs the admin token (the --admin-token-file of hotcold serve)")
		return
	}
	ti, err := s.cfg.Cold.Rollback(r.Context(), body.AdminToken, table, body.To)
	switch {
	case errors.Is(err, ErrAdminToken):
		s.metrics.runs.WithLabelValues("rollback", "refused").Inc()
		s.log.Warn("rollback refused: wrong admin token", "table", table)
		writeError(w, http.StatusForbidden, err.Error())
		return
	case err != nil:
		s.metrics.runs.WithLabelValues("rollback", "error").Inc()
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	s.metrics.runs.WithLabelValues("rollback", "ok").Inc()
	s.log.Info("rollback", "table", table, "live", ti.Version)
	writeJSON(w, http.StatusOK, ti)
}
