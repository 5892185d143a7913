//go:build unix

package mock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotcold/hotcold/internal/procgroup"
	"github.com/hotcold/hotcold/mock"
)

// emptyCase is a case whose expected table is empty: a run with no job
// output would pass it.
func emptyCase(t *testing.T) *mock.Case {
	t.Helper()
	p := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(p, []byte(`name: empty
sources:
  - name: changes
    topic: accounts
    format: json
    columns: {id: BIGINT NOT NULL}
    key: [id]
    messages: [{row: {id: 1}}]
sink:
  topic: out
  format: json
  columns: {id: BIGINT NOT NULL}
  key: [id]
expect:
  rows: []
  timeout: 10m
  quiet: 300ms
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return loadCase(t, p)
}

func TestRunAJobThatExitsNonZeroWithCorrectOutputIsAnError(t *testing.T) {
	kopts := newCluster(t)
	// The case is its own job (source and sink are one topic), so the
	// output is correct whatever the command does.
	c := loadCase(t, "testdata/cases/passthrough.yaml")
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true,
		StartJob: mock.ExecJob("echo 'lost the connection to the sink' >&2; exit 3", "k", 5*time.Second, nil, nil)})
	var je *mock.JobExit
	if !errors.As(err, &je) || je.Status != 3 || res.Verdict != mock.Error {
		t.Fatalf("error %v, verdict %s", err, res.Verdict)
	}
	for _, want := range []string{"exited with status 3", "lost the connection to the sink"} {
		if !strings.Contains(res.Reason, want) {
			t.Errorf("reason %q does not say %q", res.Reason, want)
		}
	}
	var junit strings.Builder
	if err := (&mock.Report{Results: []*mock.Result{res}}).WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	if s := junit.String(); !strings.Contains(s, `<error message="the job under test`) || !strings.Contains(s, "lost the connection to the sink") {
		t.Fatalf("JUnit:\n%s", s)
	}
}

func TestRunAMistypedExecIsAnErrorAtOnceNotAPass(t *testing.T) {
	kopts := newCluster(t)
	c := emptyCase(t) // timeout 10m: the test's one minute would end first
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true,
		StartJob: mock.ExecJob("hotcold-no-such-job --brokers x", "k", 5*time.Second, nil, nil)})
	if err == nil || res.Verdict != mock.Error {
		t.Fatalf("error %v, verdict %s:\n%s", err, res.Verdict, res.Report())
	}
	for _, want := range []string{"exited with status 127", "check --exec", "not found"} {
		if !strings.Contains(res.Reason, want) {
			t.Errorf("reason %q does not say %q", res.Reason, want)
		}
	}
}

func TestRunAJobThatDiesAtStartDoesNotWaitForTheTimeout(t *testing.T) {
	kopts := newCluster(t)
	c := loadCase(t, "testdata/cases/refund-before-order")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := mock.Run(ctx, c, mock.Options{Kafka: kopts, FullSpeed: true, Timeout: time.Hour,
		StartJob: mock.ExecJob("echo 'no such table: orders' >&2; exit 1", "k", 5*time.Second, nil, nil)})
	if ctx.Err() != nil || res.Verdict != mock.Error || !strings.Contains(err.Error(), "no such table: orders") {
		t.Fatalf("ctx %v, error %v, verdict %s", ctx.Err(), err, res.Verdict)
	}
}

