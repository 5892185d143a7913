//go:build unix

package procgroup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
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
)

// TestHelperProcess is the child the tests start (the test binary run
// again with PROCGROUP_HELPER set). Modes:
//
//	slow-child <pidfile>   write its pid, then on SIGTERM wait until its
//	                       parent (the wrapper shell) has gone, and exit 0
//	lock <file> <pidfile>  hold an fcntl lock on file, write its pid, and
//	                       exit on SIGTERM
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("PROCGROUP_HELPER")
	if mode == "" {
		return
	}
	args := os.Args[slices.Index(os.Args, "--")+1:]
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	switch mode {
	case "slow-child":
		parent := os.Getppid()
		writePID(args[0])
		<-term
		for os.Getppid() == parent {
			time.Sleep(time.Millisecond) // the child's own work, not a test's synchronisation
		}
	case "lock":
		f, err := os.OpenFile(args[0], os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			os.Exit(2)
		}
		if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK}); err != nil {
			os.Exit(3)
		}
		writePID(args[1])
		<-term
	}
	os.Exit(0)
}

func writePID(path string) {
	tmp := path + ".tmp"
	os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())), 0o644)
	os.Rename(tmp, path)
}

func helper(t *testing.T, mode string, args ...string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the helper processes are checked through /proc")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PROCGROUP_HELPER", mode)
	q := []string{"'" + self + "'", "-test.run='^TestHelperProcess$'", "--"}
	for _, a := range args {
		q = append(q, "'"+a+"'")
	}
	return strings.Join(q, " ")
}

// readPID polls for a pid file the child writes.
func readPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil {
			pid, err := strconv.Atoi(string(b))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child wrote no %s", path)
		}
		time.Sleep(2 * time.Millisecond) // polling a child process
	}
}

func assertGroupGone(t *testing.T, pgid int) {
	t.Helper()
	if pids, err := procgroup.Live(pgid); err != nil || len(pids) != 0 {
		t.Fatalf("group %d has live processes %v (%v)", pgid, pids, err)
	}
	// Nothing left at all once the orphaned members' zombies are reaped
	// (by init, which may take a few seconds).
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kill(-%d, 0) = %v, want ESRCH", pgid, err)
		}
		time.Sleep(10 * time.Millisecond) // polling for init to reap
	}
}

func start(t *testing.T, line string) *procgroup.Group {
	t.Helper()
	g, err := procgroup.Start(exec.Command("/bin/sh", "-c", line))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { procgroup.Signal(g.Pid(), syscall.SIGKILL); <-g.Done() })
	return g
}

func TestStopEndsAPlainCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no process groups")
	}
	g := start(t, "sleep 600")
	if err := g.Stop(context.Background(), syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	assertGroupGone(t, g.Pid())
	var ee *exec.ExitError
	if !errors.As(g.Err(), &ee) || ee.ExitCode() != -1 {
		t.Fatalf("leader's exit: %v, want killed by the signal", g.Err())
	}
}

func TestStopWaitsForTheChildOfAWrapperScript(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	script := filepath.Join(dir, "wrapper.sh")
	// A wrapper that runs the job as a child (no exec): the shell dies on
	// SIGTERM at once, the child only after it.
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+helper(t, "slow-child", pidFile)+"\necho wrapper done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	g := start(t, script)
	child := readPID(t, pidFile)
	if child == g.Pid() {
		t.Fatal("the wrapper exec'd its child; the test needs a shell that forks")
	}
	if err := g.Stop(context.Background(), syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if procgroup.Alive(child) {
		t.Fatalf("Stop returned while the wrapper's child %d still runs", child)
	}
	assertGroupGone(t, g.Pid())
}

func TestStopKillsAGroupThatIgnoresTheSignal(t *testing.T) {
	// The trap is inherited: the background sleep ignores SIGTERM too.
	g := start(t, "trap '' TERM; sleep 600 & sleep 600; wait")
	// Wait until both sleeps run, so that the test stops a whole group.
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids, err := procgroup.Live(g.Pid())
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group members %v, want the shell and two sleeps", pids)
		}
		time.Sleep(2 * time.Millisecond) // polling the child processes
	}
	if err := g.Stop(context.Background(), syscall.SIGTERM, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	assertGroupGone(t, g.Pid())
}

func TestStopOfAnEndedGroupIsNoError(t *testing.T) {
	g := start(t, "exit 3")
	<-g.Done()
	if err := g.Stop(context.Background(), syscall.SIGTERM, time.Second); err != nil {
		t.Fatal(err)
	}
	if got := g.ProcessState().ExitCode(); got != 3 {
		t.Fatalf("exit code %d, want 3", got)
	}
}

func TestStopPidStopsAGroupThisProcessDidNotStart(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	g := start(t, helper(t, "slow-child", pidFile)+"; true")
	child := readPID(t, pidFile)
	// As a resumed workflow does: only the pid is known.
	if err := procgroup.StopPid(context.Background(), g.Pid(), syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if procgroup.Alive(child) {
		t.Fatalf("StopPid returned while %d still runs", child)
	}
	if pids, _ := procgroup.Live(g.Pid()); len(pids) != 0 {
		t.Fatalf("live: %v", pids)
	}
}

func TestLockHoldersNamesTheProcessHoldingALock(t *testing.T) {
	dir := t.TempDir()
	lock, pidFile := filepath.Join(dir, "LOCK"), filepath.Join(dir, "holder.pid")
	if got, err := procgroup.LockHolders(lock); err != nil || len(got) != 0 {
		t.Fatalf("a missing file: %v %v", got, err)
	}
	g := start(t, helper(t, "lock", lock, pidFile))
	holder := readPID(t, pidFile)
	got, err := procgroup.LockHolders(lock)
	if err != nil || !slices.Equal(got, []int{holder}) {
		t.Fatalf("holders %v (%v), want [%d]", got, err, holder)
	}
	if err := g.Stop(context.Background(), syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := procgroup.LockHolders(lock); err != nil || len(got) != 0 {
		t.Fatalf("after the holder exited: %v %v", got, err)
	}
}

func TestErrNotStoppedTellsWhatToCheck(t *testing.T) {
	err := &procgroup.ErrNotStopped{Pgid: 42, Pids: []int{42, 43}}
	if got := err.Error(); !strings.Contains(got, "ps -g 42") || !strings.Contains(got, fmt.Sprint([]int{42, 43})) {
		t.Fatal(got)
	}
}
