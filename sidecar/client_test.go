package sidecar_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

func TestAutoBatchingCoalescesConcurrentGetsIntoBatchLookups(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	c := dial(t, sc.unix, sidecar.WithAutoBatch(64, 100*time.Microsecond))
	const goroutines, each = 64, 20
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < each; n++ {
				i := int64((g*each + n) % 120) // 100..119 are missing
				res, err := c.Get(context.Background(), "orders", key(i))
				if err != nil {
					t.Error(err)
					return
				}
				if res.Found != (i < 100) || (res.Found && !res.Row.Equal(orderRow(i, "v1"))) {
					t.Errorf("Get(%d) = %v %v", i, res.Found, res.Row)
					return
				}
			}
		}()
	}
	wg.Wait()
	batches := methodCalls(t, sc, "BatchLookup")
	if unary := methodCalls(t, sc, "Lookup"); unary != 0 {
		t.Errorf("%v unary Lookup calls, want every Get batched", unary)
	}
	if batches == 0 || batches > goroutines*each/2 {
		t.Fatalf("%d Gets took %v BatchLookup calls: not coalesced", goroutines*each, batches)
	}
	t.Logf("%d Gets in %v BatchLookup calls", goroutines*each, batches)
}

func TestAutoBatchedGetWithABadTableDoesNotFailItsNeighbours(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	c := dial(t, sc.tcp, sidecar.WithAutoBatch(16, time.Millisecond))
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			table := "orders"
			if g%4 == 0 {
				table = "no_such_table"
			}
			res, err := c.Get(context.Background(), table, key(int64(g)))
			switch {
			case table == "orders" && (err != nil || !res.Found):
				t.Errorf("good Get %d: %v %v", g, res, err)
			case table != "orders" && !errors.Is(err, coldstore.ErrNoTable):
				t.Errorf("bad Get %d: %v, want ErrNoTable", g, err)
			}
		}()
	}
	wg.Wait()
}

func TestClientRetriesUnavailableWithBackoff(t *testing.T) {
	hooks := &hookStore{Store: newMemory(t)}
	var failures atomic.Int64
	failures.Store(2)
	hooks.before = func(context.Context, string, [][]row.Value) error {
		if failures.Add(-1) >= 0 {
			return errors.New("redis: connection reset by peer")
		}
		return nil
	}
	sc := startSidecar(t, hooks, sidecar.Options{})
	c := dial(t, sc.tcp, sidecar.WithRetries(3, time.Millisecond))
	res, err := c.Get(context.Background(), "orders", key(3))
	if err != nil || !res.Found {
		t.Fatalf("Get after two Unavailable answers: %v %v", res, err)
	}
	if n := hooks.multiGets.Load(); n != 3 {
		t.Fatalf("store saw %d fetches, want 3 (two failures, one success)", n)
	}

	failures.Store(10)
	_, err = c.Get(context.Background(), "orders", key(4))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Get past the retries: %v, want Unavailable", err)
	}
}

func TestClientCallTimeout(t *testing.T) {
	hooks := &hookStore{Store: newMemory(t)}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hooks.before = func(ctx context.Context, _ string, _ [][]row.Value) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	}
	sc := startSidecar(t, hooks, sidecar.Options{})
	for _, opt := range []sidecar.Option{nil, sidecar.WithAutoBatch(8, 0)} {
		opts := []sidecar.Option{sidecar.WithCallTimeout(50 * time.Millisecond)}
		if opt != nil {
			opts = append(opts, opt)
		}
		c := dial(t, sc.tcp, opts...)
		_, err := c.Get(context.Background(), "orders", key(5))
		if !errors.Is(err, context.DeadlineExceeded) || status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("Get against a hung store: %v, want DeadlineExceeded", err)
		}
	}
}

