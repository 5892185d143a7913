package yamlerr_test

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hotcold/hotcold/internal/yamlerr"
)

type source struct {
	Name       string    `yaml:"name"`
	Partitions int32     `yaml:"partitions"`
	Key        []string  `yaml:"key"`
	Columns    yaml.Node `yaml:"columns"`
}

type config struct {
	Name    string        `yaml:"name"`
	Sources []source      `yaml:"sources"`
	Quiet   time.Duration `yaml:"quiet"`
	Ratio   float64       `yaml:"ratio"`
	Strict  bool          `yaml:"strict"`
}

func decode(t *testing.T, doc string) (config, *yamlerr.Errors) {
	t.Helper()
	var c config
	es := yamlerr.Decode("case.yaml", []byte(doc), &c)
	return c, es
}

func messages(es *yamlerr.Errors) string {
	var b []string
	for _, e := range es.List {
		b = append(b, e.Error())
	}
	return strings.Join(b, "\n")
}

func TestDecodeNamesFileLineColumnAndTheUsersField(t *testing.T) {
	for name, tc := range map[string]struct{ doc, want string }{
		"text for a number": {"sources:\n  - name: a\n    partitions: two\n", `case.yaml:3:17: sources[0].partitions: want a whole number, got "two"`},
		"fraction":          {"sources:\n  - partitions: 1.5\n", `case.yaml:2:17: sources[0].partitions: want a whole number, got 1.5`},
		"out of range":      {"sources:\n  - partitions: 99999999999\n", `case.yaml:2:17: sources[0].partitions: 99999999999 is out of range (-2147483648 to 2147483647)`},
		"mapping for text":  {"name: {a: 1}\n", `case.yaml:1:7: name: want text, got a mapping`},
		"text for a list":   {"sources: orders\n", `case.yaml:1:10: sources: want a list, got "orders"`},
		"bad duration":      {"quiet: soon\n", `case.yaml:1:8: quiet: want a duration such as 500ms, 2s or 1m30s, got "soon"`},
		"bad bool":          {"strict: maybe\n", `case.yaml:1:9: strict: want true or false, got "maybe"`},
		"list for mapping":  {"sources: [[1]]\n", `case.yaml:1:11: sources[0]: want a mapping with name, partitions, key, columns, got a list`},
		"twice":             {"name: a\nname: b\n", `case.yaml:2:1: name: given twice (first on line 1)`},
		"unknown":           {"sources:\n  - zzz: 1\n", `case.yaml:2:5: sources[0].zzz: unknown field (known fields: name, partitions, key, columns)`},
		"misspelt":          {"sources:\n  - partitons: 1\n", `case.yaml:2:5: sources[0].partitons: unknown field; did you mean partitions? (known fields: name, partitions, key, columns)`},
		"syntax":            {"name: a\nquiet: 1\n\tratio: 2\n", `case.yaml:2: found a tab character that violates indentation`},
	} {
		t.Run(name, func(t *testing.T) {
			_, es := decode(t, tc.doc)
			got := messages(es)
			if !strings.HasPrefix(got, tc.want) || strings.Count(got, "\n") != 0 {
				t.Fatalf("got:\n%s\nwant one error:\n%s", got, tc.want)
			}
			for _, internal := range []string{"!!", "int32", "yamlerr.", "config", "source", "unmarshal"} {
				if strings.Contains(strings.ToLower(strings.TrimPrefix(got, "case.yaml")), internal) && !strings.Contains(tc.want, internal) {
					t.Errorf("%q speaks Go or YAML internals (%s)", got, internal)
				}
			}
		})
	}
}

func TestDecodeKeepsGoodFieldsAndTellsWhichFailed(t *testing.T) {
	c, es := decode(t, "name: x\nsources:\n  - name: a\n    partitons: 2\n    key: [id]\n    columns: {id: BIGINT}\n  - name: b\n    partitions: two\nquiet: 2s\n")
	if len(es.List) != 2 {
		t.Fatalf("errors:\n%s", messages(es))
	}
	if c.Name != "x" || len(c.Sources) != 2 || c.Sources[0].Key[0] != "id" || c.Sources[0].Columns.Kind != yaml.MappingNode || c.Quiet != 2*time.Second {
		t.Fatalf("decoded %+v", c)
	}
	for path, want := range map[string]bool{
		"sources[0].partitions": true, // misspelt: its value went elsewhere
		"sources[1].partitions": true,
		"sources[1]":            false,
		"sources[0].key":        false,
		"quiet":                 false,
	} {
		if es.Has(path) != want {
			t.Errorf("Has(%s) = %v, want %v", path, !want, want)
		}
	}
	if !es.Has("sources[1].partitions.x") {
		t.Error("a path below a failed field counts as failed")
	}
	if es.Err() == nil {
		t.Error("Err is nil")
	}
}

func TestDecodeAcceptsNullsAliasesAndMaps(t *testing.T) {
	var v struct {
		A *int            `yaml:"a"`
		M map[string]bool `yaml:"m"`
		B int             `yaml:"b"`
		C int             `yaml:"c"`
	}
	es := yamlerr.Decode("f.yaml", []byte("a: 3\nm: {x: true, y: no}\nb: &n 7\nc: *n\n"), &v)
	if len(es.List) != 0 || *v.A != 3 || !v.M["x"] || v.M["y"] || v.B != 7 || v.C != 7 {
		t.Fatalf("%+v\n%s", v, messages(es))
	}
	var w struct{ A int }
	if es := yamlerr.Decode("f.yaml", []byte("a: null\n"), &w); len(es.List) != 0 || w.A != 0 {
		t.Fatalf("%+v %s", w, messages(es))
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"name: x\n", "sources:\n  - name: a\n    partitions: two\n", "sources: [[1]]", "a: &x [*x]", "quiet: 2s\nratio: 1e400", "{", "- - -"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var c config
		es := yamlerr.Decode("f.yaml", []byte(doc), &c)
		for _, e := range es.List {
			if e.Msg == "" {
				t.Fatalf("empty message for %q", doc)
			}
		}
	})
}

func TestLocateFindsAFieldPathOrItsDeepestParent(t *testing.T) {
	doc, err := yamlerr.Parse("m.yaml", []byte("job: j\noperators:\n  - id: a\n    state:\n      - key: [x]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][2]int{
		"job":                           {1, 6},
		"operators[0].state[0].key":     {5, 14},
		"operators[0].state[0].columns": {5, 9},
		"operators[3]":                  {2, 1},
		"":                              {1, 1},
	} {
		n := yamlerr.Locate(doc, path)
		if n == nil || n.Line != want[0] || n.Column != want[1] {
			t.Errorf("Locate(%q) = %v, want line %d col %d", path, n, want[0], want[1])
		}
	}
}
