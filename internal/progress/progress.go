// Package progress is the one progress reporter of every long operation
// of the hotcold command (loads, migrations, replays, the demo, produce).
//
// An operation describes where it is with an [Event]; a [Reporter] renders
// the events on a writer (normally stderr) in one of three ways:
//
//   - [Bar] on a terminal: one line per step, redrawn in place, with a bar
//     when the total is known, the rate and the time left (ETA);
//   - [Lines] on a pipe or file: a line when a step starts, at each
//     quarter of a known total or every few seconds of an unknown one, and
//     when it ends;
//   - [JSON] with --json: one JSON object a line, for scripts.
//
// [ModeFor] maps the command line (--progress, --json, whether the writer
// is a terminal) to a mode. Sizes and counts are printed with go-humanize:
// "1,234,567 rows", "12 MiB".
//
// Throttling is by the events' Elapsed, not by a clock of the reporter's
// own, so what a Reporter prints for a sequence of events is deterministic.
// A Reporter is safe for concurrent use.
package progress

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"golang.org/x/term"
)

// Event is one report of a long operation.
type Event struct {
	// Op names the operation, e.g. "load orders dt=2026-11-22" or
	// "join: hot/cold".
	Op string
	// Step is the operation's current phase ("download", "read",
	// "write"); empty for an operation of one phase. A new Op or Step
	// starts a new line.
	Step string
	// Done counts the work done so far in Unit, of Total (0: unknown).
	Done, Total int64
	// Unit is what Done counts: "rows", "records", "keys", "messages";
	// "bytes" prints Done and Total as sizes.
	Unit string
	// Bytes is the input consumed so far, of BytesTotal (0: unknown),
	// beside Done when Unit counts something else. When Total is unknown
	// the fraction done (bar, ETA) comes from these.
	Bytes, BytesTotal int64
	// Written is the number of bytes written so far (0: not reported).
	Written int64
	// Detail is shown after the counts, e.g. "12 sink messages received"
	// (empty: nothing).
	Detail string
	// Elapsed is the time since the operation (or step) started.
	Elapsed time.Duration
	// Final is set on the last event of a step; Failed on a step that
	// ended in an error.
	Final, Failed bool
}

// Rate returns Done per second of Elapsed.
func (e Event) Rate() float64 {
	if e.Elapsed <= 0 {
		return 0
	}
	return float64(e.Done) / e.Elapsed.Seconds()
}

// Fraction returns how much of the step is done, from Done/Total or else
// Bytes/BytesTotal; ok is false when neither total is known.
func (e Event) Fraction() (f float64, ok bool) {
	switch {
	case e.Total > 0:
		f = float64(e.Done) / float64(e.Total)
	case e.BytesTotal > 0:
		f = float64(e.Bytes) / float64(e.BytesTotal)
	default:
		return 0, false
	}
	return min(max(f, 0), 1), true
}

// ETA returns the time left at the rate so far; ok is false when it is
// unknown (no total, nothing done yet, or the step has ended).
func (e Event) ETA() (time.Duration, bool) {
	f, ok := e.Fraction()
	if !ok || f <= 0 || e.Final || e.Elapsed <= 0 {
		return 0, false
	}
	return time.Duration(float64(e.Elapsed) * (1 - f) / f), true
}

// Mode is how a Reporter shows events.
type Mode int

const (
	// Off shows nothing.
	Off Mode = iota
	// Bar redraws one line per step in place (a terminal).
	Bar
	// Lines writes plain lines (a pipe or a file).
	Lines
	// JSON writes one JSON object a line.
	JSON
)

