package sidecar

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/timeout"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

// Client is a Go client of the lookup sidecar. It implements
// coldstore.Store, so code written against a cold store (the join's cold
// fallback) can read through a sidecar unchanged.
//
// A Client manages one gRPC connection (reconnecting as needed), retries
// calls that fail with Unavailable with exponential backoff, and gives
// every call a deadline. With WithAutoBatch, concurrent Get calls are
// coalesced into BatchLookup calls.
//
// A Client is safe for concurrent use. Close it when done; calls after
// Close fail with coldstore.ErrClosed.
type Client struct {
	conn   *grpc.ClientConn
	rpc    lookuppb.LookupServiceClient
	cfg    clientConfig
	batch  *batcher
	closed atomic.Bool

	keyTypes sync.Map // table -> []row.Type, for keys with timestamps or decimals
}

var _ coldstore.Store = (*Client)(nil)

// Option configures a Client.
type Option interface{ apply(*clientConfig) }

type clientConfig struct {
	token        string
	callTimeout  time.Duration
	retries      uint
	backoff      time.Duration
	maxBatch     int
	autoBatch    bool
	autoMax      int
	linger       time.Duration
	autoInflight int
	dialOpts     []grpc.DialOption
	tls          *tls.Config
	maxRecv      int
}

type optionFunc func(*clientConfig)

func (f optionFunc) apply(c *clientConfig) { f(c) }

// WithToken sets the bearer token the client sends with every call (the
// token of the job in the sidecar's config). Default: none.
func WithToken(token string) Option { return optionFunc(func(c *clientConfig) { c.token = token }) }

// WithCallTimeout bounds every call, retries included, unless the caller's
// context has an earlier deadline. Default: 5s.
func WithCallTimeout(d time.Duration) Option {
	return optionFunc(func(c *clientConfig) { c.callTimeout = d })
}

// WithRetries sets how often a call that fails with Unavailable is retried
// and the base of the exponential backoff between attempts (with 20%
// jitter). Default: 3 retries, 25ms base.
func WithRetries(n int, backoff time.Duration) Option {
	return optionFunc(func(c *clientConfig) { c.retries, c.backoff = uint(max(n, 0)), backoff })
}

// WithMaxBatch sets how many keys MultiGet sends per BatchLookup call; it
// must not exceed the server's max_batch. Default: 1024.
func WithMaxBatch(n int) Option { return optionFunc(func(c *clientConfig) { c.maxBatch = n }) }

// WithAutoBatch makes Get coalesce: concurrent Get calls from any number
// of goroutines are sent together as one BatchLookup of up to maxBatch keys
// (of any tables). A batch is sent as soon as a send slot is free and no
// more calls are queued, after waiting at most linger for company; while
// all slots are busy, batches grow. So a lone caller pays at most linger
// extra latency, and many naive callers get pipelining for free.
// Default: off (each Get is one Lookup call). maxBatch <= 0 means 256;
// linger < 0 means 0. A Get returns when its context ends even if its
// batch is still in flight; Gets that share one context (a worker's) cost
// the least, as the client then watches that context once for all of
// them.
func WithAutoBatch(maxBatch int, linger time.Duration) Option {
	return optionFunc(func(c *clientConfig) {
		c.autoBatch = true
		c.autoMax = maxBatch
		c.linger = max(linger, 0)
	})
}

// WithAutoBatchConcurrency sets how many auto-batched BatchLookup calls may
// be in flight at once. Fewer slots make bigger batches (more throughput, a
// little more latency under load). Default: 2.
func WithAutoBatchConcurrency(n int) Option {
	return optionFunc(func(c *clientConfig) { c.autoInflight = n })
}

// WithMaxReceiveSize sets the largest answer the client accepts, in
// bytes; a larger one fails with ResourceExhausted. Keep the sidecar's
// max_answer_bytes at or below it. Default: 64 MiB (DefaultMaxMessageBytes,
// as the Python and Java clients), not gRPC's 4 MiB.
func WithMaxReceiveSize(n int) Option { return optionFunc(func(c *clientConfig) { c.maxRecv = n }) }

