package doccheck

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Snippet is one Go snippet of the documentation.
type Snippet struct {
	// File is the documentation file, relative to the repository root
	// (slash-separated); Line is the line of the snippet's first line.
	File string
	Line int
	// Code is the snippet as the reader sees it.
	Code string
	// Prelude holds declarations the snippet may use without declaring
	// them (see the package comment); PreludeLine is its first line in
	// PreludeFile.
	Prelude     string
	PreludeFile string
	PreludeLine int
	// Self is, for a doc.go snippet, its package: its name and import
	// path, so that the snippet can call it by its name.
	Self, SelfPath string
}

// Markdown returns the ```go blocks of a Markdown file; file names it in
// the snippets.
func Markdown(file string, data []byte) []Snippet {
	lines := strings.Split(string(data), "\n")
	var out []Snippet
	for i := 0; i < len(lines); i++ {
		fence := strings.TrimSpace(lines[i])
		if fence != "```go" {
			continue
		}
		indent := lines[i][:strings.Index(lines[i], "```")]
		s := Snippet{File: file, Line: i + 2}
		var code []string
		j := i + 1
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			code = append(code, strings.TrimPrefix(lines[j], indent))
		}
		s.Code = strings.Join(code, "\n") + "\n"
		// A prelude is an HTML comment "<!-- doccheck ... -->" right before.
		k := i - 1
		for k >= 0 && strings.TrimSpace(lines[k]) == "" {
			k--
		}
		if k >= 0 && strings.TrimSpace(lines[k]) == "-->" {
			start := k - 1
			for start >= 0 && !strings.HasPrefix(strings.TrimSpace(lines[start]), "<!--") {
				start--
			}
			if start >= 0 && strings.TrimSpace(lines[start]) == "<!-- doccheck" {
				s.Prelude = strings.Join(lines[start+1:k], "\n") + "\n"
				s.PreludeFile, s.PreludeLine = file, start+2
			}
		}
		out = append(out, s)
		i = j
	}
	return out
}

// DocGo returns the Go code blocks of a doc.go's package comment, each
// with the package's prelude (a comment group starting "doccheck:").
// importPath is the package's import path.
func DocGo(file string, src []byte, importPath string) ([]Snippet, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		return nil, err
	}
	if f.Doc == nil {
		return nil, nil
	}
	prelude, preludeLine := "", 0
	for _, cg := range f.Comments {
		if cg == f.Doc || len(cg.List) < 2 || strings.TrimSpace(strings.TrimPrefix(cg.List[0].Text, "//")) != "doccheck:" {
			continue
		}
		var b strings.Builder
		for _, c := range cg.List[1:] {
			t := strings.TrimPrefix(c.Text, "//")
			if strings.HasPrefix(t, "\t") || strings.HasPrefix(t, " ") {
				t = t[1:]
			}
			b.WriteString(t + "\n")
		}
		prelude, preludeLine = b.String(), fset.Position(cg.List[1].Pos()).Line
	}
	var out []Snippet
	var cur []string
	first, blanks := 0, 0
	flush := func() {
		if len(cur) > 0 {
			code := strings.Join(cur, "\n") + "\n"
			if !notGo(code) {
				out = append(out, Snippet{File: file, Line: first, Code: code, Prelude: prelude,
					PreludeFile: file, PreludeLine: preludeLine, Self: f.Name.Name, SelfPath: importPath})
			}
		}
		cur, blanks = nil, 0
	}
	for _, c := range f.Doc.List {
		if !strings.HasPrefix(c.Text, "//") {
			flush()
			continue
		}
		t := strings.TrimPrefix(c.Text, "//")
		switch {
		case strings.HasPrefix(t, "\t"):
			if len(cur) == 0 {
				first = fset.Position(c.Pos()).Line
			}
			for ; blanks > 0; blanks-- {
				cur = append(cur, "")
			}
			cur = append(cur, t[1:])
		case strings.TrimSpace(t) == "" && len(cur) > 0:
			blanks++
		default:
			flush()
		}
	}
	flush()
	return out, nil
}

func notGo(code string) bool {
	for _, p := range []string{"$ ", "# ", "<!--"} {
		if strings.HasPrefix(code, p) {
			return true
		}
	}
	return false
}

// elision matches "..." standing for elided code: not after an operand
// (b... in a call, [...]T) and followed by space, ";" or "}".
var elision = regexp.MustCompile(`(^|[\s{])\.\.\.([\s;}]|$)`)

