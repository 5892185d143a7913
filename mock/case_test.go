package mock_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/hotcold/hotcold/mock"
)

func loadCase(t testing.TB, path string) *mock.Case {
	t.Helper()
	c, err := mock.LoadCase(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return c
}

func TestLoadCaseDirectoryFollowsTheOrderList(t *testing.T) {
	c := loadCase(t, "testdata/cases/refund-before-order")
	if c.Name != "refund-before-order" {
		t.Errorf("name %q, want the directory name", c.Name)
	}
	var got []string
	for _, st := range c.Steps() {
		got = append(got, st.Source.Name+":"+string(st.Message().Key)+":"+st.Wait.String())
	}
	want := []string{
		`refunds:{"refund_id":900}:0s`,
		`orders:{"order_id":1}:50ms`,
		`orders:{"order_id":2}:50ms`,
		`refunds:{"refund_id":901}:50ms`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	first := c.Steps()[0].Message()
	if got := string(first.Value); got != `{"refund_id":900,"order_id":1,"refund_amount":5.00,"refund_time":"2026-11-22 09:59:00.000"}` {
		t.Errorf("row line encoded as %s", got)
	}
	if first.Note != "refund before its order" || first.Pos.Line != 1 || !strings.HasSuffix(first.Pos.File, "refunds.jsonl") {
		t.Errorf("note %q pos %v", first.Note, first.Pos)
	}
	if !first.Timestamp.Equal(time.Date(2026, 11, 22, 9, 59, 0, 0, time.UTC)) {
		t.Errorf("timestamp %v", first.Timestamp)
	}
	if len(c.Expect.Rows) != 2 || c.Expect.Timeout != 20*time.Second || c.Expect.Quiet != 500*time.Millisecond {
		t.Errorf("expect %+v", c.Expect)
	}
	if n := len(c.Files()); n != 4 {
		t.Errorf("%d files recorded, want case.yaml and three JSONL files", n)
	}
}

func TestLoadCaseSingleFileWithInlineMessages(t *testing.T) {
	c := loadCase(t, "testdata/cases/passthrough.yaml")
	if c.Name != "passthrough" || c.Schedule.By != mock.BySources {
		t.Fatalf("name %q by %q", c.Name, c.Schedule.By)
	}
	msgs := c.Sources[0].Messages
	if len(msgs) != 6 {
		t.Fatalf("%d messages", len(msgs))
	}
	if got := string(msgs[0].Value); got != `{"before":null,"after":{"id":1,"owner":"ann","balance":10.00},"op":"c"}` {
		t.Errorf("+I row encoded as %s", got)
	}
	if got := string(msgs[2].Value); !strings.Contains(got, `"op":"d"`) {
		t.Errorf("-U row encoded as %s, want a debezium delete of the before image", got)
	}
	last := msgs[5]
	if got := string(last.Value); got != `{"before":null,"after":{"id":3,"owner":"cy","balance":5},"op":"c"}` {
		t.Errorf("inline value kept as %s", got)
	}
	if len(last.Headers) != 1 || last.Headers[0].Key != "trace" || string(last.Headers[0].Value) != "t-3" {
		t.Errorf("headers %+v", last.Headers)
	}
	if last.Pos.Line != 21 {
		t.Errorf("inline message at line %d, want 21", last.Pos.Line)
	}
	if c.Steps()[0].Wait != 0 || c.Steps()[1].Wait != 10*time.Millisecond {
		t.Errorf("waits %v %v", c.Steps()[0].Wait, c.Steps()[1].Wait)
	}
}

func TestLoadCaseReportsEveryProblemWithFileLineAndField(t *testing.T) {
	_, err := mock.LoadCase("testdata/bad/many")
	var ces mock.CaseErrors
	if !errors.As(err, &ces) {
		t.Fatalf("want CaseErrors, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`many/orders.jsonl:2: row: column "amount" (DECIMAL(10, 2))`,
		`many/orders.jsonl:3: valeu: unknown field`,
		`many/orders.jsonl:4:`,
		`many/orders.jsonl:5: row: column "amont" is not a column of source "orders"`,
		`many/orders.jsonl:6:`, `partition: want a JSON integer`,
		`many/orders.jsonl:7: op: unknown changelog kind "+X"`,
		`many/case.yaml:11: sources[1].topic: "bad topic" is not a valid Kafka topic name`,
		`many/case.yaml:12: sources[1].format: unknown format "debezium"`,
		`many/case.yaml:13: sources[1].messages: cannot read missing.jsonl`,
		`many/case.yaml:15: schedule.interval: "soon" is not a duration`,
		`many/case.yaml:16: schedule.order[1]: no source is named "payments"`,
		`many/case.yaml:22:13: sink.columns.amount: unknown type "MONEY": use a Flink SQL type: BOOLEAN, INT, BIGINT`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not report %q:\n%s", want, msg)
		}
	}
	for _, e := range ces {
		if e.File == "" || e.Line == 0 {
			t.Errorf("problem without a position: %v", e)
		}
		for _, internal := range []string{"row: ", "decimal128", "!!", "mock.", "int64", "unmarshal"} {
			if strings.Contains(e.Problem, internal) {
				t.Errorf("problem speaks Go or YAML internals (%s): %v", internal, e)
			}
		}
	}
}

func caseFS(caseYAML string, files ...string) fstest.MapFS {
	fsys := fstest.MapFS{"c/case.yaml": {Data: []byte(caseYAML)}}
	for i := 0; i+1 < len(files); i += 2 {
		fsys["c/"+files[i]] = &fstest.MapFile{Data: []byte(files[i+1])}
	}
	return fsys
}

const twoSources = `
sources:
  - {name: a, topic: ta, messages: a.jsonl}
  - {name: b, topic: tb, messages: b.jsonl}
%s
sink: {topic: out, format: json, columns: {v: STRING}}
expect: {rows: []}
`

func TestScheduleByTimestampMergesSources(t *testing.T) {
	fsys := caseFS(strings.Replace(twoSources, "%s", "schedule: {by: timestamp, interval: 1s}", 1),
		"a.jsonl", `{"value":"a1","timestamp":1000}
{"value":"a2","timestamp":3000,"after":"5s"}`,
		"b.jsonl", `{"value":"b1","timestamp":"1970-01-01 00:00:02.000"}
{"value":"b2","timestamp":3000}`)
	c, err := mock.LoadCaseFS(fsys, "c")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range c.Steps() {
		got = append(got, string(st.Message().Value)+"@"+st.Wait.String())
	}
	if want := `"a1"@0s "b1"@1s "a2"@5s "b2"@1s`; strings.Join(got, " ") != want {
		t.Fatalf("got %s, want %s (ties keep source order; a message's after overrides the interval)", strings.Join(got, " "), want)
	}
}

func TestScheduleOrderMustSendEveryMessageExactlyOnce(t *testing.T) {
	files := []string{"a.jsonl", `{"value":1}` + "\n" + `{"value":2}`, "b.jsonl", `{"value":3}`}
	for _, tc := range []struct{ order, want string }{
		{"[a, b]", `sends 1 of the 2 messages of a; add entries for the rest (e.g. "a*")`},
		{"[a*3, b]", `takes 3 more message(s) of a, but only 2 of its 2 are left`},
		{"[a*, a*, b]", `a* sends the rest of a, but every one of its 2 messages is already sent`},
	} {
		_, err := mock.LoadCaseFS(caseFS(strings.Replace(twoSources, "%s", "schedule: {order: "+tc.order+"}", 1), files...), "c")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("order %s: got %v, want %q", tc.order, err, tc.want)
		}
	}
	c, err := mock.LoadCaseFS(caseFS(strings.Replace(twoSources, "%s", "schedule:\n  order: [b, {source: a, count: all, after: 3s}]", 1), files...), "c")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range c.Steps() {
		got = append(got, string(st.Message().Value)+"@"+st.Wait.String())
	}
	if want := "3@0s 1@3s 2@0s"; strings.Join(got, " ") != want {
		t.Fatalf("got %s, want %s", strings.Join(got, " "), want)
	}
}

func TestMessageFieldsRoundTripThroughTheJSONLWriter(t *testing.T) {
	recs := []mock.Record{
		{Key: []byte(`{"id":1}`), Value: []byte(`{"id":1,"v":"x"}`), Timestamp: time.UnixMilli(1700000000123).UTC(),
			Headers: []mock.Header{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}},
		{Key: []byte("plain text key"), Value: nil},
		{Key: []byte{0xff, 0x00}, Value: []byte{0x01, 0xfe}, Headers: []mock.Header{{Key: "a", Value: []byte{0xff}}, {Key: "a", Value: nil}}},
		{Value: []byte("  {\"spaced\": true}\n")},
		{Value: []byte("null")},
		{Value: []byte{}},
	}
	var jsonl strings.Builder
	for _, r := range recs {
		jsonl.Write(mock.AppendRecordJSON(nil, r, []byte(`{"topic":"t","partition":0,"offset":1}`)))
		jsonl.WriteByte('\n')
	}
	fsys := caseFS(`
sources: [{name: s, topic: t, format: raw, key_format: raw, messages: m.jsonl}]
sink: {topic: out, format: json, columns: {v: STRING}}
expect: {rows: []}
`, "m.jsonl", jsonl.String())
	c, err := mock.LoadCaseFS(fsys, "c")
	if err != nil {
		t.Fatalf("%v\n%s", err, jsonl.String())
	}
	for i, m := range c.Sources[0].Messages {
		r := recs[i]
		if string(m.Key) != string(r.Key) || (m.Key == nil) != (r.Key == nil) {
			t.Errorf("message %d: key %q, want %q", i, m.Key, r.Key)
		}
		if string(m.Value) != string(r.Value) || (m.Value == nil) != (r.Value == nil) {
			t.Errorf("message %d: value %q, want %q", i, m.Value, r.Value)
		}
		if !m.Timestamp.Equal(r.Timestamp) {
			t.Errorf("message %d: timestamp %v, want %v", i, m.Timestamp, r.Timestamp)
		}
		if len(m.Headers) != len(r.Headers) {
			t.Fatalf("message %d: headers %+v, want %+v", i, m.Headers, r.Headers)
		}
		for j := range m.Headers {
			if m.Headers[j].Key != r.Headers[j].Key || string(m.Headers[j].Value) != string(r.Headers[j].Value) {
				t.Errorf("message %d header %d: %+v, want %+v", i, j, m.Headers[j], r.Headers[j])
			}
		}
	}
}

func TestSourceFormatsCheckValues(t *testing.T) {
	for _, tc := range []struct{ source, line, want string }{
		{`{name: s, topic: t, messages: m.jsonl}`, `{"value_text":"not json"}`, `is not JSON but the format is json; set format: raw`},
		{`{name: s, topic: t, messages: m.jsonl}`, `{"key_text":"k","value":{}}`, `is not JSON but key_format is json; set key_format: raw`},
		{`{name: s, topic: t, format: debezium-json, columns: {id: INT}, messages: m.jsonl}`, `{"value":{"after":{"id":1}}}`, `not valid debezium-json for the declared columns: debezium-json: field "op" is missing`},
		{`{name: s, topic: t, format: upsert-kafka, columns: {id: INT NOT NULL}, key: [id], messages: m.jsonl}`, `{"row":{"id":1},"op":"-U"}`, `-U rows are dropped by format upsert-kafka; remove the line`},
		{`{name: s, topic: t, format: json, columns: {id: INT}, messages: m.jsonl}`, `{"row":{"id":1},"op":"-D"}`, `format json is append-only`},
		{`{name: s, topic: t, messages: m.jsonl}`, `{"row":{"id":1}}`, `declares no columns`},
		{`{name: s, topic: t, messages: m.jsonl}`, `{"value":1,"value_text":"1"}`, `give only one of value, value_text, value_base64 and row`},
		{`{name: s, topic: t, messages: m.jsonl}`, `{"key":1}`, `the message has no value`},
		{`{name: s, topic: t, messages: m.jsonl}`, `{"value":1,"after":"-1s"}`, `after: "-1s" is negative`},
		{`{name: s, topic: t, messages: m.jsonl}`, `{"value":1,"timestamp":"yesterday"}`, `timestamp: want "2006-01-02 15:04:05.000"`},
		{`{name: s, topic: t, messages: m.jsonl}`, `{"value":1,"headers":{"a":1}}`, `headers: header "a": want a string value`},
		{`{name: s, topic: t, messages: m.jsonl}`, `{"value":1} trailing`, `m.jsonl:1:`},
	} {
		fsys := caseFS("sources: ["+tc.source+"]\nsink: {topic: out, format: json, columns: {v: STRING}}\nexpect: {rows: []}\n", "m.jsonl", tc.line)
		_, err := mock.LoadCaseFS(fsys, "c")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.line, err, tc.want)
		}
	}
}

