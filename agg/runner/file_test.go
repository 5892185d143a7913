package runner_test

import (
	"os"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/agg/runner"
)

func TestExampleAggConfigFileBuildsARunner(t *testing.T) {
	f, err := runner.ReadFile("../testdata/agg.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = t.TempDir()
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.OutputSchema().Names(), ","); got != "order_id,refunds,refund_total,biggest_refund,last_refund_ts" {
		t.Fatalf("output columns %s", got)
	}
}

// Mistakes a user makes in agg.yaml: each is reported with the file, line,
// column and YAML path, all at once, in the user's words.
func TestAggConfigMistakesAreAllReportedWithTheirPlace(t *testing.T) {
	data, err := os.ReadFile("../testdata/agg.yaml")
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
	shape := edit(string(data), "group_by: [order_id]", "groupby: [order_id]")
	shape = edit(shape, "  max_poll_records: 10000", "  max_poll_records: lots")
	_, err = runner.ParseFile("agg.yaml", []byte(shape))
	for _, want := range []string{
		`agg.yaml:41:1: groupby: unknown field; did you mean group_by?`,
		`agg.yaml:19:21: kafka.max_poll_records: want a whole number, got "lots"`,
		"(2 problems)",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFile error %v\nlacks %q", err, want)
		}
	}

	sem := edit(string(data), "  group: refunds-by-order\n", "")
	sem = edit(sem, "group_by: [order_id]", "group_by: [order]")
	sem = edit(sem, "{name: refund_total, func: sum, arg: refund}", "{name: refund_total, func: total, arg: refund}")
	sem = edit(sem, "{name: biggest_refund, func: max, arg: refund}", "{name: biggest_refund, func: max}")
	sem = edit(sem, "  dead_letter_topic: refunds_by_order_dirty\n", "")
	sem = edit(sem, "  policy: fail", "  policy: dead-letter")
	f, err := runner.ParseFile("agg.yaml", []byte(sem))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Config()
	for _, want := range []string{
		"agg.yaml:11:3: kafka.group: is missing",
		`agg.yaml:40:12: group_by[0]: "order" is not a column of input.columns (order_id, user_id, order_amount, refund_id, refund, refund_ts)`,
		`aggregates[1].func: "total": want count, sum, min, max, avg, first_value or last_value`,
		"aggregates[2].arg: is missing: max needs the input column it reads",
		"dirty.dead_letter_topic: is missing",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Config error %v\nlacks %q", err, want)
		}
	}
	for _, goSpeak := range []string{"Group is", "GroupBy", "runner.File", "StateDir", "DeadLetterTopic", "Arg"} {
		if err != nil && strings.Contains(err.Error(), goSpeak) {
			t.Errorf("Config error speaks Go (%q): %v", goSpeak, err)
		}
	}
}

func FuzzParseAggFile(f *testing.F) {
	data, err := os.ReadFile("../testdata/agg.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("name: x\ninput: {columns: [{name: a, type: int}]}\ngroup_by: [a]\n"))
	f.Add([]byte("aggregates: [{func: count}]"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := runner.ParseFile("fuzz.yaml", b)
		if err != nil {
			return
		}
		cfg, err := file.Config()
		if err != nil {
			return
		}
		cfg.StateDir = t.TempDir()
		_, _ = runner.New(cfg)
	})
}
