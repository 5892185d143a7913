package mock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/row"
)

// Job is a stream job run in-process by RunInProcess: the same case files
// test a Go job built on join or agg without any Kafka.
//
// Process is called once per input message, in the case's arrival order,
// from one goroutine; it returns the changelog rows (in the sink schema)
// the message produced. The rows are then written and read back with the
// sink's format exactly as through Kafka (so, for example, upsert-kafka
// drops -U rows), merged and compared.
type Job interface {
	Process(ctx context.Context, in Input) ([]row.Row, error)
}

// JobFunc adapts a function to Job.
type JobFunc func(ctx context.Context, in Input) ([]row.Row, error)

// Process calls f.
func (f JobFunc) Process(ctx context.Context, in Input) ([]row.Row, error) { return f(ctx, in) }

// Flusher is implemented by jobs that hold output back (windows, batches);
// RunInProcess calls Flush once after the last input.
type Flusher interface {
	Flush(ctx context.Context) ([]row.Row, error)
}

// SinksJob is a Job that writes to several sinks (a case with a sinks
// list): RunInProcess calls ProcessSinks instead of Process. It returns the
// changelog rows each input produced, by sink name (Sink.Name); the rows
// of one sink keep their order, the order between sinks is not defined.
// Naming a sink the case does not declare is an error.
type SinksJob interface {
	Job
	ProcessSinks(ctx context.Context, in Input) (map[string][]row.Row, error)
}

// SinksFlusher is Flusher for a SinksJob: RunInProcess calls FlushSinks
// once after the last input.
type SinksFlusher interface {
	FlushSinks(ctx context.Context) (map[string][]row.Row, error)
}

// SinksFunc adapts a function to SinksJob. Its Process is not used by
// RunInProcess; called directly it returns an error.
type SinksFunc func(ctx context.Context, in Input) (map[string][]row.Row, error)

// ProcessSinks calls f.
func (f SinksFunc) ProcessSinks(ctx context.Context, in Input) (map[string][]row.Row, error) {
	return f(ctx, in)
}

// Process returns an error: a SinksFunc writes several sinks and is run
// through ProcessSinks.
func (f SinksFunc) Process(context.Context, Input) ([]row.Row, error) {
	return nil, errors.New("mock: a SinksFunc writes several sinks: call ProcessSinks")
}

// Input is one input message handed to an in-process Job.
type Input struct {
	// Source is the case's source name.
	Source string
	// Record is the message as it would be read from Kafka: Topic is the
	// topic named in the case; Partition and Offset count per topic and
	// partition from 0; Timestamp is the message's timestamp, or Arrival.
	Record
	// Arrival is the virtual time the message arrives: the run's start
	// plus the scheduled waits (scaled by Options.Speed).
	Arrival time.Time
}

// KgoRecord returns the input as a franz-go record, for jobs whose
// processing function takes one.
func (in Input) KgoRecord() *kgo.Record {
	r := &kgo.Record{Topic: in.Topic, Partition: in.Partition, Offset: in.Offset, Key: in.Key, Value: in.Value, Timestamp: in.Timestamp}
	for _, h := range in.Headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return r
}

