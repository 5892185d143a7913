package manifest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/internal/yamlerr"
	"github.com/hotcold/hotcold/manifest"
)

const aggManifest = `job: refunds
operators:
  - id: by_city
    kind: agg
    inputs: [refunds]
    output: by_city
    version: 1
    state:
      - namespace: by_city
        key: [city]
        columns:
          - {name: city, type: string}
          - {name: total, type: int64, nullable: true, agg: sum, arg: amount}
    input_columns:
      - {name: city, type: string}
      - {name: amount, type: int64, nullable: true}
`

// Every problem of a manifest is reported at once, each as file:line:col:
// field.path: message (through internal/yamlerr).
func TestParseReportsEveryProblemWithItsPlace(t *testing.T) {
	if _, err := manifest.Parse("m.yaml", []byte(aggManifest)); err != nil {
		t.Fatal(err)
	}
	bad := strings.NewReplacer("type: string}\n          - {name: total", "type: strin}\n          - {name: total", "version: 1", "version: one").Replace(aggManifest)
	_, err := manifest.Parse("m.yaml", []byte(bad))
	for _, want := range []string{
		`m.yaml:7:14: operators[0].version: want a non-negative whole number, got "one"`,
		`m.yaml:12:32: operators[0].state[0].columns[0].type: row: unknown type "strin"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	var ye *yamlerr.Error
	if !errors.As(err, &ye) {
		t.Fatalf("not a *yamlerr.Error: %T", err)
	}
	// Checks after decoding are placed too.
	bad = strings.NewReplacer("agg: sum, arg: amount", "agg: median, arg: amont", "kind: agg", "kind: agg\n    join_type: full").Replace(aggManifest)
	_, err = manifest.Parse("m.yaml", []byte(bad))
	for _, want := range []string{
		`m.yaml:5:16: operators[0].join_type: applies to joins only`,
		`operators[0].state[0].columns[1].agg: "median" is not an aggregate function (want one of count, sum, min, max, avg, first_value, last_value)`,
		`operators[0].state[0].columns[1].arg: "amont" is not an input column (city, amount)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	_, err = manifest.Parse("m.yaml", []byte("job: j\noperators:\n  - id: j\n    kind: join\n    join_type: full\n"))
	if err == nil || !strings.Contains(err.Error(), `m.yaml:5:16: operators[0].join_type: "full" is not a join type (want one of inner, left)`) {
		t.Errorf("join type: %v", err)
	}
	_, err = manifest.Parse("m.yaml", []byte("jobb: j\n"))
	if err == nil || !strings.Contains(err.Error(), "m.yaml:1:1: jobb: unknown field; did you mean job?") {
		t.Errorf("unknown field: %v", err)
	}
	if _, err = manifest.Parse("m.yaml", nil); err == nil || !strings.Contains(err.Error(), "empty manifest") {
		t.Errorf("empty: %v", err)
	}
}

func TestEnsureJobStateWritesNewStateAndRefusesOthers(t *testing.T) {
	want, err := manifest.Parse("m.yaml", []byte(aggManifest))
	if err != nil {
		t.Fatal(err)
	}
	r := manifest.Runner{Command: "hotcold agg", ConfigFile: "agg.yaml"}
	root := t.TempDir()
	dir := filepath.Join(root, "p0")
	if _, err := manifest.EnsureJobState(dir, want, r); err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.Read(filepath.Join(dir, manifest.FileName)); err != nil {
		t.Fatalf("no manifest written: %v", err)
	}
	if _, err := manifest.EnsureJobState(dir, want, r); err != nil {
		t.Fatalf("the same job again: %v", err)
	}

	other := want.Clone()
	other.Job = "audit"
	_, err = manifest.EnsureJobState(dir, other, r)
	var re *manifest.StateRefusedError
	if !errors.As(err, &re) || re.Reason != manifest.OtherJob || !strings.Contains(err.Error(), `is the state of job "refunds", this is job "audit"`) {
		t.Fatalf("other job: %v", err)
	}

	changed := want.Clone()
	changed.Operators[0].Tables[0].Columns[1].Type = changed.Operators[0].Tables[0].Columns[0].Type
	_, err = manifest.EnsureJobState(dir, changed, r)
	if !errors.As(err, &re) || re.Reason != manifest.Mismatch || !strings.Contains(err.Error(), "column total: type bigint in state, string in config") {
		t.Fatalf("changed: %v", err)
	}

	data := filepath.Join(root, "p1")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "CURRENT"), []byte("MANIFEST-000001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = manifest.EnsureJobState(data, want, r)
	if !errors.As(err, &re) || re.Reason != manifest.NoManifest || !strings.Contains(err.Error(), "hotcold agg manifest --config agg.yaml > "+filepath.Join(data, manifest.FileName)) {
		t.Fatalf("no manifest: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, manifest.FileName)); !os.IsNotExist(err) {
		t.Fatalf("a manifest was written beside data: %v", err)
	}
}

func TestSQLTypeSpellsTypesAsConfigsDo(t *testing.T) {
	m, err := manifest.Parse("m.yaml", []byte(strings.Replace(aggManifest, "{name: amount, type: int64", "{name: amount, type: \"decimal(18, 2)\"", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := manifest.SQLType(m.Operators[0].InputColumns[1].Type); got != "decimal(18, 2)" {
		t.Fatalf("SQLType = %q", got)
	}
}
