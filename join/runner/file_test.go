package runner_test

import (
	"os"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
)

func TestExampleConfigFileBuildsARunner(t *testing.T) {
	f, err := runner.ReadFile("../testdata/join.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Cold.Store != "pebble:./cold" || f.Metrics.Listen == "" {
		t.Fatalf("cold/metrics not read: %+v", f.Cold)
	}
	cfg, err := f.Config(coldstore.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Join.Left.ColdTable != "orders" || cfg.Join.Type != join.Inner || cfg.Dirty != runner.DeadLetter || cfg.OutputTopic != "orders_refunds" || cfg.InstanceID != "orders-refunds-join-1" {
		t.Fatalf("config = %+v", cfg)
	}
	if _, err := runner.New(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFileErrorsNameFileLineAndColumn(t *testing.T) {
	data, err := os.ReadFile("../testdata/join.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "{name: refund, type: \"decimal(18, 2)\"", "{name: refund, type: \"decimel(18, 2)\"", 1)
	bad = strings.Replace(bad, "{from: right.refund}", "{from: middle.refund}", 1)
	f, err := runner.ParseFile("join.yaml", []byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Config(coldstore.NewMemory())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`right.columns[3].type: column "refund": row: unknown type "decimel(18, 2)"`, `join.yaml:70:14: output.columns[4].from: "middle.refund": the side must be left or right`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	_, err = runner.ParseFile("join.yaml", []byte("name: x\nretention_day: 3\n"))
	if err == nil || !strings.Contains(err.Error(), `join.yaml:2:1: retention_day: unknown field; did you mean retention_days?`) {
		t.Fatalf("unknown key error = %v", err)
	}
}

// Mistakes a user makes in join.yaml: each is reported with the file, line,
// column and YAML path, all at once, in the user's words.
func TestConfigMistakesAreAllReportedWithTheirPlace(t *testing.T) {
	data, err := os.ReadFile("../testdata/join.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("the example lacks %q", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	shape := string(data)
	shape = edit(shape, "retention_days: 2", "retention_day: 2")
	shape = edit(shape, "  max_poll_records: 10000", "  max_poll_records: lots")
	shape = edit(shape, "  refresh: 1m", "  refresh: often")
	shape = edit(shape, "  brokers: [localhost:9092]", "  brokers: localhost:9092")
	_, err = runner.ParseFile("join.yaml", []byte(shape))
	for _, want := range []string{
		`join.yaml:9:1: retention_day: unknown field; did you mean retention_days?`,
		"kafka.brokers: want a list",
		`join.yaml:28:21: kafka.max_poll_records: want a whole number, got "lots"`,
		`join.yaml:83:12: cold.refresh: want a duration such as 500ms, 2s or 1m30s, got "often"`,
		"(4 problems)",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFile error %v\nlacks %q", err, want)
		}
	}

	sem := string(data)
	sem = edit(sem, "  group: orders-refunds-join\n", "")
	sem = edit(sem, "retention_days: 2", "retention_days: -1")
	sem = edit(sem, "  event_time: refund_ts\n", "")
	sem = edit(sem, "  event_time: created_at", "  event_time: created")
	sem = edit(sem, "  dead_letter_topic: orders_refunds_dirty\n", "")
	sem = edit(sem, "  key: [refund_id]", "  key: [refund_idd]")
	sem = edit(sem, "{from: left.user_id}", "{from: left.userid}")
	sem = edit(sem, "  dir: ./state/orders_refunds", "  dir: \"\"")
	f, err := runner.ParseFile("join.yaml", []byte(sem))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Config(coldstore.NewMemory())
	for _, want := range []string{
		"join.yaml:9:17: retention_days: is -1: want 1 or more days",
		"join.yaml:18:3: kafka.group: is missing",
		`left.event_time: "created" is not a column of left.columns (order_id, user_id, amount, status, created_at)`,
		"right.event_time: is missing: name the right input's event-time column",
		"dirty.dead_letter_topic: is missing",
		`output.key[0]: "refund_idd" is not an output column`,
		`output.columns[1].from: "left.userid": left.columns has no column "userid"`,
		"state.dir: is missing",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Config error %v\nlacks %q", err, want)
		}
	}
	for _, goSpeak := range []string{"Group is", "RetentionDays", "runner.File", "StateDir", "DeadLetterTopic", `event-time column ""`} {
		if err != nil && strings.Contains(err.Error(), goSpeak) {
			t.Errorf("Config error speaks Go (%q): %v", goSpeak, err)
		}
	}
}

func TestConfigWithColdTableNeedsAColdStore(t *testing.T) {
	f, err := runner.ReadFile("../testdata/join.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Config(nil); err == nil || !strings.Contains(err.Error(), "cold.store or cold.sidecar") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseFile(f *testing.F) {
	data, err := os.ReadFile("../testdata/join.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("name: x\nleft: {columns: [{name: a, type: int}]}\n"))
	f.Add([]byte("output: {columns: [{from: left}]}"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := runner.ParseFile("fuzz.yaml", b)
		if err != nil {
			return
		}
		cfg, err := file.Config(coldstore.NewMemory())
		if err != nil {
			return
		}
		_, _ = runner.New(cfg)
	})
}
