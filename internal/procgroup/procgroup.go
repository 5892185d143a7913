package procgroup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Group is a process group whose leader this process started. Its methods
// are safe for concurrent use.
type Group struct {
	cmd  *exec.Cmd
	pgid int
	done chan struct{}

	mu struct {
		sync.Mutex
		err error // of cmd.Wait, once done is closed
	}
}

// Start starts cmd as the leader of a new process group (it sets
// cmd.SysProcAttr.Setpgid) and reaps it when it exits. The caller must not
// call cmd.Wait: Group does.
func Start(cmd *exec.Cmd) (*Group, error) {
	if err := setGroup(cmd); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &Group{cmd: cmd, pgid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		g.mu.Lock()
		g.mu.err = err
		g.mu.Unlock()
		close(g.done)
	}()
	return g, nil
}

// Pid is the leader's process id, which is also the group id.
func (g *Group) Pid() int { return g.pgid }

// Done is closed once the leader has exited and been reaped. Other members
// of the group may still run: Stop or WaitGone wait for them too.
func (g *Group) Done() <-chan struct{} { return g.done }

// Err returns the leader's exit error (as exec.Cmd.Wait reports it) once
// Done is closed, and nil before.
func (g *Group) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mu.err
}

// ProcessState returns the leader's exit state once Done is closed, and nil
// before.
func (g *Group) ProcessState() *os.ProcessState {
	select {
	case <-g.done:
		return g.cmd.ProcessState
	default:
		return nil
	}
}

// Stop sends sig to every process of the group and waits until the leader
// has exited and no live process is left in the group. After grace it
// sends SIGKILL to the group and waits up to grace again; a group that
// still lives then is an *ErrNotStopped. Stopping a group that has already
// ended returns nil. The leader's own exit status is in Err.
func (g *Group) Stop(ctx context.Context, sig syscall.Signal, grace time.Duration) error {
	return stop(ctx, g.pgid, sig, grace, g.done)
}

// WaitGone waits until the leader has exited and no live process is left
// in the group, or ctx ends.
func (g *Group) WaitGone(ctx context.Context) error {
	select {
	case <-g.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return WaitGone(ctx, g.pgid, 0)
}

// ErrNotStopped reports a process group that still has live processes
// after it was killed.
type ErrNotStopped struct {
	// Pgid is the process group id.
	Pgid int
	// Pids are the live processes found last (empty when the system does
	// not tell them).
	Pids []int
}

func (e *ErrNotStopped) Error() string {
	return fmt.Sprintf("process group %d did not end after SIGKILL (live processes %v): check them with ps -g %d", e.Pgid, e.Pids, e.Pgid)
}

// stop signals pgid, waits (leaderDone, when not nil, must be closed
// too), and kills after grace.
func stop(ctx context.Context, pgid int, sig syscall.Signal, grace time.Duration, leaderDone <-chan struct{}) error {
	if err := Signal(pgid, sig); err != nil {
		return err
	}
	gone := func() bool {
		if leaderDone != nil {
			select {
			case <-leaderDone:
			default:
				return false
			}
		}
		pids, err := Live(pgid)
		return err == nil && len(pids) == 0
	}
	if err := poll(ctx, grace, gone); err == nil {
		return nil
	} else if ctx.Err() != nil {
		return err
	}
	if err := Signal(pgid, syscall.SIGKILL); err != nil {
		return err
	}
	if err := poll(ctx, grace, gone); err != nil {
		if ctx.Err() != nil {
			return err
		}
		pids, _ := Live(pgid)
		return &ErrNotStopped{Pgid: pgid, Pids: pids}
	}
	return nil
}

var errTimeout = fmt.Errorf("procgroup: timed out")

// poll calls cond until it is true, backing off from 1ms to 50ms. A zero
// timeout waits until ctx ends.
func poll(ctx context.Context, timeout time.Duration, cond func() bool) error {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	d := time.Millisecond
	tick := time.NewTimer(0)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			if cond() {
				return nil
			}
			return errTimeout
		case <-tick.C:
		}
		if cond() {
			return nil
		}
		d = min(2*d, 50*time.Millisecond)
		tick.Reset(d)
	}
}

// WaitGone waits until no live process is left in group pgid, at most
// timeout (zero: until ctx ends). A timeout is an error naming the live
// processes.
func WaitGone(ctx context.Context, pgid int, timeout time.Duration) error {
	err := poll(ctx, timeout, func() bool {
		pids, err := Live(pgid)
		return err == nil && len(pids) == 0
	})
	if err == errTimeout {
		pids, _ := Live(pgid)
		return fmt.Errorf("procgroup: process group %d still has live processes %v after %s", pgid, pids, timeout)
	}
	return err
}

// WaitExit waits until process pid is no longer alive, at most timeout
// (zero: until ctx ends).
func WaitExit(ctx context.Context, pid int, timeout time.Duration) error {
	err := poll(ctx, timeout, func() bool { return !Alive(pid) })
	if err == errTimeout {
		return fmt.Errorf("procgroup: process %d still runs after %s", pid, timeout)
	}
	return err
}

// StopPid stops a process this process did not start: the whole group
// when pid leads one (see Group.Stop), else pid alone (SIGKILL after
// grace).
func StopPid(ctx context.Context, pid int, sig syscall.Signal, grace time.Duration) error {
	if IsLeader(pid) {
		return stop(ctx, pid, sig, grace, nil)
	}
	if err := signalPid(pid, sig); err != nil {
		return err
	}
	if err := WaitExit(ctx, pid, grace); err == nil || ctx.Err() != nil {
		return err
	}
	if err := signalPid(pid, syscall.SIGKILL); err != nil {
		return err
	}
	return WaitExit(ctx, pid, grace)
}
