package sidecar

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar/adminpb"
)

// AdminServiceName is the full name of the admin service, which loads,
// lists and rolls back versions of the store the sidecar serves (see
// Options.AdminToken).
const AdminServiceName = "hotcold.admin.v1.AdminService"

// admin is the server side of the admin service: whether it is on, its
// token, its metrics and the calls in flight.
type admin struct {
	backend   coldstore.Backend // nil: the admin service is off
	tokenHash [sha256.Size]byte
	jobs      *authority // to tell a job's token from an unknown one
	calls     *prometheus.CounterVec
	logger    *slog.Logger
	roots     inputRoots // where Load may read files
	interval  time.Duration

	// stop is cancelled when a shutdown runs out of time: every admin call
	// in flight (a load) is cancelled and leaves nothing.
	stop   context.Context
	cancel context.CancelFunc
	mu     struct {
		sync.Mutex
		stopped bool
	}
	inflight sync.WaitGroup
}

// newAdmin sets up the admin service of a server over store, and logs
// why it is off when it is.
func newAdmin(store coldstore.Store, o Options, jobs *authority) *admin {
	a := &admin{
		jobs:     jobs,
		logger:   o.Logger,
		interval: o.AdminProgressInterval,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotcold", Subsystem: "sidecar", Name: "admin_calls_total",
			Help: "Admin calls (Load, ListVersions, Rollback) by method and gRPC status code.",
		}, []string{"method", "code"}),
	}
	a.stop, a.cancel = context.WithCancel(context.Background())
	if a.interval == 0 {
		a.interval = time.Second
	}
	be, isBackend := store.(coldstore.Backend)
	switch {
	case o.AdminToken == "":
		o.Logger.Info("sidecar: admin service off: no admin token configured; to load while serving, set admin.token_file in the config or --admin-token-file")
	case !isBackend:
		o.Logger.Warn("sidecar: admin service off: the store cannot be loaded through the sidecar (only pebble: and redis:// stores can)", "store", fmt.Sprintf("%T", store))
	default:
		a.backend = be
		a.tokenHash = sha256.Sum256([]byte(o.AdminToken))
		a.roots, _ = newInputRoots(o.AdminInputRoots) // checked by Options.validate
		if len(a.roots) == 0 {
			o.Logger.Warn("sidecar: admin Load refuses every file: no admin input roots; set --admin-input-root DIR (admin.input_roots in the config)")
		}
		o.Logger.Info("sidecar: admin service on: hotcold load --sidecar can load, list and roll back versions", "service", AdminServiceName)
	}
	return a
}

func (a *admin) enabled() bool { return a.backend != nil }

// authenticate is the auth middleware's AuthFunc for the admin service:
// only the admin token passes. It runs on the admin service alone; the
// lookup service keeps its own authentication.
func (a *admin) authenticate(ctx context.Context) (context.Context, error) {
	tok, err := auth.AuthFromMD(ctx, "bearer")
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, "missing credentials: admin calls need the metadata \"authorization: Bearer <admin token>\" (hotcold load --admin-token-file FILE)")
	}
	h := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(h[:], a.tokenHash[:]) == 1 {
		return ctx, nil
	}
	if a.jobs != nil {
		if j, ok := a.jobs.byToken[h]; ok {
			return nil, status.Errorf(codes.PermissionDenied, "the token of job %q may only look up: admin calls need the sidecar's admin token", j.name)
		}
	}
	return nil, status.Error(codes.Unauthenticated, "unknown token: admin calls need the sidecar's admin token (its admin: section or --admin-token-file)")
}

// begin registers an admin call and returns its context, cancelled when
// the caller goes away or when a shutdown runs out of time. done must be
// called when the call ends.
func (a *admin) begin(ctx context.Context) (context.Context, func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.stopped {
		return nil, nil, status.Error(codes.Unavailable, "the sidecar is shutting down: retry the call on the restarted sidecar")
	}
	a.inflight.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(a.stop, cancel)
	return ctx, func() {
		unhook()
		cancel()
		a.inflight.Done()
	}, nil
}

