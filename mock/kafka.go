package mock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Run replays a case through Kafka: it creates isolated per-run topics
// (unless Options.Shared), starts the job if Options.StartJob is set,
// sends every message in the scheduled order with the scheduled waits,
// reads the sink topic until its output is complete (silent for the quiet
// period, or the timeout after the last input), merges and compares it.
//
// Messages are written strictly in the scheduled order: consecutive
// messages to the same partition without a wait are sent as one ordered
// asynchronous run, and every run is acknowledged before the next message
// goes to another partition or a wait starts.
//
// A failed comparison is a Result with verdict Fail and a nil error. An
// error means the run could not be carried out; the Result, with verdict
// Error and whatever was sent and received, is returned too, for storing.
func Run(ctx context.Context, c *Case, o Options) (*Result, error) {
	started := time.Now()
	if err := o.validate(true); err != nil {
		return nil, err
	}
	o.withDefaults(c, started)
	res := &Result{Case: c.Name, RunID: o.RunID, Mode: ModeKafka, Started: started, Topics: map[string]string{}, Files: c.files, Schema: c.Sink.Schema}
	fail := func(err error) (*Result, error) {
		res.Verdict = Error
		res.Reason = err.Error()
		res.Finished = time.Now()
		return res, err
	}
	log := o.Logger.With("case", c.Name, "run", o.RunID)

	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, o.Kafka...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
	)...)
	if err != nil {
		return fail(fmt.Errorf("mock: kafka client: %w", err))
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	parts, err := prepareTopics(ctx, adm, c, &o, res.Topics)
	if err != nil {
		return fail(err)
	}
	if !o.Shared && !o.KeepTopics {
		defer deleteTopics(ctx, adm, res.Topics, log)
	}
	log.Info("mock run: topics ready", "topics", res.Topics)

	res.shared = o.Shared
	cols := make([]*collector, len(c.Sinks))
	for i, sk := range c.Sinks {
		sinkTopic := res.Topics[sk.Topic]
		offsets, err := sinkStart(ctx, adm, sinkTopic, o.Shared)
		if err != nil {
			return fail(err)
		}
		col, err := startCollector(ctx, o.Kafka, sinkTopic, offsets, cmp.Or(o.Isolation, sk.Isolation, ReadCommitted))
		if err != nil {
			return fail(err)
		}
		defer col.stop()
		cols[i] = col
	}

	// A job that fails before the run ends cancels it with its error.
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	var stopJob func() error
	var endMu sync.Mutex
	// A clean exit of the job by itself is no evidence that it read the
	// inputs (flink run -d exits 0 once it has submitted the job); it is
	// only mentioned when the verdict is unknown.
	endedClean := false
	if o.StartJob != nil {
		ended := func(err error) {
			if err != nil {
				cancelRun(&jobFailed{err})
				return
			}
			endMu.Lock()
			endedClean = true
			endMu.Unlock()
		}
		stopJob, err = o.StartJob(ctx, RunInfo{RunID: o.RunID, Topics: res.Topics, Case: c, JobEnded: ended})
		if err != nil {
			return fail(fmt.Errorf("mock: start the job under test: %w", err))
		}
	}
	err = waitReady(runCtx, adm, c, RunInfo{RunID: o.RunID, Topics: res.Topics, Case: c}, o.Brokers)
	if err == nil {
		res.Sent, err = send(runCtx, cl, c, &o, res.Topics, parts, log)
	}
	if err == nil {
		res.Complete, err = awaitOutput(runCtx, cols, c, &o)
	}
	var jf *jobFailed
	if errors.As(context.Cause(runCtx), &jf) {
		err = jf.err // the job's failure, not the cancellation it caused
	}
	if stopJob != nil {
		if serr := stopWithin(stopJob, cmp.Or(o.StopTimeout, jobStopTimeout)); serr != nil && jf == nil {
			log.Warn("mock run: the job under test", "err", serr)
			if err == nil {
				err = serr // a job that did not stop cleanly gives no verdict
			}
		}
	}
	outputs := make([][]Record, len(cols))
	for i, col := range cols {
		col.stop()
		outputs[i] = col.records()
		res.Output = append(res.Output, outputs[i]...)
	}
	if err != nil {
		return fail(err)
	}
	for _, col := range cols {
		if cerr := col.failure(); cerr != nil {
			return fail(cerr)
		}
	}
	evidence := ""
	if c.Ready.declared() {
		evidence = "the case's ready check passed before the inputs were sent"
	}
	endMu.Lock()
	if endedClean {
		res.noEvidence = "the job's own exit with status 0 is no evidence: flink run -d, for one, exits 0 once it has submitted the job"
	}
	endMu.Unlock()
	evaluate(c, res, outputs, o.Timeout, evidence)
	res.Finished = time.Now()
	if o.Progress != nil {
		o.Progress(Progress{Case: c.Name, Sent: len(res.Sent), Total: len(c.steps), Received: len(res.Output), Final: true})
	}
	log.Info("mock run: done", "verdict", res.Verdict, "sent", len(res.Sent), "received", len(res.Output), "complete", res.Complete)
	return res, nil
}

