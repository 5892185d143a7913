//go:build unix

package statemigrate_test

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotcold/hotcold/internal/procgroup"
	"github.com/hotcold/hotcold/state"
	"github.com/hotcold/hotcold/statemigrate"
)

// TestHelperStateJob is a job CommandJobs starts (the test binary run
// again): it opens the state given after --, writes its pid next to it,
// and on SIGTERM closes the state only once the wrapper shell that started
// it has exited, so that a Stop that waited for the shell alone would
// find the state still locked.
func TestHelperStateJob(t *testing.T) {
	if os.Getenv("STATEMIGRATE_HELPER_JOB") != "1" {
		return
	}
	dir := os.Args[slices.Index(os.Args, "--")+1]
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	db, err := state.Open(dir, state.Options{})
	if err != nil {
		os.Exit(2)
	}
	parent := os.Getppid()
	os.WriteFile(dir+".pid.tmp", []byte(strconv.Itoa(os.Getpid())), 0o644)
	os.Rename(dir+".pid.tmp", dir+".pid")
	<-term
	for os.Getppid() == parent {
		time.Sleep(time.Millisecond) // the job's own shutdown, not a test's synchronisation
	}
	db.Close()
	os.Exit(0)
}

func TestCommandJobsStopWaitsUntilAWrappedJobHasReleasedItsState(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("lock holders are read from /proc/locks")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("STATEMIGRATE_HELPER_JOB", "1")
	tmp := t.TempDir()
	work, stateDir := filepath.Join(tmp, "work"), filepath.Join(tmp, "state")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	// "; echo" keeps the shell from exec'ing the job: the pid file holds
	// the shell, as with any wrapper script.
	line := "'" + self + "' -test.run='^TestHelperStateJob$' -- {state}; echo job ended"
	jobs := &statemigrate.CommandJobs{Old: line, New: line, Dir: work, StopTimeout: 30 * time.Second}
	ctx := context.Background()
	if err := jobs.Start(ctx, statemigrate.Side, statemigrate.JobSpec{Logic: statemigrate.NewLogic, StateDir: stateDir}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jobs.Stop(context.Background(), statemigrate.Side) })
	var job int
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(stateDir + ".pid"); err == nil {
			job, _ = strconv.Atoi(string(b))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job did not open its state")
		}
		time.Sleep(5 * time.Millisecond) // polling the child process
	}
	shell, _ := strconv.Atoi(strings.TrimSpace(readFileT(t, filepath.Join(work, "side.pid"))))
	if shell == job {
		t.Fatal("the shell exec'd the job; the test needs a wrapper")
	}
	if err := jobs.Stop(ctx, statemigrate.Side); err != nil {
		t.Fatal(err)
	}
	if procgroup.Alive(job) {
		t.Fatalf("Stop returned while the job (pid %d) still runs", job)
	}
	if pids, _ := procgroup.Live(shell); len(pids) != 0 {
		t.Fatalf("Stop returned while the job's group has live processes %v", pids)
	}
	db, err := state.Open(stateDir, state.Options{})
	if err != nil {
		t.Fatalf("the state is still locked after Stop: %v", err)
	}
	db.Close()
	// Stopping a stopped job is not an error (a resumed workflow repeats it).
	if err := jobs.Stop(ctx, statemigrate.Side); err != nil {
		t.Fatal(err)
	}
}

func TestCommandJobsStopRefusesAnUnreadablePIDFile(t *testing.T) {
	tmp := t.TempDir()
	pidFile := filepath.Join(tmp, "job.pid")
	if err := os.WriteFile(pidFile, []byte("not a pid\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	jobs := &statemigrate.CommandJobs{Old: "true", New: "true", Dir: tmp, OnlinePIDFile: pidFile}
	err := jobs.Stop(context.Background(), statemigrate.Online)
	if err == nil || !strings.Contains(err.Error(), pidFile) || !strings.Contains(err.Error(), "holds no process id") {
		t.Fatalf("got %v, want an error naming %s", err, pidFile)
	}
}

func readFileT(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
