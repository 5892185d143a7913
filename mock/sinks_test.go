package mock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
)

const userTotalsDir = "../examples/mock/user-totals"

// IN-TEST JOB. userTotals is the job of examples/mock/user-totals: a
// Flink-style group aggregation of a debezium orders changelog (SUM(amount),
// COUNT(*) GROUP BY user_id, retracting its previous result on every
// change) to user_totals, and the latest version of each order to
// order_latest. With noRetract it forgets the -U before each +U: its final
// table is still right, its changelog is not.
type userTotals struct {
	orders    *row.Codec
	noRetract bool
	sum       map[int64]decimal128.Num
	count     map[int64]int64
}

func newUserTotals(t testing.TB, c *mock.Case, noRetract bool) *userTotals {
	t.Helper()
	codec, err := row.NewCodec(row.FormatDebeziumJSON, c.Source("orders").Schema)
	if err != nil {
		t.Fatal(err)
	}
	return &userTotals{orders: codec, noRetract: noRetract, sum: map[int64]decimal128.Num{}, count: map[int64]int64{}}
}

func (j *userTotals) Process(context.Context, mock.Input) ([]row.Row, error) {
	return nil, errors.New("userTotals writes two sinks")
}

func (j *userTotals) ProcessSinks(_ context.Context, in mock.Input) (map[string][]row.Row, error) {
	changes, err := j.orders.Decode(nil, row.Message{Key: in.Key, Value: in.Value})
	if err != nil {
		return nil, err
	}
	out := map[string][]row.Row{}
	for _, o := range changes {
		out["order_latest"] = append(out["order_latest"], o) // upsert-kafka drops the -U
		user, amount := o.Values[1].Int64(), o.Values[2].Decimal()
		old, had := j.sum[user], j.count[user] > 0
		total := func() row.Row {
			return row.New(row.Int64Value(user), row.DecimalValue(j.sum[user]), row.Int64Value(j.count[user]))
		}
		var before row.Row
		if had {
			before = total()
		}
		if o.Kind.IsAccumulate() {
			j.sum[user] = old.Add(amount)
			j.count[user]++
		} else {
			j.sum[user] = old.Sub(amount)
			j.count[user]--
		}
		totals := out["user_totals"]
		switch {
		case !had:
			totals = append(totals, total())
		case j.count[user] == 0:
			before.Kind = row.Delete
			totals = append(totals, before)
		default:
			if !j.noRetract {
				before.Kind = row.UpdateBefore
				totals = append(totals, before)
			}
			after := total()
			after.Kind = row.UpdateAfter
			totals = append(totals, after)
		}
		out["user_totals"] = totals
	}
	return out, nil
}

