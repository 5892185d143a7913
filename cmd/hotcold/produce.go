package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/internal/progress"
)

func newProduceCmd() *cobra.Command {
	var (
		brokers []string
		topic   string
		keyCol  string
		tsCol   string
		every   time.Duration
		asJSON  bool
	)
	c := &cobra.Command{
		Use:   "produce --brokers B --topic T [--key COL] [--timestamp COL] FILE.jsonl",
		Short: "Write a JSON-lines file into a Kafka topic, one record per line",
		Long: `produce writes every line of a JSON-lines file (one JSON object a line; "-"
reads standard input) as one record into a Kafka topic, so that a join can be
tried on a file.

--key COL keys each record by the value of column COL (a JSON number as
written, a string as is), so that records of one key land in one partition:
give both inputs of a join the same key column and partition count and they
are co-partitioned. --timestamp COL sets each record's timestamp from column
COL ("2006-01-02 15:04:05[.000]", RFC 3339, or epoch milliseconds), which is
what start_from: retention reads by. Progress goes to stderr (a bar on a terminal, plain lines
otherwise, JSON events with --json).

A line that is not a JSON object, or lacks the key or timestamp column, stops
the command with its line number; lines before it are written.`,
		Example: `  hotcold produce --brokers localhost:9092 --topic orders --key order_id --timestamp created_at orders.jsonl
  hotcold produce --brokers localhost:9092 --topic refunds --key order_id --timestamp refund_ts refunds.jsonl
  zcat refunds.jsonl.gz | hotcold produce --brokers localhost:9092 --topic refunds --key order_id -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(brokers) == 0 {
				return errors.New("--brokers is required: the Kafka seed brokers (host:port)")
			}
			if topic == "" {
				return errors.New("--topic is required: the topic to write into")
			}
			var in io.Reader = cmd.InOrStdin()
			name := "stdin"
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in, name = f, args[0]
			}
			ctx := cmd.Context()
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(5*time.Millisecond))
			if err != nil {
				return fmt.Errorf("kafka client: %w", err)
			}
			defer cl.Close()
			tds, err := kadm.NewClient(cl).ListTopics(ctx, topic)
			if err != nil {
				return fmt.Errorf("list topics on %v: %w (check --brokers)", brokers, err)
			}
			td, ok := tds[topic]
			if !ok || td.Err != nil {
				return fmt.Errorf("topic %q does not exist or is unreadable (%v): create it first, with as many partitions as the topic it is joined with", topic, td.Err)
			}
			mode := progress.Off
			if every > 0 {
				mode, _ = progress.ModeFor("always", asJSON, cmd.ErrOrStderr())
			}
			rep := progress.New(cmd.ErrOrStderr(), mode).Every(every)
			defer rep.Done()
			p := &producer{cl: cl, keyCol: keyCol, tsCol: tsCol, progress: rep, op: "produce " + topic, every: every}
			n, err := p.run(ctx, name, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "produced %d records to %s (%d partitions) in %s\n", n, topic, len(td.Partitions), time.Since(p.start).Round(time.Millisecond))
			return nil
		},
	}
	fl := c.Flags()
	fl.StringSliceVar(&brokers, "brokers", nil, "Kafka seed brokers (required)")
	fl.StringVar(&topic, "topic", "", "topic to write into (required)")
	fl.StringVar(&keyCol, "key", "", "column whose value keys each record (default: no key)")
	fl.StringVar(&tsCol, "timestamp", "", "column that sets each record's timestamp (default: now)")
	fl.DurationVar(&every, "progress", time.Second, "how often progress is printed to stderr (0: never)")
	fl.BoolVar(&asJSON, "json", false, "progress on stderr as JSON events, one object a line")
	return c
}

type producer struct {
	cl            *kgo.Client
	keyCol, tsCol string
	progress      *progress.Reporter
	op            string // the progress events' Op
	every         time.Duration
	start         time.Time

	mu    sync.Mutex
	first error // first failed delivery
	done  int64
}

func (p *producer) run(ctx context.Context, name string, in io.Reader) (int64, error) {
	p.start = time.Now()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	last := p.start
	var sent int64
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		rec, err := p.record(b)
		if err != nil {
			p.cl.Flush(ctx)
			return p.delivered(), fmt.Errorf("%s:%d: %w; %d records before it were produced", name, line, err, p.delivered())
		}
		sent++
		ln := line
		p.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil && p.first == nil {
				p.first = fmt.Errorf("%s:%d: produce: %w", name, ln, err)
			}
			if err == nil {
				p.done++
			}
		})
		if p.every > 0 && time.Since(last) >= min(p.every, p.progress.Interval()) {
			last = time.Now()
			p.report(false)
		}
		if err := p.failed(); err != nil {
			p.cl.Flush(ctx)
			return p.delivered(), err
		}
	}
	if err := sc.Err(); err != nil {
		return p.delivered(), fmt.Errorf("%s: %w", name, err)
	}
	if err := p.cl.Flush(ctx); err != nil {
		return p.delivered(), err
	}
	p.report(true)
	return p.delivered(), p.failed()
}

// report shows the records delivered so far.
func (p *producer) report(final bool) {
	p.progress.Report(progress.Event{Op: p.op, Done: p.delivered(), Unit: "records", Elapsed: time.Since(p.start), Final: final})
}

func (p *producer) delivered() int64 { p.mu.Lock(); defer p.mu.Unlock(); return p.done }
func (p *producer) failed() error    { p.mu.Lock(); defer p.mu.Unlock(); return p.first }

// record builds the record of one JSON line.
func (p *producer) record(line []byte) (*kgo.Record, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	rec := &kgo.Record{Value: append([]byte(nil), line...)}
	if p.keyCol != "" {
		raw, ok := obj[p.keyCol]
		if !ok || string(raw) == "null" {
			return nil, fmt.Errorf("no key column %q (--key) in this line", p.keyCol)
		}
		rec.Key = scalarText(raw)
	}
	if p.tsCol != "" {
		raw, ok := obj[p.tsCol]
		if !ok || string(raw) == "null" {
			return nil, fmt.Errorf("no timestamp column %q (--timestamp) in this line", p.tsCol)
		}
		ts, err := parseTimestamp(raw)
		if err != nil {
			return nil, fmt.Errorf("timestamp column %q: %w", p.tsCol, err)
		}
		rec.Timestamp = ts
	}
	return rec, nil
}

// scalarText is a JSON string's text, or any other JSON value as written.
func scalarText(raw json.RawMessage) []byte {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s)
	}
	return append([]byte(nil), raw...)
}

func parseTimestamp(raw json.RawMessage) (time.Time, error) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		ms, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s is neither a date-time string nor epoch milliseconds", raw)
		}
		return time.UnixMilli(ms), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", time.RFC3339Nano, "2006-01-02T15:04:05.999999999", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	return time.Time{}, fmt.Errorf("%q: want \"2006-01-02 15:04:05[.000]\", RFC 3339 or epoch milliseconds", s)
}
