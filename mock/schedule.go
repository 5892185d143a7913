package mock

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Step is one message in the global arrival order of a case.
type Step struct {
	// Seq is the 0-based position in the arrival order.
	Seq int
	// Source is the source the message belongs to.
	Source *Source
	// Index is the message's position within its source.
	Index int
	// Wait is the scheduled wait before the message is sent, before any
	// speed scaling.
	Wait time.Duration
}

// Message returns the step's message.
func (s Step) Message() *Message { return &s.Source.Messages[s.Index] }

// plan computes the arrival order of a validated case.
func plan(c *Case) ([]Step, *CaseError) {
	var steps []Step
	entryAfter := map[int]*time.Duration{} // step seq -> wait of its order entry
	switch c.Schedule.By {
	case BySources, "":
		for _, s := range c.Sources {
			for i := range s.Messages {
				steps = append(steps, Step{Source: s, Index: i})
			}
		}
	case ByTimestamp:
		for _, s := range c.Sources {
			for i, m := range s.Messages {
				if m.Timestamp.IsZero() {
					return nil, &CaseError{File: m.Pos.File, Line: m.Pos.Line, Field: "timestamp", Problem: "schedule.by is timestamp, so every message needs a timestamp"}
				}
				steps = append(steps, Step{Source: s, Index: i})
			}
		}
		sort.SliceStable(steps, func(i, j int) bool {
			return steps[i].Message().Timestamp.Before(steps[j].Message().Timestamp)
		})
	case ByOrder:
		next := map[*Source]int{}
		for _, e := range c.Schedule.Order {
			s := c.Source(e.Source)
			left := len(s.Messages) - next[s]
			n := e.Count
			if n == 0 {
				n = left
				if n == 0 {
					return nil, &CaseError{File: e.Pos.File, Line: e.Pos.Line, Field: "schedule.order", Problem: fmt.Sprintf("%s* sends the rest of %s, but every one of its %d messages is already sent by earlier entries", s.Name, s.Name, len(s.Messages))}
				}
			}
			if n > left {
				return nil, &CaseError{File: e.Pos.File, Line: e.Pos.Line, Field: "schedule.order", Problem: fmt.Sprintf("takes %d more message(s) of %s, but only %d of its %d are left", n, s.Name, left, len(s.Messages))}
			}
			if e.After != nil {
				entryAfter[len(steps)] = e.After
			}
			for k := 0; k < n; k++ {
				steps = append(steps, Step{Source: s, Index: next[s]})
				next[s]++
			}
		}
		for _, s := range c.Sources {
			if next[s] < len(s.Messages) {
				p := c.Schedule.Order[len(c.Schedule.Order)-1].Pos
				return nil, &CaseError{File: p.File, Line: p.Line, Field: "schedule.order", Problem: fmt.Sprintf("sends %d of the %d messages of %s; add entries for the rest (e.g. \"%s*\")", next[s], len(s.Messages), s.Name, s.Name)}
			}
		}
	}
	for i := range steps {
		steps[i].Seq = i
		m := steps[i].Message()
		switch {
		case m.After != nil:
			steps[i].Wait = *m.After
		case entryAfter[i] != nil:
			steps[i].Wait = *entryAfter[i]
		case i > 0:
			steps[i].Wait = c.Schedule.Interval
		}
	}
	// Declared ends go last, to every partition of their source.
	for _, s := range c.Sources {
		if s.End == nil {
			continue
		}
		for p := int32(0); p < s.Partitions; p++ {
			m := *s.End
			m.Partition = p
			s.Messages = append(s.Messages, m)
			wait := c.Schedule.Interval
			switch {
			case m.After != nil:
				wait = *m.After
			case len(steps) == 0:
				wait = 0
			}
			steps = append(steps, Step{Seq: len(steps), Source: s, Index: len(s.Messages) - 1, Wait: wait})
		}
	}
	return steps, nil
}

// Sleeper waits between messages. Replays call Sleep before every message
// with the scheduled wait already scaled by the speed (never with a
// negative duration). Implementations must return early with ctx.Err()
// when ctx is done. A test injects one that records or fakes the waits.
type Sleeper interface {
	Sleep(ctx context.Context, d time.Duration) error
}

// SleeperFunc adapts a function to Sleeper.
type SleeperFunc func(ctx context.Context, d time.Duration) error

// Sleep calls f.
func (f SleeperFunc) Sleep(ctx context.Context, d time.Duration) error { return f(ctx, d) }

// RealSleeper waits in real time.
var RealSleeper Sleeper = SleeperFunc(func(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
})

// scale applies a speed factor to a wait: speed 2 halves it, 0 (full
// speed) removes it.
func scale(d time.Duration, fullSpeed bool, speed float64) time.Duration {
	if fullSpeed || d <= 0 {
		return 0
	}
	if speed <= 0 || speed == 1 {
		return d
	}
	return time.Duration(float64(d) / speed)
}
