package diag_test

import (
	"html/template"
	"io"
	"os"
)

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

func templateEscape(w io.Writer, s string) { template.HTMLEscape(w, []byte(s)) }
