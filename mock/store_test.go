package mock_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
)

// s3Store starts an in-process S3 server (gofakes3, in memory) with one
// bucket and opens a store on it through gocloud's s3blob, path-style.
func s3Store(t *testing.T) *mock.Store {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("cases"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	empty := filepath.Join(t.TempDir(), "aws-config")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	url := "s3://cases?endpoint=" + srv.URL + "&use_path_style=true&region=us-east-1"
	s, err := mock.OpenStore(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fileStore(t *testing.T) *mock.Store {
	t.Helper()
	s, err := mock.OpenStore(context.Background(), filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreRoundTripsCasesAndResults(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(*testing.T) *mock.Store
	}{{"file", fileStore}, {"s3", s3Store}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxFor(t)
			s := tc.open(t)
			c := loadCase(t, "testdata/cases/refund-before-order")
			prefix, err := s.SaveCase(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if prefix != "cases/refund-before-order/" {
				t.Errorf("prefix %q", prefix)
			}
			names, err := s.Cases(ctx)
			if err != nil || len(names) != 1 || names[0] != "refund-before-order" {
				t.Fatalf("cases %v, %v", names, err)
			}
			back, err := s.LoadCase(ctx, "refund-before-order")
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Steps()) != len(c.Steps()) || !strings.HasSuffix(back.Path, "cases/refund-before-order/case.yaml") {
				t.Fatalf("loaded %d steps from %s", len(back.Steps()), back.Path)
			}
			if _, err := s.LoadCase(ctx, "nope"); err == nil || !strings.Contains(err.Error(), `no case "nope"`) {
				t.Errorf("missing case: %v", err)
			}

			res, err := mock.RunInProcess(ctx, back, newRefundJoin(t, back, true), mock.Options{})
			if err != nil {
				t.Fatal(err)
			}
			runPrefix, err := s.SaveResult(ctx, res)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := s.LoadSummary(ctx, runPrefix)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Verdict != mock.Fail || sum.Sent != 4 || sum.Rows != 1 || sum.Diff == nil || len(sum.Diff.Missing) != 1 {
				t.Fatalf("summary %+v", sum)
			}
			table, err := s.ReadFile(ctx, runPrefix+"table.jsonl")
			if err != nil || string(table) != `{"order_id":2,"amount":12.50,"refund_amount":12.50}`+"\n" {
				t.Fatalf("table.jsonl %q, %v", table, err)
			}
			inputs, err := s.ReadFile(ctx, runPrefix+"inputs.jsonl")
			if err != nil || strings.Count(string(inputs), "\n") != 4 || !strings.Contains(string(inputs), `"origin":{"source":"refunds","step":1,"topic":"refunds","partition":0,"offset":0`) {
				t.Fatalf("inputs.jsonl %s, %v", inputs, err)
			}
			runs, err := s.Runs(ctx, "refund-before-order")
			if err != nil || len(runs) != 1 || "runs/refund-before-order/"+runs[0]+"/" != runPrefix {
				t.Fatalf("runs %v, %v (saved at %s)", runs, err, runPrefix)
			}
			if none, err := s.Runs(ctx, "never-run"); err != nil || len(none) != 0 {
				t.Fatalf("runs of a case never run: %v, %v", none, err)
			}
			for _, name := range []string{"output.jsonl", "report.txt", "case/case.yaml", "case/orders.jsonl"} {
				if _, err := s.ReadFile(ctx, runPrefix+name); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		})
	}
}

func TestSuiteReportsAPassFailTableAndJUnit(t *testing.T) {
	ctx := ctxFor(t)
	s := fileStore(t)
	job := &switchJob{}
	rep, err := mock.RunSuite(ctx, []string{
		"testdata/cases/refund-before-order",
		"testdata/cases/refund-wrong-amount.yaml",
		"testdata/bad/many",
	}, mock.SuiteOptions{Job: job, Store: s, Load: func(_ context.Context, name string) (*mock.Case, error) {
		c, err := mock.LoadCase(name)
		if err == nil {
			job.j = newRefundJoin(t, c, false)
		}
		return c, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 2 {
		t.Fatalf("%d failed", rep.Failed())
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	var squeezed []string
	for _, ln := range strings.Split(out, "\n") {
		squeezed = append(squeezed, strings.Join(strings.Fields(ln), " "))
	}
	out = strings.Join(squeezed, "\n")
	for _, want := range []string{
		"CASE RESULT SENT RECEIVED ROWS MISSING UNEXPECTED CHANGED TIME",
		"refund-before-order PASS 4 2 2 0 0 0",
		"refund-wrong-amount FAIL 4 2 2 0 0 1",
		"many ERROR 0 0 0 - - -",
		"refund_amount: expected 10.00, got 12.50",
		"many: ERROR (0 inputs, 0 outputs, 0 rows, ",
		"): the case does not load: testdata/bad/many/orders.jsonl:2",
		"stored at " + filepath.Join(s.String(), "runs", "refund-wrong-amount"),
		"1 passed, 2 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	var junit bytes.Buffer
	if err := rep.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suite    struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(junit.Bytes(), &doc); err != nil {
		t.Fatalf("junit is not XML: %v\n%s", err, junit.String())
	}
	if doc.Tests != 3 || doc.Failures != 1 || doc.Errors != 1 || len(doc.Suite.Cases) != 3 {
		t.Fatalf("junit counts %+v", doc)
	}
	fc := doc.Suite.Cases[1]
	if fc.Name != "refund-wrong-amount" || fc.Failure == nil || !strings.Contains(fc.Failure.Text, "refund_amount: expected 10.00, got 12.50") {
		t.Fatalf("failing testcase %+v", fc)
	}
	if ec := doc.Suite.Cases[2]; ec.Error == nil || !strings.Contains(ec.Error.Message, "does not load") {
		t.Fatalf("error testcase %+v", ec)
	}
}

// switchJob delegates to the job built for the current case.
type switchJob struct{ j *refundJoin }

func (s *switchJob) Process(ctx context.Context, in mock.Input) ([]row.Row, error) {
	return s.j.Process(ctx, in)
}
