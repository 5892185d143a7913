package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/sidecar/adminpb"
)

// AdminClient calls the admin service of a running sidecar: it loads,
// lists and rolls back versions of the cold store the sidecar holds open,
// as `hotcold load --sidecar` does.
//
// Errors are gRPC status errors (status.Code works on them) whose message
// is the sidecar's, so a load through a sidecar reports what a local load
// would. They also match the coldstore sentinels with errors.Is:
// ErrVersionExists (AlreadyExists), ErrSchemaChanged (FailedPrecondition of
// a Load), ErrNoTable (NotFound), and context.Canceled and
// context.DeadlineExceeded. After Close, calls fail with
// coldstore.ErrClosed.
//
// An AdminClient is safe for concurrent use. Close it when done.
type AdminClient struct {
	conn   *grpc.ClientConn
	rpc    adminpb.AdminServiceClient
	target string
	closed atomic.Bool
}

// AdminLoad describes a load through the sidecar (see coldstore.LoadSpec).
type AdminLoad struct {
	// Table to load, e.g. "orders". Required.
	Table string
	// Version names the new version, e.g. "dt=2026-11-22". Required.
	Version string
	// Key names the key columns, in key order. Required.
	Key []string
	// Files are the Parquet files, as absolute paths on the sidecar's
	// host (the sidecar reads them). Required.
	Files []string
	// CoversUntil is the event-time watermark of the data. Zero: unknown.
	CoversUntil time.Time
	// AllowSchemaChange accepts input that appends nullable columns to the
	// live schema. Default false.
	AllowSchemaChange bool
	// MemoryBudget is the bytes of sorted rows the sidecar holds in memory
	// before spilling to disk. Zero: the store's default (256 MiB).
	MemoryBudget int64
	// MinRows, MaxShrink and Force are the load guards
	// (coldstore.LoadSpec): by default an empty version, or one under half
	// the live version's rows, is refused and nothing is published.
	MinRows   int64
	MaxShrink float64
	Force     bool
}

// NewAdminClient returns a client of the admin service of the sidecar at
// target: "host:port" for TCP or "unix:///path/to.sock" for a unix socket,
// as for Dial. token is the sidecar's admin token (Options.AdminToken),
// sent with every call. opts are extra gRPC dial options (e.g. TLS
// credentials; the default is plaintext, for a sidecar on the same host).
//
// NewAdminClient does not wait for the connection; the first call does.
// ctx only bounds the setup and is not retained.
func NewAdminClient(ctx context.Context, target, token string, opts ...grpc.DialOption) (*AdminClient, error) {
	var errs []error
	if target == "" {
		errs = append(errs, errors.New("target is empty: give host:port or unix:///path.sock of a running hotcold serve"))
	}
	if token == "" {
		errs = append(errs, errors.New("admin token is empty: give the token the sidecar was started with (hotcold serve --admin-token-file)"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("sidecar: NewAdminClient: %w", errors.Join(errs...))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearer(token)),
	}, opts...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, fmt.Errorf("sidecar: NewAdminClient %q: %w", target, err)
	}
	return &AdminClient{conn: conn, rpc: adminpb.NewAdminServiceClient(conn), target: target}, nil
}

