// Package sidecar serves a coldstore.Store over gRPC and is a Go client of
// that service.
//
// Flink TaskManagers (Java) and Go services share one cold store through a
// sidecar process on their host: a UDF calls the lookup RPC over a unix
// socket or loopback TCP, and the sidecar answers from the cold store with
// a read cache, request coalescing, per-job access control and rate limits,
// and says which table version answered. The API is
// hotcold.lookup.v1.LookupService (proto/hotcold/lookup/v1/lookup.proto;
// Go stubs in [github.com/hotcold/hotcold/sidecar/lookuppb]).
//
// The two main types are [Server] and [Client]; [AdminClient] loads the
// store a running Server holds.
//
// # Serving
//
//	srv, err := sidecar.NewServer(store, sidecar.Options{
//		Logger:     logger,
//		Registerer: reg,
//		Jobs: []sidecar.Job{{Name: "orders-enrich", Token: tok, Tables: []string{"orders"}, RateLimit: 5000}},
//	})
//	err = srv.Run(ctx, sidecar.Listeners{TCP: ":7070", Unix: "/run/hotcold.sock", Metrics: ":9464", Gatherer: reg})
//
// Run returns when ctx ends, after draining in-flight calls. Every call
// passes a go-grpc-middleware chain: panic recovery (a panic fails the call
// with Internal, the process lives), Prometheus metrics, log/slog logging,
// bearer-token authentication (Unauthenticated / PermissionDenied), a
// per-job rate limit (ResourceExhausted), request validation
// (InvalidArgument naming the field) and a deadline. The gRPC health
// service and server reflection are registered, so grpcurl works without
// the proto file. [LoadConfig] reads the YAML config of `hotcold serve`.
//
// # Readiness and freshness
//
// Liveness is the process answering; readiness is the gRPC health status,
// recomputed from Store.Tables in NewServer and every
// Options.ReadinessInterval (5s) by a goroutine that the first Serve starts
// and Shutdown stops. The services "" and [ServiceName] are NOT_SERVING
// while the store is unreachable or a known table (granted to a job by
// name, or seen live since start) has no live version;
// [TableHealthService](table) is SERVING while that table has a live
// version. The same check sets the gauges
// hotcold_sidecar_table_published_seconds, _covers_until_seconds and
// _rows{table} of each live version.
//
// # TLS
//
// [ServerTLS] builds the tls.Config of the TCP listener (Listeners.TLS)
// from PEM files, reloading the certificate when its files change and
// requiring client certificates when a client CA is given (mutual TLS);
// the unix socket stays plaintext. Run warns about a plaintext TCP listener
// that is not loopback. Clients use [WithTLS] with a [ClientTLS] config.
//
// # Loading while serving
//
// An embedded Pebble store can be opened by one process only, so while a
// sidecar serves it the daily load goes through the sidecar: with
// Options.AdminToken set (and a store that implements coldstore.Backend)
// the server also registers hotcold.admin.v1.AdminService
// (proto/hotcold/admin/v1/admin.proto; Go stubs in
// [github.com/hotcold/hotcold/sidecar/adminpb]): Load, ListVersions and
// Rollback. Callers authenticate with "authorization: Bearer <admin
// token>"; job tokens get PermissionDenied. Admin calls are not bounded
// by CallTimeout; a Load still running when a shutdown's DrainTimeout ends
// is cancelled and publishes nothing. After a load or rollback the server
// refreshes the table's live version at once, so lookups never answer
// from the previous version's cached rows afterwards. [AdminClient] is the
// Go client (what `hotcold load --sidecar` uses):
//
//	ac, err := sidecar.NewAdminClient(ctx, "unix:///run/hotcold.sock", adminToken)
//	defer ac.Close()
//	res, err := ac.Load(ctx, sidecar.AdminLoad{
//		Table: "orders", Version: "dt=2026-11-22", Key: []string{"order_id"},
//		Files: []string{"/data/orders/dt=2026-11-22/part-0.parquet"}, // on the sidecar's host
//	}, func(p coldstore.LoadProgress) { log.Println(p.Phase, p.Rows) })
//
// [WarmUp] pins every table of a Pebble store in memory in the background
// at startup (`hotcold serve` runs it), so first lookups do not pay for it.
//
// # Caching and versions
//
// The read cache is keyed by (table, version, key), so a new version can
// never be answered from an old version's entries. Missing keys are cached
// too. Concurrent lookups of the same key share one store fetch. A call
// never mixes two versions of a table; see Options.VersionCheckInterval
// for how soon a newly published version is seen.
//
// # Client
//
//	c, err := sidecar.Dial("unix:///run/hotcold.sock", sidecar.WithToken(tok), sidecar.WithAutoBatch(256, 0))
//	defer c.Close()
//	res, err := c.Get(ctx, "orders", []row.Value{row.Int64Value(42)})
//
// Client implements coldstore.Store. With [WithAutoBatch], Get calls from
// many goroutines are coalesced into BatchLookup calls, so naive callers
// get pipelining. Calls failing with Unavailable are retried with backoff.
//
// # Wire format
//
// The hot messages (Lookup, BatchLookup and StreamLookup requests and
// their results) are read and written directly in the protobuf wire format
// rather than through generated message trees, and the server keeps cached
// answers already encoded (see wire.go). The bytes on the wire are plain
// hotcold.lookup.v1, so any protobuf client works; the hand-written
// decoders are fuzzed against protobuf-go. The hand codec is kept because it
// measures 2.6-5.4x cheaper than generated protobuf-go and vtprotobuf code
// at 256 keys (BenchmarkCodecServer256, BenchmarkCodecClient256; figures
// in BENCHMARKS.md). The lookup API is served only through gRPC and its
// interceptors: Server has no in-process Lookup that could skip
// authentication.
//
// # Errors
//
// Server errors are gRPC statuses (see the protos for the codes). Client
// errors keep the status (status.Code works) and also wrap
// coldstore.ErrNoTable for NotFound, context.DeadlineExceeded and
// context.Canceled, and are coldstore.ErrClosed after Close. AdminClient
// errors carry the sidecar's message alone (the text a local load would
// print) and match coldstore.ErrVersionExists, ErrSchemaChanged and
// ErrNoTable with errors.Is.
package sidecar

// doccheck:
//	var ctx context.Context
//	var store coldstore.Store
//	var logger *slog.Logger
//	var reg *prometheus.Registry
//	var tok, adminToken string