// jobFailed is the cause of a run cancelled by the job's failure.
type jobFailed struct{ err error }

func (e *jobFailed) Error() string { return e.err.Error() }
func (e *jobFailed) Unwrap() error { return e.err }

// jobStopTimeout bounds the wait for the job under test to stop, so that a
// job that ignores its stop cannot hang the run.
const jobStopTimeout = 30 * time.Second

// stopWithin calls stop and waits for it at most d; a stop that takes
// longer is left running in its goroutine and reported.
func stopWithin(stop func() error, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- stop() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		var je *JobExit
		if err != nil && !errors.As(err, &je) {
			err = fmt.Errorf("mock: the job under test did not stop cleanly: %w", err)
		}
		return err
	case <-t.C:
		return fmt.Errorf("mock: the job under test did not stop within %s; it was left running", d)
	}
}

// prepareTopics fills topics (case topic -> run topic) and returns the
// partition count of every run topic.
func prepareTopics(ctx context.Context, adm *kadm.Client, c *Case, o *Options, topics map[string]string) (map[string]int32, error) {
	want := map[string]int32{}
	for _, s := range c.Sources {
		want[s.Topic] = s.Partitions
	}
	for _, sk := range c.Sinks {
		want[sk.Topic] = sk.Partitions
	}
	parts := map[string]int32{}
	if o.Shared {
		names := make([]string, 0, len(want))
		for t := range want {
			topics[t] = t
			names = append(names, t)
		}
		sort.Strings(names)
		td, err := adm.ListTopics(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("mock: list topics: %w", err)
		}
		for _, t := range names {
			d, ok := td[t]
			if !ok || d.Err != nil {
				why := "does not exist"
				if ok && !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
					why = "cannot be described: " + d.Err.Error()
				}
				return nil, fmt.Errorf("mock: topic %s %s; create it, or run without shared topics so that the run creates its own", t, why)
			}
			parts[t] = int32(len(d.Partitions))
		}
		return parts, nil
	}
	names := make([]string, 0, len(want))
	for t, n := range want {
		rt := o.RunID + "." + t
		topics[t] = rt
		parts[rt] = n
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		resp, err := adm.CreateTopic(ctx, want[t], -1, nil, topics[t])
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return nil, fmt.Errorf("mock: create topic %s: %w (the run needs permission to create topics; or use shared topics)", topics[t], err)
		}
	}
	return parts, nil
}

func deleteTopics(ctx context.Context, adm *kadm.Client, topics map[string]string, log interface {
	Warn(string, ...any)
}) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	names := make([]string, 0, len(topics))
	seen := map[string]bool{}
	for _, t := range topics {
		if !seen[t] {
			seen[t] = true
			names = append(names, t)
		}
	}
	sort.Strings(names)
	resps, err := adm.DeleteTopics(ctx, names...)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		log.Warn("mock run: deleting the run's topics", "topics", names, "err", err)
	}
}

