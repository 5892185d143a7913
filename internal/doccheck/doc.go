// Package doccheck extracts the Go snippets of the repository's
// documentation (README.md, docs/*.md and every package's doc.go) and
// builds them, so that documentation cannot rot. Its test,
// TestDocSnippetsCompile, runs in `go test ./internal/doccheck/` and fails
// with the documentation file and line of each snippet that does not
// compile.
//
// # What is checked
//
// In Markdown, every fenced block opened with ```go. In a doc.go, every
// code block (indented lines) of the package comment, except one whose
// first line starts with "$ ", "# " or "<!--" (a shell session, a
// YAML/shell comment or Markdown: not Go).
//
// # How a snippet is built
//
// A snippet with a package clause is built as it stands. Otherwise it may
// be declarations (funcs, types), built in a package of their own, or
// statements, built as the body of a function returning error (so
// `return err` works). The imports are added from the package names the
// snippet uses (hotcold's own packages, the standard library's and a few
// dependencies such as kgo); a doc.go's snippets see their own package by
// its name. Variables declared and never used are allowed, and `...`
// standing for elided code (a line of its own, `{ ... }`, `...;`) is
// dropped.
//
// # Names a fragment uses without declaring
//
// A fragment that uses names it does not declare (ctx, a schema, a store)
// gets them from a prelude: Go declarations (imports first, then var,
// const, type or func) that are compiled beside it but not shown. In
// Markdown the prelude is an HTML comment right before the fence:
//
//	<!-- doccheck
//	var ctx context.Context
//	var orders, refunds *row.Schema
//	-->
//
// In a doc.go it is a comment group of its own (not the package comment)
// whose first line is "doccheck:", and it serves every snippet of the
// package comment:
//
//	// doccheck:
//	//	var ctx context.Context
//
// The rule is that a snippet compiles; a prelude only declares what the
// surrounding prose says the reader already has.
package doccheck