// ModeFor picks the mode from a --progress flag value and --json: "auto"
// shows a bar on a terminal and nothing otherwise, "always" a bar on a
// terminal and plain lines otherwise, "never" nothing; asJSON turns any
// shown progress (and "auto" off a terminal) into JSON events.
func ModeFor(flag string, asJSON bool, w io.Writer) (Mode, error) {
	tty := IsTerminal(w)
	switch flag {
	case "never":
		return Off, nil
	case "auto", "always":
		switch {
		case asJSON:
			return JSON, nil
		case tty:
			return Bar, nil
		case flag == "always":
			return Lines, nil
		}
		return Off, nil
	}
	return Off, fmt.Errorf("--progress %q: want auto, always or never", flag)
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Throttles of the modes, in the events' Elapsed.
const (
	barEvery  = 100 * time.Millisecond
	lineEvery = 5 * time.Second
	jsonEvery = time.Second
)

// Reporter renders events on a writer. The zero value is not usable: use
// New.
type Reporter struct {
	mu    sync.Mutex
	w     io.Writer
	mode  Mode
	every time.Duration // Lines and JSON: throttle (0: the mode's default)
	// the step being shown
	key     string
	last    time.Duration // Elapsed of the last event shown
	quarter int
	pending *Event // the step's last event, held back by the throttle
	drawn   bool   // Bar: a line is drawn and not yet ended
}

// New returns a Reporter writing to w in mode.
func New(w io.Writer, mode Mode) *Reporter {
	return &Reporter{w: w, mode: mode}
}

// Every sets how often Lines and JSON show a step without a known total
// (default 5s for Lines, 1s for JSON) and returns r.
func (r *Reporter) Every(d time.Duration) *Reporter {
	r.every = d
	return r
}

// Enabled reports whether the reporter shows anything; an operation may
// skip computing events when it does not.
func (r *Reporter) Enabled() bool { return r != nil && r.mode != Off }

// Interval is how often an operation should report: often enough for a
// smooth bar, less often otherwise (the reporter throttles either way).
func (r *Reporter) Interval() time.Duration {
	if r != nil && r.mode == Bar {
		return 250 * time.Millisecond
	}
	return time.Second
}

// Report shows one event. A nil Reporter shows nothing.
func (r *Reporter) Report(e Event) {
	if !r.Enabled() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := e.Op + "\x00" + e.Step
	first := key != r.key
	if first {
		r.end()
		r.key, r.quarter = key, 0
	}
	if !first && !e.Final && !r.due(e) {
		r.pending = &e
		return
	}
	r.show(e)
	if e.Final {
		r.end()
	}
}

// show renders e.
func (r *Reporter) show(e Event) {
	r.last, r.pending = e.Elapsed, nil
	switch r.mode {
	case Bar:
		fmt.Fprint(r.w, "\r\033[K"+barLine(e))
		r.drawn = true
	case Lines:
		fmt.Fprintln(r.w, Line(e))
	case JSON:
		b, _ := json.Marshal(jsonOf(e))
		fmt.Fprintf(r.w, "%s\n", b)
	}
}

// end ends the step shown: its last event held back by the throttle is
// shown, so that a step's last state is never lost, and a drawn bar's line
// is ended.
func (r *Reporter) end() {
	if r.pending != nil {
		r.show(*r.pending)
	}
	if r.drawn {
		fmt.Fprintln(r.w)
		r.drawn = false
	}
	r.key = ""
}

// Done ends the step shown (an operation that stopped without a final
// event), so that what follows starts on a new line.
func (r *Reporter) Done() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.end()
}

// due reports whether an event that neither starts nor ends a step is
// shown.
func (r *Reporter) due(e Event) bool {
	since := e.Elapsed - r.last
	switch r.mode {
	case Bar:
		return since >= barEvery
	case JSON:
		return since >= cmp.Or(r.every, jsonEvery)
	}
	if f, ok := e.Fraction(); ok {
		if q := int(f * 4); q > r.quarter && q < 4 {
			r.quarter = q
			return true
		}
		return false
	}
	return since >= cmp.Or(r.every, lineEvery)
}

// Count renders a count with thousands separators: 1234567 is "1,234,567".
func Count(n int64) string { return humanize.Comma(n) }

// Size renders a number of bytes in binary units: 1536 is "1.5 KiB".
func Size(n int64) string {
	if n < 0 {
		return "-" + humanize.IBytes(uint64(-n))
	}
	return humanize.IBytes(uint64(n))
}

func amount(n int64, unit string) string {
	if unit == "bytes" {
		return Size(n)
	}
	return Count(n) + " " + unit
}

func (e Event) name() string {
	if e.Step == "" {
		return e.Op
	}
	return e.Op + ": " + e.Step
}

func (e Event) state() string {
	switch {
	case e.Failed:
		return "failed, "
	case e.Final:
		return "done, "
	}
	return ""
}

