package sidecar

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/validator"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/bytesize"
	"github.com/hotcold/hotcold/sidecar/adminpb"
	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

// ServiceName is the full name of the lookup service, as used by the gRPC
// health service and reflection.
const ServiceName = "hotcold.lookup.v1.LookupService"

// Server is the lookup sidecar: a gRPC server answering the
// hotcold.lookup.v1 API from a coldstore.Store, with the gRPC health
// service and server reflection registered, and, when Options.AdminToken
// is set and the store is a coldstore.Backend, the hotcold.admin.v1 API
// that loads, lists and rolls back its versions.
//
// A Server does not own its store: close the store after Shutdown. All
// methods are safe for concurrent use.
type Server struct {
	opts   Options
	store  coldstore.Store
	eng    *engine
	m      *metrics
	auth   *authority
	admin  *admin
	grpc   *grpc.Server
	health *health.Server
	ready  *readiness

	draining     chan struct{}
	drainOnce    sync.Once
	shuttingDown atomic.Bool
}

// NewServer returns a server over store. It does not listen yet: call
// Serve with listeners, or Run. Invalid options are reported together in
// one error naming the fields.
func NewServer(store coldstore.Store, opts Options) (*Server, error) {
	if store == nil {
		return nil, fmt.Errorf("sidecar: NewServer: store is nil")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	s := &Server{opts: o, store: store, m: newMetrics(), auth: newAuthority(o.Jobs), draining: make(chan struct{})}
	s.eng = newEngine(store, o, s.m)
	s.admin = newAdmin(store, o, s.auth)

	srvMetrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
		grpcprom.WithHistogramBuckets([]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}),
	))
	entries := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "hotcold", Subsystem: "sidecar", Name: "cache_entries",
		Help: "Entries (rows and missing keys) in the read cache.",
	}, func() float64 { return float64(s.eng.cache.len()) })
	s.ready = newReadiness(s)
	if o.Registerer != nil {
		for _, c := range append(append(s.m.collectors(), srvMetrics, entries, s.admin.calls), s.ready.collectors()...) {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("sidecar: registering metrics: %w (use a fresh prometheus.Registry per server)", err)
			}
		}
	}

	panicHandler := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		o.Logger.ErrorContext(ctx, "panic in a call; the call failed with Internal and the sidecar keeps running", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return status.Errorf(codes.Internal, "internal error: the sidecar recovered from a panic (%v); see its log", p)
	})
	logger := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		o.Logger.Log(ctx, slogLevel(lvl), msg, fields...)
	})
	logOpts := []logging.Option{
		logging.WithLogOnEvents(logging.FinishCall),
		logging.WithLevels(func(c codes.Code) logging.Level {
			if c == codes.OK {
				return logging.LevelDebug
			}
			return logging.DefaultServerCodeToLevel(c)
		}),
	}
	lookupOnly := selector.MatchFunc(func(_ context.Context, cm interceptors.CallMeta) bool { return cm.Service == ServiceName })
	// Admin calls have their own token, and no CallTimeout: a load takes
	// minutes.
	adminOnly := selector.MatchFunc(func(_ context.Context, cm interceptors.CallMeta) bool { return cm.Service == AdminServiceName })
	authFunc := func(ctx context.Context) (context.Context, error) {
		ctx, err := s.auth.authenticate(ctx)
		if err != nil {
			return nil, err
		}
		if j := jobFrom(ctx); j != nil {
			addJobToLog(ctx, j.name)
		}
		return ctx, nil
	}

	s.grpc = grpc.NewServer(
		grpc.ForceServerCodecV2(newCodec()),
		// Serve calls on long-lived goroutines: a goroutine per call
		// would grow its stack through the interceptor chain on every
		// call (runtime.copystack was ~10% of the server's CPU). gRPC
		// hands a call to a worker only if one is idle, else it starts a
		// goroutine, so there are enough workers for the calls a busy
		// sidecar has in flight: with GOMAXPROCS of them, unary calls from
		// 256 goroutines still spent 9% of the server's CPU growing
		// stacks. An idle worker costs its stack, a few KiB.
		grpc.NumStreamWorkers(uint32(max(64, 16*runtime.GOMAXPROCS(0)))),
		grpc.SharedWriteBuffer(true),
		grpc.ChainUnaryInterceptor(
			recovery.UnaryServerInterceptor(panicHandler), // outer safety net
			srvMetrics.UnaryServerInterceptor(),
			logUnary(o.Logger),
			// The unary selectors match on the method name alone (what the
			// selector middleware does after building the call's metadata
			// for every call).
			forService(ServiceName, true, auth.UnaryServerInterceptor(authFunc)),
			forService(ServiceName, true, ratelimit.UnaryServerInterceptor(jobLimiter{})),
			forService(AdminServiceName, true, auth.UnaryServerInterceptor(s.admin.authenticate)),
			validator.UnaryServerInterceptor(),
			forService(AdminServiceName, false, s.deadlineUnary),
			recovery.UnaryServerInterceptor(panicHandler), // so logs and metrics see Internal
		),
		grpc.ChainStreamInterceptor(
			recovery.StreamServerInterceptor(panicHandler),
			srvMetrics.StreamServerInterceptor(),
			logging.StreamServerInterceptor(logger, logOpts...),
			selector.StreamServerInterceptor(auth.StreamServerInterceptor(authFunc), lookupOnly),
			selector.StreamServerInterceptor(ratelimit.StreamServerInterceptor(jobLimiter{}), lookupOnly),
			selector.StreamServerInterceptor(auth.StreamServerInterceptor(s.admin.authenticate), adminOnly),
			recovery.StreamServerInterceptor(panicHandler),
		),
	)
	s.grpc.RegisterService(serviceDesc(), &lookupService{s: s})
	if s.admin.enabled() {
		// Generated messages: the codec passes them to plain protobuf.
		adminpb.RegisterAdminServiceServer(s.grpc, &adminServer{s: s, a: s.admin})
	}
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.ready.check(context.Background()) // health is NOT_SERVING until the store says otherwise
	reflection.Register(s.grpc)
	srvMetrics.InitializeMetrics(s.grpc)
	if len(o.Jobs) == 0 {
		o.Logger.Warn("sidecar: no jobs configured, authentication is off: every caller may read every table")
	}
	return s, nil
}

