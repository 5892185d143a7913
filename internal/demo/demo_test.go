package demo_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/demo"
	"github.com/hotcold/hotcold/internal/progress"
)

// smallConfig is the demo at the size CI runs: 6 days of 300 orders.
func smallConfig(dir string) demo.Config {
	return demo.Config{Dir: dir, Days: 6, OrdersPerDay: 300}
}

func TestSmallDemoHotColdOutputEqualsBaselineWithLessState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	var (
		mu       sync.Mutex
		finished []string
	)
	cfg := smallConfig(dir)
	cfg.Progress = func(p progress.Event) {
		mu.Lock()
		defer mu.Unlock()
		if p.Final {
			finished = append(finished, p.Op)
		}
	}
	rep, err := demo.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var js strings.Builder
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %s", js.String())

	c := rep.Comparison
	if !rep.Identical || !c.JoinIdentical || !c.AggIdentical || !c.BootstrapIdentical || !c.MatchesReference {
		t.Fatalf("outputs differ: %+v", c)
	}
	if c.JoinRows != rep.Refunds || c.JoinRows == 0 || c.AggRows == 0 || c.BootstrapRows == 0 {
		t.Fatalf("row counts: %+v with %d refunds", c, rep.Refunds)
	}
	hc, bl := rep.HotCold, rep.Baseline
	if hc.StateBytes <= 0 || hc.StateBytes >= bl.StateBytes {
		t.Fatalf("hot/cold state %d bytes, baseline %d: want smaller and non-zero", hc.StateBytes, bl.StateBytes)
	}
	all := int64(rep.Orders + rep.Refunds)
	if hc.Records != all || bl.Records != all || bl.BootstrapRecords != all {
		t.Fatalf("records: hot/cold %d, baseline %d, baseline bootstrap %d; want %d each", hc.Records, bl.Records, bl.BootstrapRecords, all)
	}
	if hc.BootstrapRecords <= 0 || hc.BootstrapRecords >= all {
		t.Fatalf("the hot/cold bootstrap read %d of %d records: want only the hot window", hc.BootstrapRecords, all)
	}
	// Every refund looked its order up once, and was answered hot, cold
	// or not yet (then joined when the order arrived).
	for _, j := range []demo.JobReport{hc, bl} {
		l := j.Lookups
		if l.HotHits+l.ColdHits+l.Misses != int64(rep.Refunds) {
			t.Errorf("%s: lookups %+v do not add up to %d refunds", j.Name, l, rep.Refunds)
		}
		if j.Dirty != 0 || j.Late != 0 {
			t.Errorf("%s: %d dirty, %d late records", j.Name, j.Dirty, j.Late)
		}
	}
	if hc.Lookups.ColdHits == 0 || hc.Lookups.HotHits == 0 || bl.Lookups.ColdHits != 0 {
		t.Errorf("hot/cold lookups %+v, baseline %+v: want hot and cold hits, and none cold for the baseline", hc.Lookups, bl.Lookups)
	}
	if hc.Sidecar == nil || hc.Sidecar.Calls == 0 || hc.Sidecar.Keys < hc.Lookups.ColdHits || hc.Sidecar.P99 < hc.Sidecar.P50 || bl.Sidecar != nil {
		t.Errorf("sidecar latency: hot/cold %+v, baseline %+v", hc.Sidecar, bl.Sidecar)
	}

	// The warehouse export is where a warehouse would put it, and the
	// files and the cold store stay after the run.
	coldDays := rep.Days - rep.HotDays
	files, err := filepath.Glob(filepath.Join(dir, "warehouse", "orders", "dt=*", "part-0.parquet"))
	if err != nil || len(files) != coldDays || rep.Cold.Files != coldDays {
		t.Fatalf("parquet partitions %v (%v), report %d; want %d", files, err, rep.Cold.Files, coldDays)
	}
	if filepath.Base(filepath.Dir(files[0])) != "dt=2026-11-01" {
		t.Errorf("first partition %s, want dt=2026-11-01", files[0])
	}
	store, err := coldstore.OpenPebble(filepath.Join(dir, "cold"), nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := store.Describe(context.Background(), "orders")
	store.Close()
	if err != nil || info.Rows != int64(coldDays*300) || !info.CoversUntil.Equal(rep.Cold.CoversUntil) || info.Version != rep.Cold.Version {
		t.Fatalf("cold table %+v (%v), report %+v", info, err, rep.Cold)
	}

	wantSteps := []string{"generate workload", "export parquet", "load cold store", "encode records", "join: baseline", "join: hot/cold",
		"bootstrap: baseline", "bootstrap: hot/cold", "agg: baseline", "agg: hot/cold", "compare outputs"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(finished, wantSteps) {
		t.Errorf("finished steps %q, want %q", finished, wantSteps)
	}
	var names []string
	for _, s := range rep.Steps {
		names = append(names, s.Step)
	}
	if !slices.Equal(names, wantSteps) {
		t.Errorf("report steps %q, want %q", names, wantSteps)
	}
}

func TestRunReusesItsOwnDirectoryAndRefusesOthers(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(precious, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := demo.Run(context.Background(), smallConfig(dir))
	if err == nil || !strings.Contains(err.Error(), "not made by hotcold demo") {
		t.Fatalf("Run in a foreign directory: %v, want a refusal", err)
	}
	if b, err := os.ReadFile(precious); err != nil || string(b) != "keep me" {
		t.Fatalf("the foreign file was touched: %q, %v", b, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("Run wrote into a foreign directory: %v", ents)
	}

	own := filepath.Join(t.TempDir(), "demo")
	cfg := smallConfig(own)
	cfg.Days, cfg.OrdersPerDay = 4, 100
	for i := 0; i < 2; i++ {
		rep, err := demo.Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if !rep.Identical {
			t.Fatalf("run %d: outputs differ: %+v", i+1, rep.Comparison)
		}
	}
}

func TestConfigProblemsAreReportedTogether(t *testing.T) {
	_, err := demo.Run(context.Background(), demo.Config{Days: 2, HotDays: 2, Partitions: 100})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"Dir is required", "Days is 2", "Partitions is 100"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestReportPrintsTheComparison(t *testing.T) {
	rep := sampleReport()
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	for _, want := range []string{
		"30 days x 20,000 orders/day = 600,000 orders, 80,369 refunds",
		"hot/cold (2 days hot)", "baseline (30 days hot)",
		"state bytes", "1.8 MiB", "26 MiB", "14.22x smaller",
		"bootstrap time", "625ms", "9.48s", "15.17x faster",
		"sidecar p50 / p99", "0.64ms / 3.67ms",
		"outputs identical", "yes",
		"What this shows",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// The columns line up: every row's second column starts at the same
	// offset as the header's.
	lines := strings.Split(out, "\n")
	var header string
	for _, l := range lines {
		if strings.Contains(l, "hot/cold (2 days hot)") {
			header = l
		}
	}
	col := strings.Index(header, "hot/cold")
	note := len(header) + 3 // the notes start after the last header cell and the column gap
	for _, l := range lines {
		if strings.HasPrefix(l, "records/s") || strings.HasPrefix(l, "state bytes") || strings.HasPrefix(l, "misses") {
			if l[col-1] != ' ' || l[col] == ' ' || l[note-1] != ' ' || l[note] == ' ' {
				t.Errorf("row %q is not aligned with the header %q", l, header)
			}
		}
		if strings.HasSuffix(l, " ") {
			t.Errorf("line %q ends in a space", l)
		}
	}

	var md strings.Builder
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| | hot/cold (2 days hot) | baseline (30 days hot) | |", "|---|---:|---:|---|",
		"| state bytes | 1.8 MiB | 26 MiB | 14.22x smaller |", "| whole demo (default size) < 2 minutes | 44.2s wall (35s CPU) | meets |",
		"| merged outputs identical (join, agg, bootstrap, reference) | true | meets |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}

	var js strings.Builder
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back demo.Report
	if err := json.Unmarshal([]byte(js.String()), &back); err != nil {
		t.Fatal(err)
	}
	if back.HotCold.StateBytes != rep.HotCold.StateBytes || back.HotCold.Sidecar.P99 != rep.HotCold.Sidecar.P99 || !back.Identical {
		t.Fatalf("JSON round trip: %+v", back)
	}

	rep.Identical = false
	rep.Comparison.Diffs = []string{"join: hot/cold vs baseline: 1 missing"}
	table.Reset()
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "NO") || !strings.Contains(table.String(), "DIFFERENCE join: hot/cold vs baseline: 1 missing") {
		t.Errorf("a failed comparison is not shown:\n%s", table.String())
	}
}

// sampleReport is a report with the numbers of a real default run.
func sampleReport() *demo.Report {
	return &demo.Report{
		Days: 30, OrdersPerDay: 20_000, HotDays: 2, Partitions: 3, Seed: 1,
		Orders: 600_000, Refunds: 80_369,
		Cold: demo.ColdLoad{Days: 28, Files: 28, FileBytes: 14_155_776, ExportSeconds: 1.14, Rows: 560_000, LoadSeconds: 0.624,
			StoreBytes: 16_043_212, Version: "dt=2026-11-28", CoversUntil: demo.DefaultStart.AddDate(0, 0, 28)},
		HotCold: demo.JobReport{Name: "hot/cold", RetentionDays: 2, Records: 680_369, Seconds: 9.6, RecordsPerSecond: 70_683,
			StateBytes: 1_887_436, BootstrapRecords: 45_961, BootstrapSeconds: 0.625,
			Lookups: demo.Lookups{HotHits: 34_149, ColdHits: 45_863, Misses: 357},
			Sidecar: &demo.LookupLatency{Calls: 2185, Keys: 46_220, P50: 640 * time.Microsecond, P99: 3670 * time.Microsecond}},
		Baseline: demo.JobReport{Name: "baseline", RetentionDays: 30, Records: 680_369, Seconds: 9.4, RecordsPerSecond: 72_564,
			StateBytes: 26_843_545, BootstrapRecords: 680_369, BootstrapSeconds: 9.48,
			Lookups: demo.Lookups{HotHits: 80_053, Misses: 316}},
		Comparison: demo.Comparison{JoinIdentical: true, JoinRows: 80_369, AggIdentical: true, AggRows: 360, BootstrapIdentical: true,
			BootstrapRows: 12_000, MatchesReference: true},
		Identical:  true,
		Seconds:    44.2,
		CPUSeconds: 35,
		Steps:      []demo.StepTime{{Step: "generate workload", Seconds: 0.4, Done: 600_000, Unit: "orders"}},
	}
}
