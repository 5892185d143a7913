package diag

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// SampleWriter writes PartitionSamples as JSON lines, the format that
// ReadSamples and `hotcold diag run --lag-file` read back. It is not safe for
// concurrent use.
type SampleWriter struct {
	enc *json.Encoder
}

// NewSampleWriter returns a SampleWriter writing to w.
func NewSampleWriter(w io.Writer) *SampleWriter { return &SampleWriter{enc: json.NewEncoder(w)} }

// Write writes one sample as one line.
func (w *SampleWriter) Write(s PartitionSample) error { return w.enc.Encode(s) }

// MaxSampleLine is the longest line ReadSamples accepts.
const MaxSampleLine = 64 << 10

// ReadSamples reads JSON lines of PartitionSample, one per line:
//
//	{"group":"orders-job","topic":"orders","partition":0,"time":"2026-11-22T10:00:00Z","committed":1200,"end":1500}
//
// Blank lines and lines starting with # are skipped. Unknown fields are an
// error, so a typo does not silently become a zero. Errors name the line.
func ReadSamples(r io.Reader) ([]PartitionSample, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxSampleLine)
	var out []PartitionSample
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		s, err := parseSampleLine(b)
		if err != nil {
			return out, fmt.Errorf("diag: lag samples line %d: %w", line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return out, fmt.Errorf("diag: lag samples line %d: longer than %d bytes", line+1, MaxSampleLine)
		}
		return out, fmt.Errorf("diag: reading lag samples: %w", err)
	}
	return out, nil
}

func parseSampleLine(b []byte) (PartitionSample, error) {
	var s PartitionSample
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, err
	}
	if dec.More() {
		return s, errors.New("more than one JSON value on the line")
	}
	switch {
	case s.Group == "":
		return s, errors.New(`missing "group"`)
	case s.Topic == "":
		return s, errors.New(`missing "topic"`)
	case s.Partition < 0:
		return s, errors.New(`"partition" is negative`)
	case s.Time.IsZero():
		return s, errors.New(`missing "time"`)
	case s.End < 0:
		return s, errors.New(`"end" is negative`)
	case s.Committed < -1:
		return s, errors.New(`"committed" must be -1 (no commit) or more`)
	}
	return s, nil
}

// SampleTimes returns the distinct sample times in ascending order, the
// evaluation points when samples are replayed.
func SampleTimes(samples []PartitionSample) []time.Time {
	seen := make(map[int64]bool)
	var out []time.Time
	for _, s := range samples {
		k := s.Time.UnixNano()
		if !seen[k] {
			seen[k] = true
			out = append(out, s.Time)
		}
	}
	sortTimes(out)
	return out
}

// Replay feeds samples (in any order) through a new Tracker and evaluates
// after every distinct sample time within w, returning the group statuses in
// time order and the anomaly events.
func Replay(samples []PartitionSample, cfg LagConfig, w Window) ([]GroupStatus, []Event, error) {
	t, err := NewTracker(cfg)
	if err != nil {
		return nil, nil, err
	}
	sorted := append([]PartitionSample(nil), samples...)
	sortSamples(sorted)
	var statuses []GroupStatus
	var events []Event
	i := 0
	for _, at := range SampleTimes(sorted) {
		for i < len(sorted) && !sorted[i].Time.After(at) {
			t.Observe(sorted[i])
			i++
		}
		if !w.Contains(at) {
			continue
		}
		st, ev := t.Evaluate(at)
		statuses = append(statuses, st...)
		events = append(events, ev...)
	}
	return statuses, events, nil
}