// refuse makes every admin call that has not started yet fail with
// Unavailable; with cut it also cancels the calls in flight.
func (a *admin) refuse(cut bool) {
	a.mu.Lock()
	a.mu.stopped = true
	a.mu.Unlock()
	if cut {
		a.cancel()
	}
}

// wait waits for the admin calls in flight to return. Call it after
// refuse.
func (a *admin) wait() {
	a.inflight.Wait()
	a.cancel()
}

// finish logs and counts a finished admin call and maps its error to a
// gRPC status.
func (a *admin) finish(ctx context.Context, method, table, version string, start time.Time, rows int64, err error) error {
	err = a.statusOf(method, err)
	code := status.Code(err)
	a.calls.WithLabelValues(method, code.String()).Inc()
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("table", table),
		slog.Float64("seconds", time.Since(start).Seconds()),
		slog.String("code", code.String()),
	}
	if version != "" {
		attrs = append(attrs, slog.String("version", version))
	}
	if err == nil {
		if method == "Load" {
			attrs = append(attrs, slog.Int64("rows", rows))
		}
		a.logger.LogAttrs(ctx, slog.LevelInfo, "sidecar admin call", attrs...)
		return nil
	}
	attrs = append(attrs, slog.String("error", status.Convert(err).Message()))
	a.logger.LogAttrs(ctx, slog.LevelWarn, "sidecar admin call failed", attrs...)
	return err
}

// statusOf maps the error of an admin call to a gRPC status whose message
// is the store's, so that a remote load prints what a local one would.
func (a *admin) statusOf(method string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var ie *coldstore.InputError
	switch {
	case isContextError(err):
		if a.stop.Err() != nil {
			return status.Errorf(codes.Unavailable, "the sidecar shut down during the %s call: nothing was published; rerun it once the sidecar is back", method)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return status.Errorf(codes.DeadlineExceeded, "%s: the call's deadline passed: nothing was published", method)
		}
		return status.Errorf(codes.Canceled, "%s canceled by the client: nothing was published", method)
	case errors.As(err, &ie):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, coldstore.ErrVersionExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, coldstore.ErrSchemaChanged), errors.Is(err, coldstore.ErrLoadGuard):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, coldstore.ErrNoTable):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, coldstore.ErrClosed):
		return status.Error(codes.Unavailable, "the cold store is closed (the sidecar is shutting down): rerun the call once it is back")
	case method == "Rollback":
		// The target is not retained, or there is no older version.
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// adminServer implements adminpb.AdminServiceServer over the server's
// backend.
type adminServer struct {
	adminpb.UnimplementedAdminServiceServer
	s *Server
	a *admin
}

// Load implements adminpb.AdminServiceServer: it loads the files, relaying
// progress without ever blocking the load on a slow reader, and sends the
// result as the last event.
func (as *adminServer) Load(req *adminpb.LoadRequest, stream adminpb.AdminService_LoadServer) error {
	start := time.Now()
	ctx, done, err := as.a.begin(stream.Context())
	if err != nil {
		return as.a.finish(stream.Context(), "Load", req.GetTable(), req.GetVersion(), start, 0, err)
	}
	defer done()
	res, err := as.load(ctx, req, stream)
	if err := as.a.finish(ctx, "Load", req.GetTable(), req.GetVersion(), start, res.Rows, err); err != nil {
		return err
	}
	return stream.Send(&adminpb.LoadEvent{Event: &adminpb.LoadEvent_Result{Result: loadResultToProto(res)}})
}