// sinkStart returns the offsets to read the sink from: the start of a
// fresh isolated topic, or the current end of a shared one.
func sinkStart(ctx context.Context, adm *kadm.Client, topic string, shared bool) (map[int32]kgo.Offset, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("mock: list end offsets of sink topic %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("mock: list end offsets of sink topic %s: %w", topic, err)
	}
	out := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if shared {
			out[o.Partition] = kgo.NewOffset().At(o.Offset)
		} else {
			out[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("mock: sink topic %s has no partitions", topic)
	}
	return out, nil
}

// send produces every step in order and returns what was sent.
func send(ctx context.Context, cl *kgo.Client, c *Case, o *Options, topics map[string]string, parts map[string]int32, log interface {
	Info(string, ...any)
}) ([]Sent, error) {
	steps := c.steps
	recs := make([]*kgo.Record, len(steps))
	type target struct {
		topic     string
		partition int32
	}
	targets := make([]target, len(steps))
	sent := make([]Sent, 0, len(steps))
	hasher := kgo.StickyKeyPartitioner(nil).ForTopic("")
	for i, st := range steps {
		m := st.Message()
		topic := topics[st.Source.Topic]
		n := parts[topic]
		p := m.Partition
		switch {
		case p >= n:
			return nil, fmt.Errorf("mock: %s: partition %d, but topic %s has %d partition(s); set partitions on source %s or drop the message's partition", m.Pos, p, topic, n, st.Source.Name)
		case p < 0 && m.Key != nil:
			p = int32(hasher.Partition(&kgo.Record{Key: m.Key}, int(n)))
		case p < 0:
			p = 0
		}
		r := &kgo.Record{Topic: topic, Partition: p, Key: m.Key, Value: m.Value, Timestamp: m.Timestamp}
		for _, h := range m.Headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		recs[i] = r
		targets[i] = target{topic, p}
	}

	var mu sync.Mutex
	var firstErr error
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
	}
	pr := progress{fn: o.Progress, p: Progress{Case: c.Name, Total: len(steps)}}
	pending, acked := 0, 0 // recs[acked:pending] are in flight
	sentAt := make([]time.Time, len(steps))
	flush := func() error {
		if pending == acked {
			return nil
		}
		if err := cl.Flush(ctx); err != nil {
			return fmt.Errorf("mock: sending: %w", err)
		}
		mu.Lock()
		err := firstErr
		mu.Unlock()
		if err != nil {
			for j := acked; j < pending; j++ {
				if r := recs[j]; r.Offset < 0 {
					st := steps[j]
					return fmt.Errorf("mock: sending %s message %s to %s: %w", st.Source.Name, st.Message().Pos, r.Topic, err)
				}
			}
			return fmt.Errorf("mock: sending: %w", err)
		}
		for j := acked; j < pending; j++ {
			st := steps[j]
			r := recs[j]
			sent = append(sent, Sent{Step: j, Source: st.Source.Name, Pos: st.Message().Pos, At: sentAt[j], Record: Record{
				Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Headers: st.Message().Headers, Timestamp: r.Timestamp,
			}})
		}
		acked = pending
		pr.sent(acked)
		return nil
	}
	for i, st := range steps {
		wait := scale(st.Wait, o.FullSpeed, o.Speed)
		r := recs[i]
		if pending > acked {
			// the target of the previous record as chosen here: kgo writes
			// the fields of a record in flight
			prev := targets[pending-1]
			if cur := targets[i]; wait > 0 || prev != cur {
				if err := flush(); err != nil {
					return sent, err
				}
			}
		}
		if wait > 0 {
			if err := o.Sleeper.Sleep(ctx, wait); err != nil {
				return sent, fmt.Errorf("mock: waiting before %s message %s: %w", st.Source.Name, st.Message().Pos, err)
			}
		}
		now := time.Now()
		if r.Timestamp.IsZero() {
			r.Timestamp = now
		}
		sentAt[i] = now
		cl.Produce(ctx, r, promise)
		pending++
	}
	if err := flush(); err != nil {
		return sent, err
	}
	log.Info("mock run: all messages sent", "messages", len(sent))
	return sent, nil
}

