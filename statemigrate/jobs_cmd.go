package statemigrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hotcold/hotcold/internal/procgroup"
	"github.com/hotcold/hotcold/state"
)

// CommandJobs runs the jobs of a bypass rebuild as operating-system
// processes started from command lines, so that any job honouring a small
// contract can be rebuilt: it takes its state directory, output topic,
// consumer group and optional stop offsets on its command line, commits its
// input offsets with its state (and to the group), and on SIGTERM commits
// and exits. Placeholders in Old and New:
//
//	{state}    the state directory
//	{output}   the output topic
//	{group}    the consumer group
//	{stop_at}  the stop offsets as topic/partition=offset,... ("" to run until stopped)
//	{logic}    old or new
//
// Each value is substituted shell-quoted; the line runs under /bin/sh -c in
// its own process group, with stdout and stderr appended to Dir/<role>.log.
// Stop signals the whole group (a wrapper script's children too) and
// returns once every process of it has exited and the job's state
// directory is unlocked.
// The pid of each job it starts is kept in Dir/<role>.pid and its exit
// status in Dir/<role>.exit and its state directory in Dir/<role>.state, so that a workflow resumed in a new process
// stops and waits for the jobs the crashed one started. A job started by
// CommandJobs keeps running after the workflow's process exits (e.g. the
// online job after the switch).
//
// CommandJobs works on Unix systems.
type CommandJobs struct {
	// Old is the command line of the job with the old logic. Required.
	Old string
	// New is the command line of the job with the new logic. Required.
	New string
	// Dir keeps the pid, exit and log files (use the workflow's WorkDir).
	// Required.
	Dir string
	// OnlinePIDFile names the pid file of the online job that runs before
	// the bypass (started by your process manager): Stop(Online) signals
	// that process while CommandJobs has not started an online job itself.
	// Empty: the online job must be stopped by other means before stage 4
	// and Stop(Online) only waits for nothing.
	OnlinePIDFile string
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL. Zero
	// means one minute.
	StopTimeout time.Duration
	// OnlineStateDir is the state directory of the online job that runs
	// before the bypass: Stop(Online) waits until it is released. Empty:
	// Stop waits for the process only.
	OnlineStateDir string
	// Logger receives starts and stops. Nil discards them.
	Logger *slog.Logger

	mu struct {
		sync.Mutex
		groups map[Role]*procgroup.Group // started by this value
	}
}

var (
	_ Jobs         = (*CommandJobs)(nil)
	_ ExitReporter = (*CommandJobs)(nil)
)

func (j *CommandJobs) log() *slog.Logger {
	if j.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return j.Logger
}

func (j *CommandJobs) file(role Role, ext string) string {
	return filepath.Join(j.Dir, string(role)+"."+ext)
}

// StopAtArg renders offsets the way {stop_at} receives them.
func StopAtArg(o Offsets) string {
	keys := slices.SortedFunc(maps.Keys(o), cmpTP)
	parts := make([]string, len(keys))
	for i, tp := range keys {
		parts[i] = fmt.Sprintf("%s/%d=%d", tp.Topic, tp.Partition, o[tp])
	}
	return strings.Join(parts, ",")
}