// WithTLS makes the client reach the sidecar over TLS with cfg (see
// ClientTLS for one built from PEM files: CA, client certificate for
// mutual TLS). Default: plaintext, for a sidecar on loopback or a unix
// socket.
func WithTLS(cfg *tls.Config) Option {
	return optionFunc(func(c *clientConfig) { c.tls = cfg })
}

// WithDialOptions adds gRPC dial options, e.g. transport credentials for
// TLS (the default is plaintext, for a sidecar on the same host).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(c *clientConfig) { c.dialOpts = append(c.dialOpts, opts...) })
}

// Dial returns a client of the sidecar at addr: "host:port" for TCP or
// "unix:///path/to.sock" for a unix socket. It does not wait for the
// connection; the first call does (and is retried while the sidecar is
// Unavailable).
func Dial(addr string, opts ...Option) (*Client, error) {
	cfg := clientConfig{callTimeout: 5 * time.Second, retries: 3, backoff: 25 * time.Millisecond, maxBatch: 1024, autoInflight: 2, maxRecv: DefaultMaxMessageBytes}
	for _, o := range opts {
		o.apply(&cfg)
	}
	var errs []error
	if addr == "" {
		errs = append(errs, errors.New("address is empty: give host:port or unix:///path.sock"))
	}
	if cfg.callTimeout <= 0 {
		errs = append(errs, fmt.Errorf("WithCallTimeout(%v): must be positive", cfg.callTimeout))
	}
	if cfg.maxBatch <= 0 {
		errs = append(errs, fmt.Errorf("WithMaxBatch(%d): must be positive", cfg.maxBatch))
	}
	if cfg.maxRecv <= 0 {
		errs = append(errs, fmt.Errorf("WithMaxReceiveSize(%d): must be positive", cfg.maxRecv))
	}
	if cfg.autoInflight <= 0 {
		errs = append(errs, fmt.Errorf("WithAutoBatchConcurrency(%d): must be positive", cfg.autoInflight))
	}
	if cfg.autoMax <= 0 {
		cfg.autoMax = 256
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("sidecar: Dial: %w", errors.Join(errs...))
	}
	dial := []grpc.DialOption{
		transportCredentials(cfg.tls),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(newCodec()), grpc.MaxCallRecvMsgSize(cfg.maxRecv)),
		grpc.WithChainUnaryInterceptor(
			timeout.UnaryClientInterceptor(cfg.callTimeout),
			retry.UnaryClientInterceptor(
				retry.WithCodes(codes.Unavailable),
				retry.WithMax(cfg.retries),
				retry.WithBackoff(retry.BackoffExponentialWithJitter(cfg.backoff, 0.2)),
			),
		),
	}
	if cfg.token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearer(cfg.token)))
	}
	dial = append(dial, cfg.dialOpts...)
	conn, err := grpc.NewClient(addr, dial...)
	if err != nil {
		return nil, fmt.Errorf("sidecar: Dial %q: %w", addr, err)
	}
	c := &Client{conn: conn, rpc: lookuppb.NewLookupServiceClient(conn), cfg: cfg}
	if cfg.autoBatch {
		c.batch = newBatcher(c)
	}
	return c, nil
}

// transportCredentials is TLS with cfg, or plaintext when cfg is nil.
func transportCredentials(cfg *tls.Config) grpc.DialOption {
	if cfg == nil {
		return grpc.WithTransportCredentials(insecure.NewCredentials())
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg))
}

