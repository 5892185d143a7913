package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/fixture"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/row"
)

var (
	ordersSchema  = fixture.JoinOrders
	refundsSchema = fixture.JoinRefunds(false)
	epoch         = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
)

const days = 10

type order struct {
	ID       int64  `json:"order_id"`
	TS       string `json:"order_ts"`
	Customer string `json:"customer"`
	Amount   int64  `json:"amount"`
	at       time.Time
}

type refund struct {
	ID      int64  `json:"refund_id"`
	OrderID int64  `json:"order_id"`
	TS      string `json:"refund_ts"`
	Refund  int64  `json:"refund"`
	at      time.Time
}

type workload struct {
	orders  []order
	refunds []refund
}

// genWorkload: perDay orders a day over 10 days, a third refunded up to 8
// days later (within the 10 days).
func genWorkload(perDay int) workload {
	rng := rand.New(rand.NewPCG(7, 11))
	var w workload
	end := epoch.Add(days * 24 * time.Hour)
	for d := 0; d < days; d++ {
		for i := 0; i < perDay; i++ {
			at := epoch.Add(time.Duration(d)*24*time.Hour + time.Duration(i)*(24*time.Hour)/time.Duration(perDay))
			o := order{ID: int64(len(w.orders) + 1), TS: at.Format("2006-01-02 15:04:05.000"), Customer: fmt.Sprintf("c%d", rng.IntN(9)), Amount: rng.Int64N(1000), at: at}
			w.orders = append(w.orders, o)
			if rng.IntN(3) == 0 {
				rat := at.Add(time.Duration(rng.Int64N(int64(8 * 24 * time.Hour))))
				if rat.Before(end) {
					w.refunds = append(w.refunds, refund{ID: int64(len(w.refunds) + 1), OrderID: o.ID, TS: rat.Format("2006-01-02 15:04:05.000"), Refund: rng.Int64N(100), at: rat})
				}
			}
		}
	}
	slices.SortStableFunc(w.refunds, func(a, b refund) int { return a.at.Compare(b.at) })
	return w
}

// coldStore holds the orders of the first coldDays days, covering them. t
// may be nil (in the child process); errors then panic.
func (w workload) coldStore(t testing.TB, coldDays int) *coldstore.Memory {
	covers := epoch.Add(time.Duration(coldDays) * 24 * time.Hour)
	var rows []row.Row
	for _, o := range w.orders {
		if o.at.Before(covers) {
			rows = append(rows, row.New(row.Int64Value(o.ID), row.TimestampValue(o.at.UnixMilli()), row.StringValue(o.Customer), row.Int64Value(o.Amount)))
		}
	}
	m := coldstore.NewMemory()
	if err := m.Publish("orders", "v1", ordersSchema, covers, rows); err != nil {
		if t == nil {
			panic(err)
		}
		t.Fatal(err)
	}
	return m
}

// expected is the merged output for the refunds with event time >= from.
func (w workload) expected(from time.Time) map[string]string {
	byID := map[int64]order{}
	for _, o := range w.orders {
		byID[o.ID] = o
	}
	out := map[string]string{}
	for _, r := range w.refunds {
		if r.at.Before(from) {
			continue
		}
		o := byID[r.OrderID]
		out[fmt.Sprint(r.ID)] = fmt.Sprintf("%d %s %d %d %d", o.ID, o.Customer, o.Amount, r.ID, r.Refund)
	}
	return out
}

