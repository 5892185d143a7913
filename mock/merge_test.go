package mock_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
)

// TestMergeRules runs the changelog merge and table comparison rules in
// testdata/merge. Commands:
//
//	schema [key=a,b]       input: one "name TYPE [NOT NULL]" per line
//	merge [format=F]       input: changelog lines; output: merged table, then problems
//	                       without format: "+I {json}" lines (changelog-json rows)
//	                       format=upsert-kafka: "KEY -> VALUE" lines (VALUE null: tombstone)
//	                       other formats: one message value per line
//	compare [ignore=a,b] [tolerance=F]
//	                       input: "expected:" then rows, "actual:" then rows
func TestMergeRules(t *testing.T) {
	datadriven.Walk(t, "testdata/merge", func(t *testing.T, path string) {
		var schema *row.Schema
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "schema":
				var key []string
				if a, ok := d.Arg("key"); ok {
					key = a.Vals
				}
				s, err := parseSchema(d.Input, key)
				if err != nil {
					return "error: " + err.Error()
				}
				schema = s
				return "ok"
			case "merge":
				format := row.FormatChangelogJSON
				if a, ok := d.Arg("format"); ok {
					format = row.Format(a.Vals[0])
				}
				return merge(t, schema, format, d.Input)
			case "compare":
				var o mock.CompareOptions
				if a, ok := d.Arg("ignore"); ok {
					o.Ignore = a.Vals
				}
				if a, ok := d.Arg("tolerance"); ok {
					f, err := strconv.ParseFloat(a.Vals[0], 64)
					if err != nil {
						t.Fatal(err)
					}
					o.FloatTolerance = f
				}
				return compare(t, schema, d.Input, o)
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

func parseSchema(input string, key []string) (*row.Schema, error) {
	var cols []row.Column
	for _, ln := range strings.Split(strings.TrimSpace(input), "\n") {
		name, typ, _ := strings.Cut(strings.TrimSpace(ln), " ")
		nullable := true
		if up := strings.ToUpper(typ); strings.HasSuffix(up, " NOT NULL") {
			typ, nullable = typ[:len(typ)-len(" NOT NULL")], false
		}
		ty, err := row.ParseType(typ)
		if err != nil {
			return nil, err
		}
		cols = append(cols, row.Column{Name: name, Type: ty, Nullable: nullable})
	}
	return row.NewSchema(cols, key, 1)
}

func merge(t *testing.T, s *row.Schema, format row.Format, input string) string {
	t.Helper()
	codec, err := row.NewCodec(format, s)
	if err != nil {
		return "error: " + err.Error()
	}
	table := mock.NewTable(s)
	var out strings.Builder
	for _, ln := range strings.Split(strings.TrimSpace(input), "\n") {
		ln = strings.TrimSpace(ln)
		var m row.Message
		switch format {
		case row.FormatChangelogJSON:
			op, data, _ := strings.Cut(ln, " ")
			m.Value = []byte(fmt.Sprintf(`{"op":%q,"data":%s}`, op, data))
		case row.FormatUpsertKafka:
			k, v, ok := strings.Cut(ln, " -> ")
			if !ok {
				t.Fatalf("want KEY -> VALUE, got %q", ln)
			}
			m.Key = []byte(k)
			if v != "null" {
				m.Value = []byte(v)
			}
		default:
			m.Value = []byte(ln)
		}
		rows, err := codec.Decode(nil, m)
		if err != nil {
			fmt.Fprintf(&out, "decode error: %v\n", err)
			continue
		}
		for _, r := range rows {
			table.Apply(r)
		}
	}
	for _, r := range table.Rows() {
		out.Write(s.AppendJSON(nil, r))
		out.WriteByte('\n')
	}
	if table.Len() == 0 {
		out.WriteString("(empty table)\n")
	}
	for _, p := range table.Problems() {
		out.WriteString(p.String())
		out.WriteByte('\n')
	}
	return out.String()
}

func compare(t *testing.T, s *row.Schema, input string, o mock.CompareOptions) string {
	t.Helper()
	var expected, actual []row.Row
	var cur *[]row.Row
	for _, ln := range strings.Split(strings.TrimSpace(input), "\n") {
		ln = strings.TrimSpace(ln)
		switch ln {
		case "expected:":
			cur = &expected
			continue
		case "actual:":
			cur = &actual
			continue
		}
		if cur == nil {
			t.Fatalf("rows before expected: or actual:")
		}
		var r row.Row
		if err := s.RowFromJSON([]byte(ln), &r); err != nil {
			t.Fatalf("%s: %v", ln, err)
		}
		*cur = append(*cur, r.Clone())
	}
	d := mock.Compare(s, expected, actual, o)
	if d.Empty() {
		return fmt.Sprintf("equal: %d expected, %d actual", len(expected), len(actual))
	}
	return d.String()
}