func (as *adminServer) load(ctx context.Context, req *adminpb.LoadRequest, stream adminpb.AdminService_LoadServer) (coldstore.LoadResult, error) {
	if len(as.a.roots) == 0 {
		return coldstore.LoadResult{}, status.Error(codes.FailedPrecondition, "the sidecar has no admin input roots, so it loads no files: start hotcold serve with --admin-input-root DIR (admin.input_roots in the config), the directory the daily Parquet files arrive in")
	}
	if err := validateLoadRequest(req, as.a.roots); err != nil {
		return coldstore.LoadResult{}, err
	}
	files := make([]string, len(req.Files))
	for i, f := range req.Files {
		// Read the resolved paths, so that a link swapped after the check
		// is not followed out of the roots.
		real, msg := as.a.roots.resolve(f)
		if msg != "" {
			return coldstore.LoadResult{}, badRequest([]fieldViolation{{fmt.Sprintf("files[%d]", i), msg}})
		}
		files[i] = real
	}
	src, err := coldstore.OpenParquet(ctx, files...)
	if err != nil {
		if isContextError(err) {
			return coldstore.LoadResult{}, err
		}
		// Every other failure here is about the input files; the message
		// names the file (and row group and column when it can).
		return coldstore.LoadResult{}, status.Error(codes.InvalidArgument, err.Error())
	}
	defer src.Close()
	if err := checkKey(src.Schema(), req.Key, req.Files); err != nil {
		return coldstore.LoadResult{}, err
	}
	relay := newProgressRelay(ctx, stream)
	spec := coldstore.LoadSpec{
		Table:             req.Table,
		Version:           req.Version,
		Key:               req.Key,
		AllowSchemaChange: req.AllowSchemaChange,
		Source:            src,
		MemoryBudget:      req.MemoryBudgetBytes,
		MinRows:           req.MinRows,
		MaxShrink:         req.MaxShrink,
		Force:             req.Force,
		Progress:          relay.offer,
		ProgressInterval:  as.a.interval,
	}
	if req.CoversUntil != nil {
		spec.CoversUntil = req.CoversUntil.AsTime()
	}
	res, err := as.a.backend.Load(ctx, spec)
	relay.close()
	releaseLoadMemory(as.a.logger)
	if err != nil {
		return res, err
	}
	as.s.refresh(ctx, req.Table)
	return res, nil
}

// ListVersions implements adminpb.AdminServiceServer.
func (as *adminServer) ListVersions(ctx context.Context, req *adminpb.ListVersionsRequest) (*adminpb.ListVersionsResponse, error) {
	start := time.Now()
	cctx, done, err := as.a.begin(ctx)
	if err != nil {
		return nil, as.a.finish(ctx, "ListVersions", req.GetTable(), "", start, 0, err)
	}
	defer done()
	out, err := as.listVersions(cctx, req.GetTable())
	return out, as.a.finish(cctx, "ListVersions", req.GetTable(), "", start, 0, err)
}

func (as *adminServer) listVersions(ctx context.Context, table string) (*adminpb.ListVersionsResponse, error) {
	tables := []string{table}
	if table == "" {
		infos, err := as.a.backend.Tables(ctx)
		if err != nil {
			return nil, err
		}
		tables = tables[:0]
		for _, ti := range infos {
			tables = append(tables, ti.Name)
		}
	}
	out := &adminpb.ListVersionsResponse{}
	for _, t := range tables {
		vs, err := as.a.backend.Versions(ctx, t)
		if err != nil {
			if table == "" && errors.Is(err, coldstore.ErrNoTable) {
				continue // gone since Tables
			}
			if errors.Is(err, coldstore.ErrNoTable) {
				return nil, status.Errorf(codes.NotFound, "table %q has no version: load one first (hotcold load --table %s ...)", t, t)
			}
			return nil, err
		}
		for _, v := range vs {
			out.Versions = append(out.Versions, versionInfoToProto(v))
		}
	}
	return out, nil
}

// Rollback implements adminpb.AdminServiceServer.
func (as *adminServer) Rollback(ctx context.Context, req *adminpb.RollbackRequest) (*adminpb.RollbackResponse, error) {
	start := time.Now()
	cctx, done, err := as.a.begin(ctx)
	if err != nil {
		return nil, as.a.finish(ctx, "Rollback", req.GetTable(), req.GetTo(), start, 0, err)
	}
	defer done()
	var out *adminpb.RollbackResponse
	ti, err := as.rollback(cctx, req)
	version := req.GetTo()
	if err == nil {
		version = ti.Version
		out = &adminpb.RollbackResponse{Table: tableInfoToProto(ti)}
	}
	return out, as.a.finish(cctx, "Rollback", req.GetTable(), version, start, 0, err)
}