func newCluster(t testing.TB) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders", "refunds", "out", "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// produceWorkload writes orders and refunds keyed by order id (so the
// default partitioner co-partitions them), timestamps = event time, in
// event-time order.
func produceWorkload(t testing.TB, brokers []string, w workload, extra ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	oi, ri := 0, 0
	for oi < len(w.orders) || ri < len(w.refunds) {
		if ri >= len(w.refunds) || (oi < len(w.orders) && !w.orders[oi].at.After(w.refunds[ri].at)) {
			o := w.orders[oi]
			v, _ := json.Marshal(o)
			recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprint(o.ID)), Value: v, Timestamp: o.at})
			oi++
		} else {
			r := w.refunds[ri]
			v, _ := json.Marshal(r)
			recs = append(recs, &kgo.Record{Topic: "refunds", Key: []byte(fmt.Sprint(r.OrderID)), Value: v, Timestamp: r.at})
			ri++
		}
	}
	recs = append(recs, extra...)
	for len(recs) > 0 {
		n := min(len(recs), 5000)
		if err := cl.ProduceSync(context.Background(), recs[:n]...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
	}
}

func joinConfig(cold join.Lookuper) join.Config {
	return join.Config{
		Name:  "orders_refunds",
		Left:  join.Input{Name: "orders", Schema: ordersSchema, Key: []string{"order_id"}, EventTime: "order_ts", ColdTable: "orders"},
		Right: join.Input{Name: "refunds", Schema: refundsSchema, Key: []string{"order_id"}, EventTime: "refund_ts"},
		Output: []join.Column{
			{Side: join.Left, Source: "order_id"}, {Side: join.Left, Source: "customer"}, {Side: join.Left, Source: "amount"},
			{Side: join.Right, Source: "refund_id"}, {Side: join.Right, Source: "refund"},
		},
		OutputKey: []string{"refund_id"},
		Cold:      cold,
	}
}

func runnerConfig(brokers []string, dir string, cold join.Lookuper) runner.Config {
	return runner.Config{
		Join:           joinConfig(cold),
		LeftTopic:      "orders",
		RightTopic:     "refunds",
		OutputTopic:    "out",
		Brokers:        brokers,
		Group:          "join-test",
		StateDir:       dir,
		StartFrom:      runner.StartEarliest,
		MaxPollRecords: 500,
		NoSync:         true,
		Now:            func() time.Time { return epoch.Add(days*24*time.Hour - time.Minute) },
		ClientOpts:     []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)},
	}
}

// runUntil runs the runner until cond holds, then stops it gracefully.
func runUntil(t *testing.T, cfg runner.Config, cond func(runner.Stats) bool) runner.Stats {
	t.Helper()
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.After(45 * time.Second)
	for !cond(r.Stats()) {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("runner stopped early: %v (stats %+v)", err, r.Stats())
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("condition not reached; stats %+v", r.Stats())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return r.Stats()
}

// readOutput reads the whole output topic and merges the debezium-json
// changelog into a table keyed by refund_id (upsert semantics).
func readOutput(t *testing.T, brokers []string, topic string) (table map[string]string, records int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends := endOffsets(t, cl, topic)
	var total int64
	for _, e := range ends {
		total += e
	}
	outSchema := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64}, {Name: "customer", Type: row.String, Nullable: true}, {Name: "amount", Type: row.Int64, Nullable: true},
		{Name: "refund_id", Type: row.Int64}, {Name: "refund", Type: row.Int64, Nullable: true},
	}, []string{"refund_id"}, 1)
	codec, err := row.NewCodec(row.FormatDebeziumJSON, outSchema)
	if err != nil {
		t.Fatal(err)
	}
	table = map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for int64(records) < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d output records", records, total)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			records++
			rows, err := codec.Decode(nil, row.Message{Key: rec.Key, Value: rec.Value})
			if err != nil {
				t.Fatalf("output record %d: %v: %s", rec.Offset, err, rec.Value)
			}
			for _, r := range rows {
				k := r.Values[3].String()
				if r.Kind.IsAccumulate() {
					v := fmt.Sprintf("%s %s %s %s %s", r.Values[0], r.Values[1], r.Values[2], r.Values[3], r.Values[4])
					if prev, ok := table[k]; ok && prev != v {
						// Only exact re-sends may repeat a key.
						t.Errorf("refund %s: %q after %q without a retraction", k, v, prev)
					}
					table[k] = v
				} else {
					delete(table, k)
				}
			}
		})
	}
	return table, records
}

