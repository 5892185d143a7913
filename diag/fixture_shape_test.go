package diag_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The hand-made incident scenarios (testdata/scenarios/*/flink: values
// chosen to tell a story over a 30-minute window with logs and lag) must
// have the shape of what a real Flink 2.2.1 answers: every field path of a
// scenario file must occur in the recorded answers of the same endpoint in
// testdata/flink-2.2.1, and every metric id must be one Flink 2.2.1
// publishes. This caught the fields Flink 2.0 removed (root-exception,
// all-exceptions, the entries' location, now endpoint) and the subtasks'
// host, now endpoint.
func TestScenarioFixturesHaveTheShapeOfFlink221Answers(t *testing.T) {
	real := shapes(t, filepath.Join("testdata", "flink-2.2.1"))
	if len(real) < 9 {
		t.Fatalf("recorded Flink 2.2.1 answers cover %d endpoint kinds, want 9", len(real))
	}
	// Fields of answers the recorded jobs never produced: no checkpoint of
	// theirs failed and none restored (Flink's FailedCheckpointStatistics
	// and RestoredCheckpointStatistics).
	notRecorded := regexp.MustCompile(`^\.latest\.(failed|restored)(\.|$)|^\.history\[\]\.failure_(message|timestamp)$`)
	scenarios, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*", "flink"))
	if err != nil || len(scenarios) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, dir := range scenarios {
		for kind, paths := range shapes(t, dir) {
			for p, file := range paths {
				if _, ok := real[kind][p]; !ok && !notRecorded.MatchString(p) {
					t.Errorf("%s: %s %s is not in any Flink 2.2.1 answer of that endpoint (testdata/flink-2.2.1)", file, kind, p)
				}
			}
		}
	}
}

// shapes returns, per endpoint kind, the JSON field paths of the files
// under dir (for metric listings: the metric ids), each with a file that
// has it.
func shapes(t *testing.T, dir string) map[string]map[string]string {
	t.Helper()
	out := make(map[string]map[string]string)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		kind := endpointKind(filepath.ToSlash(path))
		if kind == "" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		if out[kind] == nil {
			out[kind] = make(map[string]string)
		}
		add := func(p string) {
			if _, ok := out[kind][p]; !ok {
				out[kind][p] = path
			}
		}
		if strings.HasSuffix(kind, "metrics") {
			ms, _ := v.([]any)
			for _, m := range ms {
				obj, _ := m.(map[string]any)
				keys := make([]string, 0, len(obj))
				for k := range obj {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				add("keys " + strings.Join(keys, ","))
				if id, ok := obj["id"].(string); ok {
					add("id " + id)
				}
			}
			return nil
		}
		fieldPaths(v, "", add)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fieldPaths(v any, prefix string, add func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			add(prefix + "." + k)
			fieldPaths(c, prefix+"."+k, add)
		}
	case []any:
		for _, c := range x {
			fieldPaths(c, prefix+"[]", add)
		}
	}
}

var (
	jobFile    = regexp.MustCompile(`/jobs/[0-9a-f]{32}\.json$`)
	vertexFile = regexp.MustCompile(`/vertices/[0-9a-f]{32}\.json$`)
)

func endpointKind(p string) string {
	switch {
	case strings.HasSuffix(p, "/flamegraph.json"):
		return "flame graph"
	case strings.HasSuffix(p, "/backpressure.json"):
		return "back-pressure"
	case strings.Contains(p, "/subtasks/") && strings.HasSuffix(p, "/metrics.json"):
		return "subtask metrics"
	case strings.Contains(p, "/taskmanagers/") && strings.HasSuffix(p, "/metrics.json"):
		return "taskmanager metrics"
	case strings.HasSuffix(p, "/exceptions.json"):
		return "exceptions"
	case strings.HasSuffix(p, "/checkpoints.json"):
		return "checkpoints"
	case vertexFile.MatchString(p):
		return "vertex"
	case strings.HasSuffix(p, "/metrics.json"):
		return "job metrics"
	case jobFile.MatchString(p):
		return "job"
	}
	return ""
}
