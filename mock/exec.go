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
	"time"
)

// ExecJob returns a StartFunc that runs a shell command (sh -c) as the job
// under test for each run, so that an isolated run can point the job at
// its per-run topics. The command's environment adds:
//
//	HOTCOLD_RUN_ID            the run id
//	HOTCOLD_BROKERS           brokers, as given
//	HOTCOLD_SINK_TOPIC        the run's sink topic
//	HOTCOLD_SOURCE_<NAME>     the run's topic of each source (name upper-cased, other characters as _)
//	HOTCOLD_TOPIC_<TOPIC>     the run's topic for each topic named in the case
//
// Stopping sends an interrupt, then kills the process if it has not ended
// after grace (default 10s). Output goes to stdout and stderr (nil:
// discarded).
func ExecJob(command, brokers string, grace time.Duration, stdout, stderr io.Writer) StartFunc {
	if grace <= 0 {
		grace = 10 * time.Second
	}
	return func(ctx context.Context, run RunInfo) (func() error, error) {
		jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cmd := exec.CommandContext(jctx, "sh", "-c", command)
		cmd.Env = append(os.Environ(), JobEnv(run, brokers)...)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = grace
		if err := cmd.Start(); err != nil {
			cancel()
			return nil, fmt.Errorf("mock: start %q: %w", command, err)
		}
		var (
			once    sync.Once
			waitErr error
			stopped bool
			mu      sync.Mutex
		)
		done := make(chan struct{})
		go func() {
			err := cmd.Wait()
			mu.Lock()
			waitErr = err
			mu.Unlock()
			close(done)
		}()
		return func() error {
			once.Do(func() {
				mu.Lock()
				stopped = true
				mu.Unlock()
				cancel()
				<-done
			})
			mu.Lock()
			defer mu.Unlock()
			var ee *exec.ExitError
			if stopped && errors.As(waitErr, &ee) && !ee.Exited() {
				return nil // ended by our interrupt
			}
			if waitErr != nil {
				return fmt.Errorf("mock: job %q: %w", command, waitErr)
			}
			return nil
		}, nil
	}
}

// JobEnv returns the environment ExecJob gives the job, as KEY=value.
func JobEnv(run RunInfo, brokers string) []string {
	env := []string{"HOTCOLD_RUN_ID=" + run.RunID, "HOTCOLD_BROKERS=" + brokers}
	if run.Case != nil {
		env = append(env, "HOTCOLD_SINK_TOPIC="+run.Topics[run.Case.Sink.Topic])
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