func endOffsets(t *testing.T, cl *kgo.Client, topic string) map[int32]int64 {
	t.Helper()
	req := kgo.NewOffset().AtEnd()
	_ = req
	adm := newAdmin(cl)
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadmListedOffset) { out[o.Partition] = o.Offset })
	return out
}

func compare(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("refund %s: got %q, want %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected output %s: %q", k, v)
		}
	}
}

func TestRunnerJoinsTopicsEndToEnd(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(200)
	produceWorkload(t, c.ListenAddrs(), w)
	total := int64(len(w.orders) + len(w.refunds))
	st := runUntil(t, runnerConfig(c.ListenAddrs(), t.TempDir(), w.coldStore(t, 7)), func(s runner.Stats) bool { return s.Records >= total })
	got, _ := readOutput(t, c.ListenAddrs(), "out")
	t.Logf("stats %+v", st)
	compare(t, got, w.expected(time.Time{}))
	if st.Records != total || st.Dirty != 0 {
		t.Fatalf("stats %+v, want %d records", st, total)
	}
	if st.HotHits == 0 {
		t.Fatalf("no hot hits: %+v", st)
	}
}

func TestNewJobBootstrapsFromTheHotWindowAndTheColdStore(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(200)
	produceWorkload(t, c.ListenAddrs(), w)
	cfg := runnerConfig(c.ListenAddrs(), t.TempDir(), w.coldStore(t, days-2))
	cfg.StartFrom = runner.StartRetention // the last 2 days only
	var logs syncBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	windowStart := epoch.Add((days - 2) * 24 * time.Hour)
	var inWindow int64
	for _, o := range w.orders {
		if !o.at.Before(windowStart) {
			inWindow++
		}
	}
	for _, r := range w.refunds {
		if !r.at.Before(windowStart) {
			inWindow++
		}
	}
	st := runUntil(t, cfg, func(s runner.Stats) bool { return s.Joined >= inWindow })
	if st.Joined != inWindow || st.Records != st.Joined+st.BeforeWindow {
		t.Fatalf("stats %+v: want the %d records of the hot window joined, and every other one counted as before the window", st, inWindow)
	}
	for _, topic := range []string{"orders", "refunds"} {
		for p := 0; p < 3; p++ {
			want := fmt.Sprintf(`msg="partition starts reading" topic=%s partition=%d offset="first record at or after 2026-11-09T00:00:00Z" why="no state yet and start_from: retention`, topic, p)
			if !strings.Contains(logs.String(), want) {
				t.Errorf("the log lacks %s", want)
			}
		}
	}
	if st.ColdHits == 0 {
		t.Fatalf("no cold hits: %+v", st)
	}
	got, _ := readOutput(t, c.ListenAddrs(), "out")
	compare(t, got, w.expected(windowStart))
}

