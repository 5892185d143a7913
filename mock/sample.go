package mock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// SampleOptions configures Sample. Exactly one of Last, FromTime and
// FromStart chooses where reading starts; with none, Last is 10.
type SampleOptions struct {
	// Kafka are the client options (kgo.SeedBrokers, TLS, SASL). Required.
	Kafka []kgo.Opt
	// Topic is the topic to sample. Required.
	Topic string
	// Partitions restricts sampling to these partitions. Default: all.
	Partitions []int32
	// Last samples the last N messages of each partition.
	Last int
	// FromTime samples from the first message at or after this time.
	FromTime time.Time
	// FromStart samples from the earliest retained message.
	FromStart bool
	// Max stops after this many messages in total. Default 0: no limit.
	// Sampling always stops at the end offsets listed when it starts.
	Max int
	// Idle stops sampling when no message arrives for this long although
	// partitions are short of their end (retention may have removed
	// records). Default 10s.
	Idle time.Duration
	// Logger receives progress. Default: discarded.
	Logger *slog.Logger
	// Progress, if set, is called with the number of messages written so
	// far, at most every 1000 messages and at the end.
	Progress func(written int)
}

func (o *SampleOptions) validate() error {
	var errs []error
	if len(o.Kafka) == 0 {
		errs = append(errs, errors.New("Kafka: give the cluster's client options, at least kgo.SeedBrokers (CLI: --brokers)"))
	}
	if o.Topic == "" {
		errs = append(errs, errors.New("Topic: name the topic to sample (CLI: --topic)"))
	}
	n := 0
	if o.Last != 0 {
		n++
	}
	if !o.FromTime.IsZero() {
		n++
	}
	if o.FromStart {
		n++
	}
	if n > 1 {
		errs = append(errs, errors.New("give only one of Last, FromTime and FromStart (CLI: --last, --from-time, --from-start)"))
	}
	if o.Last < 0 {
		errs = append(errs, fmt.Errorf("Last: %d is negative", o.Last))
	}
	if o.Max < 0 {
		errs = append(errs, fmt.Errorf("Max: %d is negative", o.Max))
	}
	if len(errs) > 0 {
		return fmt.Errorf("mock: invalid sample options: %w", errors.Join(errs...))
	}
	return nil
}

// Sample copies real messages of a topic to w as JSONL in the case message
// format, ready to be edited and replayed. It never joins a consumer group
// and never commits offsets: it lists the partitions' offsets with the
// admin API and reads assigned partitions from explicit offsets, stopping
// at the end offsets listed when it starts. It returns the number of
// messages written.
//
// Each line carries an informational "origin" (topic, partition, offset)
// that replays ignore. Messages are written in the order read; use
// "schedule: {by: timestamp}" to replay several sampled sources in time
// order.
func Sample(ctx context.Context, o SampleOptions, w io.Writer) (int, error) {
	if err := o.validate(); err != nil {
		return 0, err
	}
	if o.Last == 0 && o.FromTime.IsZero() && !o.FromStart {
		o.Last = 10
	}
	if o.Idle == 0 {
		o.Idle = 10 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	admCl, err := kgo.NewClient(o.Kafka...)
	if err != nil {
		return 0, fmt.Errorf("mock: kafka client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	ends, err := adm.ListEndOffsets(ctx, o.Topic)
	if err != nil {
		return 0, fmt.Errorf("mock: list end offsets of %s: %w", o.Topic, err)
	}
	if lo, ok := ends.Lookup(o.Topic, -1); ok && errors.Is(lo.Err, kerr.UnknownTopicOrPartition) || len(ends[o.Topic]) == 0 {
		return 0, fmt.Errorf("mock: topic %s does not exist (check the name and --brokers)", o.Topic)
	}
	if err := ends.Error(); err != nil {
		return 0, fmt.Errorf("mock: list end offsets of %s: %w", o.Topic, err)
	}
	var starts kadm.ListedOffsets
	switch {
	case o.FromStart || o.Last > 0:
		starts, err = adm.ListStartOffsets(ctx, o.Topic)
	default:
		starts, err = adm.ListOffsetsAfterMilli(ctx, o.FromTime.UnixMilli(), o.Topic)
	}
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("mock: list start offsets of %s: %w", o.Topic, err)
	}

	wanted := map[int32]bool{}
	for _, p := range o.Partitions {
		if _, ok := ends.Lookup(o.Topic, p); !ok {
			return 0, fmt.Errorf("mock: topic %s has no partition %d (it has %d)", o.Topic, p, len(ends[o.Topic]))
		}
		wanted[p] = true
	}
	from := map[int32]kgo.Offset{}
	end := map[int32]int64{} // exclusive end per partition still to read
	ends.Each(func(lo kadm.ListedOffset) {
		if len(wanted) > 0 && !wanted[lo.Partition] {
			return
		}
		st, ok := starts.Lookup(o.Topic, lo.Partition)
		if !ok {
			return
		}
		start := st.Offset
		if o.Last > 0 && lo.Offset-int64(o.Last) > start {
			start = lo.Offset - int64(o.Last)
		}
		if start < 0 || start >= lo.Offset {
			return // nothing to read
		}
		from[lo.Partition] = kgo.NewOffset().At(start)
		end[lo.Partition] = lo.Offset
	})
	parts := make([]int32, 0, len(from))
	for p := range from {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	log.Info("mock sample: reading", "topic", o.Topic, "partitions", parts)
	if len(from) == 0 {
		return 0, nil
	}

	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, o.Kafka...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{o.Topic: from}),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		return 0, fmt.Errorf("mock: kafka client: %w", err)
	}
	defer cl.Close()

	bw := bufio.NewWriter(w)
	written, lastReport := 0, 0
	var line []byte
	for len(end) > 0 && (o.Max == 0 || written < o.Max) {
		pctx, cancel := context.WithTimeout(ctx, o.Idle)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			_ = bw.Flush()
			return written, err
		}
		var ferr error
		idle := false
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) {
				idle = true
				return
			}
			ferr = fmt.Errorf("mock: reading %s partition %d: %w", t, p, err)
		})
		if ferr != nil {
			_ = bw.Flush()
			return written, ferr
		}
		if idle && fs.NumRecords() == 0 {
			log.Warn("mock sample: stopped: no message arrived although partitions are short of their end", "idle", o.Idle, "partitions_left", len(end))
			break
		}
		it := fs.RecordIter()
		for !it.Done() {
			r := it.Next()
			e, ok := end[r.Partition]
			if !ok || r.Offset >= e {
				continue
			}
			if r.Offset >= e-1 {
				delete(end, r.Partition)
			}
			if r.Attrs.IsControl() || o.Max > 0 && written >= o.Max {
				continue
			}
			rec := Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
			for _, h := range r.Headers {
				rec.Headers = append(rec.Headers, Header{Key: h.Key, Value: h.Value})
			}
			line = append(appendOrigin(append(line[:0], '{'), rec), '}')
			line = AppendRecordJSON(nil, rec, line)
			line = append(line, '\n')
			if _, err := bw.Write(line); err != nil {
				return written, fmt.Errorf("mock: write sample: %w", err)
			}
			written++
		}
		if o.Progress != nil && written-lastReport >= 1000 {
			lastReport = written
			o.Progress(written)
		}
	}
	if err := bw.Flush(); err != nil {
		return written, fmt.Errorf("mock: write sample: %w", err)
	}
	if o.Progress != nil {
		o.Progress(written)
	}
	log.Info("mock sample: done", "topic", o.Topic, "messages", written)
	return written, nil
}
