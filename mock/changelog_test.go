package mock_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
)

func changeOf(k row.Kind, id int64, n any) row.Row {
	v := row.NullValue()
	if n != nil {
		v = row.Int64Value(int64(n.(int)))
	}
	r := row.New(row.Int64Value(id), v)
	r.Kind = k
	return r
}

func changelogSchema(t *testing.T) *row.Schema {
	t.Helper()
	s, err := row.NewSchema([]row.Column{{Name: "id", Type: row.Int64}, {Name: "n", Type: row.Int64, Nullable: true}}, []string{"id"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestChangelogsCompareInOrderWithinAKeyAndInAnyOrderAcrossKeys(t *testing.T) {
	s := changelogSchema(t)
	expected := []row.Row{changeOf(row.Insert, 1, 1), changeOf(row.UpdateBefore, 1, 1), changeOf(row.UpdateAfter, 1, 2), changeOf(row.Insert, 2, 5)}
	actual := []row.Row{changeOf(row.Insert, 2, 5), changeOf(row.Insert, 1, 1), changeOf(row.UpdateBefore, 1, 1), changeOf(row.UpdateAfter, 1, 2)}
	if d := mock.CompareChangelog(s, expected, actual, mock.CompareOptions{}); !d.Empty() {
		t.Fatalf("keys interleaved differently must match:\n%s", d)
	}
	swapped := []row.Row{changeOf(row.Insert, 1, 1), changeOf(row.UpdateAfter, 1, 2), changeOf(row.UpdateBefore, 1, 1), changeOf(row.Insert, 2, 5)}
	d := mock.CompareChangelog(s, expected, swapped, mock.CompareOptions{})
	if len(d.Diverged) != 1 || d.Diverged[0].Index != 1 || d.Diverged[0].Expected.Kind != row.UpdateBefore || d.Diverged[0].Actual.Kind != row.UpdateAfter {
		t.Fatalf("order within a key is compared:\n%s", d)
	}
}

func TestChangelogReportsExtraAndMissingChangesAndKeys(t *testing.T) {
	s := changelogSchema(t)
	expected := []row.Row{changeOf(row.Insert, 1, 1), changeOf(row.Insert, 2, 2), changeOf(row.Delete, 2, 2), changeOf(row.Insert, 3, 3)}
	actual := []row.Row{changeOf(row.Insert, 1, 1), changeOf(row.Delete, 1, 1), changeOf(row.Insert, 2, 2), changeOf(row.Insert, 4, 4)}
	d := mock.CompareChangelog(s, expected, actual, mock.CompareOptions{})
	if len(d.Diverged) != 2 || len(d.Missing) != 1 || len(d.Unexpected) != 1 {
		t.Fatalf("diff:\n%s", d)
	}
	want := `changelog: expected 4 changes of 3 keys, got 4 changes of 3 keys: 2 diverged, 1 missing, 1 unexpected
diverged (first difference per key):
  ~ id=1 at change 2 (1 expected, 2 received):
      expected no more changes
      got      -D {"id":1,"n":1}
  ~ id=2 at change 2 (2 expected, 1 received):
      expected -D {"id":2,"n":2}
      got      no more changes
missing keys (expected changes, none produced):
  - id=3: +I {"id":3,"n":3}
unexpected keys (changed, not expected):
  + id=4: +I {"id":4,"n":4}
`
	if d.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", d, want)
	}
}

func TestATombstoneMatchesAnExpectedDeleteOfItsKeyAndIgnoredColumnsAreNotCompared(t *testing.T) {
	s := changelogSchema(t)
	expected := []row.Row{changeOf(row.Insert, 1, 1), changeOf(row.Delete, 1, 1)}
	actual := []row.Row{changeOf(row.Insert, 1, 7), changeOf(row.Delete, 1, nil)} // a tombstone holds the key only
	if d := mock.CompareChangelog(s, expected, actual, mock.CompareOptions{Ignore: []string{"n"}}); !d.Empty() {
		t.Fatalf("diff:\n%s", d)
	}
	d := mock.CompareChangelog(s, expected, actual, mock.CompareOptions{})
	if len(d.Diverged) != 1 || d.Diverged[0].Index != 0 || !strings.Contains(d.String(), "n: expected 1, got 7") {
		t.Fatalf("diff:\n%s", d)
	}
}

func TestAnExpectedRetractionOnADebeziumSinkNotesHowFlinkWritesIt(t *testing.T) {
	c, err := mock.LoadCaseFS(caseFS(`sources:
  - {name: in, topic: in, format: json, columns: {id: BIGINT NOT NULL}, key: [id], messages: [{row: {id: 1}}]}
sink: {topic: out, format: debezium-json, columns: {id: BIGINT NOT NULL, n: BIGINT}, key: [id]}
expect:
  changelog:
    - {op: +I, row: {id: 1, n: 1}}
    - {op: -U, row: {id: 1, n: 1}}
    - {op: +U, row: {id: 1, n: 2}}
`), "c")
	if err != nil {
		t.Fatal(err)
	}
	job := mock.JobFunc(func(context.Context, mock.Input) ([]row.Row, error) {
		return []row.Row{changeOf(row.Insert, 1, 1), changeOf(row.UpdateBefore, 1, 1), changeOf(row.UpdateAfter, 1, 2)}, nil
	})
	res, err := mock.RunInProcess(ctxFor(t), c, job, mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != mock.Fail || !strings.Contains(res.Report(), "note: Flink's debezium-json sink writes -U as a delete and +U as an insert, which read back as -D and +I") {
		t.Fatalf("report:\n%s", res.Report())
	}
}

func TestWithoutAKeyTheWholeChangelogIsOneSequence(t *testing.T) {
	s, err := row.NewSchema([]row.Column{{Name: "id", Type: row.Int64}, {Name: "n", Type: row.Int64, Nullable: true}}, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	d := mock.CompareChangelog(s, []row.Row{changeOf(row.Insert, 1, 1), changeOf(row.Insert, 2, 2)}, []row.Row{changeOf(row.Insert, 2, 2), changeOf(row.Insert, 1, 1)}, mock.CompareOptions{})
	if len(d.Diverged) != 1 || d.Diverged[0].Key != "(the whole changelog: no key)" || d.Diverged[0].Index != 0 {
		t.Fatalf("diff:\n%s", d)
	}
}
