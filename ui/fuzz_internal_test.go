package ui

import (
	"os"
	"path/filepath"
	"testing"
)

// The console's own decoders never panic on any input: a stored row, a
// case.yaml's file references, a bypass log, and a case's files.

func FuzzCells(f *testing.F) {
	for _, s := range []string{`{"id":1,"owner":"ann","balance":12.50}`, `{"a":null,"b":"x\"y","c":[1,2],"d":{"e":true}}`, `[]`, `{`, `{"a":1,"a":2}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		keys, cs, err := cells([]byte(s))
		if err != nil {
			return
		}
		for _, k := range keys {
			if _, ok := cs[k]; !ok {
				t.Fatalf("key %q without a cell", k)
			}
		}
	})
}

func FuzzRefs(f *testing.F) {
	for _, s := range []string{"sources:\n  - name: a\n    messages: a.jsonl\nexpect:\n  rows: e.jsonl\n", "sources: 3", "expect: {rows: [1]}", "\t:", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		refs([]byte(s))
	})
}

func FuzzValidate(f *testing.F) {
	f.Add("sources:\n  - name: a\n    topic: t\n    messages: a.jsonl\nsink: {topic: s, format: json, columns: {x: INT}}\nexpect: {rows: []}\n", `{"value":{"x":1}}`)
	f.Add("name: other\n", "{")
	f.Fuzz(func(t *testing.T, caseYAML, messages string) {
		c, problems, err := validate("fuzz", caseFiles{"case.yaml": caseYAML, "a.jsonl": messages})
		if err == nil && c == nil && len(problems) == 0 {
			t.Fatal("neither a case nor a problem")
		}
	})
}

func FuzzStageLogs(f *testing.F) {
	f.Add("time=x msg=\"bypass: stage 3/7: outputs-checked\"\nline\n")
	f.Add("bypass: stage 99999999999999999999/7: x\n")
	f.Fuzz(func(t *testing.T, log string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, BypassLog), []byte(log), 0o644); err != nil {
			t.Fatal(err)
		}
		stageLogs(dir)
	})
}
