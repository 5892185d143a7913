package statemigrate_test

import (
	"os"
	"testing"
)

// TestDemoManifestsAreCurrent keeps testdata/demo-v{1,2}.yaml (used by the
// README and the fuzz seeds) equal to the demo job's manifests. Set
// HOTCOLD_WRITE_TESTDATA=1 to rewrite them.
func TestDemoManifestsAreCurrent(t *testing.T) {
	for logic, path := range map[int]string{1: "testdata/demo-v1.yaml", 2: "testdata/demo-v2.yaml"} {
		b, err := demoManifest(t, logic).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if os.Getenv("HOTCOLD_WRITE_TESTDATA") == "1" {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		cur, err := os.ReadFile(path)
		if err != nil || string(cur) != string(b) {
			t.Fatalf("%s is stale (rerun with HOTCOLD_WRITE_TESTDATA=1): %v\nwant:\n%s", path, err, b)
		}
	}
}
