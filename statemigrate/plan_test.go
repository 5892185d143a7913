package statemigrate_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/statemigrate"
)

// TestPlan runs the verdict table in testdata/plan.
//
//	manifest name=NAME [from=BASE]  the body is a manifest (YAML), or edits of
//	                          BASE as for plan; prints ok or the errors
//	plan from=NAME [json]     the body edits manifest NAME into the new one, as
//	                          lines "s|OLD|NEW|" (literal, first match, \n for a
//	                          newline), or is a whole manifest
func TestPlan(t *testing.T) {
	datadriven.Walk(t, "testdata/plan", func(t *testing.T, path string) {
		texts := map[string]string{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "manifest":
				var name string
				d.ScanArgs(t, "name", &name)
				text := d.Input
				if d.HasArg("from") {
					var from string
					d.ScanArgs(t, "from", &from)
					var err error
					if text, err = edit(texts[from], d.Input); err != nil {
						t.Fatalf("%s: %v", d.Pos, err)
					}
				}
				if _, err := manifest.Parse(name+".yaml", []byte(text)); err != nil {
					return "error: " + err.Error()
				}
				texts[name] = text
				return "ok"
			case "plan":
				var from string
				d.ScanArgs(t, "from", &from)
				base, ok := texts[from]
				if !ok {
					t.Fatalf("%s: no manifest %q", d.Pos, from)
				}
				newText, err := edit(base, d.Input)
				if err != nil {
					t.Fatalf("%s: %v", d.Pos, err)
				}
				old, err := manifest.Parse(from+".yaml", []byte(base))
				if err != nil {
					t.Fatal(err)
				}
				nm, err := manifest.Parse("new.yaml", []byte(newText))
				if err != nil {
					return "error: " + err.Error()
				}
				p := statemigrate.NewPlan(old, nm)
				if d.HasArg("json") {
					b, err := json.MarshalIndent(p, "", "  ")
					if err != nil {
						t.Fatal(err)
					}
					return string(b)
				}
				return p.String()
			}
			t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			return ""
		})
	})
}

func edit(base, script string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(script), "job:") {
		return script, nil
	}
	out := base
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) != 4 || parts[0] != "s" {
			return "", fmt.Errorf("bad edit %q: want s|OLD|NEW|", line)
		}
		old, repl := unescape(parts[1]), unescape(parts[2])
		if !strings.Contains(out, old) {
			return "", fmt.Errorf("edit %q: %q not found", line, old)
		}
		out = strings.Replace(out, old, repl, 1)
	}
	return out, nil
}

func unescape(s string) string { return strings.ReplaceAll(s, `\n`, "\n") }
