package mock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hotcold/hotcold/internal/procgroup"
)

// ExecJob returns a StartFunc that runs a shell command (sh -c) as the job
// under test for each run, so that an isolated run can point the job at
// its per-run topics. The command's environment adds:
//
//	HOTCOLD_RUN_ID            the run id
//	HOTCOLD_BROKERS           brokers, as given
//	HOTCOLD_SINK_TOPIC        the run's topic of the (first) sink
//	HOTCOLD_SINK_<NAME>       the run's topic of each sink (name as for sources)
//	HOTCOLD_SOURCE_<NAME>     the run's topic of each source (name upper-cased, other characters as _)
//	HOTCOLD_TOPIC_<TOPIC>     the run's topic for each topic named in the case
//
// The command runs in its own process group, so a wrapper script's
// children belong to the job too. Stopping sends an interrupt (SIGINT) to
// the whole group and waits until every process of it has exited; after
// grace (default 10s) it kills the group, which is reported as an error.
// Output goes to stdout and stderr (nil: discarded); the end of stderr is
// kept for the report.
//
// A job that exits by itself before the run ends is reported through
// RunInfo.JobEnded: a non-zero status ends the run at once with verdict
// Error and a *JobExit naming the status and the end of stderr. A job that
// exits 0 on the interrupt, or dies of it (status 130, or 143 after
// SIGTERM, as the JVM reports), stopped cleanly.
func ExecJob(command, brokers string, grace time.Duration, stdout, stderr io.Writer) StartFunc {
	if grace <= 0 {
		grace = 10 * time.Second
	}
	return func(ctx context.Context, run RunInfo) (func() error, error) {
		cmd := exec.Command("/bin/sh", "-c", command)
		cmd.Env = append(os.Environ(), JobEnv(run, brokers)...)
		tail := &tailBuffer{max: 4 << 10}
		cmd.Stdout = stdout
		if stderr != nil {
			cmd.Stderr = io.MultiWriter(stderr, tail)
		} else {
			cmd.Stderr = tail
		}
		g, err := procgroup.Start(cmd)
		if err != nil {
			return nil, fmt.Errorf("mock: start %q: %w", command, err)
		}
		var (
			mu       sync.Mutex
			stopping bool
		)
		exitErr := func(byUs bool) error {
			st := g.ProcessState()
			if st == nil || st.Success() {
				return nil
			}
			e := &JobExit{Command: command, Status: st.ExitCode(), Stderr: tail.String(), Stopped: byUs}
			if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				e.Status, e.Signal = 128+int(ws.Signal()), ws.Signal().String()
				if byUs && ws.Signal() == syscall.SIGINT {
					return nil // ended by our interrupt
				}
			}
			if byUs && (e.Status == 130 || e.Status == 143) && e.Signal == "" {
				return nil // exited "by" the interrupt, as a JVM does
			}
			return e
		}
		go func() {
			<-g.Done()
			mu.Lock()
			byUs := stopping
			mu.Unlock()
			if !byUs && run.JobEnded != nil {
				run.JobEnded(exitErr(false))
			}
		}()
		var (
			once    sync.Once
			stopErr error
		)
		return func() error {
			once.Do(func() {
				mu.Lock()
				select {
				case <-g.Done(): // ended by itself: its status stands
				default:
					stopping = true
				}
				byUs := stopping
				mu.Unlock()
				if err := g.Stop(context.WithoutCancel(ctx), syscall.SIGINT, grace); err != nil {
					stopErr = fmt.Errorf("mock: stop job %q: %w", command, err)
					return
				}
				if e := exitErr(byUs); e != nil {
					var je *JobExit
					if errors.As(e, &je) && je.Signal == "killed" && byUs {
						je.Text = fmt.Sprintf("did not stop within %s of the interrupt and was killed", grace)
					}
					stopErr = e
				}
			})
			return stopErr
		}, nil
	}
}

// JobExit is the error of a job under test that exited with a non-zero
// status (on its own, or when it was stopped).
type JobExit struct {
	// Command is the job's command line.
	Command string
	// Status is the exit status (128+N when killed by signal N).
	Status int
	// Signal names the signal that killed it, if any.
	Signal string
	// Stderr is the end of its standard error.
	Stderr string
	// Stopped is set when it exited after the run asked it to stop.
	Stopped bool
	// Text, when set, replaces the description of how it ended.
	Text string
}

func (e *JobExit) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the job under test (%s) ", e.Command)
	switch {
	case e.Text != "":
		b.WriteString(e.Text)
	case e.Signal != "":
		fmt.Fprintf(&b, "was killed by %s (status %d)", e.Signal, e.Status)
	default:
		fmt.Fprintf(&b, "exited with status %d", e.Status)
	}
	if !e.Stopped {
		b.WriteString(" before the run ended")
	}
	if e.Status == 127 && e.Signal == "" {
		b.WriteString(" (127: the shell did not find the command; check --exec)")
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		b.WriteString("; the end of its stderr:\n")
		b.WriteString(s)
	} else {
		b.WriteString("; it wrote nothing to stderr")
	}
	return b.String()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(t.b)
	if t.cut {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
		s = "...\n" + s
	}
	return s
}

// JobEnv returns the environment ExecJob gives the job, as KEY=value.
func JobEnv(run RunInfo, brokers string) []string {
	env := []string{"HOTCOLD_RUN_ID=" + run.RunID, "HOTCOLD_BROKERS=" + brokers}
	if run.Case != nil {
		env = append(env, "HOTCOLD_SINK_TOPIC="+run.Topics[run.Case.Sink.Topic])
		for _, sk := range run.Case.Sinks {
			env = append(env, "HOTCOLD_SINK_"+envName(sk.Name)+"="+run.Topics[sk.Topic])
		}
		for _, s := range run.Case.Sources {
			env = append(env, "HOTCOLD_SOURCE_"+envName(s.Name)+"="+run.Topics[s.Topic])
		}
	}
	names := make([]string, 0, len(run.Topics))
	for t := range run.Topics {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		env = append(env, "HOTCOLD_TOPIC_"+envName(t)+"="+run.Topics[t])
	}
	return env
}

func envName(s string) string {
	b := []byte(strings.ToUpper(s))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}