// awaitOutput waits until the output of every sink is complete: once
// every sink that must receive messages has received some, all sinks
// together stay silent for the quiet period; or the timeout passes.
func awaitOutput(ctx context.Context, cols []*collector, c *Case, o *Options) (string, error) {
	end := time.Now()
	timeout := time.NewTimer(o.Timeout)
	defer timeout.Stop()
	notify := make(chan struct{}, 1)
	stop := make(chan struct{})
	defer close(stop)
	for _, col := range cols {
		go func(col *collector) { // ends with stop
			for {
				select {
				case <-col.notify:
					select {
					case notify <- struct{}{}:
					default:
					}
				case <-col.done:
					select {
					case notify <- struct{}{}:
					default:
					}
					return
				case <-stop:
					return
				}
			}
		}(col)
	}
	for {
		waiting := false // a sink that must receive messages has none yet
		last := end
		for i, col := range cols {
			n, l := col.state()
			if n == 0 && c.Sinks[i].Expect.expectsOutput() {
				waiting = true
			}
			if l.After(last) {
				last = l
			}
			select {
			case <-col.done:
				err := col.failure()
				if err == nil {
					err = errors.New("mock: the sink reader stopped")
				}
				return "", err
			default:
			}
		}
		var quiet <-chan time.Time
		var t *time.Timer
		if !waiting {
			left := o.Quiet - time.Since(last)
			if left <= 0 {
				return CompleteQuiet, nil
			}
			t = time.NewTimer(left)
			quiet = t.C
		}
		var err error
		select {
		case <-notify:
		case <-quiet:
		case <-timeout.C:
			if t != nil {
				t.Stop()
			}
			return CompleteTimeout, nil
		case <-ctx.Done():
			err = fmt.Errorf("mock: waiting for sink output: %w", ctx.Err())
		}
		if t != nil {
			t.Stop()
		}
		if err != nil {
			return "", err
		}
	}
}

// collector reads the sink topic in the background. Its goroutine is owned
// by the run and ended by stop.
type collector struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	notify chan struct{}
	once   sync.Once

	mu struct {
		sync.Mutex
		recs []Record
		last time.Time
		err  error
	}
}

func startCollector(ctx context.Context, kopts []kgo.Opt, topic string, offsets map[int32]kgo.Offset, iso Isolation) (*collector, error) {
	level := kgo.ReadCommitted()
	if iso == ReadUncommitted {
		level = kgo.ReadUncommitted()
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, kopts...),
		kgo.FetchIsolationLevel(level),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("mock: sink consumer: %w", err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &collector{cl: cl, cancel: cancel, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	go c.run(ctx)
	return c, nil
}

func (c *collector) run(ctx context.Context) {
	defer close(c.done)
	for {
		fs := c.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		var fatal error
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) || kerr.IsRetriable(err) {
				return // kgo retries these itself
			}
			fatal = fmt.Errorf("mock: reading sink topic %s partition %d: %w", t, p, err)
		})
		if fatal != nil {
			c.mu.Lock()
			c.mu.err = fatal
			c.mu.Unlock()
			return
		}
		n := 0
		c.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			rec := Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
			for _, h := range r.Headers {
				rec.Headers = append(rec.Headers, Header{Key: h.Key, Value: h.Value})
			}
			c.mu.recs = append(c.mu.recs, rec)
			n++
		})
		if n > 0 {
			c.mu.last = time.Now()
		}
		c.mu.Unlock()
		if n > 0 {
			select {
			case c.notify <- struct{}{}:
			default:
			}
		}
	}
}

func (c *collector) state() (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.recs), c.mu.last
}

func (c *collector) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.err
}

func (c *collector) records() []Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Record(nil), c.mu.recs...)
}

// stop ends the collector's goroutine and closes its client; it is safe to
// call more than once.
func (c *collector) stop() {
	c.once.Do(func() {
		c.cancel()
		<-c.done
		c.cl.Close()
	})
}