func (as *adminServer) rollback(ctx context.Context, req *adminpb.RollbackRequest) (coldstore.TableInfo, error) {
	var bad []fieldViolation
	if msg := checkName(req.Table); msg != "" {
		bad = append(bad, fieldViolation{"table", msg})
	}
	if req.To != "" {
		if msg := checkName(req.To); msg != "" {
			bad = append(bad, fieldViolation{"to", msg})
		}
	}
	if len(bad) > 0 {
		return coldstore.TableInfo{}, badRequest(bad)
	}
	ti, err := as.a.backend.Rollback(ctx, req.Table, req.To)
	if err != nil {
		return ti, err
	}
	as.s.refresh(ctx, req.Table)
	return ti, nil
}

// refresh makes the server see the live version of table now: after an
// admin load or rollback, later lookups answer from the new version even
// with a positive VersionCheckInterval.
func (s *Server) refresh(ctx context.Context, table string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.CallTimeout)
	defer cancel()
	if _, err := s.eng.observe(rctx, table); err != nil {
		s.opts.Logger.Warn("sidecar: could not refresh the live version after an admin call; lookups see it within the version check interval", "table", table, "error", err)
	}
}

// fieldViolation is one problem of an admin request.
type fieldViolation struct{ field, desc string }

// badRequest returns an InvalidArgument status listing every problem
// ("field: what is wrong; ..."), with a google.rpc.BadRequest detail.
func badRequest(vs []fieldViolation) error {
	msgs := make([]string, len(vs))
	br := &errdetails.BadRequest{}
	for i, v := range vs {
		msgs[i] = v.field + ": " + v.desc
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.field, Description: v.desc})
	}
	st := status.New(codes.InvalidArgument, strings.Join(msgs, "; "))
	if d, err := st.WithDetails(br); err == nil {
		st = d
	}
	return st.Err()
}

// validateLoadRequest checks a LoadRequest before any file is opened,
// reporting every problem at once.
// roots are the admin input roots every file must be under; nil checks
// the fields alone, without looking at any file.
func validateLoadRequest(req *adminpb.LoadRequest, roots inputRoots) error {
	var bad []fieldViolation
	if msg := checkName(req.Table); msg != "" {
		bad = append(bad, fieldViolation{"table", msg})
	}
	if msg := checkName(req.Version); msg != "" {
		bad = append(bad, fieldViolation{"version", msg})
	}
	if len(req.Key) == 0 {
		bad = append(bad, fieldViolation{"key", "must name the key columns, in key order"})
	}
	for i, k := range req.Key {
		if k == "" {
			bad = append(bad, fieldViolation{fmt.Sprintf("key[%d]", i), "is empty"})
		}
	}
	if len(req.Files) == 0 {
		bad = append(bad, fieldViolation{"files", "must list the Parquet files to load, as absolute paths on the sidecar's host"})
	}
	for i, f := range req.Files {
		field := fmt.Sprintf("files[%d]", i)
		switch {
		case f == "":
			bad = append(bad, fieldViolation{field, "is empty"})
		case !filepath.IsAbs(f):
			bad = append(bad, fieldViolation{field, fmt.Sprintf("%q is not an absolute path: the sidecar reads the files on its own host, so give absolute paths", f)})
		case roots == nil:
			// Checked by the caller; no file is looked at.
		default:
			if _, msg := roots.resolve(f); msg != "" {
				bad = append(bad, fieldViolation{field, msg})
			}
		}
	}
	if req.MinRows < 0 {
		bad = append(bad, fieldViolation{"min_rows", fmt.Sprintf("%d: must not be negative", req.MinRows)})
	}
	if !(req.MaxShrink >= 0 && req.MaxShrink <= 1) {
		bad = append(bad, fieldViolation{"max_shrink", fmt.Sprintf("%g: want a fraction from 0 to 1 (1: no limit)", req.MaxShrink)})
	}
	if req.MemoryBudgetBytes < 0 {
		bad = append(bad, fieldViolation{"memory_budget_bytes", fmt.Sprintf("%d: must not be negative (0 for the default)", req.MemoryBudgetBytes)})
	}
	if req.CoversUntil != nil {
		if err := req.CoversUntil.CheckValid(); err != nil {
			bad = append(bad, fieldViolation{"covers_until", err.Error()})
		}
	}
	if len(bad) > 0 {
		return badRequest(bad)
	}
	return nil
}