func TestExpectedRowsAreTypedAndKeyedRowsUnique(t *testing.T) {
	base := "sources: [{name: s, topic: t, messages: []}]\nsink: {topic: out, format: upsert-kafka, columns: {id: BIGINT NOT NULL, amount: \"DECIMAL(5, 2)\", at: TIMESTAMP(3)}, key: [id]}\nexpect: {rows: e.jsonl}\n"
	for _, tc := range []struct{ rows, want string }{
		{`{"id":1,"amount":"abc"}`, `e.jsonl:1: amount: value "abc": not a decimal(5, 2)`},
		{`{"id":1,"amount":1,"extra":2}`, `e.jsonl:1: extra: not a sink column (columns: id, amount, at)`},
		{`{"amount":1}`, `e.jsonl:1: id: value null: missing but the column is not nullable`},
		{"{\"id\":1}\n\n{\"id\":1}", `e.jsonl:3: a second expected row with key id=1 (first at c/e.jsonl:1)`},
		{`{"id":1,"at":"never"}`, `e.jsonl:1: at: value "never": not a timestamp`},
		{`[1]`, `e.jsonl:1: not a JSON object`},
	} {
		_, err := mock.LoadCaseFS(caseFS(base, "e.jsonl", tc.rows), "c")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.rows, err, tc.want)
		}
	}
}