// bearer sends a job token. It does not require transport security: the
// sidecar normally listens on loopback or a unix socket.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// Get looks up one key (see coldstore.Store). With WithAutoBatch the call
// is coalesced with concurrent Gets into one BatchLookup.
func (c *Client) Get(ctx context.Context, table string, key []row.Value) (coldstore.Result, error) {
	if c.closed.Load() {
		return coldstore.Result{}, coldstore.ErrClosed
	}
	types, err := c.typesFor(ctx, table, key)
	if err != nil {
		return coldstore.Result{}, err
	}
	if c.batch != nil {
		// The key is encoded into the pending request's own buffer;
		// pendings of answered Gets are recycled.
		p := newPending(table)
		enc, err := appendValues(p.keyBuf[:0], types, key)
		if err != nil {
			return coldstore.Result{}, fmt.Errorf("sidecar: key: %w", err)
		}
		p.key = enc
		return c.batch.get(ctx, p)
	}
	enc, err := appendValues(nil, types, key)
	if err != nil {
		return coldstore.Result{}, fmt.Errorf("sidecar: key: %w", err)
	}
	resp := &lookupResponse{}
	if err := c.conn.Invoke(ctx, lookuppb.LookupService_Lookup_FullMethodName, &rawMessage{b: encodeLookupRequest(table, enc)}, resp); err != nil {
		return coldstore.Result{}, c.callError(table, err)
	}
	return resp.res.result()
}

// MultiGet looks up many keys (see coldstore.Store): one BatchLookup per
// WithMaxBatch keys. All results come from one version: if the table
// changes version between two of the calls, MultiGet starts over. The
// rows of one call share one backing array (each row's Values slice is
// capped, so appending to it copies).
func (c *Client) MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]coldstore.Result, error) {
	if c.closed.Load() {
		return nil, coldstore.ErrClosed
	}
	var types []row.Type
	for _, k := range keys {
		t, err := c.typesFor(ctx, table, k)
		if err != nil {
			return nil, err
		}
		if t != nil {
			types = t
			break
		}
	}
	reqs := make([]*rawMessage, 0, (len(keys)+c.cfg.maxBatch-1)/c.cfg.maxBatch)
	var kb []byte
	for start := 0; start < len(keys); start += c.cfg.maxBatch {
		end := min(start+c.cfg.maxBatch, len(keys))
		b := appendTable(make([]byte, 0, 16+len(table)+(end-start)*16), table)
		for _, k := range keys[start:end] {
			var err error
			if kb, err = appendValues(kb[:0], types, k); err != nil {
				return nil, fmt.Errorf("sidecar: key: %w", err)
			}
			b = appendKeyRef(b, fBatchReqKeys, "", kb)
		}
		reqs = append(reqs, &rawMessage{b: b})
	}
	out := make([]coldstore.Result, len(keys))
	for attempt := 0; ; attempt++ {
		version := ""
		mixed := false
		for j, req := range reqs {
			start := j * c.cfg.maxBatch
			end := min(start+c.cfg.maxBatch, len(keys))
			resp := &batchResponse{}
			if err := c.conn.Invoke(ctx, lookuppb.LookupService_BatchLookup_FullMethodName, req, resp); err != nil {
				return nil, c.callError(table, err)
			}
			if len(resp.results) != end-start {
				return nil, fmt.Errorf("sidecar: BatchLookup of %d keys answered %d results", end-start, len(resp.results))
			}
			slab := valueSlab(resp.results)
			for i, r := range resp.results {
				if version == "" {
					version = r.version
				} else if r.version != version {
					mixed = true
				}
				res, err := r.resultInto(&slab)
				if err != nil {
					return nil, err
				}
				out[start+i] = res
			}
		}
		if !mixed {
			return out, nil
		}
		if attempt == 2 {
			return nil, fmt.Errorf("sidecar: table %q changed versions during MultiGet %d times; retry", table, attempt+1)
		}
	}
}

// Tables implements coldstore.Store: the tables the client's job may read.
func (c *Client) Tables(ctx context.Context) ([]coldstore.TableInfo, error) {
	if c.closed.Load() {
		return nil, coldstore.ErrClosed
	}
	resp, err := c.rpc.ListTables(ctx, &lookuppb.ListTablesRequest{})
	if err != nil {
		return nil, c.callError("", err)
	}
	out := make([]coldstore.TableInfo, 0, len(resp.Tables))
	for _, t := range resp.Tables {
		ti, err := tableInfoFromProto(t)
		if err != nil {
			return nil, fmt.Errorf("sidecar: ListTables: %w", err)
		}
		out = append(out, ti)
	}
	return out, nil
}

