package demo

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress is a snapshot of one step of a demo run.
type Progress struct {
	// Step names the step, e.g. "join: hot/cold".
	Step string
	// Done and Total count the step's work in Unit; Total is 0 when
	// unknown.
	Done, Total int64
	// Unit is what Done counts: "records", "rows", "files".
	Unit string
	// Elapsed is the time since the step started.
	Elapsed time.Duration
	// Finished is set on the last report of the step.
	Finished bool
}

// Rate returns Done per second of Elapsed.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// ProgressPrinter renders Progress reports on a writer (normally stderr).
// On a terminal every step is one bar redrawn in place; otherwise it
// writes plain lines: when a step starts, at each quarter of it, and when
// it finishes. It is safe for concurrent use.
type ProgressPrinter struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	step    string
	quarter int64
	drawn   bool
}

// NewProgressPrinter returns a printer writing to w; terminal selects the
// redrawn bars (pass whether w is a terminal).
func NewProgressPrinter(w io.Writer, terminal bool) *ProgressPrinter {
	return &ProgressPrinter{w: w, tty: terminal}
}

// Update renders one report.
func (pp *ProgressPrinter) Update(p Progress) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if p.Step != pp.step {
		if pp.tty && pp.drawn {
			fmt.Fprintln(pp.w)
		}
		pp.step, pp.quarter, pp.drawn = p.Step, 0, false
		if !pp.tty && !p.Finished {
			fmt.Fprintf(pp.w, "%s: started%s\n", p.Step, ofTotal(p))
		}
	}
	if pp.tty {
		fmt.Fprintf(pp.w, "\r\033[K%s", barLine(p))
		pp.drawn = true
		if p.Finished {
			fmt.Fprintln(pp.w)
			pp.step, pp.drawn = "", false
		}
		return
	}
	switch {
	case p.Finished:
		fmt.Fprintf(pp.w, "%s: done, %s %s in %s%s\n", p.Step, count(p.Done), p.Unit, round(p.Elapsed), rateText(p))
		pp.step = ""
	case p.Total > 0:
		if q := p.Done * 4 / p.Total; q > pp.quarter && q < 4 {
			pp.quarter = q
			fmt.Fprintf(pp.w, "%s: %d%% (%s of %s %s)\n", p.Step, q*25, count(p.Done), count(p.Total), p.Unit)
		}
	}
}

func ofTotal(p Progress) string {
	if p.Total <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%s %s)", count(p.Total), p.Unit)
}

func rateText(p Progress) string {
	if p.Elapsed < 50*time.Millisecond || p.Done == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s %s/s)", count(int64(p.Rate())), p.Unit)
}

const barWidth = 28

// barLine renders "step  [#####.....]  45%  1,234/5,678 records  2.1s".
func barLine(p Progress) string {
	name := fmt.Sprintf("%-22s", p.Step)
	if p.Total <= 0 {
		return fmt.Sprintf("%s %s %s  %s", name, count(p.Done), p.Unit, round(p.Elapsed))
	}
	frac := float64(p.Done) / float64(p.Total)
	frac = min(max(frac, 0), 1)
	n := int(frac * barWidth)
	bar := strings.Repeat("#", n) + strings.Repeat(".", barWidth-n)
	return fmt.Sprintf("%s [%s] %3.0f%%  %s/%s %s  %s", name, bar, frac*100, count(p.Done), count(p.Total), p.Unit, round(p.Elapsed))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// count renders n with thousands separators: 1234567 -> "1,234,567".
func count(n int64) string {
	if n < 0 {
		return "-" + count(-n)
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// step reports the progress of one step, at most every throttle.
type step struct {
	fn       func(Progress)
	name     string
	unit     string
	total    int64
	start    time.Time
	lastSent time.Time
}

const throttle = 100 * time.Millisecond

func newStep(fn func(Progress), name, unit string, total int64) *step {
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
		s.fn(Progress{Step: s.name, Done: done, Total: s.total, Unit: s.unit, Elapsed: time.Since(s.start), Finished: finished})
	}
}
