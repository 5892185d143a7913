package mock

import (
	"fmt"
	"strings"

	"github.com/hotcold/hotcold/internal/yamlerr"
)

// Pos is where something was read: a file and a 1-based line. The zero Pos
// means "not from a file" (a case built in code).
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	switch {
	case p.File == "" && p.Line == 0:
		return "(built in code)"
	case p.Line == 0:
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// CaseError is one problem with a case, located in its files: the file, the
// line and column (1-based; 0 when unknown) and the field, so that the user
// can go straight to it.
type CaseError struct {
	File    string
	Line    int
	Column  int
	Field   string
	Problem string
}

// Error reads file:line:col: field: problem, as every hotcold YAML error.
func (e *CaseError) Error() string {
	return (&yamlerr.Error{File: e.File, Line: e.Line, Column: e.Column, Path: e.Field, Msg: e.Problem}).Error()
}

// CaseErrors is every problem found while loading a case, grouped by
// section of the case file.
// LoadCase returns all of them at once so that a user fixes a case in one
// pass.
type CaseErrors []*CaseError

func (es CaseErrors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	if len(es) > 1 {
		fmt.Fprintf(&b, "\n(%d problems)", len(es))
	}
	return b.String()
}

// Unwrap returns the individual problems, for errors.As.
func (es CaseErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// problems collects CaseErrors.
type problems struct {
	list CaseErrors
	// decoded are the problems of decoding the case file: a check of a
	// field that failed to decode is skipped (it would only follow on).
	decoded *yamlerr.Errors
}

func (p *problems) add(pos Pos, field, format string, args ...any) {
	p.addCol(pos, 0, field, format, args...)
}

// addCol is add with a column (0: unknown).
func (p *problems) addCol(pos Pos, col int, field, format string, args ...any) {
	if p.decoded != nil && field != "" && p.decoded.Has(field) {
		return
	}
	p.list = append(p.list, &CaseError{File: pos.File, Line: pos.Line, Column: col, Field: field, Problem: userWords(fmt.Sprintf(format, args...))})
}

// userWords drops the package prefixes of wrapped errors and names
// decimals as cases write them.
func userWords(s string) string {
	for strings.HasPrefix(s, "row: ") {
		s = s[len("row: "):]
	}
	s = strings.ReplaceAll(s, ": row: ", ": ")
	return strings.ReplaceAll(s, "decimal128(", "DECIMAL(")
}

// addAt is add at a position with its column.
func (p *problems) addAt(a at, field, format string, args ...any) {
	p.addCol(a.Pos, a.Col, field, format, args...)
}

func (p *problems) addErr(e *CaseError) { p.list = append(p.list, e) }

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list
}