// Line renders an event as one plain line, e.g.
//
//	load orders v1: read, 1,000 of 5,000 rows (2,000 rows/s), input 1.0 MiB of 5.0 MiB, 12 KiB written, ETA 2s, 0.5s
func Line(e Event) string {
	var b strings.Builder
	b.WriteString(e.name())
	b.WriteString(": ")
	b.WriteString(e.state())
	switch {
	case e.Total > 0 && e.Unit == "bytes":
		fmt.Fprintf(&b, "%s of %s", Size(e.Done), Size(e.Total))
	case e.Total > 0:
		fmt.Fprintf(&b, "%s of %s", Count(e.Done), amount(e.Total, e.Unit))
	default:
		b.WriteString(amount(e.Done, e.Unit))
	}
	if r := rateText(e); r != "" {
		fmt.Fprintf(&b, " (%s)", r)
	}
	switch {
	case e.BytesTotal > 0:
		fmt.Fprintf(&b, ", input %s of %s", Size(e.Bytes), Size(e.BytesTotal))
	case e.Bytes > 0:
		fmt.Fprintf(&b, ", input %s", Size(e.Bytes))
	}
	if e.Written > 0 {
		fmt.Fprintf(&b, ", %s written", Size(e.Written))
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ", %s", e.Detail)
	}
	if eta, ok := e.ETA(); ok {
		fmt.Fprintf(&b, ", ETA %s", Round(eta))
	}
	fmt.Fprintf(&b, ", %s", Round(e.Elapsed))
	return b.String()
}

func rateText(e Event) string {
	if e.Elapsed < 50*time.Millisecond || e.Done == 0 {
		return ""
	}
	if e.Unit == "bytes" {
		return Size(int64(e.Rate())) + "/s"
	}
	return Count(int64(e.Rate())) + " " + e.Unit + "/s"
}

const barWidth = 24

// barLine renders "step [#####.....]  45%  1,234/5,678 records  600 records/s  ETA 2s  2.1s".
func barLine(e Event) string {
	name := fmt.Sprintf("%-22s", e.name())
	parts := []string{name}
	if f, ok := e.Fraction(); ok {
		n := int(f * barWidth)
		parts = append(parts, fmt.Sprintf("[%s%s] %3.0f%%", strings.Repeat("#", n), strings.Repeat(".", barWidth-n), f*100))
	}
	switch {
	case e.Total > 0 && e.Unit == "bytes":
		parts = append(parts, Size(e.Done)+"/"+Size(e.Total))
	case e.Total > 0:
		parts = append(parts, Count(e.Done)+"/"+amount(e.Total, e.Unit))
	default:
		parts = append(parts, amount(e.Done, e.Unit))
	}
	if r := rateText(e); r != "" {
		parts = append(parts, r)
	}
	if e.BytesTotal > 0 {
		parts = append(parts, "input "+Size(e.Bytes)+"/"+Size(e.BytesTotal))
	}
	if e.Written > 0 {
		parts = append(parts, Size(e.Written)+" written")
	}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	if eta, ok := e.ETA(); ok {
		parts = append(parts, "ETA "+Round(eta).String())
	}
	if e.Failed {
		parts = append(parts, "failed")
	}
	parts = append(parts, Round(e.Elapsed).String())
	return strings.Join(parts, "  ")
}

// Round rounds a duration for display: to the millisecond below a second,
// to 10ms below 10s, to 100ms above.
func Round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// jsonEvent is the JSON form of an Event.
type jsonEvent struct {
	Op         string  `json:"op"`
	Step       string  `json:"step,omitempty"`
	Done       int64   `json:"done"`
	Total      int64   `json:"total,omitempty"`
	Unit       string  `json:"unit,omitempty"`
	Bytes      int64   `json:"bytes,omitempty"`
	BytesTotal int64   `json:"bytes_total,omitempty"`
	Written    int64   `json:"written,omitempty"`
	Detail     string  `json:"detail,omitempty"`
	Elapsed    float64 `json:"elapsed_seconds"`
	Rate       float64 `json:"rate,omitempty"`
	ETA        float64 `json:"eta_seconds,omitempty"`
	Final      bool    `json:"final,omitempty"`
	Failed     bool    `json:"failed,omitempty"`
}

func jsonOf(e Event) jsonEvent {
	j := jsonEvent{Op: e.Op, Step: e.Step, Done: e.Done, Total: e.Total, Unit: e.Unit, Bytes: e.Bytes, BytesTotal: e.BytesTotal,
		Written: e.Written, Detail: e.Detail, Elapsed: e.Elapsed.Seconds(), Rate: e.Rate(), Final: e.Final, Failed: e.Failed}
	if eta, ok := e.ETA(); ok {
		j.ETA = eta.Seconds()
	}
	return j
}
