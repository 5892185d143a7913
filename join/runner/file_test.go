package runner_test

import (
	"os"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
)

func TestExampleConfigFileBuildsARunner(t *testing.T) {
	f, err := runner.ReadFile("../testdata/join.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Cold.Store != "pebble:./cold" || f.Metrics.Listen == "" {
		t.Fatalf("cold/metrics not read: %+v", f.Cold)
	}
	cfg, err := f.Config(coldstore.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Join.Left.ColdTable != "orders" || cfg.Join.Type != join.Inner || cfg.Dirty != runner.DeadLetter || cfg.OutputTopic != "orders_refunds" {
		t.Fatalf("config = %+v", cfg)
	}
	if _, err := runner.New(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFileErrorsNameFileLineAndColumn(t *testing.T) {
	data, err := os.ReadFile("../testdata/join.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "{name: refund, type: \"decimal(18, 2)\"", "{name: refund, type: \"decimel(18, 2)\"", 1)
	bad = strings.Replace(bad, "{from: right.refund}", "{from: middle.refund}", 1)
	f, err := runner.ParseFile("join.yaml", []byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Config(coldstore.NewMemory())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"join.yaml:54:7: right.columns[3] (\"refund\")", "decimel", "join.yaml:67:7: output.columns[4].from \"middle.refund\": the side must be left or right"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	_, err = runner.ParseFile("join.yaml", []byte("name: x\nretention: 3\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "retention") {
		t.Fatalf("unknown key error = %v", err)
	}
}

func TestConfigWithColdTableNeedsAColdStore(t *testing.T) {
	f, err := runner.ReadFile("../testdata/join.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Config(nil); err == nil || !strings.Contains(err.Error(), "cold.store or cold.sidecar") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseFile(f *testing.F) {
	data, err := os.ReadFile("../testdata/join.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("name: x\nleft: {columns: [{name: a, type: int}]}\n"))
	f.Add([]byte("output: {columns: [{from: left}]}"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := runner.ParseFile("fuzz.yaml", b)
		if err != nil {
			return
		}
		cfg, err := file.Config(coldstore.NewMemory())
		if err != nil {
			return
		}
		_, _ = runner.New(cfg)
	})
}
