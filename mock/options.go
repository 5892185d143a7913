package mock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configures Run and RunInProcess. The zero value runs in real
// time against isolated per-run topics; Run needs Kafka options with at
// least kgo.SeedBrokers.
type Options struct {
	// Kafka are the client options for the cluster (kgo.SeedBrokers, TLS,
	// SASL). Run adds its own producer and consumer options. Required by
	// Run; ignored by RunInProcess.
	Kafka []kgo.Opt
	// Speed scales the scheduled waits: 2 sends twice as fast, 0.5 half as
	// fast. Default 0 means 1, real time.
	Speed float64
	// FullSpeed sends without any wait. Messages are still written in the
	// scheduled order, but a job reading several topics may then read them
	// in another order; keep waits where the order between sources
	// matters. Default false.
	FullSpeed bool
	// Shared sends to and reads from the topics named in the case (which
	// must exist) instead of isolated per-run topics "<run id>.<topic>".
	// Default false: isolated topics, created before and deleted after the
	// run.
	Shared bool
	// KeepTopics keeps the isolated topics after the run. Default false.
	KeepTopics bool
	// RunID names the run. Default "<case>-<UTC time>-<random hex>".
	RunID string
	// Timeout and Quiet override the case's expect.timeout and expect.quiet
	// when non-zero. Default 0: the case's values.
	Timeout, Quiet time.Duration
	// Sleeper waits between messages. Default RealSleeper. RunInProcess
	// never sleeps: waits advance the virtual arrival time instead.
	Sleeper Sleeper
	// StartJob, if set, starts the job under test once the run's topics
	// exist and before the first message is sent; the stop function it
	// returns is called after the output is collected. Default nil: the job
	// is already running.
	StartJob StartFunc
	// Isolation, when set, overrides the case's sink.isolation (default
	// read_committed).
	Isolation Isolation
	// Brokers is the bootstrap brokers as text, for the environment of the
	// case's ready.command (HOTCOLD_BROKERS). Default "".
	Brokers string
	// StopTimeout bounds the wait for StartJob's stop function; a job that
	// has not stopped by then is reported and left running. Default 30s
	// (ExecJob needs its grace period twice at most: interrupt, then kill).
	StopTimeout time.Duration
	// Logger receives progress and diagnostics. Default: discarded.
	Logger *slog.Logger
	// Progress, if set, is called as messages are sent and received (at
	// most every 1000 messages, and at the end). Default nil.
	Progress func(Progress)
}

// StartFunc starts the job under test for a run. It must return once the
// job is started; stop must stop it, release what it holds, and return an
// error when the job did not stop cleanly (a non-zero exit status). A job
// that ends by itself before stop is called must be reported through
// RunInfo.JobEnded.
type StartFunc func(ctx context.Context, run RunInfo) (stop func() error, err error)

// RunInfo describes a run to the job it starts.
type RunInfo struct {
	RunID string
	// Topics maps each topic named in the case to the topic the run uses.
	Topics map[string]string
	Case   *Case
	// JobEnded is called (at most once, from any goroutine) by a StartFunc
	// whose job ended by itself before stop was called: with nil after a
	// clean exit, else with the error (ExecJob: a *JobExit). An error ends
	// the run at once with verdict Error. Nil when the caller does not
	// listen.
	JobEnded func(error)
}

// Progress reports how far a run is.
type Progress struct {
	Case string
	// Sent of Total input messages are sent; Received sink messages read.
	Sent, Total, Received int
	// Final is set on a case's last report: its run is over.
	Final bool
}

func (o *Options) withDefaults(c *Case, now time.Time) {
	if o.Speed == 0 {
		o.Speed = 1
	}
	if o.RunID == "" {
		o.RunID = newRunID(c.Name, now)
	}
	if o.Timeout == 0 {
		o.Timeout = c.Expect.Timeout
	}
	if o.Quiet == 0 {
		o.Quiet = c.Expect.Quiet
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Quiet == 0 {
		o.Quiet = DefaultQuiet
	}
	if o.Sleeper == nil {
		o.Sleeper = RealSleeper
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

func (o *Options) validate(kafka bool) error {
	var errs []error
	if kafka && len(o.Kafka) == 0 {
		errs = append(errs, errors.New("Kafka: give the cluster's client options, at least kgo.SeedBrokers (CLI: --brokers)"))
	}
	if o.Speed < 0 || math.IsNaN(o.Speed) || math.IsInf(o.Speed, 0) {
		errs = append(errs, fmt.Errorf("Speed: %v must be positive (or use FullSpeed)", o.Speed))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Timeout: %s is negative", o.Timeout))
	}
	if o.Quiet < 0 {
		errs = append(errs, fmt.Errorf("Quiet: %s is negative", o.Quiet))
	}
	if o.Isolation != "" && o.Isolation != ReadCommitted && o.Isolation != ReadUncommitted {
		errs = append(errs, fmt.Errorf("Isolation: %q: use %s or %s", o.Isolation, ReadCommitted, ReadUncommitted))
	}
	if o.RunID != "" && !nameRE.MatchString(o.RunID) {
		errs = append(errs, fmt.Errorf("RunID: %q: use letters, digits, '.', '_' and '-'", o.RunID))
	}
	if len(errs) > 0 {
		return fmt.Errorf("mock: invalid options: %w", errors.Join(errs...))
	}
	return nil
}

func newRunID(name string, now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	name = strings.ToLower(sanitizeName(name))
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("%s-%s-%s", name, now.UTC().Format("20060102t150405"), hex.EncodeToString(b[:]))
}

// progress rate-limits Options.Progress.
type progress struct {
	fn       func(Progress)
	p        Progress
	lastSent int
}

func (pr *progress) sent(n int) {
	pr.p.Sent = n
	if pr.fn != nil && (n-pr.lastSent >= 1000 || n == pr.p.Total) {
		pr.lastSent = n
		pr.fn(pr.p)
	}
}

func (pr *progress) done(received int) {
	pr.p.Received = received
	if pr.fn != nil {
		pr.fn(pr.p)
	}
}
