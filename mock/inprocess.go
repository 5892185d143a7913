package mock

import (
	"context"
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
// A job error ends the run with verdict Error and the error.
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
	res.Topics[c.Sink.Topic] = c.Sink.Topic
	fail := func(err error) (*Result, error) {
		res.Verdict = Error
		res.Reason = err.Error()
		res.Finished = time.Now()
		return res, err
	}
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
	emit := func(rows []row.Row, at time.Time, cause string) {
		for _, r := range rows {
			if len(r.Values) != c.Sink.Schema.Len() {
				res.Problems = append(res.Problems, Problem{Seq: -1, Row: r.Format(c.Sink.Schema), Text: fmt.Sprintf("the job emitted a row with %d values after %s; the sink has %d columns", len(r.Values), cause, c.Sink.Schema.Len()), Fatal: true})
				continue
			}
			m, ok, err := c.Sink.codec.Encode(r)
			if err != nil {
				res.Problems = append(res.Problems, Problem{Seq: -1, Row: r.Format(c.Sink.Schema), Text: fmt.Sprintf("the job emitted a row the sink cannot write after %s: %v", cause, err), Fatal: true})
				continue
			}
			if !ok {
				continue
			}
			p := partition(m.Key, -1, c.Sink.Partitions)
			k := tp{c.Sink.Topic, p}
			res.Output = append(res.Output, Record{Topic: c.Sink.Topic, Partition: p, Offset: offsets[k], Key: m.Key, Value: m.Value, Timestamp: at})
			offsets[k]++
		}
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
		rows, err := job.Process(ctx, in)
		if err != nil {
			return fail(fmt.Errorf("mock: the job failed on %s message %s (step %d): %w", st.Source.Name, m.Pos, i+1, err))
		}
		emit(rows, at, fmt.Sprintf("%s message %s", st.Source.Name, m.Pos))
		pr.sent(i + 1)
	}
	if f, ok := job.(Flusher); ok {
		rows, err := f.Flush(ctx)
		if err != nil {
			return fail(fmt.Errorf("mock: the job failed to flush after the last input: %w", err))
		}
		emit(rows, at, "the last input (flush)")
	}
	res.Complete = CompleteEndOfInput
	evaluate(c, res, o.Timeout)
	res.Finished = time.Now()
	pr.done(len(res.Output))
	return res, nil
}
