package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/agg"
	aggrunner "github.com/hotcold/hotcold/agg/runner"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
	"github.com/hotcold/hotcold/statemigrate"
)

var migrateRefunds = row.MustSchema([]row.Column{
	{Name: "city", Type: row.String},
	{Name: "refund_id", Type: row.Int64},
	{Name: "amount", Type: row.Int64},
}, nil, 1)

// migrateAgg is the test job's logic; "new" adds a metric.
func migrateAgg(logic string) agg.Config {
	c := agg.Config{ID: "refunds_by_city", Input: migrateRefunds, GroupBy: []string{"city"},
		InputName: "refunds", OutputName: "refunds_by_city",
		Aggregates: []agg.Aggregate{{Name: "n", Func: agg.Count}, {Name: "total", Func: agg.Sum, Arg: "amount"}}}
	if logic == "new" {
		c.Version = 2
		c.Aggregates = append(c.Aggregates, agg.Aggregate{Name: "biggest", Func: agg.Max, Arg: "amount"})
	}
	return c
}

func migrateManifestFile(t *testing.T, logic string) string {
	t.Helper()
	cfg := migrateAgg(logic)
	op, err := manifest.FromAgg(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := (&manifest.Manifest{Job: "refunds", Operators: []manifest.Operator{op}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), logic+".yaml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMigratePlanPrintsVerdictsAndExitCodes(t *testing.T) {
	oldM, newM := migrateManifestFile(t, "old"), migrateManifestFile(t, "new")
	out, err := run(t, "migrate", "plan", "--from", oldM, "--to", newM)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "refunds_by_city  agg   migrate (metadata)") || !strings.Contains(out, "aggregate max(amount) added") {
		t.Fatalf("plan output:\n%s", out)
	}
	out, err = run(t, "migrate", "plan", "--from", oldM, "--to", newM, "--json")
	var p struct{ Verdict string }
	if err != nil || json.Unmarshal([]byte(out), &p) != nil || p.Verdict != "migrate" {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	// A new group key needs a rebuild: exit status 2.
	b, _ := os.ReadFile(newM)
	rebuild := filepath.Join(t.TempDir(), "rebuild.yaml")
	os.WriteFile(rebuild, bytes.Replace(b, []byte("key:\n          - city"), []byte("key:\n          - city\n          - refund_id"), 1), 0o644)
	b2, _ := os.ReadFile(rebuild)
	b2 = bytes.Replace(b2, []byte("          - name: city\n            type: string\n"), []byte("          - name: city\n            type: string\n          - name: refund_id\n            type: int64\n"), 1)
	os.WriteFile(rebuild, b2, 0o644)
	out, err = run(t, "migrate", "plan", "--from", oldM, "--to", rebuild)
	if exitCode(err) != 2 || !strings.Contains(out, "group key changed") {
		t.Fatalf("rebuild plan: exit %d %v\n%s", exitCode(err), err, out)
	}
	if _, err := run(t, "migrate", "plan", "--from", oldM); err == nil || !strings.Contains(err.Error(), "give --from") {
		t.Fatalf("missing --to: %v", err)
	}
}

func TestMigrateApplyMigratesStateTheNewJobOpens(t *testing.T) {
	dir, out := filepath.Join(t.TempDir(), "state"), filepath.Join(t.TempDir(), "state-v2")
	cfg := migrateAgg("old")
	op, _ := manifest.FromAgg(cfg)
	if _, err := manifest.Ensure(dir, &manifest.Manifest{Job: "refunds", Operators: []manifest.Operator{op}}); err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := agg.New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		r := row.New(row.StringValue([]string{"bj", "sh"}[i%2]), row.Int64Value(int64(i)), row.Int64Value(int64(10*i)))
		if _, err := a.Process(nil, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	res, err := run(t, "migrate", "apply", "--state", dir, "--to", migrateManifestFile(t, "new"), "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	if !strings.Contains(res, "refunds_by_city      rows 2") || !strings.Contains(res, "refunds_by_city.biggest counted from") {
		t.Fatalf("apply output:\n%s", res)
	}
	db, err = state.Open(out, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err = agg.New(db, migrateAgg("new"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := a.Process(nil, row.New(row.StringValue("bj"), row.Int64Value(99), row.Int64Value(5)))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rows); got != "[-U[bj, 5, 200, null] +U[bj, 6, 205, 5]]" {
		t.Fatalf("after migration: %s", got)
	}
	res, err = run(t, "migrate", "apply", "--state", dir, "--to", migrateManifestFile(t, "new"), "--out", out)
	if err != nil || !strings.Contains(res, "already holds this migration") {
		t.Fatalf("re-run: %v\n%s", err, res)
	}
}

// migrateAggYAML is the test job as a hotcold agg config; "new" adds a
// metric (version 2).
func migrateAggYAML(t *testing.T, logic, brokers string) string {
	t.Helper()
	y := `name: refunds_by_city
version: 1
kafka:
  brokers: [` + brokers + `]
  group: refunds_by_city
  max_poll_records: 7
input:
  topic: refunds
  format: changelog-json
  columns:
    - {name: city, type: string}
    - {name: refund_id, type: bigint}
    - {name: amount, type: bigint}
group_by: [city]
aggregates:
  - {name: n, func: count}
  - {name: total, func: sum, arg: amount}
output:
  topic: refunds_by_city
state:
  dir: ./unused
`
	if logic == "new" {
		y = strings.Replace(y, "version: 1", "version: 2", 1) + ""
		y = strings.Replace(y, "  - {name: total, func: sum, arg: amount}\n", "  - {name: total, func: sum, arg: amount}\n  - {name: biggest, func: max, arg: amount}\n", 1)
	}
	p := filepath.Join(t.TempDir(), logic+".yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// aggManifestFile writes the manifest hotcold agg derives from the config
// file cfgFile.
func aggManifestFile(t *testing.T, cfgFile string) string {
	t.Helper()
	f, err := aggrunner.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	op, err := manifest.FromAgg(cfg.Agg)
	if err != nil {
		t.Fatal(err)
	}
	job := cfg.Job
	if job == "" {
		job = cfg.Agg.ID
	}
	b, err := (&manifest.Manifest{Job: job, Operators: []manifest.Operator{op}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := cfgFile + ".manifest.yaml"
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMigrateBypassSwitchesAProcessJobToTheNewLogic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "refunds", "refunds_by_city", "refunds_by_city_v2"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()[0]
	tmp := t.TempDir()
	work, online := filepath.Join(tmp, "bypass"), filepath.Join(tmp, "online")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The jobs are hotcold agg as shipped: this test binary runs main
	// (HOTCOLD_TEST_MAIN), so the command line is the real CLI's.
	t.Setenv("HOTCOLD_TEST_MAIN", "1")
	configs := map[string]string{"old": migrateAggYAML(t, "old", brokers), "new": migrateAggYAML(t, "new", brokers)}
	jobCmd := func(logic string) string {
		return fmt.Sprintf("exec %s agg --config %s --state-dir {state} --output-topic {output} --group {group} --stop-at {stop_at} --log-level debug", self, configs[logic])
	}
	produce := func(from, n int) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic("refunds"))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		codec, _ := row.NewCodec(row.FormatChangelogJSON, migrateRefunds)
		for i := from; i < from+n; i++ {
			city := []string{"bj", "sh", "gz"}[i%3]
			m, _, _ := codec.Encode(row.New(row.StringValue(city), row.Int64Value(int64(i)), row.Int64Value(int64(i))))
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte(city), Value: m.Value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 30)
	// The online job, started by "the process manager".
	pidFile := filepath.Join(tmp, "job.pid")
	onlineCmd := exec.Command("/bin/sh", "-c", "echo $$ > "+pidFile+".tmp && mv "+pidFile+".tmp "+pidFile+" && "+strings.NewReplacer("{state}", online, "{output}", "refunds_by_city",
		"{group}", "refunds_by_city", "{stop_at}", "''").Replace(jobCmd("old")))
	onlineCmd.Stderr = os.Stderr
	if err := onlineCmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { onlineCmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		onlineCmd.Process.Kill()
		<-exited
		// Stop the online job CommandJobs started after the switch, and
		// wait until its exit was recorded.
		jobs := statemigrate.CommandJobs{Dir: work, StopTimeout: 10 * time.Second}
		if err := jobs.Stop(context.Background(), statemigrate.Online); err != nil {
			t.Error(err)
		}
		jobs.Wait(context.Background(), statemigrate.Online)
		// The bypass ran in this process: its reaper records the job's exit
		// status in WORK-DIR/online.exit once the job has exited. Wait for
		// it, so that it does not write into the directory being removed.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(work, "online.exit")); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond) // polling the reaper
		}
	})
	// Wait until the online job wrote its manifest and pid.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err1 := os.Stat(filepath.Join(online, "p1", manifest.FileName))
		_, err2 := os.Stat(pidFile)
		if err1 == nil && err2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the online job did not start")
		}
		time.Sleep(20 * time.Millisecond) // polling the child process
	}
	args := []string{"migrate", "bypass", "--work-dir", work, "--brokers", brokers, "--input", "refunds",
		"--online-state", online, "--online-output", "refunds_by_city", "--online-group", "refunds_by_city",
		"--online-pid-file", pidFile, "--side-output", "refunds_by_city_v2", "--side-group", "refunds_by_city_v2",
		"--to", aggManifestFile(t, configs["new"]), "--old-cmd", jobCmd("old"), "--new-cmd", jobCmd("new"), "--poll", "50ms", "--stop-timeout", "20s"}
	out, err := runMock(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "stage online-switched") {
		t.Fatalf("bypass output:\n%s", out)
	}
	status, err := run(t, "migrate", "bypass", "--work-dir", work, "--status")
	var st statemigrate.Status
	if err != nil || json.Unmarshal([]byte(status), &st) != nil || st.Stage != statemigrate.StageDone || !st.OnlineOffsets.Equal(st.SideOffsets) {
		t.Fatalf("status: %v\n%s", err, status)
	}
	// The log and the arguments are kept for hotcold ui: the log stage by
	// stage, and the arguments that resume (a no-op now) or abort (refused:
	// the run completed) it with the code of this command.
	if log := readFile(filepath.Join(work, "bypass.log")); !strings.Contains(log, "bypass: stage 1/7: side-started") || !strings.Contains(log, "bypass: stage 7/7 done: online-switched") {
		t.Fatalf("bypass.log:\n%s", log)
	}
	if err := resumeBypass(context.Background(), work, false); err != nil {
		t.Fatalf("resume of a completed run: %v", err)
	}
	if err := resumeBypass(context.Background(), work, true); err == nil || !strings.Contains(err.Error(), "the bypass completed") {
		t.Fatalf("abort of a completed run: %v", err)
	}
	// The switched job counts new input with the new metric over all history.
	produce(30, 3)
	newOut, err := statemigrate.OutputSchema(mustManifest(t, aggManifestFile(t, configs["new"])))
	if err != nil {
		t.Fatal(err)
	}
	want := "bj, 11, 165, 30\ngz, 11, 187, 32\nsh, 11, 176, 31"
	deadline = time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rows, err := statemigrate.ReadTable(ctx, []string{brokers}, statemigrate.Output{Topic: "refunds_by_city", Schema: newOut})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(rows, "\n"); got == want {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("table:\n%s\nwant:\n%s\njob log:\n%s", got, want, readFile(filepath.Join(work, "online.log")))
		}
		time.Sleep(50 * time.Millisecond) // polling Kafka
	}
}

func mustManifest(t *testing.T, path string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// TestMigrateApplyMigratesEveryPartitionOfAJobStateRoot migrates a state
// root laid out as hotcold agg keeps it (p0, p1): plan reads the root,
// apply migrates every partition and publishes them together.
func TestMigrateApplyMigratesEveryPartitionOfAJobStateRoot(t *testing.T) {
	root, out := filepath.Join(t.TempDir(), "state"), filepath.Join(t.TempDir(), "state-v2")
	cfg := migrateAgg("old")
	op, _ := manifest.FromAgg(cfg)
	for p, city := range []string{"bj", "sh"} {
		dir := filepath.Join(root, fmt.Sprintf("p%d", p))
		if _, err := manifest.Ensure(dir, &manifest.Manifest{Job: "refunds", Operators: []manifest.Operator{op}}); err != nil {
			t.Fatal(err)
		}
		db, err := state.Open(dir, state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := agg.New(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			if _, err := a.Process(nil, row.New(row.StringValue(city), row.Int64Value(int64(i)), row.Int64Value(int64(10*i)))); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Commit(); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	if res, err := run(t, "migrate", "plan", "--from", root, "--to", migrateManifestFile(t, "new")); err != nil || !strings.Contains(res, "migrate") {
		t.Fatalf("plan of a state root: %v\n%s", err, res)
	}
	res, err := run(t, "migrate", "apply", "--state", root, "--to", migrateManifestFile(t, "new"), "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, res)
	}
	if !strings.Contains(res, "partition p0   keys") || !strings.Contains(res, "partition p1   keys") || !strings.Contains(res, "migrated state of 2 partitions") {
		t.Fatalf("apply output:\n%s", res)
	}
	for p, city := range []string{"bj", "sh"} {
		db, err := state.Open(filepath.Join(out, fmt.Sprintf("p%d", p)), state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := agg.New(db, migrateAgg("new"))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := a.Process(nil, row.New(row.StringValue(city), row.Int64Value(99), row.Int64Value(5)))
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(rows), fmt.Sprintf("[-U[%s, 5, 100, null] +U[%s, 6, 105, 5]]", city, city); got != want {
			t.Fatalf("p%d after migration: %s, want %s", p, got, want)
		}
	}
	res, err = run(t, "migrate", "apply", "--state", root, "--to", migrateManifestFile(t, "new"), "--out", out)
	if err != nil || !strings.Contains(res, "already holds this migration") {
		t.Fatalf("re-run: %v\n%s", err, res)
	}
	if _, err := run(t, "migrate", "plan", "--from", t.TempDir(), "--to", migrateManifestFile(t, "new")); err == nil || !strings.Contains(err.Error(), "no partition state p0, p1") {
		t.Fatalf("plan of an empty dir: %v", err)
	}
}
