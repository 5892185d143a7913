package agg_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// harness runs one datadriven file against a real state DB.
type harness struct {
	t   *testing.T
	dir string
	db  *state.DB
	cfg agg.Config
	op  *agg.Operator
}

func (h *harness) open() {
	h.t.Helper()
	db, err := state.Open(h.dir, state.Options{NoSync: true})
	if err != nil {
		h.t.Fatal(err)
	}
	h.db = db
}

func (h *harness) close() {
	if h.db != nil {
		h.db.Close()
		h.db = nil
	}
}

// TestOperator runs the changelog scenarios in testdata: each file sets up
// an operator, feeds it rows and shows what it emits.
//
//	operator
//	input: city string, amount int64 null
//	group: city
//	aggs: n=count(*), total=sum(amount)
//	options: append-only day=day retention=2 version=2
//
//	process
//	+I[bj, 10]
//
//	commit / reopen / stats
func TestOperator(t *testing.T) {
	datadriven.Walk(t, "testdata/changelog", func(t *testing.T, path string) {
		h := &harness{t: t, dir: t.TempDir()}
		h.open()
		defer h.close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "operator":
				cfg, err := parseConfig(d.Input)
				if err != nil {
					return "error: " + err.Error()
				}
				h.cfg = cfg
				op, err := agg.New(h.db, cfg)
				if err != nil {
					return "error: " + err.Error()
				}
				h.op = op
				return "output: " + formatSchema(op.OutputSchema())
			case "process":
				var out []string
				for _, line := range strings.Split(d.Input, "\n") {
					line = strings.TrimSpace(line)
					if line == "" || strings.HasPrefix(line, "#") {
						continue
					}
					in, err := parseRow(h.cfg.Input, line)
					if err != nil {
						t.Fatalf("%s: %v", d.Pos, err)
					}
					rows, err := h.op.Process(nil, in)
					if err != nil {
						out = append(out, line+" -> error: "+err.Error())
						continue
					}
					if len(rows) == 0 {
						out = append(out, line+" -> (nothing)")
					}
					for i, r := range rows {
						prefix := line + " -> "
						if i > 0 {
							prefix = strings.Repeat(" ", len(line)) + "    "
						}
						out = append(out, prefix+r.Format(h.op.OutputSchema()))
					}
				}
				return strings.Join(out, "\n")
			case "commit":
				if err := h.db.Commit(); err != nil {
					return "error: " + err.Error()
				}
				return "ok"
			case "reopen":
				// Drops uncommitted changes, like a crash.
				h.close()
				h.open()
				op, err := agg.New(h.db, h.cfg)
				if err != nil {
					return "error: " + err.Error()
				}
				h.op = op
				return "ok"
			case "stats":
				s := h.op.Stats()
				return fmt.Sprintf("in=%d out=%d late=%d ignored_retractions=%d", s.In, s.Out, s.Late, s.IgnoredRetractions)
			case "manifest":
				mop, err := manifest.FromAgg(h.cfg)
				if err != nil {
					return "error: " + err.Error()
				}
				m := &manifest.Manifest{Job: "test", Operators: []manifest.Operator{mop}}
				b, err := m.Marshal()
				if err != nil {
					return "error: " + err.Error()
				}
				return string(b) + "state: " + formatSchema(h.op.StateSchema())
			}
			t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			return ""
		})
	})
}

func formatSchema(s *row.Schema) string {
	var parts []string
	for _, c := range s.Columns() {
		p := c.Name + " " + c.Type.String()
		if c.Nullable {
			p += " null"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ") + " key(" + strings.Join(s.KeyNames(), ", ") + ")"
}

func parseConfig(input string) (agg.Config, error) {
	cfg := agg.Config{ID: "agg", InputName: "in", OutputName: "out"}
	for _, line := range strings.Split(input, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		switch strings.TrimSpace(name) {
		case "input":
			var cols []row.Column
			for _, p := range splitTop(rest) {
				c := row.Column{}
				if s, ok := strings.CutSuffix(p, " null"); ok {
					p, c.Nullable = s, true
				}
				n, typ, _ := strings.Cut(p, " ")
				t, err := row.ParseType(typ)
				if err != nil {
					return cfg, err
				}
				c.Name, c.Type = n, t
				cols = append(cols, c)
			}
			s, err := row.NewSchema(cols, nil, 1)
			if err != nil {
				return cfg, err
			}
			cfg.Input = s
		case "group":
			for _, g := range splitTop(rest) {
				cfg.GroupBy = append(cfg.GroupBy, g)
			}
		case "aggs":
			for _, a := range splitTop(rest) {
				n, call, _ := strings.Cut(a, "=")
				fn, arg, _ := strings.Cut(strings.TrimSuffix(call, ")"), "(")
				if arg == "*" {
					arg = ""
				}
				cfg.Aggregates = append(cfg.Aggregates, agg.Aggregate{Name: n, Func: agg.Func(fn), Arg: arg})
			}
		case "options":
			for _, o := range strings.Fields(rest) {
				k, v, _ := strings.Cut(o, "=")
				switch k {
				case "append-only":
					cfg.AppendOnly = true
				case "day":
					cfg.DayColumn = v
				case "retention":
					fmt.Sscan(v, &cfg.Retention.Days)
				case "version":
					fmt.Sscan(v, &cfg.Version)
				default:
					return cfg, fmt.Errorf("unknown option %q", k)
				}
			}
		}
	}
	return cfg, nil
}

// splitTop splits s at commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}

// parseRow reads "+I[bj, 10, null]".
func parseRow(s *row.Schema, line string) (row.Row, error) {
	open := strings.IndexByte(line, '[')
	if open < 0 || !strings.HasSuffix(line, "]") {
		return row.Row{}, fmt.Errorf("bad row %q", line)
	}
	k, err := row.ParseKind(line[:open])
	if err != nil {
		return row.Row{}, err
	}
	toks := splitTop(line[open+1 : len(line)-1])
	if len(toks) != s.Len() {
		return row.Row{}, fmt.Errorf("row %q has %d values, schema %d", line, len(toks), s.Len())
	}
	r := row.Row{Kind: k, Values: make([]row.Value, len(toks))}
	for i, tok := range toks {
		if tok == "null" {
			continue
		}
		v, err := row.ValueFromJSON(s.Column(i).Type, tok)
		if err != nil {
			return row.Row{}, fmt.Errorf("row %q column %d: %v", line, i, err)
		}
		r.Values[i] = v
	}
	return r, nil
}