// RunInProcess runs a case against a Job in this process: every message is
// handed to the job in the scheduled order, without sleeping (waits advance
// the virtual arrival time), and the job's output is encoded in the sink
// format, merged and compared as Run does. Kafka options are ignored.
//
// A case with several sinks needs a SinksJob. A job error ends the run
// with verdict Error and the error.
func RunInProcess(ctx context.Context, c *Case, job Job, o Options) (*Result, error) {
	started := time.Now()
	if err := o.validate(false); err != nil {
		return nil, err
	}
	o.withDefaults(c, started)
	res := &Result{Case: c.Name, RunID: o.RunID, Mode: ModeInProcess, Started: started, Topics: map[string]string{}, Files: c.files, Schema: c.Sink.Schema}
	for _, s := range c.Sources {
		res.Topics[s.Topic] = s.Topic
	}
	for _, sk := range c.Sinks {
		res.Topics[sk.Topic] = sk.Topic
	}
	fail := func(err error) (*Result, error) {
		res.Verdict = Error
		res.Reason = err.Error()
		res.Finished = time.Now()
		return res, err
	}
	sj, multi := job.(SinksJob)
	if !multi && len(c.Sinks) > 1 {
		return fail(fmt.Errorf("mock: case %s has %d sinks (%s): the job must be a mock.SinksJob, whose ProcessSinks returns the rows by sink name", c.Name, len(c.Sinks), sinkNames(c)))
	}
	outputs := make([][]Record, len(c.Sinks))
	res.sinkProblems = make([][]Problem, len(c.Sinks))
	type tp struct {
		topic string
		part  int32
	}
	offsets := map[tp]int64{}
	hasher := kgo.StickyKeyPartitioner(nil).ForTopic("")
	partition := func(key []byte, explicit, n int32) int32 {
		switch {
		case explicit >= 0:
			return explicit
		case key != nil && n > 1:
			return int32(hasher.Partition(&kgo.Record{Key: key}, int(n)))
		}
		return 0
	}
	emitTo := func(i int, rows []row.Row, at time.Time, cause string) {
		sk := c.Sinks[i]
		for _, r := range rows {
			if len(r.Values) != sk.Schema.Len() {
				res.sinkProblems[i] = append(res.sinkProblems[i], Problem{Seq: -1, Row: r.Format(sk.Schema), Text: fmt.Sprintf("the job emitted a row with %d values after %s; sink %s has %d columns", len(r.Values), cause, sk.Name, sk.Schema.Len()), Fatal: true})
				continue
			}
			m, ok, err := sk.codec.Encode(r)
			if err != nil {
				res.sinkProblems[i] = append(res.sinkProblems[i], Problem{Seq: -1, Row: r.Format(sk.Schema), Text: fmt.Sprintf("the job emitted a row sink %s cannot write after %s: %v", sk.Name, cause, err), Fatal: true})
				continue
			}
			if !ok {
				continue
			}
			p := partition(m.Key, -1, sk.Partitions)
			k := tp{sk.Topic, p}
			outputs[i] = append(outputs[i], Record{Topic: sk.Topic, Partition: p, Offset: offsets[k], Key: m.Key, Value: m.Value, Timestamp: at})
			offsets[k]++
		}
	}
	emit := func(rows []row.Row, at time.Time, cause string) { emitTo(0, rows, at, cause) }
	emitSinks := func(by map[string][]row.Row, at time.Time, cause string) error {
		for i, sk := range c.Sinks { // in declaration order: deterministic
			emitTo(i, by[sk.Name], at, cause)
		}
		for name := range by {
			if c.SinkNamed(name) == nil {
				return fmt.Errorf("mock: the job emitted rows for sink %q after %s, but case %s declares no such sink (sinks: %s)", name, cause, c.Name, sinkNames(c))
			}
		}
		return nil
	}
	at := started
	pr := progress{fn: o.Progress, p: Progress{Case: c.Name, Total: len(c.steps)}}
	for i, st := range c.steps {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		m := st.Message()
		at = at.Add(scale(st.Wait, o.FullSpeed, o.Speed))
		p := partition(m.Key, m.Partition, st.Source.Partitions)
		if p >= st.Source.Partitions {
			return fail(fmt.Errorf("mock: %s: partition %d, but source %s has %d partition(s); set its partitions or drop the message's partition", m.Pos, p, st.Source.Name, st.Source.Partitions))
		}
		k := tp{st.Source.Topic, p}
		in := Input{Source: st.Source.Name, Arrival: at, Record: Record{
			Topic: st.Source.Topic, Partition: p, Offset: offsets[k], Key: m.Key, Value: m.Value, Headers: m.Headers, Timestamp: m.Timestamp,
		}}
		offsets[k]++
		if in.Timestamp.IsZero() {
			in.Timestamp = at
		}
		res.Sent = append(res.Sent, Sent{Step: i, Source: st.Source.Name, Record: in.Record, At: at, Pos: m.Pos})
		cause := fmt.Sprintf("%s message %s", st.Source.Name, m.Pos)
		if multi {
			by, err := sj.ProcessSinks(ctx, in)
			if err != nil {
				return fail(fmt.Errorf("mock: the job failed on %s message %s (step %d): %w", st.Source.Name, m.Pos, i+1, err))
			}
			if err := emitSinks(by, at, cause); err != nil {
				return fail(err)
			}
		} else {
			rows, err := job.Process(ctx, in)
			if err != nil {
				return fail(fmt.Errorf("mock: the job failed on %s message %s (step %d): %w", st.Source.Name, m.Pos, i+1, err))
			}
			emit(rows, at, cause)
		}
		pr.sent(i + 1)
	}
	if f, ok := job.(SinksFlusher); ok && multi {
		by, err := f.FlushSinks(ctx)
		if err != nil {
			return fail(fmt.Errorf("mock: the job failed to flush after the last input: %w", err))
		}
		if err := emitSinks(by, at, "the last input (flush)"); err != nil {
			return fail(err)
		}
	} else if f, ok := job.(Flusher); ok {
		rows, err := f.Flush(ctx)
		if err != nil {
			return fail(fmt.Errorf("mock: the job failed to flush after the last input: %w", err))
		}
		emit(rows, at, "the last input (flush)")
	}
	res.Complete = CompleteEndOfInput
	evaluate(c, res, outputs, o.Timeout, "the job processed every input")
	res.Finished = time.Now()
	pr.done(len(res.Output))
	return res, nil
}
