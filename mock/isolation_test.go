package mock_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/mock"
)

// transactionalJob writes two transactions to the sink: one committed
// (owner "committed"), one aborted (owner "aborted").
func transactionalJob(t *testing.T, kopts []kgo.Opt) mock.StartFunc {
	return func(ctx context.Context, run mock.RunInfo) (func() error, error) {
		cl, err := kgo.NewClient(append(append([]kgo.Opt{}, kopts...), kgo.TransactionalID("job-under-test-"+run.RunID), kgo.DefaultProduceTopic(run.Topics["out"]))...)
		if err != nil {
			return nil, err
		}
		txn := func(value string, commit kgo.TransactionEndTry) error {
			if err := cl.BeginTransaction(); err != nil {
				return err
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(value)}).FirstErr(); err != nil {
				return err
			}
			return cl.EndTransaction(ctx, commit)
		}
		if err := txn(`{"before":null,"after":{"id":1,"owner":"committed"},"op":"c"}`, kgo.TryCommit); err != nil {
			cl.Close()
			return nil, err
		}
		if err := txn(`{"before":null,"after":{"id":2,"owner":"aborted"},"op":"c"}`, kgo.TryAbort); err != nil {
			cl.Close()
			return nil, err
		}
		return func() error { cl.Close(); return nil }, nil
	}
}

func transactionalCase(t *testing.T, isolation string) *mock.Case {
	t.Helper()
	p := filepath.Join(t.TempDir(), "txn.yaml")
	if err := os.WriteFile(p, []byte(`name: txn
sources:
  - name: changes
    topic: in
    format: json
    columns: {id: BIGINT NOT NULL}
    key: [id]
    messages: [{row: {id: 1}}]
sink:
  topic: out
  format: debezium-json
  columns: {id: BIGINT NOT NULL, owner: STRING}
  key: [id]
`+isolation+`
expect:
  rows: [{id: 1, owner: committed}]
  timeout: 20s
  quiet: 300ms
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return loadCase(t, p)
}

func TestRunReadsAnExactlyOnceSinkCommittedByDefault(t *testing.T) {
	kopts := newCluster(t)
	res, err := mock.Run(ctxFor(t), transactionalCase(t, ""), mock.Options{Kafka: kopts, FullSpeed: true, StartJob: transactionalJob(t, kopts)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() {
		t.Fatalf("the aborted transaction was merged:\n%s", res.Report())
	}
}

func TestRunReadsTheSinkUncommittedOnRequest(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml string
		opt  mock.Isolation
	}{
		"case option": {yaml: "  isolation: read_uncommitted"},
		"run option":  {opt: mock.ReadUncommitted},
	} {
		t.Run(name, func(t *testing.T) {
			kopts := newCluster(t)
			res, err := mock.Run(ctxFor(t), transactionalCase(t, tc.yaml), mock.Options{Kafka: kopts, FullSpeed: true, Isolation: tc.opt, StartJob: transactionalJob(t, kopts)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Verdict != mock.Fail || !strings.Contains(res.Diff.String(), "aborted") {
				t.Fatalf("want the aborted row as unexpected:\n%s", res.Report())
			}
		})
	}
}

func TestLoadCaseRejectsAnUnknownIsolation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "txn.yaml")
	os.WriteFile(p, []byte("name: x\nsink:\n  topic: out\n  format: debezium-json\n  isolation: serializable\n  columns: {id: BIGINT}\n"), 0o644)
	_, err := mock.LoadCase(p)
	if err == nil || !strings.Contains(err.Error(), "sink.isolation") || !strings.Contains(err.Error(), "read_committed") {
		t.Fatalf("got %v", err)
	}
}
