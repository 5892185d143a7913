package mock_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// The end-to-end cases: the hot/cold join is the job under test. orders
// (left) join refunds (right) on order_id, inner, output (order_id, amount,
// refund_amount) keyed by order_id.

func refundJoinConfig(c *mock.Case, emit func(row.Row) error) join.Config {
	return join.Config{
		Name:      "order_refunds",
		Type:      join.Inner,
		Left:      join.Input{Name: "orders", Schema: c.Source("orders").Schema, Key: []string{"order_id"}, EventTime: "order_time"},
		Right:     join.Input{Name: "refunds", Schema: c.Source("refunds").Schema, Key: []string{"order_id"}, EventTime: "refund_time"},
		Output:    []join.Column{{Name: "order_id", Side: join.Left, Source: "order_id"}, {Name: "amount", Side: join.Left, Source: "amount"}, {Name: "refund_amount", Side: join.Right, Source: "refund_amount"}},
		OutputKey: []string{"order_id"},
		Emit:      emit,
	}
}

// joinRunner starts the join runner on the run's isolated topics.
func joinRunner(t *testing.T, brokers []string, progress *func() int64) mock.StartFunc {
	return func(ctx context.Context, run mock.RunInfo) (func() error, error) {
		c := run.Case
		r, err := runner.New(runner.Config{
			Join:         refundJoinConfig(c, nil),
			LeftTopic:    run.Topics[c.Source("orders").Topic],
			RightTopic:   run.Topics[c.Source("refunds").Topic],
			LeftFormat:   c.Source("orders").Format,
			RightFormat:  c.Source("refunds").Format,
			OutputTopic:  run.Topics[c.Sink.Topic],
			OutputFormat: c.Sink.Format,
			Brokers:      brokers,
			Group:        "mock-" + run.RunID,
			StateDir:     filepath.Join(t.TempDir(), "state"),
			StartFrom:    runner.StartEarliest,
			NoSync:       true,
		})
		if err != nil {
			return nil, err
		}
		*progress = func() int64 { return r.Stats().Records }
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		var runErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			runErr = r.Run(rctx)
		}()
		return func() error {
			cancel()
			wg.Wait()
			if runErr != nil && !errors.Is(runErr, context.Canceled) {
				return runErr
			}
			return nil
		}, nil
	}
}

// inProcessJoin runs the join operator in this process as a mock.Job.
type inProcessJoin struct {
	op     *join.Operator
	codecs map[string]*row.Codec
	sides  map[string]join.Side
	out    []row.Row
}

func newInProcessJoin(t *testing.T, c *mock.Case) *inProcessJoin {
	t.Helper()
	db, err := state.Open(t.TempDir(), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	j := &inProcessJoin{codecs: map[string]*row.Codec{}, sides: map[string]join.Side{"orders": join.Left, "refunds": join.Right}}
	for _, name := range []string{"orders", "refunds"} {
		s := c.Source(name)
		if j.codecs[name], err = row.NewCodec(s.Format, s.Schema); err != nil {
			t.Fatal(err)
		}
	}
	j.op, err = join.New(context.Background(), db, refundJoinConfig(c, func(r row.Row) error {
		j.out = append(j.out, r)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.op.Close() })
	return j
}

func (j *inProcessJoin) Process(ctx context.Context, in mock.Input) ([]row.Row, error) {
	codec, ok := j.codecs[in.Source]
	if !ok {
		return nil, fmt.Errorf("unknown source %q", in.Source)
	}
	rows, err := codec.Decode(nil, row.Message{Key: in.Key, Value: in.Value})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if err := j.op.Push(ctx, j.sides[in.Source], r); err != nil {
			return nil, err
		}
	}
	if err := j.op.Flush(ctx); err != nil {
		return nil, err
	}
	out := j.out
	j.out = nil
	return out, nil
}

// joinE2ECases are the end-to-end cases, run on kfake, in-process and on
// a real Apache Kafka broker.
var joinE2ECases = []struct {
	name     string
	casePath string
	verdict  mock.Verdict
	diff     string
}{
	{"refund before its order is joined", "testdata/cases/refund-before-order", mock.Pass, ""},
	{"a wrong expectation fails with its diff", "testdata/cases/refund-wrong-amount.yaml", mock.Fail,
		"expected 2 rows, got 2: 0 missing, 0 unexpected, 1 changed\nchanged:\n  ~ order_id=2\n      refund_amount: expected 10.00, got 12.50\n"},
}

func checkJoinE2E(t *testing.T, res *mock.Result, verdict mock.Verdict, diff string) {
	t.Helper()
	if res.Verdict != verdict {
		t.Fatalf("verdict %s, want %s:\n%s", res.Verdict, verdict, res.Report())
	}
	if diff != "" && res.Diff.String() != diff {
		t.Fatalf("diff:\n%s\nwant:\n%s", res.Diff, diff)
	}
}

// runJoinE2EOnKafka runs the cases through mock.Run on the brokers, with
// the join runner as the job under test. With waitGroup the run first
// waits until the runner's consumer group is stable and owns every source
// partition (the case's ready.group), as a real broker needs: the group's
// first join and the new topics' metadata take seconds there.
func runJoinE2EOnKafka(t *testing.T, kopts []kgo.Opt, seeds []string, waitGroup bool) {
	for _, tc := range joinE2ECases {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCase(t, tc.casePath)
			if waitGroup {
				c.Ready = mock.Ready{Group: "mock-{run_id}", Timeout: time.Minute}
			}
			var progress func() int64
			res, err := mock.Run(ctxFor(t), c, mock.Options{
				Kafka:    kopts,
				StartJob: joinRunner(t, seeds, &progress),
				// instead of sleeping, wait until the runner has committed
				// every message sent so far: the refund is joined before
				// its order arrives, deterministically
				Sleeper: barrier(t, func() int64 { return progress() }),
				Quiet:   500 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			checkJoinE2E(t, res, tc.verdict, tc.diff)
			if len(res.Output) == 0 || !strings.HasPrefix(res.Output[0].Topic, res.RunID+".") {
				t.Fatalf("output %+v", res.Output)
			}
		})
	}
}

func TestJoinEndToEnd(t *testing.T) {
	t.Run("kafka", func(t *testing.T) {
		kopts, seeds := newClusterAddrs(t)
		runJoinE2EOnKafka(t, kopts, seeds, false)
	})

	t.Run("in-process", func(t *testing.T) {
		for _, tc := range joinE2ECases {
			t.Run(tc.name, func(t *testing.T) {
				c := loadCase(t, tc.casePath)
				res, err := mock.RunInProcess(ctxFor(t), c, newInProcessJoin(t, c), mock.Options{})
				if err != nil {
					t.Fatal(err)
				}
				checkJoinE2E(t, res, tc.verdict, tc.diff)
			})
		}
	})
}

// TestDocumentedExampleCasePasses keeps examples/mock (the case the README
// walks through) loading and passing against the join, in-process.
func TestDocumentedExampleCasePasses(t *testing.T) {
	c := loadCase(t, "../examples/mock/refund-before-order")
	res, err := mock.RunInProcess(ctxFor(t), c, newInProcessJoin(t, c), mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() {
		t.Fatalf("the documented example fails:\n%s", res.Report())
	}
}