func TestDirtyMessagesFollowThePolicy(t *testing.T) {
	bad := &kgo.Record{Topic: "orders", Key: []byte("1"), Value: []byte(`{"order_id": "not a number", "order_ts": "2026-11-01 00:00:00"}`)}
	for _, policy := range []runner.DirtyPolicy{runner.Skip, runner.DeadLetter, runner.Fail} {
		t.Run(policy.String(), func(t *testing.T) {
			c := newCluster(t)
			w := genWorkload(20)
			b := *bad
			produceWorkload(t, c.ListenAddrs(), w, &b)
			total := int64(len(w.orders) + len(w.refunds) + 1)
			cfg := runnerConfig(c.ListenAddrs(), t.TempDir(), w.coldStore(t, 7))
			cfg.Dirty = policy
			cfg.DeadLetterTopic = "dlq"
			if policy == runner.Fail {
				r, err := runner.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
				defer cancel()
				err = r.Run(ctx)
				if err == nil || !strings.Contains(err.Error(), "order_id") || !strings.Contains(err.Error(), "not a number") || !strings.Contains(err.Error(), "orders/") {
					t.Fatalf("Run error = %v; want one naming the record, the field and the raw bytes", err)
				}
				return
			}
			st := runUntil(t, cfg, func(s runner.Stats) bool { return s.Records >= total })
			wantSkipped, wantDLQ := int64(1), int64(0)
			if policy == runner.DeadLetter {
				wantSkipped, wantDLQ = 0, 1
			}
			if st.Dirty != 1 || st.Skipped != wantSkipped || st.DeadLettered != wantDLQ || st.Joined != total-1 {
				t.Fatalf("stats %+v: want %d joined, %d skipped, %d dead-lettered", st, total-1, wantSkipped, wantDLQ)
			}
			got, _ := readOutput(t, c.ListenAddrs(), "out")
			compare(t, got, w.expected(time.Time{}))
			if policy == runner.DeadLetter {
				cl, _ := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
				defer cl.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				fs := cl.PollFetches(ctx)
				recs := fs.Records()
				if len(recs) != 1 || string(recs[0].Value) != string(bad.Value) {
					t.Fatalf("dead letters = %v", recs)
				}
				var hasErr bool
				for _, h := range recs[0].Headers {
					hasErr = hasErr || (h.Key == "hotcold-error" && strings.Contains(string(h.Value), "order_id"))
				}
				if !hasErr {
					t.Fatalf("dead letter headers %v lack the error", recs[0].Headers)
				}
			}
		})
	}
}