func TestRunAJobThatExitsZeroOnTheInterruptGetsNoNote(t *testing.T) {
	kopts := newCluster(t)
	c := loadCase(t, "testdata/cases/passthrough.yaml")
	res, err := mock.Run(ctxFor(t), c, mock.Options{Kafka: kopts, FullSpeed: true,
		StartJob: mock.ExecJob("trap 'exit 0' INT; while :; do sleep 1; done", "k", 10*time.Second, nil, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Passed() || len(res.Problems) != 0 || strings.Contains(res.Report(), "job under test") {
		t.Fatalf("report:\n%s", res.Report())
	}
}

// TestHelperJob is a job the stop tests start (the test binary run again):
// it writes $READY_FILE once it runs, then waits, with SIGINT's default
// action (it dies of it).
func TestHelperJob(t *testing.T) {
	if os.Getenv("MOCK_HELPER_JOB") != "1" {
		return
	}
	os.WriteFile(os.Getenv("READY_FILE"), nil, 0o644)
	select {}
}

// helperJob is the shell command of TestHelperJob.
func helperJob(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MOCK_HELPER_JOB", "1")
	return "'" + self + "' -test.run='^TestHelperJob$'"
}

// startAndStop runs line through ExecJob; the line writes its shell's pid
// (the process group) to $PGID_FILE. It returns the group and stop's error.
func startAndStop(t *testing.T, line string, grace time.Duration, ready string) (int, error) {
	t.Helper()
	dir := t.TempDir()
	pgidFile := filepath.Join(dir, "pgid")
	t.Setenv("PGID_FILE", pgidFile)
	t.Setenv("READY_FILE", filepath.Join(dir, "ready"))
	c := loadCase(t, "testdata/cases/passthrough.yaml")
	stop, err := mock.ExecJob(`echo $$ > "$PGID_FILE.tmp" && mv "$PGID_FILE.tmp" "$PGID_FILE"; `+line, "k", grace, nil, nil)(ctxFor(t), mock.RunInfo{RunID: "r", Case: c, Topics: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	var pgid int
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(pgidFile)
		if err == nil {
			pgid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		var isReady bool
		if comm, ok := strings.CutPrefix(ready, "comm:"); ok {
			// The group leader exec'd into comm: its own signal
			// dispositions hold from here on (a shell between its fork
			// and its child's exec may swallow an interrupt).
			got, cerr := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pgid))
			isReady = err == nil && cerr == nil && strings.TrimSpace(string(got)) == comm
		} else {
			_, rerr := os.Stat(filepath.Join(dir, "ready"))
			isReady = err == nil && (ready == "" || rerr == nil)
		}
		if isReady {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job did not start")
		}
		time.Sleep(5 * time.Millisecond) // polling the child process
	}
	return pgid, stop()
}

func assertNoProcessOfTheGroup(t *testing.T, pgid int) {
	t.Helper()
	if pids, err := procgroup.Live(pgid); err != nil || len(pids) != 0 {
		t.Fatalf("after stop, group %d has live processes %v (%v)", pgid, pids, err)
	}
	// Zombies of orphaned members are reaped by init, which may take a
	// moment; then nothing of the group is left.
	deadline := time.Now().Add(60 * time.Second)
	for !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		if time.Now().After(deadline) {
			t.Fatalf("kill(-%d, 0) does not give ESRCH", pgid)
		}
		time.Sleep(10 * time.Millisecond) // polling for init to reap
	}
}

func TestExecJobStopLeavesNoProcessOfAPlainCommand(t *testing.T) {
	pgid, err := startAndStop(t, "exec sleep 600", 10*time.Second, "comm:sleep")
	if err != nil {
		t.Fatalf("a job ended by the interrupt stopped cleanly: %v", err)
	}
	assertNoProcessOfTheGroup(t, pgid)
}

func TestExecJobStopLeavesNoProcessOfAWrapperScript(t *testing.T) {
	script := filepath.Join(t.TempDir(), "job.sh")
	// A wrapper that starts its job as a child and waits for it: dash
	// passes no signal on, so only a signal to the group reaches the job.
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+helperJob(t)+" &\nwait $!\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pgid, err := startAndStop(t, script, 10*time.Second, "ready")
	if err != nil {
		t.Fatalf("a job ended by the interrupt stopped cleanly: %v", err)
	}
	assertNoProcessOfTheGroup(t, pgid)
}

func TestExecJobKillsAGroupThatIgnoresTheInterrupt(t *testing.T) {
	script := filepath.Join(t.TempDir(), "job.sh")
	// The ignored SIGINT is inherited by the child.
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntrap '' INT\n"+helperJob(t)+" &\nwait $!\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pgid, err := startAndStop(t, script, 200*time.Millisecond, "ready")
	if err == nil || !strings.Contains(err.Error(), "did not stop within 200ms of the interrupt and was killed") {
		t.Fatalf("got %v", err)
	}
	assertNoProcessOfTheGroup(t, pgid)
}

func TestExecJobStopEndsAWrapperScriptsForegroundChild(t *testing.T) {
	script := filepath.Join(t.TempDir(), "job.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+helperJob(t)+"\necho never\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pgid, err := startAndStop(t, script, 10*time.Second, "ready")
	if err != nil {
		t.Fatalf("a job ended by the interrupt stopped cleanly: %v", err)
	}
	assertNoProcessOfTheGroup(t, pgid)
}