// checkKey checks that the key columns are columns of the input schema
// that can form a key.
func checkKey(in *row.Schema, key, files []string) error {
	where := files[0]
	if len(files) > 1 {
		where = fmt.Sprintf("%s (and %d more files)", files[0], len(files)-1)
	}
	var bad []fieldViolation
	for i, k := range key {
		if in.Index(k) < 0 {
			bad = append(bad, fieldViolation{fmt.Sprintf("key[%d]", i), fmt.Sprintf("key column %q is not in %s (its columns: %s)", k, where, strings.Join(in.Names(), ", "))})
		}
	}
	if len(bad) == 0 {
		if _, err := in.WithKey(key); err != nil {
			bad = append(bad, fieldViolation{"key", fmt.Sprintf("%s: %v", where, err)})
		}
	}
	if len(bad) > 0 {
		return badRequest(bad)
	}
	return nil
}

// checkName checks a table or version name by the cold store's rule
// (coldstore.CheckName). It returns what is wrong, or "".
func checkName(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if err := coldstore.CheckName(s); err != nil {
		return err.Error()
	}
	return ""
}

// progressRelay forwards load progress to a Load stream from a goroutine
// of its own, keeping only the latest snapshot: the load never waits for
// a slow client, which simply sees fewer progress events.
type progressRelay struct {
	stream adminpb.AdminService_LoadServer
	mu     sync.Mutex
	latest *adminpb.LoadProgress
	wake   chan struct{} // capacity 1: a snapshot is waiting
	quit   chan struct{}
	done   chan struct{}
}

// newProgressRelay starts the relay's sender; close stops it.
func newProgressRelay(ctx context.Context, stream adminpb.AdminService_LoadServer) *progressRelay {
	r := &progressRelay{stream: stream, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go r.run(ctx) // owned by the Load call: close stops it
	return r
}

// offer is the LoadSpec.Progress callback: it never blocks.
func (r *progressRelay) offer(p coldstore.LoadProgress) {
	pp := loadProgressToProto(p)
	r.mu.Lock()
	r.latest = pp
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *progressRelay) take() *adminpb.LoadProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.latest
	r.latest = nil
	return p
}

func (r *progressRelay) run(ctx context.Context) {
	defer close(r.done)
	send := func() bool {
		p := r.take()
		if p == nil {
			return true
		}
		return r.stream.Send(&adminpb.LoadEvent{Event: &adminpb.LoadEvent_Progress{Progress: p}}) == nil
	}
	for {
		select {
		case <-r.wake:
			if !send() {
				return // the client is gone; the call's context ends the load
			}
		case <-ctx.Done():
			return
		case <-r.quit:
			send() // the final snapshot ("done" or "failed")
			return
		}
	}
}

// close sends the last snapshot, if any, and stops the sender. After it
// returns the stream is free for the result.
func (r *progressRelay) close() {
	close(r.quit)
	<-r.done
}

// releaseLoadMemory returns the memory a load used (sort chunks, Parquet
// batches, write buffers) to the operating system at once, instead of
// after the Go runtime's forced GC minutes later: a daily load would
// otherwise leave the sidecar's RSS several times its serving size.
func releaseLoadMemory(log *slog.Logger) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	// The first collection moves pooled sort chunks to sync.Pool's victim
	// cache; the one in FreeOSMemory frees them and returns the pages.
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&after)
	log.Info("sidecar: returned the load's memory to the OS",
		"released_bytes", int64(after.HeapReleased)-int64(before.HeapReleased),
		"heap_in_use_bytes", after.HeapInuse, "seconds", time.Since(start).Seconds())
}
