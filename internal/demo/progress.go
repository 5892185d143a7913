package demo

import (
	"time"

	"github.com/hotcold/hotcold/internal/progress"
)

// count and bytesText render counts and sizes in the report as the
// progress lines do: "1,234,567", "3.1 MiB".
func count(n int64) string     { return progress.Count(n) }
func bytesText(n int64) string { return progress.Size(n) }

// step reports the progress of one step, at most every throttle.
type step struct {
	fn       func(progress.Event)
	name     string
	unit     string
	total    int64
	start    time.Time
	lastSent time.Time
}

const throttle = 100 * time.Millisecond

func newStep(fn func(progress.Event), name, unit string, total int64) *step {
	s := &step{fn: fn, name: name, unit: unit, total: total, start: time.Now()}
	s.send(0, false)
	return s
}

// set reports done units so far (throttled).
func (s *step) set(done int64) {
	if time.Since(s.lastSent) < throttle {
		return
	}
	s.send(done, false)
}

// finish reports the end of the step and returns its duration.
func (s *step) finish(done int64) time.Duration {
	d := time.Since(s.start)
	s.send(done, true)
	return d
}

func (s *step) send(done int64, finished bool) {
	s.lastSent = time.Now()
	if s.fn != nil {
		s.fn(progress.Event{Op: s.name, Done: done, Total: s.total, Unit: s.unit, Elapsed: time.Since(s.start), Final: finished})
	}
}