// FuzzLoadCase feeds arbitrary case files and JSONL lines to the loader:
// it must return a case or CaseErrors, never panic.
func FuzzLoadCase(f *testing.F) {
	f.Add("sources: [{name: s, topic: t, messages: m.jsonl}]\nsink: {topic: o, format: json, columns: {v: STRING}}\nexpect: {rows: e.jsonl}\n", `{"value":{"v":"x"},"key":1,"headers":{"h":"v"},"timestamp":1}`, `{"v":"x"}`)
	f.Add("sources: [{name: s, topic: t, format: debezium-json, columns: {id: INT NOT NULL}, key: [id], messages: m.jsonl}]\nschedule: {order: [s*]}\nsink: {topic: o, format: upsert-kafka, columns: {id: INT NOT NULL}, key: [id]}\nexpect: {rows: e.jsonl, ignore: [id]}\n", `{"row":{"id":1},"op":"-D"}`, `{"id":"1"}`)
	f.Add("sources: [{name: s, topic: t, messages: [{value: 1}, {row: {a: [1, *x]}}]}]\nsink: {topic: o, format: canal-json, columns: {v: DECIMAL(3,1)}}\nexpect: {rows: [{v: 1.25}]}\n", `{"value_base64":"!!"}`, "")
	f.Add("a: &x [*x]", "{", "}")
	f.Fuzz(func(t *testing.T, caseYAML, messages, expected string) {
		c, err := mock.LoadCaseFS(caseFS(caseYAML, "m.jsonl", messages, "e.jsonl", expected), "c")
		if err == nil && c == nil {
			t.Fatal("nil case without an error")
		}
		if err != nil && c != nil {
			t.Fatal("a case and an error")
		}
	})
}