// Serve accepts connections on lis until Shutdown; it returns nil after a
// graceful shutdown. Serve may be called for several listeners (TCP and a
// unix socket) from different goroutines.
func (s *Server) Serve(lis net.Listener) error {
	s.ready.start()
	err := s.grpc.Serve(lis)
	if err == grpc.ErrServerStopped || s.shuttingDown.Load() {
		return nil
	}
	return err
}

// Shutdown stops the server gracefully: the health service reports
// NOT_SERVING, listeners close, new calls are refused, open StreamLookup
// streams finish the requests they have and end with Unavailable, and
// in-flight calls (admin loads included) run to completion. If ctx ends
// first, the remaining calls are cut off (a load is cancelled and publishes
// nothing; Shutdown waits for it to stop) and Shutdown returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	s.ready.close()
	s.health.Shutdown()
	s.drainOnce.Do(func() { close(s.draining) })
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		s.admin.refuse(false)
		s.admin.wait()
		return nil
	case <-ctx.Done():
		s.admin.refuse(true)
		s.grpc.Stop()
		<-done
		s.admin.wait()
		return ctx.Err()
	}
}

func (s *Server) lookup(ctx context.Context, req *lookupRequest) (*rawResponse, error) {
	if err := authorize(ctx, req.table); err != nil {
		return nil, err
	}
	var out [1]cacheEntry
	st, err := s.eng.lookup(ctx, req.table, wireKeys{req.key}, func(int) string { return "key" }, out[:])
	if err != nil {
		return nil, err
	}
	s.countKeys(ctx, req.table, 1)
	return s.checkAnswer(encodeLookupResponse(out[0], st))
}

// checkAnswer refuses an answer larger than Options.MaxAnswerBytes, the
// receive limit of the clients, with a message naming the limit (instead
// of the client's bare "received message larger than max").
func (s *Server) checkAnswer(raw *rawResponse) (*rawResponse, error) {
	if n := raw.buf.Len(); n > s.opts.MaxAnswerBytes {
		raw.buf.Free()
		return nil, status.Errorf(codes.ResourceExhausted,
			"the answer is %s, over the sidecar's answer limit of %s (max_answer_bytes, --max-answer-size): ask for fewer keys per call, or raise the limit on the sidecar and the client's receive limit with it (Go WithMaxReceiveSize, Python max_receive_bytes, Java maxInboundMessageSize)",
			bytesize.Format(int64(n)), bytesize.Format(int64(s.opts.MaxAnswerBytes)))
	}
	return raw, nil
}

