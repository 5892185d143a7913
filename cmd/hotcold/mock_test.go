package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const mockCases = "../../mock/testdata/cases"

func mockCluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func runMock(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func exitCode(err error) int {
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return -1
}

func TestMockRunPassesAndStoresTheRun(t *testing.T) {
	addr := mockCluster(t)
	store := t.TempDir()
	out, err := runMock(t, "mock", "run", filepath.Join(mockCases, "passthrough.yaml"), "--brokers", addr, "--full-speed", "--store", store)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "passthrough: PASS (6 inputs, 6 outputs, 2 rows") || !strings.Contains(out, "stored at "+filepath.Join(store, "runs", "passthrough")) {
		t.Fatalf("output:\n%s", out)
	}
	runs, _ := filepath.Glob(filepath.Join(store, "runs", "passthrough", "*", "table.jsonl"))
	if len(runs) != 1 {
		t.Fatalf("stored runs %v", runs)
	}
	table, _ := os.ReadFile(runs[0])
	if string(table) != "{\"id\":1,\"owner\":\"ann\",\"balance\":7.50}\n{\"id\":3,\"owner\":\"cy\",\"balance\":5.00}\n" {
		t.Fatalf("table.jsonl:\n%s", table)
	}
}

func TestMockTestPrintsATableWritesJUnitAndExitsNonZero(t *testing.T) {
	addr := mockCluster(t)
	junit := filepath.Join(t.TempDir(), "out", "junit.xml")
	out, err := runMock(t, "mock", "test",
		filepath.Join(mockCases, "passthrough.yaml"),
		filepath.Join(mockCases, "refund-before-order"), // no job runs: no output
		"--brokers", addr, "--full-speed", "--timeout", "200ms", "--store", "", "--junit", junit)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "1 of 2 cases failed") {
		t.Fatalf("err %v\n%s", err, out)
	}
	for _, want := range []string{"passthrough", "PASS", "refund-before-order", "FAIL", "no output on sink topic", "1 passed, 1 failed", "JUnit XML written to " + junit} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil || doc.Tests != 2 || doc.Failures != 1 {
		t.Fatalf("junit %+v %v\n%s", doc, err, data)
	}
}