// Describe implements coldstore.Store.
func (c *Client) Describe(ctx context.Context, table string) (coldstore.TableInfo, error) {
	if c.closed.Load() {
		return coldstore.TableInfo{}, coldstore.ErrClosed
	}
	resp, err := c.rpc.DescribeTable(ctx, &lookuppb.DescribeTableRequest{Table: table})
	if err != nil {
		return coldstore.TableInfo{}, c.callError(table, err)
	}
	ti, err := tableInfoFromProto(resp.Table)
	if err != nil {
		return coldstore.TableInfo{}, fmt.Errorf("sidecar: DescribeTable: %w", err)
	}
	return ti, nil
}

// Close stops auto-batching (queued Gets fail with coldstore.ErrClosed)
// and closes the connection. It does not affect the sidecar.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if c.batch != nil {
		c.batch.close()
	}
	return c.conn.Close()
}

// typesFor returns the key column types of table when key needs them to
// be encoded (timestamps need the unit, decimals the scale), else nil.
// They are fetched once per table.
func (c *Client) typesFor(ctx context.Context, table string, key []row.Value) ([]row.Type, error) {
	for _, v := range key {
		if id := v.Type(); id == row.TypeTimestamp || id == row.TypeDecimal128 {
			return c.keyTypesOf(ctx, table)
		}
	}
	return nil, nil
}

func (c *Client) keyTypesOf(ctx context.Context, table string) ([]row.Type, error) {
	if t, ok := c.keyTypes.Load(table); ok {
		return t.([]row.Type), nil
	}
	ti, err := c.Describe(ctx, table)
	if err != nil {
		return nil, err
	}
	t := ti.Schema.KeyTypes()
	c.keyTypes.Store(table, t)
	return t, nil
}

// callError wraps a failed call: NotFound also wraps coldstore.ErrNoTable,
// DataLoss coldstore.ErrDataLoss, and closed clients report
// coldstore.ErrClosed. status.Code still works on
// the result.
func (c *Client) callError(table string, err error) error {
	if c.closed.Load() {
		return coldstore.ErrClosed
	}
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("sidecar: %w: %w", coldstore.ErrNoTable, err)
	case codes.DataLoss:
		return fmt.Errorf("sidecar: %w: %w", coldstore.ErrDataLoss, err)
	case codes.DeadlineExceeded:
		return fmt.Errorf("sidecar: %w: %w", context.DeadlineExceeded, err)
	case codes.Canceled:
		return fmt.Errorf("sidecar: %w: %w", context.Canceled, err)
	}
	return fmt.Errorf("sidecar: %w", err)
}

func (r *resultWire) result() (coldstore.Result, error) {
	return r.resultInto(nil)
}

// resultInto is result with the row's values taken from the front of
// *slab when it has room (so that the rows of one response share one
// allocation; each row's slice is capped, so appending to it copies), and
// with a slab, its strings referencing the response's bytes (a
// batchResponse materializes its own copy of the message: see
// codec.Unmarshal), which the rows of one response then share too.
func (r *resultWire) resultInto(slab *[]row.Value) (coldstore.Result, error) {
	res := coldstore.Result{Found: r.found, Version: r.version}
	if r.found {
		row, err := rowFromWire(r.row, slab, slab != nil)
		if err != nil {
			return coldstore.Result{}, fmt.Errorf("sidecar: bad row in response: %w", err)
		}
		res.Row = row
	}
	return res, nil
}

// valueSlab returns one slice with room for the values of the found rows
// of results, estimated from the first found row (a row that does not fit
// gets its own slice).
func valueSlab(results []resultWire) []row.Value {
	for i := range results {
		if results[i].found {
			c, _ := countValues(results[i].row)
			return make([]row.Value, 0, c*(len(results)-i))
		}
	}
	return nil
}