// TestKilledRunnerResumesWithoutLossOrDuplicates kills a runner process
// (SIGKILL) in the middle of the stream and restarts it: the merged output
// equals the expected join, and state updates happened exactly once.
func TestKilledRunnerResumesWithoutLossOrDuplicates(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(300)
	half := workload{orders: w.orders[:len(w.orders)/2]}
	for _, r := range w.refunds {
		if r.at.Before(half.orders[len(half.orders)-1].at) {
			half.refunds = append(half.refunds, r)
		}
	}
	produceWorkload(t, c.ListenAddrs(), half)
	dir := t.TempDir()

	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), "HOTCOLD_CHILD_BROKERS="+strings.Join(c.ListenAddrs(), ","), "HOTCOLD_CHILD_DIR="+dir)
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it once it has produced some output but cannot have finished.
	deadline := time.Now().Add(45 * time.Second)
	for {
		cl, _ := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
		ends := endOffsets(t, cl, "out")
		cl.Close()
		var n int64
		for _, e := range ends {
			n += e
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			child.Process.Kill()
			t.Fatal("the child runner produced nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rest := workload{orders: w.orders[len(w.orders)/2:]}
	for _, r := range w.refunds {
		if !r.at.Before(half.orders[len(half.orders)-1].at) {
			rest.refunds = append(rest.refunds, r)
		}
	}
	produceWorkload(t, c.ListenAddrs(), rest)
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	total := int64(len(w.orders) + len(w.refunds))
	cfg := runnerConfig(c.ListenAddrs(), dir, w.coldStore(t, 7))
	// A new group member takes over at once (the killed one would hold its
	// partitions until its session times out); offsets come from state.
	cfg.Group = "join-test-2"
	var resumed runner.Stats
	resumed = runUntil(t, cfg, func(s runner.Stats) bool {
		return s.Records > 0 && endSum(t, c.ListenAddrs(), "out") > 0 && consumedAll(t, c, dir, total)
	})
	got, n := readOutput(t, c.ListenAddrs(), "out")
	compare(t, got, w.expected(time.Time{}))
	t.Logf("resumed run consumed %d records (of %d in total); the output topic has %d records for %d rows", resumed.Records, total, n, len(got))
	if resumed.Records >= total {
		t.Fatalf("the restart re-consumed everything (%d records): it did not resume from state offsets", resumed.Records)
	}
}

const staticGroup = "join-static"

// syncBuffer is a bytes.Buffer safe for a logger and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestKilledStaticMemberTakesItsPartitionsBackAtOnce kills (SIGKILL) a
// runner that is a static group member and restarts it with the same
// instance ID in the same group: it holds its partitions again within 5 s
// (a dynamic member would wait for the dead one's 45 s session timeout),
// the merged output is exact and the group's offsets reach the end.
func TestKilledStaticMemberTakesItsPartitionsBackAtOnce(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(300)
	produceWorkload(t, c.ListenAddrs(), w)
	dir := t.TempDir()
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), "HOTCOLD_CHILD_BROKERS="+strings.Join(c.ListenAddrs(), ","), "HOTCOLD_CHILD_DIR="+dir, "HOTCOLD_CHILD_INSTANCE=runner-1")
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(45 * time.Second)
	for endSum(t, c.ListenAddrs(), "out") == 0 {
		if time.Now().After(deadline) {
			child.Process.Kill()
			t.Fatal("the child runner produced nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	cfg := runnerConfig(c.ListenAddrs(), dir, w.coldStore(t, 7))
	cfg.Group, cfg.InstanceID = staticGroup, "runner-1"
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	start := time.Now()
	for r.Stats().Partitions < 3 {
		if time.Since(start) > 5*time.Second {
			cancel()
			<-done
			t.Fatalf("the restarted static member holds %d of 3 partitions after 5 s", r.Stats().Partitions)
		}
		select {
		case err := <-done:
			t.Fatalf("runner stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Logf("the restarted static member held its partitions after %s", time.Since(start).Round(time.Millisecond))
	end := inputEnd(t, c)
	for groupCommitted(t, c, staticGroup, "orders", "refunds") < end {
		if time.Since(start) > 45*time.Second {
			t.Fatalf("group offsets at %d of %d", groupCommitted(t, c, staticGroup, "orders", "refunds"), end)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, _ := readOutput(t, c.ListenAddrs(), "out")
	compare(t, got, w.expected(time.Time{}))
}

func endSum(t *testing.T, brokers []string, topic string) int64 {
	cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
	defer cl.Close()
	var n int64
	for _, e := range endOffsets(t, cl, topic) {
		n += e
	}
	return n
}

// consumedAll reports whether the group's committed offsets reached the
// end of both inputs.
func consumedAll(t *testing.T, c *kfake.Cluster, dir string, total int64) bool {
	cl, _ := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	defer cl.Close()
	adm := newAdmin(cl)
	committed, err := adm.FetchOffsets(context.Background(), "join-test-2")
	if err != nil {
		return false
	}
	var sum int64
	committed.Each(func(o kadmOffsetResponse) { sum += o.At })
	return sum >= total
}

// TestMain runs the child process of
// TestKilledRunnerResumesWithoutLossOrDuplicates when the environment asks
// for it: a runner that works until it is killed.
func TestMain(m *testing.M) {
	brokers := os.Getenv("HOTCOLD_CHILD_BROKERS")
	if brokers == "" {
		os.Exit(m.Run())
	}
	perDay := 300
	if n, err := strconv.Atoi(os.Getenv("HOTCOLD_CHILD_PERDAY")); err == nil {
		perDay = n
	}
	w := genWorkload(perDay)
	cfg := runnerConfig(strings.Split(brokers, ","), os.Getenv("HOTCOLD_CHILD_DIR"), w.coldStore(nil, 7))
	cfg.MaxPollRecords = 50
	if id := os.Getenv("HOTCOLD_CHILD_INSTANCE"); id != "" {
		cfg.Group, cfg.InstanceID = staticGroup, id
	}
	if d, err := time.ParseDuration(os.Getenv("HOTCOLD_CHILD_SESSION_TIMEOUT")); err == nil {
		cfg.ClientOpts = append(cfg.ClientOpts, kgo.SessionTimeout(d))
	}
	cfg.NoSync = false // a killed process must find every commit
	r, err := runner.New(cfg)
	if err == nil {
		err = r.Run(context.Background())
	}
	fmt.Fprintln(os.Stderr, "child runner returned:", err)
	os.Exit(1)
}
