package mock

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Ready declares how a run tells that the job under test is ready to read
// its sources (the case's ready section). Every check given must pass;
// the run waits for them after starting the job and before sending, and
// ends with verdict Error naming what was not ready after Timeout.
type Ready struct {
	// Group is the job's consumer group: ready once it is Stable and its
	// members are assigned every partition of every source topic.
	// "{run_id}" is replaced by the run id. Jobs that assign partitions
	// themselves (Flink's Kafka source) have no such group: use Command
	// or HTTP.
	Group string
	// Command is a shell command that exits 0 once the job is ready; it
	// gets the job's environment (HOTCOLD_RUN_ID, ...).
	Command string
	// HTTP is a URL that answers 2xx once the job is ready.
	HTTP string
	// Timeout bounds the wait (default DefaultReadyTimeout).
	Timeout time.Duration
}

func (r Ready) declared() bool { return r.Group != "" || r.Command != "" || r.HTTP != "" }

// waitReady polls the declared checks every 100ms until all pass.
func waitReady(ctx context.Context, adm *kadm.Client, c *Case, run RunInfo, brokers string) error {
	r := c.Ready
	if !r.declared() {
		return nil
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		why := notReady(ctx, adm, c, run, brokers)
		if why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("mock: the job under test was not ready within %s: %s (check the case's ready section, or raise ready.timeout)", timeout, why)
		case <-tick.C:
		}
	}
}

// notReady returns what is not ready yet, or "".
func notReady(ctx context.Context, adm *kadm.Client, c *Case, run RunInfo, brokers string) string {
	r := c.Ready
	if r.Group != "" {
		if why := groupNotReady(ctx, adm, c, run); why != "" {
			return why
		}
	}
	if r.Command != "" {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cmd := exec.CommandContext(cctx, "/bin/sh", "-c", r.Command)
		cmd.Env = append(os.Environ(), JobEnv(run, brokers)...)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			why := fmt.Sprintf("ready.command %q: %v", r.Command, err)
			if s := strings.TrimSpace(string(out)); s != "" {
				why += ": " + lastLine(s)
			}
			return why
		}
	}
	if r.HTTP != "" {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(cctx, http.MethodGet, r.HTTP, nil)
		if err != nil {
			return fmt.Sprintf("ready.http %s: %v", r.HTTP, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Sprintf("ready.http %s: %v", r.HTTP, err)
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Sprintf("ready.http %s answers %s", r.HTTP, resp.Status)
		}
	}
	return ""
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func groupNotReady(ctx context.Context, adm *kadm.Client, c *Case, run RunInfo) string {
	group := strings.ReplaceAll(c.Ready.Group, "{run_id}", run.RunID)
	want := map[string]int32{}
	for _, s := range c.Sources {
		want[run.Topics[s.Topic]] = s.Partitions
	}
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return fmt.Sprintf("consumer group %s cannot be described: %v", group, err)
	}
	g, ok := described[group]
	if !ok || g.Err != nil {
		return fmt.Sprintf("consumer group %s cannot be described: %v", group, g.Err)
	}
	if g.State != "Stable" {
		state := g.State
		if state == "" || state == "Dead" {
			state = "not there (no member has joined)"
		}
		return fmt.Sprintf("consumer group %s is %s, not Stable", group, state)
	}
	owned := map[string]map[int32]bool{}
	for _, m := range g.Members {
		a, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, t := range a.Topics {
			if owned[t.Topic] == nil {
				owned[t.Topic] = map[int32]bool{}
			}
			for _, p := range t.Partitions {
				owned[t.Topic][p] = true
			}
		}
	}
	var missing []string
	for t, n := range want {
		for p := int32(0); p < n; p++ {
			if !owned[t][p] {
				missing = append(missing, fmt.Sprintf("%s/%d", t, p))
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Sprintf("consumer group %s is Stable but no member owns %s", group, strings.Join(missing, ", "))
	}
	return ""
}
