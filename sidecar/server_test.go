package sidecar_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

func rawConn(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func i64(n int64) *lookuppb.Value {
	return &lookuppb.Value{Kind: &lookuppb.Value_Int64Value{Int64Value: n}}
}

func pkey(vals ...*lookuppb.Value) *lookuppb.Key { return &lookuppb.Key{Values: vals} }

func TestClientReadsTypedRowsOverTCPAndUnixSocket(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	for _, addr := range []string{sc.tcp, sc.unix} {
		t.Run(strings.SplitN(addr, ":", 2)[0], func(t *testing.T) {
			c := dial(t, addr)
			ctx := context.Background()
			res, err := c.Get(ctx, "orders", key(43))
			if err != nil {
				t.Fatal(err)
			}
			if !res.Found || res.Version != "v1" {
				t.Fatalf("Get(43) = found %v version %q, want found in v1", res.Found, res.Version)
			}
			if want := orderRow(43, "v1"); !res.Row.Equal(want) {
				t.Fatalf("Get(43) row %v, want %v", res.Row.Format(ordersSchema), want.Format(ordersSchema))
			}
			if got := res.Row.Values[4]; !got.IsNull() {
				t.Fatalf("odd order note = %v, want an explicit null", got)
			}
			miss, err := c.Get(ctx, "orders", key(100_000))
			if err != nil {
				t.Fatal(err)
			}
			if miss.Found || miss.Version != "v1" {
				t.Fatalf("Get(missing) = found %v version %q, want not found in v1", miss.Found, miss.Version)
			}
		})
	}
}

func TestBatchLookupAnswersInRequestOrderAcrossTables(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	rpc := lookuppb.NewLookupServiceClient(rawConn(t, sc.tcp))
	i32 := func(n int32) *lookuppb.Value { return &lookuppb.Value{Kind: &lookuppb.Value_Int32Value{Int32Value: n}} }
	resp, err := rpc.BatchLookup(context.Background(), &lookuppb.BatchLookupRequest{
		Table: "orders",
		Keys: []*lookuppb.KeyRef{
			{Key: pkey(i64(7))},
			{Table: "refunds", Key: pkey(i64(1), i32(2))},
			{Key: pkey(i64(999_999))},
			{Table: "refunds", Key: pkey(i64(1), i32(9))},
			{Key: pkey(i64(3))},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		found   bool
		first   int64
		version string
	}
	wants := []want{{true, 7, "v1"}, {true, 1, "r1"}, {false, 0, "v1"}, {false, 0, "r1"}, {true, 3, "v1"}}
	if len(resp.Results) != len(wants) {
		t.Fatalf("%d results, want %d", len(resp.Results), len(wants))
	}
	for i, w := range wants {
		r := resp.Results[i]
		if r.Found != w.found || r.Version != w.version {
			t.Errorf("result %d: found %v version %q, want %v %q", i, r.Found, r.Version, w.found, w.version)
		}
		if w.found && r.Row.Values[0].GetInt64Value() != w.first {
			t.Errorf("result %d: row %v, want key %d", i, r.Row, w.first)
		}
	}
	if got := resp.Results[1].Row.Values[2].GetStringValue(); got != "late" {
		t.Errorf("refund (1, 2) reason %q, want late", got)
	}
	if len(resp.Tables) != 2 || resp.Tables[0].Table != "orders" || resp.Tables[0].CoversUntil == nil || resp.Tables[1].Table != "refunds" {
		t.Errorf("tables %v, want orders (with covers_until) then refunds", resp.Tables)
	}
}

func TestLookupResponseCarriesVersionAndCoversUntil(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	rpc := lookuppb.NewLookupServiceClient(rawConn(t, sc.unix))
	resp, err := rpc.Lookup(context.Background(), &lookuppb.LookupRequest{Table: "orders", Key: pkey(i64(2))})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Found || resp.Version != "v1" || !resp.CoversUntil.AsTime().Equal(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("response %v", resp)
	}
	vals := resp.Row.Values
	if vals[2].GetDecimalValue() != "2.05" || vals[3].GetTimestampMillis() != 1_763_800_000_002 || vals[4].GetStringValue() != "even" {
		t.Fatalf("row values %v", vals)
	}
}

func TestStreamLookupMatchesResponsesByIDAndSurvivesBadRequests(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	rpc := lookuppb.NewLookupServiceClient(rawConn(t, sc.tcp))
	stream, err := rpc.StreamLookup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for id := uint64(0); id < n; id++ {
		req := &lookuppb.StreamLookupRequest{Id: id, Table: "orders", Keys: []*lookuppb.KeyRef{{Key: pkey(i64(int64(id)))}, {Key: pkey(i64(int64(id) + 1))}}}
		if id == 13 {
			req.Table = "no_such_table"
		}
		if id == 17 {
			req.Keys[1].Key = pkey(&lookuppb.Value{Kind: &lookuppb.Value_StringValue{StringValue: "x"}})
		}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[resp.Id] = true
		switch resp.Id {
		case 13:
			if resp.Error == nil || codes.Code(resp.Error.Code) != codes.NotFound {
				t.Errorf("request 13 (unknown table): error %v, want NotFound", resp.Error)
			}
		case 17:
			if resp.Error == nil || codes.Code(resp.Error.Code) != codes.InvalidArgument || !strings.Contains(resp.Error.Message, "keys[1].key.values[0]") {
				t.Errorf("request 17 (string key): error %v, want InvalidArgument naming keys[1].key.values[0]", resp.Error)
			}
		default:
			if resp.Error != nil {
				t.Fatalf("request %d: %v", resp.Id, resp.Error)
			}
			if len(resp.Results) != 2 || resp.Results[1].Row.Values[0].GetInt64Value() != int64(resp.Id)+1 {
				t.Fatalf("request %d: results %v", resp.Id, resp.Results)
			}
		}
	}
	if len(seen) != n {
		t.Fatalf("got responses for %d requests, want %d", len(seen), n)
	}
}

func TestListAndDescribeTables(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	c := dial(t, sc.tcp)
	ctx := context.Background()
	tables, err := c.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 || tables[0].Name != "orders" || tables[1].Name != "refunds" {
		t.Fatalf("tables %v", tables)
	}
	ti, err := c.Describe(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if ti.Version != "v1" || ti.Rows != 100 || !ti.Schema.Equal(ordersSchema) || ti.CoversUntil.IsZero() {
		t.Fatalf("Describe(orders) = %+v schema %v", ti, ti.Schema)
	}
	if _, err := c.Describe(ctx, "nope"); !errors.Is(err, coldstore.ErrNoTable) || status.Code(err) != codes.NotFound {
		t.Fatalf("Describe(nope) error %v, want ErrNoTable and NotFound", err)
	}
}

// errorCase is one call expected to fail with a code and a message part.
type errorCase struct {
	name  string
	token string
	call  func(ctx context.Context, rpc lookuppb.LookupServiceClient) error
	code  codes.Code
	msg   string
	field string // the field the InvalidArgument message starts with
	// detail: the status also carries a google.rpc.BadRequest naming field
	// (the schema checks do; the validator middleware's checks do not).
	detail bool
}

func lookup(table string, k *lookuppb.Key) func(context.Context, lookuppb.LookupServiceClient) error {
	return func(ctx context.Context, rpc lookuppb.LookupServiceClient) error {
		_, err := rpc.Lookup(ctx, &lookuppb.LookupRequest{Table: table, Key: k})
		return err
	}
}

func TestServerErrorCodes(t *testing.T) {
	mem := newMemory(t)
	hooks := &hookStore{Store: mem}
	release := make(chan struct{})
	hooks.before = func(ctx context.Context, table string, keys [][]row.Value) error {
		if len(keys) > 0 && keys[0][0].Type() == row.TypeInt64 {
			switch keys[0][0].Int64() {
			case 66: // a bug in a store must not take the sidecar down
				panic("store bug")
			case 77: // a store that hangs
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-release:
				}
			case 88: // a store that is down
				return errors.New("connection refused")
			}
		}
		return nil
	}
	t.Cleanup(func() { close(release) })
	sc := startSidecar(t, hooks, sidecar.Options{
		MaxBatch:    3,
		CallTimeout: 300 * time.Millisecond,
		Jobs: []sidecar.Job{
			{Name: "enrich", Token: "tok-enrich", Tables: []string{"orders"}},
			{Name: "all", Token: "tok-all", Tables: []string{"*"}},
			{Name: "slow", Token: "tok-slow", Tables: []string{"*"}, RateLimit: 0.001, Burst: 1},
		},
	})
	rpc := lookuppb.NewLookupServiceClient(rawConn(t, sc.tcp))
	batch := func(n int) func(context.Context, lookuppb.LookupServiceClient) error {
		return func(ctx context.Context, rpc lookuppb.LookupServiceClient) error {
			req := &lookuppb.BatchLookupRequest{Table: "orders"}
			for i := 0; i < n; i++ {
				req.Keys = append(req.Keys, &lookuppb.KeyRef{Key: pkey(i64(int64(i)))})
			}
			_, err := rpc.BatchLookup(ctx, req)
			return err
		}
	}
	cases := []errorCase{
		{name: "no token", token: "", call: lookup("orders", pkey(i64(1))), code: codes.Unauthenticated, msg: "authorization: Bearer"},
		{name: "unknown token", token: "guess", call: lookup("orders", pkey(i64(1))), code: codes.Unauthenticated, msg: "unknown token"},
		{name: "table not granted", token: "tok-enrich", call: lookup("refunds", pkey(i64(1), i64(1))), code: codes.PermissionDenied, msg: `job "enrich" may not read table "refunds"`},
		{name: "table not granted in a batch", token: "tok-enrich", call: func(ctx context.Context, rpc lookuppb.LookupServiceClient) error {
			_, err := rpc.BatchLookup(ctx, &lookuppb.BatchLookupRequest{Table: "orders", Keys: []*lookuppb.KeyRef{{Key: pkey(i64(1))}, {Table: "refunds", Key: pkey(i64(1), i64(1))}}})
			return err
		}, code: codes.PermissionDenied, msg: "refunds"},
		{name: "empty table", token: "tok-all", call: lookup("", pkey(i64(1))), code: codes.InvalidArgument, msg: "table: must not be empty", field: "table"},
		{name: "empty key", token: "tok-all", call: lookup("orders", pkey()), code: codes.InvalidArgument, field: "key.values"},
		{name: "wrong key arity", token: "tok-all", call: lookup("orders", pkey(i64(1), i64(2))), code: codes.InvalidArgument, msg: "want 1 values, got 2", field: "key.values", detail: true},
		{name: "wrong key type", token: "tok-all", call: lookup("orders", pkey(&lookuppb.Value{Kind: &lookuppb.Value_StringValue{StringValue: "42"}})), code: codes.InvalidArgument, msg: "column is int64, got string_value", field: "key.values[0]", detail: true},
		{name: "null key", token: "tok-all", call: lookup("orders", pkey(&lookuppb.Value{Kind: &lookuppb.Value_NullValue{NullValue: structpb.NullValue_NULL_VALUE}})), code: codes.InvalidArgument, msg: "must not be null", field: "key.values[0]", detail: true},
		{name: "unset key value", token: "tok-all", call: lookup("orders", pkey(&lookuppb.Value{})), code: codes.InvalidArgument, msg: "not set", field: "key.values[0]", detail: true},
		{name: "wrong key type deep in a batch", token: "tok-all", call: func(ctx context.Context, rpc lookuppb.LookupServiceClient) error {
			_, err := rpc.BatchLookup(ctx, &lookuppb.BatchLookupRequest{Table: "orders", Keys: []*lookuppb.KeyRef{{Key: pkey(i64(1))}, {Key: pkey(&lookuppb.Value{Kind: &lookuppb.Value_BoolValue{BoolValue: true}})}}})
			return err
		}, code: codes.InvalidArgument, field: "keys[1].key.values[0]", detail: true},
		{name: "batch key without table", token: "tok-all", call: func(ctx context.Context, rpc lookuppb.LookupServiceClient) error {
			_, err := rpc.BatchLookup(ctx, &lookuppb.BatchLookupRequest{Keys: []*lookuppb.KeyRef{{Key: pkey(i64(1))}}})
			return err
		}, code: codes.InvalidArgument, field: "keys[0].table"},
		{name: "batch over max", token: "tok-all", call: batch(4), code: codes.InvalidArgument, msg: "4 keys is over the maximum batch size of 3", field: "keys"},
		{name: "describe without a table", token: "tok-all", call: func(ctx context.Context, rpc lookuppb.LookupServiceClient) error {
			_, err := rpc.DescribeTable(ctx, &lookuppb.DescribeTableRequest{})
			return err
		}, code: codes.InvalidArgument, field: "table", detail: true},
		{name: "unknown table", token: "tok-all", call: lookup("nope", pkey(i64(1))), code: codes.NotFound, msg: `table "nope"`},
		{name: "describe unknown table", token: "tok-all", call: func(ctx context.Context, rpc lookuppb.LookupServiceClient) error {
			_, err := rpc.DescribeTable(ctx, &lookuppb.DescribeTableRequest{Table: "nope"})
			return err
		}, code: codes.NotFound},
		{name: "panic in the store", token: "tok-all", call: lookup("orders", pkey(i64(66))), code: codes.Internal, msg: "recovered from a panic"},
		{name: "store hangs past the deadline", token: "tok-all", call: lookup("orders", pkey(i64(77))), code: codes.DeadlineExceeded},
		{name: "store down", token: "tok-all", call: lookup("orders", pkey(i64(88))), code: codes.Unavailable, msg: "connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.token != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tc.token)
			}
			err := tc.call(ctx, rpc)
			st := status.Convert(err)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Fatalf("got %v %q, want %v containing %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
			if tc.field != "" {
				if !strings.HasPrefix(st.Message(), tc.field+": ") {
					t.Errorf("message %q does not start with the field %q", st.Message(), tc.field)
				}
				var got string
				for _, d := range st.Details() {
					if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) > 0 {
						got = br.FieldViolations[0].Field
					}
				}
				if tc.detail && got != tc.field {
					t.Errorf("BadRequest field %q, want %q", got, tc.field)
				}
			}
		})
	}

	t.Run("rate limit", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer tok-slow")
		if err := lookup("orders", pkey(i64(1)))(ctx, rpc); err != nil {
			t.Fatalf("first call within the burst: %v", err)
		}
		err := lookup("orders", pkey(i64(1)))(ctx, rpc)
		if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), `job "slow" is over its rate limit`) {
			t.Fatalf("second call: %v, want ResourceExhausted naming the job", err)
		}
		// Other jobs are not limited by it.
		all := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer tok-all")
		if err := lookup("orders", pkey(i64(1)))(all, rpc); err != nil {
			t.Fatalf("another job: %v", err)
		}
	})

	t.Run("the server lives after a panic", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer tok-all")
		if err := lookup("orders", pkey(i64(5)))(ctx, rpc); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("list shows only granted tables", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer tok-enrich")
		resp, err := rpc.ListTables(ctx, &lookuppb.ListTablesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Tables) != 1 || resp.Tables[0].Name != "orders" {
			t.Fatalf("tables %v, want only orders", resp.Tables)
		}
	})

	t.Run("health needs no token", func(t *testing.T) {
		resp, err := healthpb.NewHealthClient(rawConn(t, sc.tcp)).Check(context.Background(), &healthpb.HealthCheckRequest{Service: sidecar.ServiceName})
		if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health %v %v", resp, err)
		}
	})

	t.Run("metrics count calls by code", func(t *testing.T) {
		if metricValue(t, sc, "grpc_server_handled_total") == 0 {
			t.Fatal("no grpc_server_handled_total counts")
		}
		body := scrape(t, sc.mets)
		for _, want := range []string{`grpc_code="PermissionDenied"`, `grpc_code="Internal"`, `grpc_code="ResourceExhausted"`, "hotcold_sidecar_cache_lookups_total", "hotcold_sidecar_cache_entries"} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	mem := newMemory(t)
	sc := startSidecar(t, mem, sidecar.Options{})
	c := dial(t, sc.tcp, sidecar.WithRetries(1, time.Millisecond))
	mem.Close()
	_, err := c.Get(context.Background(), "orders", key(1))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Get on a closed store: %v, want Unavailable", err)
	}
}

