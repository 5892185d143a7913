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
	"time"

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
// The pid of each job it starts is kept in Dir/<role>.pid and its exit
// status in Dir/<role>.exit, so that a workflow resumed in a new process
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
	// Logger receives starts and stops. Nil discards them.
	Logger *slog.Logger
}

var _ Jobs = (*CommandJobs)(nil)

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

// Start starts the job unless the job of role already runs.
func (j *CommandJobs) Start(ctx context.Context, role Role, spec JobSpec) error {
	if pid, ok := readPID(j.file(role, "pid")); ok && alive(pid) {
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
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Stdout, cmd.Stderr = logf, logf
	setProcessGroup(cmd)
	os.Remove(j.file(role, "exit"))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("statemigrate: start the %s job (%s): %w", role, line, err)
	}
	if err := state.WriteFileAtomic(j.file(role, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n")); err != nil {
		_ = signalGroup(cmd.Process.Pid, true)
		return err
	}
	exitFile := j.file(role, "exit")
	// Reap the child when it exits and record its status; the goroutine
	// ends with the process.
	go func() {
		err := cmd.Wait()
		logf.Close()
		code := 0
		if err != nil {
			code = 1
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
		}
		_ = state.WriteFileAtomic(exitFile, []byte(strconv.Itoa(code)+"\n"))
	}()
	j.log().Info("bypass: job started", "job", role, "logic", spec.Logic, "pid", cmd.Process.Pid, "command", line)
	return nil
}

// Stop sends SIGTERM to the job and waits until it has exited (SIGKILL
// after StopTimeout).
func (j *CommandJobs) Stop(ctx context.Context, role Role) error {
	pidFile := j.file(role, "pid")
	pid, ok := readPID(pidFile)
	if !ok && role == Online && j.OnlinePIDFile != "" {
		pid, ok = readPID(j.OnlinePIDFile)
	}
	if !ok || !alive(pid) {
		os.Remove(pidFile)
		return nil
	}
	timeout := j.StopTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	j.log().Info("bypass: stopping job", "job", role, "pid", pid)
	if err := signalGroup(pid, false); err != nil {
		return fmt.Errorf("statemigrate: stop the %s job (pid %d): %w", role, pid, err)
	}
	deadline := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			j.log().Warn("bypass: job did not stop in time; killing it", "job", role, "pid", pid)
			_ = signalGroup(pid, true)
			deadline = time.Now().Add(timeout)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	os.Remove(pidFile)
	return nil
}

// Wait waits until the job has exited and reports a non-zero exit status
// with the end of its log.
func (j *CommandJobs) Wait(ctx context.Context, role Role) error {
	pid, ok := readPID(j.file(role, "pid"))
	if ok {
		for alive(pid) {
			if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
	}
	// The reaper writes the exit file right after the process is gone.
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
		return nil // not started by this process; the offsets tell
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