func TestExampleUserTotalsPassesBothSinksAndTheirChangelogsInProcess(t *testing.T) {
	c := loadCase(t, userTotalsDir)
	res, err := mock.RunInProcess(ctxFor(t), c, newUserTotals(t, c, false), mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() || len(res.Sinks) != 2 {
		t.Fatalf("want pass on two sinks:\n%s", res.Report())
	}
	for _, s := range res.Sinks {
		if !s.Passed() || s.Diff == nil || !s.Diff.Empty() || s.Changelog == nil || !s.Changelog.Empty() {
			t.Fatalf("sink %s:\n%s", s.Name, res.Report())
		}
	}
	if got := res.Sinks[0].Changelog.Actual; got != 10 {
		t.Errorf("user_totals holds %d changes, want 10", got)
	}
	// the report names each sink
	for _, want := range []string{"sink user_totals (topic user_totals, changelog-json): PASS (10 messages, 2 rows)", "sink order_latest (topic order_latest, upsert-kafka): PASS (5 messages, 2 rows)"} {
		if !strings.Contains(res.Report(), want) {
			t.Errorf("report lacks %q:\n%s", want, res.Report())
		}
	}
}

func TestExampleUserTotalsPassesThroughKafka(t *testing.T) {
	kopts := newCluster(t)
	c := loadCase(t, userTotalsDir)
	job := newUserTotals(t, c, false)
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true, Quiet: 300 * time.Millisecond, StartJob: kafkaJob(t, kopts, job)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() || len(res.Sinks) != 2 || len(res.Sinks[0].Output) != 10 || len(res.Sinks[1].Output) != 5 {
		t.Fatalf("want pass:\n%s", res.Report())
	}
	if res.Sinks[1].Topic != res.RunID+".order_latest" {
		t.Errorf("sink topic %s, want the run's isolated topic", res.Sinks[1].Topic)
	}
}

func TestAJobThatForgetsItsRetractionsPassesTheTableButFailsTheChangelog(t *testing.T) {
	c := loadCase(t, userTotalsDir)
	res, err := mock.RunInProcess(ctxFor(t), c, newUserTotals(t, c, true), mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	totals := res.Sinks[0]
	if res.Verdict != mock.Fail || totals.Verdict != mock.Fail || !totals.Diff.Empty() || res.Sinks[1].Verdict != mock.Pass {
		t.Fatalf("want user_totals to fail on its changelog alone:\n%s", res.Report())
	}
	d := totals.Changelog
	if len(d.Diverged) != 1 || len(d.Missing) != 0 || len(d.Unexpected) != 0 {
		t.Fatalf("changelog diff:\n%s", d)
	}
	if !strings.Contains(res.Reason, "sink user_totals: changelog differs: 1 diverged, 0 missing, 0 unexpected key(s)") {
		t.Errorf("reason %q does not name the sink and the difference", res.Reason)
	}
	want := `      ~ user_id=7 at change 2 (9 expected, 5 received):
          expected -U {"user_id":7,"total":10.00,"orders":1} (` + filepath.Join(userTotalsDir, "user_totals.changelog.jsonl") + `:2)
          got      +U {"user_id":7,"total":15.00,"orders":2} (user_totals/0@1)
`
	if !strings.Contains(res.Report(), want) {
		t.Fatalf("report:\n%s\nwant it to contain:\n%s", res.Report(), want)
	}
}

// copyCase copies a case directory to a temporary one and applies edits
// (file name -> old -> new) there.
func copyCase(t *testing.T, dir string, edits ...string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		for i := 0; i+2 < len(edits); i += 3 {
			if edits[i] == e.Name() {
				if !strings.Contains(s, edits[i+1]) {
					t.Fatalf("%s does not contain %q", e.Name(), edits[i+1])
				}
				s = strings.Replace(s, edits[i+1], edits[i+2], 1)
			}
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

func TestAChangedExpectedChangeFailsWithTheColumnAndEveryOtherKeyIsStillCompared(t *testing.T) {
	dir := copyCase(t, userTotalsDir,
		"user_totals.changelog.jsonl", `{"op": "+U", "row": {"user_id": 7, "total": 5.00, "orders": 1}}`, `{"op": "+U", "row": {"user_id": 7, "total": 6.00, "orders": 1}}`,
		"case.yaml", `- {op: -D, row: {order_id: 2}}`, `- {op: -D, row: {order_id: 2}}
        - {op: +I, row: {order_id: 4, user_id: 9, amount: "1.00"}}`)
	c := loadCase(t, dir)
	res, err := mock.RunInProcess(ctxFor(t), c, newUserTotals(t, c, false), mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != mock.Fail || res.Sinks[0].Verdict != mock.Fail || res.Sinks[1].Verdict != mock.Fail {
		t.Fatalf("both sinks should fail:\n%s", res.Report())
	}
	rep := res.Report()
	for _, want := range []string{
		"~ user_id=7 at change 5 (9 expected, 9 received):",
		"expected +U {\"user_id\":7,\"total\":6.00,\"orders\":1}",
		"got      +U {\"user_id\":7,\"total\":5.00,\"orders\":1}",
		"total: expected 6.00, got 5.00",
		"missing keys (expected changes, none produced):\n      - order_id=4: +I {\"order_id\":4,\"user_id\":9,\"amount\":1.00}",
		"sink order_latest: changelog differs: 0 diverged, 1 missing, 0 unexpected key(s)",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
}

func TestAPlainJobCannotRunACaseWithSeveralSinks(t *testing.T) {
	c := loadCase(t, userTotalsDir)
	job := mock.JobFunc(func(context.Context, mock.Input) ([]row.Row, error) { return nil, nil })
	res, err := mock.RunInProcess(ctxFor(t), c, job, mock.Options{})
	if err == nil || res.Verdict != mock.Error || !strings.Contains(err.Error(), "has 2 sinks (user_totals, order_latest): the job must be a mock.SinksJob") {
		t.Fatalf("got %v", err)
	}
}

func TestASinksJobNamingAnUndeclaredSinkIsAnError(t *testing.T) {
	c := loadCase(t, userTotalsDir)
	job := mock.SinksFunc(func(context.Context, mock.Input) (map[string][]row.Row, error) {
		return map[string][]row.Row{"user_total": {row.New(row.Int64Value(1), row.NullValue(), row.NullValue())}}, nil
	})
	_, err := mock.RunInProcess(ctxFor(t), c, job, mock.Options{})
	if err == nil || !strings.Contains(err.Error(), `rows for sink "user_total"`) || !strings.Contains(err.Error(), "sinks: user_totals, order_latest") {
		t.Fatalf("got %v", err)
	}
}

func TestASinkThatReceivesNothingFailsNamingItWhileTheOtherSinkPasses(t *testing.T) {
	c := loadCase(t, userTotalsDir)
	inner := newUserTotals(t, c, false)
	job := mock.SinksFunc(func(ctx context.Context, in mock.Input) (map[string][]row.Row, error) {
		by, err := inner.ProcessSinks(ctx, in)
		delete(by, "order_latest")
		return by, err
	})
	res, err := mock.RunInProcess(ctxFor(t), c, job, mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != mock.Fail || res.Sinks[0].Verdict != mock.Pass || res.Sinks[1].Verdict != mock.Fail {
		t.Fatalf("verdicts:\n%s", res.Report())
	}
	if want := "sink order_latest: no output on sink order_latest: the job emitted no row for it"; res.Reason != want {
		t.Fatalf("reason %q, want %q", res.Reason, want)
	}
}

func TestTheResultJSONAndTablesShowEverySink(t *testing.T) {
	c := loadCase(t, userTotalsDir)
	res, err := mock.RunInProcess(ctxFor(t), c, newUserTotals(t, c, true), mock.Options{RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := mock.OpenStore(ctxFor(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	prefix, err := st.SaveResult(ctxFor(t), res)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := st.LoadSummary(ctxFor(t), prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Sinks) != 2 || sum.Sinks[0].Verdict != mock.Fail || sum.Sinks[1].Verdict != mock.Pass || sum.Sinks[0].Changelog == nil {
		t.Fatalf("summary %+v", sum)
	}
	dv := sum.Sinks[0].Changelog.Diverged
	compact := func(raw json.RawMessage) string {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return b.String()
	}
	if len(dv) != 1 || dv[0].Key != "user_id=7" || dv[0].Change != 2 ||
		compact(dv[0].Expected) != `{"op":"-U","row":{"user_id":7,"total":10.00,"orders":1}}` ||
		compact(dv[0].Actual) != `{"op":"+U","row":{"user_id":7,"total":15.00,"orders":2}}` {
		t.Fatalf("diverged %+v", dv)
	}
	latest, err := st.ReadFile(ctxFor(t), prefix+"table.order_latest.jsonl")
	if err != nil || string(latest) != "{\"order_id\":1,\"user_id\":7,\"amount\":12.50}\n{\"order_id\":3,\"user_id\":8,\"amount\":3.00}\n" {
		t.Fatalf("table.order_latest.jsonl %q %v", latest, err)
	}
}

func TestAJobIsGivenTheTopicOfEverySink(t *testing.T) {
	c := loadCase(t, userTotalsDir)
	env := mock.JobEnv(mock.RunInfo{RunID: "r1", Case: c, Topics: map[string]string{"orders": "r1.orders", "user_totals": "r1.user_totals", "order_latest": "r1.order_latest"}}, "k:9092")
	got := strings.Join(env, "\n") + "\n"
	for _, want := range []string{"HOTCOLD_SINK_TOPIC=r1.user_totals\n", "HOTCOLD_SINK_USER_TOTALS=r1.user_totals\n", "HOTCOLD_SINK_ORDER_LATEST=r1.order_latest\n", "HOTCOLD_SOURCE_ORDERS=r1.orders\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("environment lacks %q:\n%s", want, got)
		}
	}
}