func TestConcurrentLookupsOfOneKeyShareOneStoreFetch(t *testing.T) {
	mem := newMemory(t)
	hooks := &hookStore{Store: mem}
	var sc *sidecarUnderTest
	const callers = 8
	gate := make(chan struct{})
	var first sync.Once
	hooks.before = func(ctx context.Context, table string, keys [][]row.Value) error {
		first.Do(func() { <-gate })
		return nil
	}
	sc = startSidecar(t, hooks, sidecar.Options{})
	c := dial(t, sc.tcp)
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Get(context.Background(), "orders", key(9))
			if err == nil && !res.Found {
				err = fmt.Errorf("key 9 not found")
			}
			errs <- err
		}()
	}
	// The first fetch is held until every other caller waits on it.
	eventually(t, "callers to coalesce", func() bool {
		return metricValue(t, sc, "hotcold_sidecar_coalesced_keys_total") == callers-1
	})
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := hooks.multiGets.Load(); n != 1 {
		t.Fatalf("store saw %d fetches, want 1", n)
	}
}

func TestHotAndMissingKeysAreServedFromTheCache(t *testing.T) {
	hooks := &hookStore{Store: newMemory(t)}
	sc := startSidecar(t, hooks, sidecar.Options{})
	c := dial(t, sc.unix)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if res, err := c.Get(ctx, "orders", key(1)); err != nil || !res.Found {
			t.Fatal(res, err)
		}
		if res, err := c.Get(ctx, "orders", key(-1)); err != nil || res.Found {
			t.Fatal(res, err)
		}
	}
	if n := hooks.multiGets.Load(); n != 2 {
		t.Fatalf("store saw %d fetches for 10 lookups of one present and one missing key, want 2", n)
	}
}