// FuzzRecordJSONRoundTrip: any key, value and header bytes written by
// AppendRecordJSON (what sample and stored runs write) read back as the
// same message.
func FuzzRecordJSONRoundTrip(f *testing.F) {
	f.Add([]byte(`{"id":1}`), []byte(`{"a":[1,2]}`), "h", []byte("v"), false)
	f.Add([]byte(nil), []byte(nil), "", []byte(nil), true)
	f.Add([]byte("null"), []byte(" 1"), "k", []byte{0xff}, false)
	f.Add([]byte{0, 1, 2}, []byte("line\nbreak"), "\x00", []byte(""), false)
	f.Fuzz(func(t *testing.T, key, value []byte, hk string, hv []byte, tombstone bool) {
		if tombstone {
			value = nil
		} else if value == nil {
			value = []byte{}
		}
		rec := mock.Record{Key: key, Value: value, Timestamp: time.UnixMilli(1234).UTC()}
		if hk != "" && utf8.ValidString(hk) {
			rec.Headers = []mock.Header{{Key: hk, Value: hv}}
		}
		line := mock.AppendRecordJSON(nil, rec, nil)
		fsys := caseFS("sources: [{name: s, topic: t, format: raw, key_format: raw, messages: m.jsonl}]\nsink: {topic: o, format: json, columns: {v: STRING}}\nexpect: {rows: []}\n", "m.jsonl", string(line))
		c, err := mock.LoadCaseFS(fsys, "c")
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		m := c.Sources[0].Messages[0]
		if !bytes.Equal(m.Key, rec.Key) || (m.Key == nil) != (rec.Key == nil) {
			t.Fatalf("key %q, want %q (%s)", m.Key, rec.Key, line)
		}
		if !bytes.Equal(m.Value, rec.Value) || (m.Value == nil) != (rec.Value == nil) {
			t.Fatalf("value %q, want %q (%s)", m.Value, rec.Value, line)
		}
		if len(m.Headers) != len(rec.Headers) || len(m.Headers) == 1 && (m.Headers[0].Key != hk || !bytes.Equal(m.Headers[0].Value, hv)) {
			t.Fatalf("headers %+v, want %+v (%s)", m.Headers, rec.Headers, line)
		}
	})
}

