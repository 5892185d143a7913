// Package bypasstest runs the jobs of a bypass rebuild in process, as
// hotcold agg runs them, for the tests of statemigrate's workflow and of
// the console that drives it (tests only).
package bypasstest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/agg"
	aggrunner "github.com/hotcold/hotcold/agg/runner"
	"github.com/hotcold/hotcold/internal/runcore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/statemigrate"
)

// RefundRows is the input of the refunds job: city, refund_id, amount.
var RefundRows = row.MustSchema([]row.Column{
	{Name: "city", Type: row.String},
	{Name: "refund_id", Type: row.Int64},
	{Name: "amount", Type: row.Int64},
}, nil, 1)

// RefundsAgg is the refunds job's logic: the old one counts and sums
// refunds per city; the new one (state version 2) also keeps the largest.
func RefundsAgg(logic statemigrate.Logic) agg.Config {
	c := agg.Config{ID: "refunds_by_city", Input: RefundRows, GroupBy: []string{"city"},
		InputName: "refunds", OutputName: "refunds_by_city",
		Aggregates: []agg.Aggregate{{Name: "n", Func: agg.Count}, {Name: "total", Func: agg.Sum, Arg: "amount"}}}
	if logic == statemigrate.NewLogic {
		c.Version = 2
		c.Aggregates = append(c.Aggregates, agg.Aggregate{Name: "biggest", Func: agg.Max, Arg: "amount"})
	}
	return c
}

// Jobs implements statemigrate.Jobs and statemigrate.ExitReporter with
// in-process agg runners reading topic refunds: a group member with one
// state per partition (p<N>) under the spec's state directory. It is safe
// for concurrent use.
type Jobs struct {
	brokers []string
	opts    []kgo.Opt

	mu      sync.Mutex
	logic   func(statemigrate.Logic) agg.Config
	fail    map[failKey]error
	logf    func(format string, args ...any)
	running map[statemigrate.Role]*job
	starts  []string
}

type failKey struct {
	role  statemigrate.Role
	logic statemigrate.Logic
}

type job struct {
	cancel context.CancelFunc
	done   chan error
	spec   statemigrate.JobSpec
}

// NewJobs returns jobs on the given brokers; opts are added to the
// runners' Kafka clients.
func NewJobs(brokers []string, opts ...kgo.Opt) *Jobs {
	return &Jobs{brokers: brokers, opts: opts, running: map[statemigrate.Role]*job{}}
}

// SetLogic makes the jobs run logic's agg config instead of RefundsAgg's,
// from the next start on.
func (j *Jobs) SetLogic(logic func(statemigrate.Logic) agg.Config) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.logic = logic
}

// FailStart makes every later start of role with logic a job that exits
// at once with err, as a job whose logic fails at start.
func (j *Jobs) FailStart(role statemigrate.Role, logic statemigrate.Logic, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail == nil {
		j.fail = map[failKey]error{}
	}
	j.fail[failKey{role, logic}] = err
}

// SetLogf sets where Stop tells of a job that had exited by itself (such
// as testing.T.Logf); by default it is not told.
func (j *Jobs) SetLogf(logf func(format string, args ...any)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.logf = logf
}

// Running returns the spec of role's job if one was started and neither
// stopped nor waited for since (it may have exited by itself).
func (j *Jobs) Running(role statemigrate.Role) (statemigrate.JobSpec, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	rj := j.running[role]
	if rj == nil {
		return statemigrate.JobSpec{}, false
	}
	return rj.spec, true
}

// StopAll stops the online and the side job, ignoring their errors (for
// a test's cleanup).
func (j *Jobs) StopAll() {
	for _, r := range []statemigrate.Role{statemigrate.Online, statemigrate.Side} {
		j.Stop(context.Background(), r)
	}
}

// Starts returns "role:logic" of every start so far, in order.
func (j *Jobs) Starts() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.starts...)
}

// Start implements statemigrate.Jobs: a role already running is left as
// is; one that ended is restarted (its error, unless a cancel, returned).
func (j *Jobs) Start(ctx context.Context, role statemigrate.Role, spec statemigrate.JobSpec) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if rj := j.running[role]; rj != nil {
		select {
		case err := <-rj.done:
			delete(j.running, role)
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
		default:
			return nil // already running
		}
	}
	if err, ok := j.fail[failKey{role, spec.Logic}]; ok {
		rj := &job{cancel: func() {}, done: make(chan error, 1), spec: spec}
		rj.done <- err
		j.running[role] = rj
		j.starts = append(j.starts, fmt.Sprintf("%s:%s", role, spec.Logic))
		return nil
	}
	logic := RefundsAgg
	if j.logic != nil {
		logic = j.logic
	}
	cfg := aggrunner.Config{Agg: logic(spec.Logic), Job: "refunds", Brokers: j.brokers,
		InputTopic: "refunds", OutputTopic: spec.OutputTopic, StateDir: spec.StateDir, Group: spec.Group, NoSync: true, MaxPollRecords: 7,
		ClientOpts: j.opts}
	if spec.StopAt != nil {
		cfg.StopAt = runcore.StopAt{}
		for tp, o := range spec.StopAt {
			if cfg.StopAt[tp.Topic] == nil {
				cfg.StopAt[tp.Topic] = map[int32]int64{}
			}
			cfg.StopAt[tp.Topic][tp.Partition] = o
		}
	}
	r, err := aggrunner.New(cfg)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.Background())
	rj := &job{cancel: cancel, done: make(chan error, 1), spec: spec}
	go func() { rj.done <- r.Run(rctx) }()
	j.running[role] = rj
	j.starts = append(j.starts, fmt.Sprintf("%s:%s", role, spec.Logic))
	return nil
}

// Stop implements statemigrate.Jobs: it cancels the role's runner and
// waits for it. A runner that had exited by itself is no error to stop.
func (j *Jobs) Stop(ctx context.Context, role statemigrate.Role) error {
	j.mu.Lock()
	rj := j.running[role]
	delete(j.running, role)
	logf := j.logf
	j.mu.Unlock()
	if rj == nil {
		return nil
	}
	select {
	case err := <-rj.done:
		if logf != nil {
			logf("stop: the %s job had exited: %v", role, err)
		}
		return nil
	default:
	}
	rj.cancel()
	if err := <-rj.done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Wait implements statemigrate.Jobs: it waits for the role's runner to
// end by itself (a stop-at run) or for ctx.
func (j *Jobs) Wait(ctx context.Context, role statemigrate.Role) error {
	j.mu.Lock()
	rj := j.running[role]
	delete(j.running, role)
	j.mu.Unlock()
	if rj == nil {
		return nil
	}
	select {
	case err := <-rj.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Exited implements statemigrate.ExitReporter: whether role's runner has
// ended by itself, and why (an end without error is reported as one).
func (j *Jobs) Exited(ctx context.Context, role statemigrate.Role) (bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	rj := j.running[role]
	if rj == nil {
		return false, nil
	}
	select {
	case err := <-rj.done:
		rj.done <- err // for Stop and Wait
		if err == nil {
			err = errors.New("exited")
		}
		return true, err
	default:
		return false, nil
	}
}

var (
	_ statemigrate.Jobs         = (*Jobs)(nil)
	_ statemigrate.ExitReporter = (*Jobs)(nil)
)
