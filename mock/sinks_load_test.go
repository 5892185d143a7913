package mock_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
)

const sinksSource = `sources:
  - {name: a, topic: in, format: json, columns: {id: BIGINT NOT NULL}, key: [id], messages: [{row: {id: 1}}]}
`

// twoSinks is a case with two sinks; %s is replaced by the second sink's
// expect section (or other lines).
const twoSinks = sinksSource + `sinks:
  - name: totals
    topic: totals
    format: changelog-json
    columns: {id: BIGINT NOT NULL, n: BIGINT}
    key: [id]
    expect:
      rows: [{id: 1, n: 1}]
  - name: audit
    topic: audit
    format: upsert-kafka
    columns: {id: BIGINT NOT NULL, n: BIGINT}
    key: [id]
%s`

func TestLoadCaseWithASinksListReadsEachSinksExpectation(t *testing.T) {
	c, err := mock.LoadCaseFS(caseFS(strings.Replace(twoSinks, "%s", `    expect:
      changelog: audit.jsonl
      ignore: [n]
expect: {timeout: 5s}
`, 1), "audit.jsonl", `{"op": "+I", "row": {"id": 1, "n": 1}}
{"op": "-D", "row": {"id": 1}, "note": "a tombstone"}
`), "c")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sinks) != 2 || c.Sinks[0].Name != "totals" || c.Sinks[1].Name != "audit" || c.Sink.Name != "totals" {
		t.Fatalf("sinks %+v", c.Sinks)
	}
	tot, aud := c.Sinks[0].Expect, c.Sinks[1].Expect
	if !tot.HasRows || tot.HasChangelog || len(tot.Rows) != 1 {
		t.Errorf("totals expect %+v", tot)
	}
	if aud.HasRows || !aud.HasChangelog || len(aud.Changelog) != 2 || aud.Changelog[1].Kind != row.Delete || aud.Ignore[0] != "n" {
		t.Errorf("audit expect %+v", aud)
	}
	if aud.ChangelogPos[1].String() != "c/audit.jsonl:2" {
		t.Errorf("position %s", aud.ChangelogPos[1])
	}
	if c.Expect.Timeout.String() != "5s" || len(c.Expect.Rows) != 0 {
		t.Errorf("case expect %+v: with sinks it holds only timeout and quiet", c.Expect)
	}
}

func TestTheOneSinkFormatTakesAChangelogInExpectOrInSinkExpect(t *testing.T) {
	for _, tc := range []struct{ name, yaml string }{
		{"expect", "sink: {topic: o, format: changelog-json, columns: {id: BIGINT NOT NULL}, key: [id]}\nexpect:\n  changelog: [{op: +I, row: {id: 1}}, {op: -D, row: {id: 1}}]\n"},
		{"sink.expect", "sink: {topic: o, format: changelog-json, columns: {id: BIGINT NOT NULL}, key: [id], expect: {changelog: [{op: +I, row: {id: 1}}, {op: -D, row: {id: 1}}]}}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := mock.LoadCaseFS(caseFS(sinksSource+tc.yaml), "c")
			if err != nil {
				t.Fatal(err)
			}
			e := c.Sinks[0].Expect
			if len(c.Sinks) != 1 || c.Sinks[0].Name != "o" || e.HasRows || len(e.Changelog) != 2 {
				t.Fatalf("sinks %+v, expect %+v", c.Sinks, e)
			}
		})
	}
}