func TestLoadCaseTypeErrorsNameTheFieldWithoutFollowOns(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"text for a number": {"sink:\n  topic: out\n  format: json\n  partitions: two\n  columns: {id: BIGINT}\n", `c/case.yaml:7:15: sink.partitions: want a whole number, got "two"`},
		"misspelt field":    {"sink:\n  topic: out\n  format: json\n  colums: {id: BIGINT}\n", `c/case.yaml:7:3: sink.colums: unknown field; did you mean columns?`},
		"list for text":     {"sink:\n  topic: [out]\n  format: json\n  columns: {id: BIGINT}\n", `c/case.yaml:5:10: sink.topic: want text, got a list`},
	} {
		t.Run(name, func(t *testing.T) {
			fsys := caseFS("name: x\nsources:\n  - {name: a, topic: in, format: json, columns: {id: BIGINT}, messages: [{row: {id: 1}}]}\n" + tc.yaml + "expect:\n  rows: []\n")
			_, err := mock.LoadCaseFS(fsys, "c")
			var ces mock.CaseErrors
			if !errors.As(err, &ces) || len(ces) != 1 || !strings.HasPrefix(ces[0].Error(), tc.want) {
				t.Fatalf("got %v\nwant only %s", err, tc.want)
			}
		})
	}
}