func TestNegativeCachingCanBeTurnedOff(t *testing.T) {
	hooks := &hookStore{Store: newMemory(t)}
	sc := startSidecar(t, hooks, sidecar.Options{NoNegativeCache: true})
	c := dial(t, sc.tcp)
	for i := 0; i < 3; i++ {
		if res, err := c.Get(context.Background(), "orders", key(-1)); err != nil || res.Found {
			t.Fatal(res, err)
		}
	}
	if n := hooks.multiGets.Load(); n != 3 {
		t.Fatalf("store saw %d fetches, want 3 with negative caching off", n)
	}
}

func scrape(t testing.TB, addr string) string {
	t.Helper()
	body, err := httpGet("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func metricValue(t testing.TB, sc *sidecarUnderTest, name string) float64 {
	t.Helper()
	mfs, err := sc.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

func TestADisabledCacheSendsEveryLookupToTheStore(t *testing.T) {
	hooks := &hookStore{Store: newMemory(t)}
	sc := startSidecar(t, hooks, sidecar.Options{CacheBytes: -1})
	c := dial(t, sc.tcp)
	for i := 0; i < 3; i++ {
		if res, err := c.Get(context.Background(), "orders", key(1)); err != nil || !res.Found {
			t.Fatal(res, err)
		}
	}
	if n := hooks.multiGets.Load(); n != 3 {
		t.Fatalf("store saw %d fetches, want 3 with the cache off", n)
	}
}

// TestServerHasNoUnauthenticatedLookup: the lookup API is reachable only
// through gRPC and its interceptors (authentication, grants, rate limits);
// *Server itself offers no Lookup or BatchLookup an in-process caller
// could use to skip them.
func TestServerHasNoUnauthenticatedLookup(t *testing.T) {
	m := coldstore.NewMemory()
	defer m.Close()
	srv, err := sidecar.NewServer(m, sidecar.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := any(srv).(lookuppb.LookupServiceServer); ok {
		t.Fatal("*sidecar.Server implements lookuppb.LookupServiceServer: its methods would bypass authorisation")
	}
	if _, ok := any(srv).(interface {
		Lookup(context.Context, *lookuppb.LookupRequest) (*lookuppb.LookupResponse, error)
	}); ok {
		t.Fatal("*sidecar.Server has an exported Lookup")
	}
}
