package doccheck_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/internal/doccheck"
)

const module = "github.com/hotcold/hotcold"

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	return root
}

// docSnippets collects the snippets of README.md, docs/*.md and every
// doc.go of the module.
func docSnippets(t *testing.T, root string) []doccheck.Snippet {
	t.Helper()
	var out []doccheck.Snippet
	mds, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, p := range append([]string{filepath.Join(root, "README.md")}, mds...) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, doccheck.Markdown(filepath.ToSlash(rel), data)...)
	}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if p != root && (n == "testdata" || n == "node_modules" || n == "target" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "doc.go" {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "internal/doccheck/doc.go" {
			return nil // its code blocks show the prelude convention
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s, err := doccheck.DocGo(rel, src, module+"/"+filepath.ToSlash(filepath.Dir(rel)))
		if err != nil {
			return err
		}
		out = append(out, s...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// build writes each snippet as a package below a temporary directory in
// the module (so that internal packages may be imported) and builds them
// all; it returns the build's output, whose errors name the documentation
// file and line through //line directives.
func build(t *testing.T, root string, snippets []doccheck.Snippet) (string, error) {
	t.Helper()
	pkgs, err := doccheck.Packages(root, module)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(root, "internal", "doccheck", "testdata")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(base, "snippets-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	args := []string{"build"}
	var problems []string
	for i, s := range snippets {
		src, err := doccheck.Generate(s, pkgs)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		dir := filepath.Join(tmp, fmt.Sprintf("s%03d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "snippet.go"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, dir)
		args = append(args, "./"+filepath.ToSlash(rel))
	}
	if len(problems) > 0 {
		return strings.Join(problems, "\n"), fmt.Errorf("%d snippets cannot be generated", len(problems))
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestDocSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every documentation snippet")
	}
	root := repoRoot(t)
	snippets := docSnippets(t, root)
	if len(snippets) < 20 {
		t.Fatalf("found %d snippets: the extraction is broken", len(snippets))
	}
	t.Logf("building %d snippets", len(snippets))
	out, err := build(t, root, snippets)
	if err != nil {
		t.Fatalf("documentation snippets do not compile (fix the snippet at the file:line named, or declare what it assumes in a doccheck prelude: see internal/doccheck):\n%s", out)
	}
}

func TestBrokenSnippetFailsWithItsReadmeLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	readme := "# x\n\ntext\n\n```go\nr := runner.New(runner.Config{})\n_ = r\n```\n" +
		"\n<!-- doccheck\nvar ctx context.Context\n-->\n```go\nst, err := coldstore.Open(ctx, \"pebble:./cold\", nil)\n_ = st.Get(ctx)\n```\n"
	snippets := doccheck.Markdown("README.md", []byte(readme))
	if len(snippets) != 2 || snippets[0].Line != 6 || snippets[1].Line != 14 || snippets[1].PreludeLine != 11 {
		t.Fatalf("snippets %+v", snippets)
	}
	root := repoRoot(t)
	// runner names two packages: the first cannot be generated.
	out, err := build(t, root, snippets[:1])
	if err == nil || !strings.Contains(out, `README.md:6: "runner" names more than one package`) {
		t.Fatalf("ambiguous package: err %v, output:\n%s", err, out)
	}
	out, err = build(t, root, snippets[1:])
	if err == nil || !regexp.MustCompile(`README\.md:15:.*st\.Get`).MatchString(out) {
		t.Fatalf("wrong call: err %v, output:\n%s", err, out)
	}
}

func TestDocGoCodeBlocks(t *testing.T) {
	src := `// Package p does things.
//
//	x := p.New()
//
//	x.Run(ctx)
//
// Text.
//
//	$ hotcold join --config join.yaml
package p

// doccheck:
//	var ctx context.Context
`
	s, err := doccheck.DocGo("p/doc.go", []byte(src), "example.com/p")
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 || s[0].Line != 3 || s[0].Code != "x := p.New()\n\nx.Run(ctx)\n" || s[0].Prelude != "var ctx context.Context\n" || s[0].PreludeLine != 13 {
		t.Fatalf("snippets %+v", s)
	}
}

func TestGenerateDropsElisionsAndAllowsUnusedKeepingLines(t *testing.T) {
	s := doccheck.Snippet{File: "README.md", Line: 40, Code: "a, err := f() // call\nif err != nil { ... }\n...\nb := append([]int{}, xs...)\n"}
	src, err := doccheck.Generate(s, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	got := string(src)
	for _, want := range []string{
		"//line README.md:40\na, err := f(); _ = a; _ = err // call\nif err != nil {  }\n\nb := append([]int{}, xs...); _ = b\n",
		"func _() error {\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("generated\n%s\nlacks\n%s", got, want)
		}
	}
}