// Load loads req.Files into a new version of req.Table through the
// sidecar and returns once the version is published. progress, if not
// nil, is called from Load's goroutine with the snapshots the sidecar
// sends (about one a second, ending with Phase "done"). Cancelling ctx
// cancels the load on the sidecar: nothing is published.
func (c *AdminClient) Load(ctx context.Context, req AdminLoad, progress func(coldstore.LoadProgress)) (coldstore.LoadResult, error) {
	if c.closed.Load() {
		return coldstore.LoadResult{}, coldstore.ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream if we return early
	preq := &adminpb.LoadRequest{
		Table: req.Table, Version: req.Version, Key: req.Key, Files: req.Files,
		CoversUntil: timeToProto(req.CoversUntil), AllowSchemaChange: req.AllowSchemaChange, MemoryBudgetBytes: req.MemoryBudget,
		MinRows: req.MinRows, MaxShrink: req.MaxShrink, Force: req.Force,
	}
	stream, err := c.rpc.Load(ctx, preq)
	if err != nil {
		return coldstore.LoadResult{}, c.callError("Load", err)
	}
	var (
		res    coldstore.LoadResult
		gotRes bool
	)
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			if !gotRes {
				return coldstore.LoadResult{}, fmt.Errorf("sidecar %s: the Load stream ended without a result; check with hotcold load list whether the version was published", c.target)
			}
			return res, nil
		}
		if err != nil {
			return coldstore.LoadResult{}, c.callError("Load", err)
		}
		switch e := ev.GetEvent().(type) {
		case *adminpb.LoadEvent_Progress:
			if progress != nil && !gotRes {
				progress(loadProgressFromProto(e.Progress))
			}
		case *adminpb.LoadEvent_Result:
			if res, err = loadResultFromProto(e.Result); err != nil {
				return coldstore.LoadResult{}, fmt.Errorf("sidecar %s: %w", c.target, err)
			}
			gotRes = true
		}
	}
}

// Versions lists the retained versions of table, most recently loaded
// first, or of every table when table is empty.
func (c *AdminClient) Versions(ctx context.Context, table string) ([]coldstore.VersionInfo, error) {
	if c.closed.Load() {
		return nil, coldstore.ErrClosed
	}
	resp, err := c.rpc.ListVersions(ctx, &adminpb.ListVersionsRequest{Table: table})
	if err != nil {
		return nil, c.callError("ListVersions", err)
	}
	out := make([]coldstore.VersionInfo, 0, len(resp.GetVersions()))
	for _, pv := range resp.GetVersions() {
		v, err := versionInfoFromProto(pv)
		if err != nil {
			return nil, fmt.Errorf("sidecar %s: %w", c.target, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Rollback makes a retained version of table live: to, or when empty the
// one loaded before the live one. It returns the new live version.
func (c *AdminClient) Rollback(ctx context.Context, table, to string) (coldstore.TableInfo, error) {
	if c.closed.Load() {
		return coldstore.TableInfo{}, coldstore.ErrClosed
	}
	resp, err := c.rpc.Rollback(ctx, &adminpb.RollbackRequest{Table: table, To: to})
	if err != nil {
		return coldstore.TableInfo{}, c.callError("Rollback", err)
	}
	ti, err := tableInfoFromProto(resp.GetTable())
	if err != nil {
		return coldstore.TableInfo{}, fmt.Errorf("sidecar %s: %w", c.target, err)
	}
	return ti, nil
}

// Close closes the connection. It does not affect the sidecar or a load
// it runs for a call that already returned.
func (c *AdminClient) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.conn.Close()
}

// callError turns a failed call into an adminError.
func (c *AdminClient) callError(method string, err error) error {
	if c.closed.Load() {
		return coldstore.ErrClosed
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unimplemented:
		st = status.Newf(codes.Unimplemented, "the sidecar at %s does not serve the admin API (%s): start hotcold serve with --admin-token-file FILE (or an admin: section in its config) over a pebble: or redis:// store", c.target, st.Message())
	case codes.Unavailable:
		st = status.Newf(codes.Unavailable, "sidecar %s: %s (is hotcold serve running there?)", c.target, st.Message())
	}
	return &adminError{st: st, method: method}
}

// adminError is a failed admin call: its message is the sidecar's.
type adminError struct {
	st     *status.Status
	method string
}

func (e *adminError) Error() string { return e.st.Message() }

// GRPCStatus lets status.FromError and status.Code see the status.
func (e *adminError) GRPCStatus() *status.Status { return e.st }

// Is matches the coldstore sentinels and context errors of the status.
func (e *adminError) Is(target error) bool {
	switch e.st.Code() {
	case codes.AlreadyExists:
		return target == coldstore.ErrVersionExists
	case codes.FailedPrecondition:
		return target == coldstore.ErrSchemaChanged && e.method == "Load"
	case codes.NotFound:
		return target == coldstore.ErrNoTable
	case codes.Canceled:
		return target == context.Canceled
	case codes.DeadlineExceeded:
		return target == context.DeadlineExceeded
	}
	return false
}
