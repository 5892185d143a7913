package mock_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
)

const endCase = `name: ends
sources:
  - name: orders
    topic: orders
    format: json
    partitions: 2
    columns: {id: BIGINT NOT NULL, ts: TIMESTAMP(3)}
    key: [id]
    messages:
      - {row: {id: 1, ts: "2026-11-22 10:00:00.000"}}
    end: {row: {id: 0, ts: "9999-12-31 23:59:59.999"}}
  - name: refunds
    topic: refunds
    format: json
    columns: {id: BIGINT NOT NULL}
    key: [id]
    messages:
      - {row: {id: 7}}
sink:
  topic: out
  format: upsert-kafka
  columns: {id: BIGINT NOT NULL}
  key: [id]
expect:
  rows: [{id: 1}, {id: 7}]
`

func TestADeclaredEndGoesLastToEveryPartitionWithAFarFutureTimestamp(t *testing.T) {
	c, err := mock.LoadCaseFS(caseFS(endCase), "c")
	if err != nil {
		t.Fatal(err)
	}
	steps := c.Steps()
	if len(steps) != 4 {
		t.Fatalf("%d steps, want 2 messages and an end per partition of orders", len(steps))
	}
	var parts []int32
	for _, st := range steps[2:] {
		m := st.Message()
		if st.Source.Name != "orders" || !m.Timestamp.Equal(mock.EndOfTime) || !strings.Contains(string(m.Value), `"id":0`) {
			t.Fatalf("end step %+v: %s at %s", st, m.Value, m.Timestamp)
		}
		parts = append(parts, m.Partition)
	}
	if parts[0] != 0 || parts[1] != 1 {
		t.Fatalf("end partitions %v, want [0 1]", parts)
	}
	// An in-process job sees the ends after every other input and can
	// close its windows on them.
	var seen []string
	job := mock.JobFunc(func(_ context.Context, in mock.Input) ([]row.Row, error) {
		seen = append(seen, in.Source)
		if in.Timestamp.Equal(mock.EndOfTime) {
			return nil, nil
		}
		var v struct{ ID int64 }
		if err := json.Unmarshal(in.Value, &v); err != nil {
			return nil, err
		}
		return []row.Row{row.New(row.Int64Value(v.ID))}, nil
	})
	res, err := mock.RunInProcess(ctxFor(t), c, job, mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() || strings.Join(seen, ",") != "orders,refunds,orders,orders" {
		t.Fatalf("seen %v:\n%s", seen, res.Report())
	}
}

func TestADeclaredEndMustBeAMessage(t *testing.T) {
	_, err := mock.LoadCaseFS(caseFS(strings.Replace(endCase, `end: {row: {id: 0, ts: "9999-12-31 23:59:59.999"}}`, `end: soon`, 1)), "c")
	var ces mock.CaseErrors
	if !errors.As(err, &ces) || len(ces) != 1 || !strings.Contains(ces[0].Error(), "sources[0].end: want one message") {
		t.Fatalf("got %v", err)
	}
}