func dropElisions(code string) string {
	lines := strings.Split(code, "\n")
	for i, l := range lines {
		for {
			m := elision.ReplaceAllString(l, "$1$2")
			if m == l {
				break
			}
			l = m
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

// Generate returns the Go file that builds s, or an error when it cannot
// be made into one (a package it uses has no import). pkgs maps package
// names to import paths; a name mapped to "" is ambiguous.
func Generate(s Snippet, pkgs map[string]string) ([]byte, error) {
	code := dropElisions(s.Code)
	directive := fmt.Sprintf("//line %s:%d\n", s.File, s.Line)
	if hasPackageClause(code) {
		return []byte(directive + code), nil
	}
	prelude := ""
	if s.Prelude != "" {
		prelude = fmt.Sprintf("//line %s:%d\n%s\n", s.PreludeFile, s.PreludeLine, s.Prelude)
	}
	body := directive + code
	if _, err := parser.ParseFile(token.NewFileSet(), "", "package snippet\n"+body, 0); err != nil {
		// Not declarations: statements, in a function.
		body = "func _() error {\n" + body + "\nreturn nil\n}\n"
	}
	// Find the packages it names but does not import or declare.
	src := "package snippet\n\n" + prelude + body
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "snippet.go", src, parser.AllErrors)
	if err != nil {
		return []byte(src), nil // the build reports the syntax error at its line
	}
	imported := map[string]bool{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := filepath.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		imported[name] = true
	}
	unresolved := map[*ast.Ident]bool{}
	for _, id := range f.Unresolved {
		unresolved[id] = true
	}
	need := map[string]string{}
	var problems []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok || !unresolved[id] || imported[id.Name] {
			return true
		}
		path, ok := pkgs[id.Name]
		if id.Name == s.Self && s.SelfPath != "" {
			path, ok = s.SelfPath, true
		}
		switch {
		case !ok:
			// Not a package: a free variable, which the build reports.
		case path == "":
			problems = append(problems, fmt.Sprintf("%s:%d: %q names more than one package: import the one meant in a doccheck prelude", s.File, s.Line, id.Name))
		default:
			need[id.Name] = path
		}
		return true
	})
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("%s", strings.Join(dedup(problems), "\n"))
	}
	var imports strings.Builder
	if len(need) > 0 {
		names := make([]string, 0, len(need))
		for n := range need {
			names = append(names, n)
		}
		sort.Strings(names)
		imports.WriteString("import (\n")
		for _, n := range names {
			fmt.Fprintf(&imports, "\t%s %q\n", n, need[n])
		}
		imports.WriteString(")\n")
	}
	src = "package snippet\n\n" + imports.String() + prelude + body
	return allowUnused([]byte(src))
}

func hasPackageClause(code string) bool {
	f, err := parser.ParseFile(token.NewFileSet(), "", code, parser.PackageClauseOnly)
	return err == nil && f.Name != nil
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// allowUnused adds `_ = x` for every local variable the code declares, on
// the line that declares it (so lines keep their numbers).
func allowUnused(src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "snippet.go", src, parser.AllErrors)
	if err != nil {
		return src, nil
	}
	type insert struct {
		off  int
		text string
	}
	var ins []insert
	uses := func(names []string) string {
		var b strings.Builder
		for _, n := range names {
			if n != "_" {
				b.WriteString("; _ = " + n)
			}
		}
		return b.String()
	}
	defined := func(st ast.Stmt) []string {
		var names []string
		switch st := st.(type) {
		case *ast.AssignStmt:
			if st.Tok == token.DEFINE {
				for _, e := range st.Lhs {
					if id, ok := e.(*ast.Ident); ok {
						names = append(names, id.Name)
					}
				}
			}
		case *ast.DeclStmt:
			if gd, ok := st.Decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
				for _, sp := range gd.Specs {
					for _, id := range sp.(*ast.ValueSpec).Names {
						names = append(names, id.Name)
					}
				}
			}
		}
		return names
	}
	list := func(stmts []ast.Stmt) {
		for _, st := range stmts {
			if u := uses(defined(st)); u != "" {
				ins = append(ins, insert{fset.Position(st.End()).Offset, u})
			}
		}
	}
	atBodyStart := func(init ast.Stmt, body *ast.BlockStmt) {
		if init == nil || body == nil {
			return
		}
		if u := uses(defined(init)); u != "" {
			ins = append(ins, insert{fset.Position(body.Lbrace).Offset + 1, strings.TrimPrefix(u, "; ") + ";"})
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BlockStmt:
			list(n.List)
		case *ast.CaseClause:
			list(n.Body)
		case *ast.CommClause:
			list(n.Body)
		case *ast.IfStmt:
			atBodyStart(n.Init, n.Body)
		case *ast.SwitchStmt:
			atBodyStart(n.Init, n.Body)
		case *ast.ForStmt:
			atBodyStart(n.Init, n.Body)
		}
		return true
	})
	sort.Slice(ins, func(i, j int) bool { return ins[i].off > ins[j].off })
	for _, in := range ins {
		src = append(src[:in.off], append([]byte(in.text), src[in.off:]...)...)
	}
	return src, nil
}

// Packages maps the package names a snippet may use to their import
// paths: the module's own non-main packages below root (a name two
// packages share maps to ""), the standard library's usual ones and a few
// dependencies.
func Packages(root, module string) (map[string]string, error) {
	pkgs := map[string]string{}
	for _, p := range []string{"bytes", "context", "errors", "fmt", "io", "log", "os", "strings", "syscall", "testing", "time",
		"log/slog", "net/http", "os/exec", "os/signal", "path/filepath", "net", "sync"} {
		pkgs[filepath.Base(p)] = p
	}
	pkgs["kgo"] = "github.com/twmb/franz-go/pkg/kgo"
	pkgs["kfake"] = "github.com/twmb/franz-go/pkg/kfake"
	pkgs["prometheus"] = "github.com/prometheus/client_golang/prometheus"
	pkgs["grpc"] = "google.golang.org/grpc"
	own := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (name == "testdata" || name == "node_modules" || name == "target" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if path != root {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
		}
		pkg, err := packageName(path)
		if err != nil || pkg == "" || pkg == "main" {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		ip := module + "/" + filepath.ToSlash(rel)
		if prev, ok := own[pkg]; ok && prev != ip {
			own[pkg] = ""
		} else {
			own[pkg] = ip
		}
		return nil
	})
	for n, p := range own {
		pkgs[n] = p
	}
	return pkgs, err
}

// packageName is the package clause of the first non-test Go file in dir.
func packageName(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return "", err
		}
		f, err := parser.ParseFile(token.NewFileSet(), n, src, parser.PackageClauseOnly)
		if err != nil {
			continue
		}
		if bytes.Contains(src[:f.Package], []byte("//go:build ignore")) {
			continue
		}
		return f.Name.Name, nil
	}
	return "", nil
}