// lookupHandler is the gRPC method handler of Lookup: like the generated
// one, but the request decodes itself from the wire into a pooled buffer,
// freed once the response is encoded.
func lookupHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := &lookupRequest{}
	defer in.free()
	if err := dec(in); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "malformed LookupRequest: %v", err)
	}
	s := srv.(*lookupService).s
	handler := func(ctx context.Context, req any) (any, error) { return s.lookup(ctx, req.(*lookupRequest)) }
	if interceptor == nil {
		return handler(ctx, in)
	}
	return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: lookuppb.LookupService_Lookup_FullMethodName}, handler)
}

// batchLookupHandler is the gRPC method handler of BatchLookup (see
// lookupHandler).
func batchLookupHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	s := srv.(*lookupService).s
	in := &batchRequest{maxBatch: s.opts.MaxBatch}
	defer in.free()
	if err := dec(in); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "malformed BatchLookupRequest: %v", err)
	}
	handler := func(ctx context.Context, req any) (any, error) { return s.batch(ctx, req.(*batchRequest)) }
	if interceptor == nil {
		return handler(ctx, in)
	}
	return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: lookuppb.LookupService_BatchLookup_FullMethodName}, handler)
}

func streamLookupHandler(srv any, stream grpc.ServerStream) error {
	return srv.(*lookupService).s.serveStream(stream)
}

// serviceDesc is the generated service description with the hot methods
// replaced by handlers that decode requests from the wire.
func serviceDesc() *grpc.ServiceDesc {
	d := lookuppb.LookupService_ServiceDesc
	d.Methods = append([]grpc.MethodDesc(nil), d.Methods...)
	d.Streams = append([]grpc.StreamDesc(nil), d.Streams...)
	for i := range d.Methods {
		switch d.Methods[i].MethodName {
		case "BatchLookup":
			d.Methods[i].Handler = batchLookupHandler
		case "Lookup":
			d.Methods[i].Handler = lookupHandler
		}
	}
	for i := range d.Streams {
		if d.Streams[i].StreamName == "StreamLookup" {
			d.Streams[i].Handler = streamLookupHandler
		}
	}
	return &d
}

type tableGroup struct {
	table string
	idx   []int
	keys  wireKeys
}

// batch answers a validated BatchLookup or StreamLookup request: keys
// grouped by table, each table from one version, results in request
// order, encoded (see wire.go).
func (s *Server) batch(ctx context.Context, r *batchRequest) (*rawResponse, error) {
	groups := groupByTable(r.table, r.refs)
	for _, g := range groups {
		if err := authorize(ctx, g.table); err != nil {
			return nil, err
		}
	}
	all := make([]cacheEntry, len(r.refs))
	tables := make([][]byte, 0, len(groups))
	for _, g := range groups {
		field := func(j int) string { return fmt.Sprintf("keys[%d].key", g.idx[j]) }
		out := all
		if len(groups) > 1 {
			out = make([]cacheEntry, len(g.idx))
		}
		st, err := s.eng.lookup(ctx, g.table, g.keys, field, out)
		if err != nil {
			return nil, err
		}
		if len(groups) > 1 {
			for j, i := range g.idx {
				all[i] = out[j]
			}
		}
		tables = append(tables, st.tvEnc)
		s.countKeys(ctx, g.table, len(g.idx))
	}
	return s.checkAnswer(encodeBatchResponse(r.stream, r.id, all, tables))
}

func groupByTable(def string, refs []keyRef) []*tableGroup {
	var groups []*tableGroup
	var byName map[string]*tableGroup
	for i, r := range refs {
		t := r.table
		if t == "" {
			t = def
		}
		var g *tableGroup
		if len(groups) > 0 && groups[len(groups)-1].table == t {
			g = groups[len(groups)-1]
		} else {
			if byName == nil {
				byName = map[string]*tableGroup{}
			}
			g = byName[t]
			if g == nil {
				g = &tableGroup{table: t}
				if len(groups) == 0 {
					g.idx = make([]int, 0, len(refs))
					g.keys = make(wireKeys, 0, len(refs))
				}
				byName[t] = g
				groups = append(groups, g)
			}
		}
		g.idx = append(g.idx, i)
		g.keys = append(g.keys, r.key)
	}
	return groups
}

func (s *Server) countKeys(ctx context.Context, table string, n int) {
	name := ""
	if j := jobFrom(ctx); j != nil {
		name = j.name
	}
	s.m.keys.WithLabelValues(name, table).Add(float64(n))
}