func TestMockSampleWritesCaseMessagesAndReplaysThem(t *testing.T) {
	addr := mockCluster(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, "accounts"); err != nil {
		t.Fatal(err)
	}
	for i, v := range []string{
		`{"before":null,"after":{"id":1,"owner":"ann","balance":1},"op":"c"}`,
		`{"before":null,"after":{"id":2,"owner":"bob","balance":2},"op":"c"}`,
		`{"before":{"id":1,"owner":"ann","balance":1},"after":{"id":1,"owner":"ann","balance":3},"op":"u"}`,
	} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "accounts", Key: []byte{'1' + byte(i)}, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "c", "accounts.jsonl")
	out, err := runMock(t, "mock", "sample", "--brokers", addr, "--topic", "accounts", "--last", "2", "-o", jsonl)
	if err != nil || !strings.Contains(out, "wrote 2 messages of accounts") {
		t.Fatalf("%v\n%s", err, out)
	}
	// a case around the sample: the identity job again, sink = source topic
	caseYAML := `sources:
  - {name: accounts, topic: accounts, format: debezium-json, messages: accounts.jsonl}
sink:
  topic: accounts
  format: debezium-json
  columns: {id: BIGINT NOT NULL, owner: STRING, balance: "DECIMAL(10, 2)"}
  key: [id]
expect:
  rows:
    - {id: 1, owner: ann, balance: 3}
    - {id: 2, owner: bob, balance: 2}
  quiet: 200ms
`
	if err := os.WriteFile(filepath.Join(dir, "c", "case.yaml"), []byte(caseYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runMock(t, "mock", "check", filepath.Join(dir, "c")); err != nil || !strings.Contains(out, "c: ok: 1 sources, 2 messages") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	// with a primary key, the sampled update upserts ann although her insert was not sampled
	out, err = runMock(t, "mock", "run", filepath.Join(dir, "c"), "--brokers", addr, "--full-speed", "--store", "")
	if err != nil || !strings.Contains(out, "c: PASS (2 inputs, 2 outputs, 2 rows") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestMockCheckReportsBadCasesWithFileAndLine(t *testing.T) {
	out, err := runMock(t, "mock", "check", filepath.Join(mockCases, "refund-before-order"), "../../mock/testdata/bad/many")
	if exitCode(err) != 1 {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"refund-before-order: ok: 2 sources, 4 messages, sink order_refunds (upsert-kafka, key order_id), 2 expected rows",
		"order: refunds orders orders refunds (150ms of scheduled waits)",
		"bad/many/orders.jsonl:3: valeu: unknown field"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestMockPushAndRunAStoredCase(t *testing.T) {
	addr := mockCluster(t)
	store := t.TempDir()
	out, err := runMock(t, "mock", "push", filepath.Join(mockCases, "passthrough.yaml"), "--store", store)
	if err != nil || !strings.Contains(out, "run it as store:passthrough") {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := runMock(t, "mock", "run", "store:passthrough", "--brokers", addr, "--speed", "0", "--store", store); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	to := t.TempDir()
	if out, err := runMock(t, "mock", "pull", "passthrough", "--store", store, "--to", to); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(to, "passthrough", "case.yaml")); err != nil {
		t.Fatal(err)
	}
}

func TestMockFlagsExplainMistakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mock", "run", filepath.Join(mockCases, "passthrough.yaml")}, "--brokers"},
		{[]string{"mock", "sample", "--brokers", "x:1"}, "--topic"},
		{[]string{"mock", "sample", "--brokers", "x:1", "--topic", "t", "--from-time", "noon"}, "want RFC 3339"},
		{[]string{"mock", "sample", "--brokers", "x:1", "--topic", "t", "--group-free=false"}, "never joins a consumer group"},
		{[]string{"mock", "run", "store:x", "--brokers", "x:1", "--store", ""}, "give --store to load stored cases"},
		{[]string{"mock", "run", "nope", "--brokers", "x:1", "--store", ""}, "nope"},
	} {
		_, err := runMock(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestMockCheckAndTestShowEverySinkOfACase(t *testing.T) {
	example := filepath.Join("..", "..", "examples", "mock", "user-totals")
	out, err := runMock(t, "mock", "check", example)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if want := "user-totals: ok: 1 sources, 5 messages, sink user_totals (changelog-json, key user_id), 2 expected rows, 10 expected changes; sink order_latest (upsert-kafka, key order_id), 2 expected rows, 5 expected changes"; !strings.Contains(out, want) {
		t.Fatalf("output lacks %q:\n%s", want, out)
	}
	// No job runs: both sinks expect rows and receive nothing.
	addr := mockCluster(t)
	out, err = runMock(t, "mock", "test", example, "--brokers", addr, "--full-speed", "--timeout", "200ms", "--store", "")
	if exitCode(err) != 1 {
		t.Fatalf("err %v\n%s", err, out)
	}
	for _, want := range []string{"sink user_totals: no output on sink topic ", "sink order_latest: no output on sink topic ", "0 passed, 1 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	rows := map[string]string{} // the table's first column -> its verdict
	for _, ln := range strings.Split(out, "\n") {
		f := strings.Fields(ln)
		switch {
		case len(f) > 2 && f[0] == "sink" && rows["sink "+f[1]] == "": // the table comes first
			rows["sink "+f[1]] = f[2]
		case len(f) > 1 && f[0] == "user-totals" && rows[f[0]] == "":
			rows[f[0]] = f[1]
		}
	}
	if rows["user-totals"] != "FAIL" || rows["sink user_totals"] != "FAIL" || rows["sink order_latest"] != "FAIL" {
		t.Errorf("table rows %v:\n%s", rows, out)
	}
}

// With --json, mock run reports each case's replay as JSON events on
// stderr, the last one final with every input sent.
func TestMockRunReportsProgressAsJSONEvents(t *testing.T) {
	addr := mockCluster(t)
	out, err := runMock(t, "mock", "run", filepath.Join(mockCases, "passthrough.yaml"), "--brokers", addr, "--full-speed", "--store", "", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var last map[string]any
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("progress line %q is not JSON: %v", line, err)
		}
		last = ev
	}
	if last == nil {
		t.Fatalf("no JSON progress event in:\n%s", out)
	}
	if last["op"] != "replay passthrough" || last["done"] != float64(6) || last["total"] != float64(6) || last["final"] != true ||
		last["detail"] != "6 received" {
		t.Fatalf("last progress event %v, want replay passthrough 6 of 6, 6 received, final\n%s", last, out)
	}
}