// TestSinkAndChangelogMistakesNameFileLineColumnAndField checks every new
// load error: where it is (file:line:col), the field as written, and what
// to do.
func TestSinkAndChangelogMistakesNameFileLineColumnAndField(t *testing.T) {
	oneSink := func(format, key, changelog string) string {
		return sinksSource + "sink: {topic: o, format: " + format + ", columns: {id: BIGINT NOT NULL, n: BIGINT}" + key + "}\nexpect:\n  changelog: ch.jsonl\n"
	}
	for _, tc := range []struct {
		name, yaml, changelog, want string
	}{
		{"a sink with no expectation", strings.Replace(twoSinks, "%s", "", 1), "",
			`c/case.yaml:11:5: sinks[1].expect: sink "audit" has no expectation: give expect.rows (its expected table, [] for an empty one) or expect.changelog`},
		{"an empty expect", strings.Replace(twoSinks, "%s", "    expect: {ignore: [n]}\n", 1), "",
			`c/case.yaml:16:5: sinks[1].expect: give the sink's expected table`},
		{"sink and sinks", sinksSource + "sink: {topic: o, format: json, columns: {id: BIGINT}}\nsinks: []\nexpect: {rows: []}\n", "",
			`c/case.yaml:4:1: sinks: give either sink (one sink) or sinks (a list), not both`},
		{"the case's rows with sinks", strings.Replace(twoSinks, "%s", "    expect: {rows: []}\nexpect:\n  rows: []\n", 1), "",
			`c/case.yaml:18:3: expect.rows: with a sinks list each sink has its own expectation: move expect.rows into sinks[i].expect.rows`},
		{"two sinks on one topic", strings.Replace(strings.Replace(twoSinks, "topic: audit", "topic: totals", 1), "%s", "    expect: {rows: []}\n", 1), "",
			`c/case.yaml:12:5: sinks[1].topic: sink "totals" already reads topic totals; a topic is one sink`},
		{"no expectation in the one-sink form", sinksSource + "sink: {topic: o, format: json, columns: {id: BIGINT}}\nexpect: {timeout: 1s}\n", "",
			`c/case.yaml:4:1: expect.rows: give the expected table: a JSONL file name or a list ([] for an empty table); or the expected changelog (expect.changelog)`},
		{"a changelog without a key", oneSink("changelog-json", "", ""), `{"op": "+I", "row": {"id": 1}}`,
			`c/case.yaml:5:3: expect.changelog: the expected changelog is compared key by key (the order between keys is not defined): declare the key of sink o`},
		{"debezium's op", oneSink("debezium-json", ", key: [id]", ""), `{"op": "u", "row": {"id": 1}}`,
			`c/ch.jsonl:1:8: op: "u" is debezium's op; changes are written as Flink reads them: debezium u is a -U (before) followed by a +U (after)`},
		{"an unknown op", oneSink("changelog-json", ", key: [id]", ""), "\n{\"row\": {\"id\": 1}, \"op\":  \"+X\"}",
			`c/ch.jsonl:2:27: op: unknown change "+X": want +I, -U, +U or -D`},
		{"no op", oneSink("changelog-json", ", key: [id]", ""), `{"row": {"id": 1}}`,
			`c/ch.jsonl:1: op: give the change: op +I, -U, +U or -D (as Flink prints them)`},
		{"an op upsert-kafka never holds", oneSink("upsert-kafka", ", key: [id]", ""), `{"op": "+U", "row": {"id": 1}}`,
			`c/ch.jsonl:1:8: op: an upsert-kafka topic never holds +U: Flink's upsert-kafka sink drops -U and every value reads back as +I (an upsert); write +I for a value and -D for a tombstone`},
		{"a retraction on json", oneSink("json", ", key: [id]", ""), `{"op": "-D", "row": {"id": 1}}`,
			`c/ch.jsonl:1:8: op: format json is append-only: every message reads as +I, so the sink never holds -D`},
		{"a tombstone with values", oneSink("upsert-kafka", ", key: [id]", ""), `{"op": "-D", "row": {"id": 1, "n": 5}}`,
			`c/ch.jsonl:1:36: row.n: an upsert-kafka -D is a tombstone, which holds only the key: drop n from this change`},
		{"a mistyped value", oneSink("changelog-json", ", key: [id]", ""), `{"op": "+I", "row": {"id": 1, "n": "two"}}`,
			`c/ch.jsonl:1:36: row.n: value "two": not an integer`},
		{"no key value", oneSink("changelog-json", ", key: [id]", ""), `{"op": "+I", "row": {"n": 2}}`,
			`c/ch.jsonl:1:21: row.id: value null: missing but the column is not nullable (column type BIGINT)`},
		{"an unknown field", oneSink("changelog-json", ", key: [id]", ""), `{"op": "+I", "rows": {"id": 1}}`,
			`c/ch.jsonl:1: rows: unknown field (known fields: op, row, note)`},
		{"an inline op", sinksSource + "sink: {topic: o, format: changelog-json, columns: {id: BIGINT NOT NULL}, key: [id]}\nexpect:\n  changelog:\n    - {op: +I, row: {id: 1}}\n    - {op: upsert, row: {id: 1}}\n", "",
			`c/case.yaml:7:12: op: unknown change "upsert"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mock.LoadCaseFS(caseFS(tc.yaml, "ch.jsonl", tc.changelog), "c")
			var ces mock.CaseErrors
			if !errors.As(err, &ces) {
				t.Fatalf("got %v, want CaseErrors", err)
			}
			if len(ces) != 1 || !strings.HasPrefix(ces[0].Error(), tc.want) {
				t.Fatalf("got\n%v\nwant one error starting\n%s", err, tc.want)
			}
		})
	}
}

func FuzzLoadExpectedChangelog(f *testing.F) {
	for _, s := range []string{
		`{"op": "+I", "row": {"id": 1, "n": 1}}`,
		`{"op": "-U", "row": {"id": 1, "n": 1}}` + "\n" + `{"op": "+U", "row": {"id": 1, "n": 2}}`,
		`{"op": "-D", "row": {"id": 2}}`,
		`{"op": "d", "row": {"id": 2}}`,
		`{"op": "+I", "row": {"id": null}}`,
		`{"op": "+I", "row": {"n": {"deep": [1, {"x": 2}]}}}`,
		`{"op": 3, "row": []}`,
		`{"op": "+I", "row": {"id": 1}} trailing`,
		`{"op": "+I", "row": {"id": 1e400}}`,
	} {
		f.Add(s, "changelog-json")
		f.Add(s, "upsert-kafka")
	}
	f.Fuzz(func(t *testing.T, lines, format string) {
		if _, err := row.ParseFormat(format); err != nil {
			return
		}
		yaml := sinksSource + "sink: {topic: o, format: " + format + ", columns: {id: BIGINT NOT NULL, n: BIGINT}, key: [id]}\nexpect:\n  changelog: ch.jsonl\n"
		c, err := mock.LoadCaseFS(caseFS(yaml, "ch.jsonl", lines), "c")
		if err != nil {
			var ces mock.CaseErrors
			if !errors.As(err, &ces) {
				t.Fatalf("not a CaseErrors: %v", err)
			}
			for _, e := range ces {
				if e.File == "" || e.Line == 0 || strings.Contains(e.Error(), "json: ") || strings.Contains(e.Error(), "row.Kind") {
					t.Fatalf("error without a position or in Go terms: %v", e)
				}
			}
			return
		}
		for i, r := range c.Sinks[0].Expect.Changelog {
			if !r.Kind.Valid() || r.Values[0].IsNull() {
				t.Fatalf("change %d: %v", i, r)
			}
		}
	})
}

// FuzzChangeOp fuzzes the op of an inline change: any string either loads
// as one of the four kinds or is an error naming the op at its column.
func FuzzChangeOp(f *testing.F) {
	for _, s := range []string{"+I", "-U", "+U", "-D", "INSERT", "DELETE", "c", "u", "UPDATE", "", " +I", "\x00", "'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, op string) {
		q := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(op)
		yaml := sinksSource + "sink: {topic: o, format: changelog-json, columns: {id: BIGINT NOT NULL}, key: [id]}\nexpect:\n  changelog:\n    - {op: \"" + q + "\", row: {id: 1}}\n"
		c, err := mock.LoadCaseFS(caseFS(yaml), "c")
		if err != nil {
			var ces mock.CaseErrors
			if !errors.As(err, &ces) {
				t.Fatalf("got %v", err)
			}
			if ces[0].Field == "op" && (ces[0].Line != 6 || ces[0].Column != 12) {
				t.Fatalf("op error not at the op: %v", err)
			}
			return
		}
		if k := c.Sinks[0].Expect.Changelog[0].Kind; !k.Valid() {
			t.Fatalf("op %q loaded as %v", op, k)
		}
	})
}

func TestAnInlineExpectedRowErrorHasItsColumn(t *testing.T) {
	_, err := mock.LoadCaseFS(caseFS(sinksSource+"sink: {topic: o, format: json, columns: {id: BIGINT NOT NULL}, key: [id]}\nexpect:\n  rows:\n    - {id: two}\n"), "c")
	var ces mock.CaseErrors
	if !errors.As(err, &ces) || len(ces) != 1 || !strings.HasPrefix(ces[0].Error(), `c/case.yaml:6:12: id: value "two": not an integer (column type BIGINT)`) {
		t.Fatalf("got %v", err)
	}
}