// lookupService is what the gRPC server dispatches the lookup API to,
// behind the interceptor chain (authentication, rate limits, deadlines).
// It is not part of Server's API: in-process callers have no way around
// authorisation. Lookup, BatchLookup and StreamLookup are served by the
// handlers of serviceDesc, which decode requests from the wire; the
// embedded Unimplemented methods are never reached.
type lookupService struct {
	lookuppb.UnimplementedLookupServiceServer
	s *Server
}

// serveStream serves a StreamLookup stream: requests are decoded from the
// wire (see wire.go) and served concurrently, up to StreamConcurrency.
func (s *Server) serveStream(stream grpc.ServerStream) error {
	ctx := stream.Context()
	msgs := make(chan *batchRequest)
	recvErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() { // owned by this handler: exits when the stream ends or stop closes
		for {
			m := &batchRequest{stream: true}
			if err := stream.RecvMsg(m); err != nil {
				m.free()
				recvErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-stop:
				m.free()
				return
			}
		}
	}()

	var (
		wg      sync.WaitGroup
		sendMu  sync.Mutex
		sendErr error
		sem     = make(chan struct{}, s.opts.StreamConcurrency)
	)
	defer wg.Wait()
	send := func(resp any) {
		sendMu.Lock()
		defer sendMu.Unlock()
		if sendErr == nil {
			sendErr = stream.SendMsg(resp)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return ctxError(ctx.Err())
		case <-s.draining:
			wg.Wait()
			return status.Error(codes.Unavailable, "the sidecar is shutting down: requests without a response were not served; reconnect and resend them")
		case err := <-recvErr:
			wg.Wait()
			if err == io.EOF {
				return nil
			}
			return err
		case m := <-msgs:
			if err := limit(ctx); err != nil {
				m.free()
				send(errorResponse(m.id, status.New(codes.ResourceExhausted, err.Error())))
				continue
			}
			if err := validateBatch(m.table, m.refs, s.opts.MaxBatch); err != nil {
				m.free()
				send(errorResponse(m.id, status.Convert(err.status())))
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				m.free()
				return ctxError(ctx.Err())
			}
			wg.Add(1)
			go func() { // owned by this handler via wg
				defer wg.Done()
				defer func() { <-sem }()
				resp := s.streamOne(ctx, m)
				m.free()
				send(resp)
			}()
		}
	}
}

// streamOne answers one StreamLookup request, converting failures (and
// panics) into a per-request error response.
func (s *Server) streamOne(ctx context.Context, m *batchRequest) (resp any) {
	defer func() {
		if p := recover(); p != nil {
			s.opts.Logger.ErrorContext(ctx, "panic in a stream request; the request failed with Internal and the sidecar keeps running", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp = errorResponse(m.id, status.Newf(codes.Internal, "internal error: the sidecar recovered from a panic (%v); see its log", p))
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	raw, err := s.batch(ctx, m)
	if err != nil {
		return errorResponse(m.id, status.Convert(err))
	}
	return raw
}

func errorResponse(id uint64, st *status.Status) *lookuppb.StreamLookupResponse {
	return &lookuppb.StreamLookupResponse{Id: id, Error: &lookuppb.Error{Code: int32(st.Code()), Message: st.Message()}}
}

// ListTables implements lookuppb.LookupServiceServer.
func (ls *lookupService) ListTables(ctx context.Context, _ *lookuppb.ListTablesRequest) (*lookuppb.ListTablesResponse, error) {
	s := ls.s
	infos, err := s.store.Tables(ctx)
	if err != nil {
		return nil, storeError("", err)
	}
	out := &lookuppb.ListTablesResponse{}
	for _, ti := range infos {
		if mayList(ctx, ti.Name) {
			out.Tables = append(out.Tables, tableInfoToProto(ti))
		}
	}
	return out, nil
}

// DescribeTable implements lookuppb.LookupServiceServer.
func (ls *lookupService) DescribeTable(ctx context.Context, req *lookuppb.DescribeTableRequest) (*lookuppb.DescribeTableResponse, error) {
	s := ls.s
	if req.Table == "" {
		return nil, invalidArg("table", "must not be empty")
	}
	if err := authorize(ctx, req.Table); err != nil {
		return nil, err
	}
	st, err := s.eng.observe(ctx, req.Table)
	if err != nil {
		return nil, err
	}
	return &lookuppb.DescribeTableResponse{Table: tableInfoToProto(st.info)}, nil
}
