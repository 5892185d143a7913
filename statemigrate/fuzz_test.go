package statemigrate_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/statemigrate"
)

// FuzzParseManifest parses arbitrary manifests: never a panic; a manifest
// that parses marshals to one that parses to the same plan verdict
// (unchanged against itself).
func FuzzParseManifest(f *testing.F) {
	for _, p := range []string{"testdata/demo-v1.yaml", "testdata/demo-v2.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("job: x\noperators:\n  - id: a\n    kind: agg\n    inputs: [i]\n    output: o\n    version: 1\n    state:\n      - namespace: a\n        key: [k]\n        columns:\n          - {name: k, type: int64}\n          - {name: n, type: int64, agg: count}\n"))
	f.Add([]byte("job: [\n"))
	f.Add([]byte("operators:\n  - columns: {name: x, type: decimal128(99, 2)}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := manifest.Parse("fuzz.yaml", b)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := manifest.Parse("again.yaml", out)
		if err != nil {
			t.Fatalf("re-parse of\n%s\n: %v", out, err)
		}
		if p := statemigrate.NewPlan(m, m2); p.Verdict != statemigrate.Unchanged {
			t.Fatalf("round trip changed the manifest:\n%s", p)
		}
	})
}

// FuzzParseStopAt parses {stop_at} arguments: never a panic, and a parsed
// value renders back to an equal one.
func FuzzParseStopAt(f *testing.F) {
	f.Add("orders/0=12,orders/1=7")
	f.Add("")
	f.Add("a/b/3=1")
	f.Add("x=1")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := statemigrate.ParseStopAt(s)
		if err != nil || o == nil {
			return
		}
		again, err := statemigrate.ParseStopAt(statemigrate.StopAtArg(o))
		if err != nil || !again.Equal(o) {
			t.Fatalf("%q -> %v -> %v (%v)", s, o, again, err)
		}
	})
}

// FuzzOffsetsJSON reads the offsets of a bypass status file.
func FuzzOffsetsJSON(f *testing.F) {
	f.Add([]byte(`{"orders/0": 12, "refunds/3": 0}`))
	f.Add([]byte(`{"/0": 1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var o statemigrate.Offsets
		if json.Unmarshal(b, &o) != nil {
			return
		}
		out, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var again statemigrate.Offsets
		if err := json.Unmarshal(out, &again); err != nil || !again.Equal(o) {
			t.Fatalf("%s -> %s -> %v (%v)", b, out, again, err)
		}
	})
}