// ParseStopAt reads a {stop_at} argument ("" is nil).
func ParseStopAt(s string) (Offsets, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := Offsets{}
	for _, part := range strings.Split(s, ",") {
		tpStr, offStr, ok := strings.Cut(strings.TrimSpace(part), "=")
		i := strings.LastIndexByte(tpStr, '/')
		if !ok || i <= 0 {
			return nil, fmt.Errorf("statemigrate: stop offset %q: want topic/partition=offset", part)
		}
		p, err := strconv.ParseInt(tpStr[i+1:], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("statemigrate: stop offset %q: bad partition", part)
		}
		off, err := strconv.ParseInt(offStr, 10, 64)
		if err != nil || off < 0 {
			return nil, fmt.Errorf("statemigrate: stop offset %q: bad offset", part)
		}
		out[state.TopicPartition{Topic: tpStr[:i], Partition: int32(p)}] = off
	}
	return out, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// commandLine substitutes spec into the role's command template.
func (j *CommandJobs) commandLine(spec JobSpec) string {
	tmpl := j.Old
	if spec.Logic == NewLogic {
		tmpl = j.New
	}
	return strings.NewReplacer(
		"{state}", shellQuote(spec.StateDir),
		"{output}", shellQuote(spec.OutputTopic),
		"{group}", shellQuote(spec.Group),
		"{stop_at}", shellQuote(StopAtArg(spec.StopAt)),
		"{logic}", shellQuote(string(spec.Logic)),
	).Replace(tmpl)
}

func readPID(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

// group returns the process group this CommandJobs started for role in
// this process, if its pid is pid.
func (j *CommandJobs) group(role Role, pid int) *procgroup.Group {
	j.mu.Lock()
	defer j.mu.Unlock()
	if g := j.mu.groups[role]; g != nil && g.Pid() == pid {
		return g
	}
	return nil
}

// Start starts the job unless the job of role already runs.
func (j *CommandJobs) Start(ctx context.Context, role Role, spec JobSpec) error {
	if pid, ok := readPID(j.file(role, "pid")); ok && procgroup.Alive(pid) {
		return nil
	}
	if j.Old == "" || j.New == "" || j.Dir == "" {
		return errors.New("statemigrate: CommandJobs needs Old, New and Dir")
	}
	line := j.commandLine(spec)
	logf, err := os.OpenFile(j.file(role, "log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	// Stop waits until the state is released, also in a resumed workflow.
	if err := state.WriteFileAtomic(j.file(role, "state"), []byte(spec.StateDir+"\n")); err != nil {
		logf.Close()
		return err
	}
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Stdout, cmd.Stderr = logf, logf
	os.Remove(j.file(role, "exit"))
	g, err := procgroup.Start(cmd)
	if err != nil {
		logf.Close()
		return fmt.Errorf("statemigrate: start the %s job (%s): %w", role, line, err)
	}
	if err := state.WriteFileAtomic(j.file(role, "pid"), []byte(strconv.Itoa(g.Pid())+"\n")); err != nil {
		_ = g.Stop(ctx, syscall.SIGKILL, j.stopTimeout())
		logf.Close()
		return err
	}
	j.mu.Lock()
	if j.mu.groups == nil {
		j.mu.groups = map[Role]*procgroup.Group{}
	}
	j.mu.groups[role] = g
	j.mu.Unlock()
	exitFile := j.file(role, "exit")
	// Record the exit status once the shell has exited and been reaped;
	// the goroutine ends with the process.
	go func() {
		<-g.Done()
		logf.Close()
		code := 0
		if st := g.ProcessState(); st != nil {
			code = st.ExitCode()
		}
		if ws, ok := g.ProcessState().Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal()) // as a shell reports it
		}
		_ = state.WriteFileAtomic(exitFile, []byte(strconv.Itoa(code)+"\n"))
	}()
	j.log().Info("bypass: job started", "job", role, "logic", spec.Logic, "pid", g.Pid(), "command", line)
	return nil
}

func (j *CommandJobs) stopTimeout() time.Duration {
	if j.StopTimeout == 0 {
		return time.Minute
	}
	return j.StopTimeout
}

// stateDir is the state directory of the job of role, if known.
func (j *CommandJobs) stateDir(role Role) string {
	if b, err := os.ReadFile(j.file(role, "state")); err == nil {
		return strings.TrimSpace(string(b))
	}
	if role == Online {
		return j.OnlineStateDir
	}
	return ""
}

// Stop sends SIGTERM to the job's process group and returns once every
// process of the group has exited and the job's state directory is no
// longer locked (SIGKILL to the group after StopTimeout). A job it did not
// start (OnlinePIDFile) is stopped as a group when its pid leads one, else
// alone.
func (j *CommandJobs) Stop(ctx context.Context, role Role) error {
	pidFile := j.file(role, "pid")
	pid, ok := readPID(pidFile)
	if !ok && role == Online && j.OnlinePIDFile != "" {
		if _, err := os.Stat(j.OnlinePIDFile); err == nil {
			if pid, ok = readPID(j.OnlinePIDFile); !ok {
				return fmt.Errorf("statemigrate: stop the online job: %s holds no process id; fix it (or stop the job yourself and remove the file), then run again", j.OnlinePIDFile)
			}
		}
	}
	timeout := j.stopTimeout()
	if ok && procgroup.Alive(pid) {
		j.log().Info("bypass: stopping job", "job", role, "pid", pid)
		var err error
		if g := j.group(role, pid); g != nil {
			err = g.Stop(ctx, syscall.SIGTERM, timeout)
		} else {
			err = procgroup.StopPid(ctx, pid, syscall.SIGTERM, timeout)
		}
		if err != nil {
			return fmt.Errorf("statemigrate: stop the %s job (pid %d): %w", role, pid, err)
		}
	}
	if err := j.waitReleased(ctx, role, timeout); err != nil {
		return err
	}
	os.Remove(pidFile)
	return nil
}

// waitReleased waits until no process holds the lock of the role's state
// directory (where the system tells: Linux).
func (j *CommandJobs) waitReleased(ctx context.Context, role Role, timeout time.Duration) error {
	dir := j.stateDir(role)
	if dir == "" {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		// One lock per partition of a job's state root (p<N>/LOCK), or
		// the directory's own.
		locks := []string{filepath.Join(dir, "LOCK")}
		if ps, err := Partitions(dir); err == nil && len(ps) > 0 {
			locks = locks[:0]
			for _, p := range ps {
				locks = append(locks, filepath.Join(dir, p, "LOCK"))
			}
		}
		var holders []int
		for _, lock := range locks {
			h, err := procgroup.LockHolders(lock)
			if errors.Is(err, errors.ErrUnsupported) {
				return nil // the job's processes have exited, which released it
			}
			if err != nil {
				return fmt.Errorf("statemigrate: check whether the %s job's state %s is released: %w", role, dir, err)
			}
			holders = append(holders, h...)
		}
		if len(holders) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("statemigrate: the %s job stopped, but its state %s is still locked by process %v: stop that process, then run again", role, dir, holders)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// Wait waits until the job has exited (every process of its group) and
// reports a non-zero exit status with the end of its log.
func (j *CommandJobs) Wait(ctx context.Context, role Role) error {
	pid, ok := readPID(j.file(role, "pid"))
	if !ok {
		return nil // not started by this workflow; the offsets tell
	}
	if g := j.group(role, pid); g != nil {
		if err := g.WaitGone(ctx); err != nil {
			return err
		}
	} else {
		if err := procgroup.WaitExit(ctx, pid, 0); err != nil {
			return err
		}
		if procgroup.IsLeader(pid) {
			if err := procgroup.WaitGone(ctx, pid, 0); err != nil {
				return err
			}
		}
	}
	if err := j.waitReleased(ctx, role, j.stopTimeout()); err != nil {
		return err
	}
	// The reaper writes the exit file right after the shell is reaped (in
	// this process, or in the crashed one that started it).
	var b []byte
	var err error
	for i := 0; i < 100; i++ {
		if b, err = os.ReadFile(j.file(role, "exit")); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	os.Remove(j.file(role, "pid"))
	if err != nil {
		return nil // its starter crashed before recording the status; the offsets tell
	}
	if code := strings.TrimSpace(string(b)); code != "0" {
		return fmt.Errorf("the %s job exited with status %s; the end of %s:\n%s", role, code, j.file(role, "log"), logTail(j.file(role, "log")))
	}
	return nil
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Exited reports whether the job of role that CommandJobs started (in
// this process or in a crashed one) has exited, with its exit status and
// the end of its log.
func (j *CommandJobs) Exited(ctx context.Context, role Role) (bool, error) {
	pid, ok := readPID(j.file(role, "pid"))
	if !ok {
		return false, nil // not started by this workflow
	}
	if g := j.group(role, pid); g != nil {
		select {
		case <-g.Done():
		default:
			return false, nil
		}
	} else if procgroup.Alive(pid) {
		return false, nil
	}
	err := j.Wait(ctx, role)
	if err == nil {
		err = fmt.Errorf("the %s job exited with status 0; the end of %s:\n%s", role, j.file(role, "log"), logTail(j.file(role, "log")))
	}
	return true, err
}