func TestClientIsAColdStore(t *testing.T) {
	mem := newMemory(t)
	sc := startSidecar(t, mem, sidecar.Options{MaxBatch: 10})
	var store coldstore.Store = dial(t, sc.tcp, sidecar.WithMaxBatch(7))
	ctx := context.Background()

	keys := make([][]row.Value, 50)
	for i := range keys {
		keys[i] = key(int64(98 - i*2)) // some beyond 99 are missing... none; mix with negatives
		if i%5 == 0 {
			keys[i] = key(int64(-i))
		}
	}
	got, err := store.MultiGet(ctx, "orders", keys)
	if err != nil {
		t.Fatal(err)
	}
	want, err := mem.MultiGet(ctx, "orders", keys)
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if got[i].Found != want[i].Found || got[i].Version != want[i].Version || !got[i].Row.Equal(want[i].Row) {
			t.Fatalf("MultiGet result %d = %+v, store says %+v", i, got[i], want[i])
		}
	}

	if _, err := store.Get(ctx, "nope", key(1)); !errors.Is(err, coldstore.ErrNoTable) {
		t.Fatalf("Get(nope): %v, want ErrNoTable", err)
	}
	if _, err := store.MultiGet(ctx, "orders", [][]row.Value{{row.StringValue("x")}}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "keys[0].key.values[0]") {
		t.Fatalf("MultiGet with a string key: %v, want InvalidArgument naming the field", err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, "orders", key(1)); !errors.Is(err, coldstore.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
}

// ticksSchema has a key of a microsecond timestamp and a decimal, the two
// key types whose proto form needs the column's unit or scale.
var ticksSchema = row.MustSchema([]row.Column{
	{Name: "at", Type: row.Timestamp(row.Microsecond, "UTC")},
	{Name: "price", Type: row.Decimal(10, 3)},
	{Name: "day", Type: row.Date32},
	{Name: "ok", Type: row.Bool},
	{Name: "f32", Type: row.Float32},
	{Name: "f64", Type: row.Float64},
	{Name: "blob", Type: row.Binary},
	{Name: "small", Type: row.Int32},
}, []string{"at", "price"}, 1)

func TestKeysWithTimestampsAndDecimalsRoundTrip(t *testing.T) {
	mem := newMemory(t)
	tick := func(i int64) row.Row {
		return row.New(
			row.TimestampValue(1_763_800_000_000_000+i),
			row.DecimalValue(decimal128.FromI64(-1234500+i)),
			row.Date32Value(20000+int32(i)),
			row.BoolValue(i%2 == 0),
			row.Float32Value(float32(i)+0.5),
			row.Float64Value(float64(i)/3),
			row.BinaryValue([]byte{byte(i), 0, 255}),
			row.Int32Value(-int32(i)),
		)
	}
	if err := mem.Publish("ticks", "t1", ticksSchema, time.Time{}, []row.Row{tick(1), tick(2)}); err != nil {
		t.Fatal(err)
	}
	sc := startSidecar(t, mem, sidecar.Options{})
	for _, opt := range []sidecar.Option{sidecar.WithRetries(0, 0), sidecar.WithAutoBatch(4, 0)} {
		c := dial(t, sc.tcp, opt)
		for _, i := range []int64{1, 2} {
			want := tick(i)
			res, err := c.Get(context.Background(), "ticks", want.KeyValues(ticksSchema))
			if err != nil {
				t.Fatal(err)
			}
			if !res.Found || !res.Row.Equal(want) {
				t.Fatalf("Get(tick %d) = %v %v, want %v", i, res.Found, res.Row.Format(ticksSchema), want.Format(ticksSchema))
			}
		}
	}
}

func TestDialRejectsBadOptions(t *testing.T) {
	_, err := sidecar.Dial("", sidecar.WithCallTimeout(-1), sidecar.WithMaxBatch(0))
	if err == nil {
		t.Fatal("Dial accepted bad options")
	}
	for _, want := range []string{"address is empty", "WithCallTimeout(-1ns)", "WithMaxBatch(0)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func methodCalls(t testing.TB, sc *sidecarUnderTest, method string) float64 {
	t.Helper()
	mfs, err := sc.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "grpc_server_handled_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "grpc_method" && l.GetValue() == method {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

// Gets abandoned by their context while queued or in flight must not
// disturb the Gets answered after them (the batcher recycles the state
// of answered Gets only).
func TestAutoBatchedGetsCanceledWhileWaitingLeaveOthersExact(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	c := dial(t, sc.tcp, sidecar.WithAutoBatch(16, 0))
	const goroutines, each = 32, 40
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < each; n++ {
				i := int64((g*each + n) % 100)
				ctx, cancel := context.WithCancel(context.Background())
				abandon := n%3 == 0
				if abandon {
					go cancel() // races the Get: queued, in flight or answered
				}
				res, err := c.Get(ctx, "orders", key(i))
				cancel()
				switch {
				case abandon && errors.Is(err, context.Canceled):
				case err != nil:
					t.Errorf("Get(%d): %v", i, err)
					return
				case !res.Found || !res.Row.Equal(orderRow(i, "v1")):
					t.Errorf("Get(%d) = %v %v, want its row", i, res.Found, res.Row)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Auto-batched Gets that share one context (which the batcher watches for
// them, see watch.go) and Gets under their own contexts all end with
// their context while their batch is stuck: the address accepts
// connections and never answers, so no call returns on its own (gRPC
// waits out its 20 s connect timeout).
func TestAutoBatchedGetsEndWithTheirContextWhileTheSidecarHangs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- conn // held open, never read or written
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case conn := <-accepted:
				conn.Close()
			default:
				return
			}
		}
	})
	c := dial(t, ln.Addr().String(), sidecar.WithAutoBatch(16, 0))
	for round := 0; round < 3; round++ {
		shared, cancelShared := context.WithCancel(context.Background())
		const sharing, own = 40, 8
		errs := make(chan error, sharing+own)
		cancels := make([]context.CancelFunc, own)
		for g := 0; g < sharing+own; g++ {
			ctx := shared
			if g >= sharing {
				ctx, cancels[g-sharing] = context.WithCancel(context.Background())
			}
			go func() {
				_, err := c.Get(ctx, "orders", key(int64(g)))
				errs <- err
			}()
		}
		if round == 0 {
			accepted <- <-accepted // the first batch reached the address
		}
		cancelShared()
		for _, cancel := range cancels {
			cancel()
		}
		for g := 0; g < sharing+own; g++ {
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Fatalf("round %d: Get = %v, want context.Canceled", round, err)
			}
		}
	}
}

// TestAutoBatchedGetsRacingCloseAllReturn closes an auto-batching client
// while Gets without a deadline are queued, in flight and arriving: every
// Get returns, with its row or with coldstore.ErrClosed.
func TestAutoBatchedGetsRacingCloseAllReturn(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	for round := 0; round < 5; round++ {
		c, err := sidecar.Dial(sc.tcp, sidecar.WithAutoBatch(16, 0))
		if err != nil {
			t.Fatal(err)
		}
		const goroutines = 48
		answered := make(chan struct{}, goroutines)
		var wg sync.WaitGroup
		var closedErrs atomic.Int64
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					i := int64((g + n) % 100)
					res, err := c.Get(context.Background(), "orders", key(i))
					if errors.Is(err, coldstore.ErrClosed) {
						closedErrs.Add(1)
						return
					}
					if err != nil || !res.Found || !res.Row.Equal(orderRow(i, "v1")) {
						t.Errorf("Get(%d) = %v %v %v before close", i, res.Found, res.Row, err)
						return
					}
					if n == 0 {
						answered <- struct{}{}
					}
				}
			}()
		}
		for g := 0; g < goroutines; g++ {
			<-answered // every goroutine is in its loop
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait() // a Get left waiting would hang here
		if closedErrs.Load() != goroutines {
			t.Fatalf("%d of %d goroutines saw ErrClosed", closedErrs.Load(), goroutines)
		}
	}
}

// TestRowsOfABatchStayExactWhileLaterCallsRun keeps the rows of MultiGets
// and auto-batched Gets (whose strings share their response's memory)
// while many later calls run, and checks them afterwards.
func TestRowsOfABatchStayExactWhileLaterCallsRun(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	c := dial(t, sc.tcp, sidecar.WithAutoBatch(32, 0))
	ctx := context.Background()
	var kept []coldstore.Result
	var want []row.Row
	for round := 0; round < 50; round++ {
		keys := make([][]row.Value, 20)
		for i := range keys {
			keys[i] = key(int64((round*7 + i) % 100))
		}
		res, err := c.MultiGet(ctx, "orders", keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			kept, want = append(kept, r), append(want, orderRow(int64((round*7+i)%100), "v1"))
		}
		g, err := c.Get(ctx, "orders", key(int64(round)))
		if err != nil {
			t.Fatal(err)
		}
		kept, want = append(kept, g), append(want, orderRow(int64(round), "v1"))
	}
	for i, r := range kept {
		if !r.Found || !r.Row.Equal(want[i]) {
			t.Fatalf("kept result %d is now %v %v, want %v", i, r.Found, r.Row, want[i])
		}
	}
}
