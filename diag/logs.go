package diag

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// LogEntry is one log record: a timestamped first line and the lines that
// continue it (a multi-line message or a stack trace).
type LogEntry struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Logger  string    `json:"logger,omitempty"`
	Message string    `json:"message"`
	// More holds the continuation lines, without their line breaks.
	More []string `json:"more,omitempty"`
	File string   `json:"file"`
	Line int      `json:"line"`
}

// Text is the message and its continuation lines, joined by newlines.
func (e LogEntry) Text() string {
	if len(e.More) == 0 {
		return e.Message
	}
	return e.Message + "\n" + strings.Join(e.More, "\n")
}

// BadLine is a log line that could not be parsed.
type BadLine struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Text string `json:"text"`
}

// LogResult is what a LogSource read.
type LogResult struct {
	Entries []LogEntry
	// Files is the number of files read.
	Files int
	// Unparsable counts the lines that could not be parsed; Bad holds the
	// first few of them.
	Unparsable int
	Bad        []BadLine
	// Truncated is set when MaxEntries stopped the reading.
	Truncated bool
	// Unreadable lists every part of the files that was not read as log
	// text: files or directories that could not be opened or read to the
	// end, lines longer than MaxLineBytes (only their prefix was read) and
	// runs of binary lines (skipped, not taken as part of a record).
	Unreadable []UnreadablePart
}

// UnreadablePart is a part of a log file that was not read as log text.
type UnreadablePart struct {
	File string `json:"file"`
	// FromLine and ToLine are the lines, 1-based and inclusive; 0 when the
	// part is the whole file (it could not be opened).
	FromLine int `json:"from_line,omitempty"`
	ToLine   int `json:"to_line,omitempty"`
	// Reason says what was wrong: "binary data", "line of N bytes, only
	// the first M read", or the read error.
	Reason string `json:"reason"`
}

// Where names the part: "FILE", "FILE:LINE" or "FILE:FROM-TO".
func (u UnreadablePart) Where() string {
	switch {
	case u.FromLine == 0:
		return u.File
	case u.FromLine == u.ToLine:
		return fmt.Sprintf("%s:%d", u.File, u.FromLine)
	}
	return fmt.Sprintf("%s:%d-%d", u.File, u.FromLine, u.ToLine)
}

// LogFiles is a LogSource over log files and directories (read
// recursively, skipping hidden files). It understands the log4j layout
// Flink uses by default,
//
//	2026-11-22 10:01:02,345 ERROR org.apache.flink.runtime.taskmanager.Task [] - message
//
// as well as ISO 8601 timestamps ("2026-11-22T10:01:02.345Z INFO logger -
// message"). Lines that do not start a record continue the previous one.
type LogFiles struct {
	// Paths are files or directories. Required.
	Paths []string
	// Location is the zone of timestamps without one. Default UTC.
	Location *time.Location
	// MaxEntries caps the entries kept. Default 200000.
	MaxEntries int
	// MaxBad caps the unparsable lines kept as examples. Default 20.
	MaxBad int
	// MaxLineBytes is how much of one line is read; the rest of a longer
	// line is skipped (and listed in LogResult.Unreadable), never the rest
	// of the file. Default 256 KiB.
	MaxLineBytes int
}

// Logs reads the entries within w from every file.
func (l *LogFiles) Logs(ctx context.Context, w Window) (*LogResult, error) {
	if len(l.Paths) == 0 {
		return nil, errors.New("diag: no log paths given")
	}
	var files []string
	var errs []error
	for _, p := range l.Paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	slices.Sort(files)
	res := &LogResult{}
	for _, err := range errs {
		res.Unreadable = append(res.Unreadable, UnreadablePart{File: pathOf(err), Reason: err.Error()})
	}
	opt := l.options(w)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		fh, err := os.Open(f)
		if err != nil {
			errs = append(errs, err)
			res.Unreadable = append(res.Unreadable, UnreadablePart{File: f, Reason: err.Error()})
			continue
		}
		scanLog(fh, f, opt, res)
		fh.Close()
		res.Files++
	}
	slices.SortStableFunc(res.Entries, func(a, b LogEntry) int { return a.Time.Compare(b.Time) })
	if res.Files == 0 {
		if len(errs) == 0 {
			errs = append(errs, fmt.Errorf("no log files under %s", strings.Join(l.Paths, ", ")))
		}
		return res, fmt.Errorf("diag: reading logs: %w", errors.Join(errs...))
	}
	return res, nil
}

// ReadLog reads one log stream named name (as Logs reads each file, with
// l's options; Paths is not used) and returns the entries within w, the
// unparsable lines and the unreadable parts. It reads to the end of r
// whatever r holds.
func (l *LogFiles) ReadLog(r io.Reader, name string, w Window) *LogResult {
	res := &LogResult{Files: 1}
	scanLog(r, name, l.options(w), res)
	return res
}

func (l *LogFiles) options(w Window) scanOptions {
	opt := scanOptions{w: w, loc: l.Location, maxEntries: l.MaxEntries, maxBad: l.MaxBad, maxLine: l.MaxLineBytes}
	if opt.maxEntries <= 0 {
		opt.maxEntries = 200000
	}
	if opt.maxBad <= 0 {
		opt.maxBad = 20
	}
	if opt.maxLine <= 0 {
		opt.maxLine = 256 << 10
	}
	if opt.loc == nil {
		opt.loc = time.UTC
	}
	return opt
}

// pathOf returns the path an fs error names, or "".
func pathOf(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Path
	}
	return ""
}

type scanOptions struct {
	w                           Window
	loc                         *time.Location
	maxEntries, maxBad, maxLine int
}

// readLine reads one line of any length from br: its first max bytes
// (without the line break) and its whole length. err is io.EOF only when
// there is no line left.
func readLine(br *bufio.Reader, max int, buf []byte) (prefix []byte, total int, err error) {
	prefix = buf[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		total += len(chunk)
		if room := max - len(prefix); room > 0 {
			prefix = append(prefix, chunk[:min(room, len(chunk))]...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && total > 0:
			return prefix, total, nil
		case err != nil:
			return prefix, total, err
		}
		total-- // the '\n'
		prefix = bytes.TrimSuffix(prefix, []byte("\n"))
		return prefix, total, nil
	}
}

// isBinary reports whether a line is not text: it has a NUL byte, or more
// than a tenth of it is invalid UTF-8 or control characters other than
// tab, carriage return, form feed and escape (terminal colours).
func isBinary(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	bad := 0
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n <= 1) || (r < 0x20 && r != '\t' && r != '\r' && r != '\f' && r != 0x1b) || r == 0x7f {
			bad++
		}
		i += n
	}
	return bad*10 > len(b)
}

// scanLog reads one log file into res. It never stops before the end of
// the file except on a read error, which it lists in res.Unreadable.
func scanLog(r io.Reader, name string, opt scanOptions, res *LogResult) {
	br := bufio.NewReaderSize(r, 64<<10)
	var cur *LogEntry
	keep := false
	flush := func() {
		if cur != nil && keep {
			if len(res.Entries) >= opt.maxEntries {
				res.Truncated = true
			} else {
				res.Entries = append(res.Entries, *cur)
			}
		}
		cur = nil
	}
	line, binFrom, binBytes := 0, 0, 0
	endBinary := func() {
		if binFrom > 0 {
			res.Unreadable = append(res.Unreadable, UnreadablePart{File: name, FromLine: binFrom, ToLine: line - 1,
				Reason: fmt.Sprintf("binary data (%d line(s), %d bytes), not log text: skipped", line-binFrom, binBytes)})
			binFrom, binBytes = 0, 0
		}
	}
	var buf []byte
	for {
		raw, total, err := readLine(br, opt.maxLine, buf)
		buf = raw
		if err == io.EOF {
			break
		}
		if err != nil {
			line++
			endBinary()
			res.Unreadable = append(res.Unreadable, UnreadablePart{File: name, FromLine: line, ToLine: line,
				Reason: fmt.Sprintf("read error: %v; the rest of the file was not read", err)})
			break
		}
		line++
		if isBinary(raw) {
			// Binary data ends the record before it: it is not a
			// continuation of it.
			flush()
			if binFrom == 0 {
				binFrom = line
			}
			binBytes += total
			continue
		}
		endBinary()
		if total > len(raw) {
			res.Unreadable = append(res.Unreadable, UnreadablePart{File: name, FromLine: line, ToLine: line,
				Reason: fmt.Sprintf("line of %d bytes, only the first %d read (LogFiles.MaxLineBytes)", total, len(raw))})
			for i := 0; i < utf8.UTFMax-1 && len(raw) > 0; i++ { // do not end inside a rune
				if r, n := utf8.DecodeLastRune(raw); r != utf8.RuneError || n != 1 {
					break
				}
				raw = raw[:len(raw)-1]
			}
		}
		text := strings.TrimRight(string(raw), "\r")
		e, err := ParseLogLine(text, opt.loc)
		switch {
		case err == nil:
			flush()
			e.File, e.Line = name, line
			cur, keep = &e, opt.w.Contains(e.Time)
		case errors.Is(err, errNotARecord) && cur != nil:
			if keep && len(cur.More) < 2000 {
				cur.More = append(cur.More, text)
			}
		case strings.TrimSpace(text) == "":
			// blank line before the first record
		default:
			res.Unparsable++
			if len(res.Bad) < opt.maxBad {
				res.Bad = append(res.Bad, BadLine{File: name, Line: line, Text: truncate(text, 200)})
			}
		}
	}
	line++
	endBinary()
	flush()
}

// errNotARecord means the line does not start a record; it continues the
// previous one. Other errors mean the line looks like a record but is broken.
var errNotARecord = errors.New("line does not start a log record")

var logLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "SEVERE"}

// ParseLogLine parses the first line of a log record. It returns an error
// wrapping a "does not start a log record" sentinel for a line that
// continues a record (a stack frame, a wrapped message), and another error
// for a line that starts like a record but is malformed. Timestamps without
// a zone are read in loc (nil means UTC).
func ParseLogLine(line string, loc *time.Location) (LogEntry, error) {
	if loc == nil {
		loc = time.UTC
	}
	if len(line) < 10 || !isDateStart(line) {
		return LogEntry{}, errNotARecord
	}
	// Timestamp: date, then 'T' or ' ', then the time up to the next space.
	if len(line) < 19 {
		return LogEntry{}, fmt.Errorf("truncated timestamp in %q", truncate(line, 60))
	}
	end := 19
	for end < len(line) && line[end] != ' ' && line[end] != '\t' {
		end++
	}
	ts, err := parseLogTime(line[:end], loc)
	if err != nil {
		return LogEntry{}, err
	}
	rest := strings.TrimLeft(line[end:], " \t")
	// Optional [thread] before the level (logback style).
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i > 0 {
			rest = strings.TrimLeft(rest[i+1:], " \t")
		}
	}
	lvlEnd := strings.IndexAny(rest, " \t")
	if lvlEnd < 0 {
		lvlEnd = len(rest)
	}
	level := strings.ToUpper(rest[:lvlEnd])
	if !slices.Contains(logLevels, level) {
		return LogEntry{}, fmt.Errorf("no log level after the timestamp in %q", truncate(line, 60))
	}
	rest = strings.TrimLeft(rest[lvlEnd:], " \t")
	e := LogEntry{Time: ts, Level: normLevel(level)}
	// "logger [mdc] - message" or "logger: message" or just a message.
	if i := strings.Index(rest, " - "); i >= 0 {
		head := strings.TrimSpace(rest[:i])
		if j := strings.IndexByte(head, ' '); j >= 0 {
			head = head[:j]
		}
		e.Logger, e.Message = head, rest[i+3:]
	} else {
		e.Message = rest
	}
	return e, nil
}

func normLevel(l string) string {
	switch l {
	case "WARNING":
		return "WARN"
	case "SEVERE", "FATAL":
		return "ERROR"
	}
	return l
}

func isDateStart(s string) bool {
	for i := 0; i < 10; i++ {
		c := s[i]
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

var logTimeLayouts = []string{
	"2006-01-02 15:04:05,999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05,999999999",
}

func parseLogTime(s string, loc *time.Location) (time.Time, error) {
	if len(s) < 19 || (s[10] != ' ' && s[10] != 'T') {
		return time.Time{}, fmt.Errorf("bad timestamp %q", truncate(s, 40))
	}
	// A zone suffix: Z or ±hh:mm / ±hhmm after the seconds.
	if t, err := time.Parse(time.RFC3339Nano, strings.Replace(strings.Replace(s, " ", "T", 1), ",", ".", 1)); err == nil {
		return t, nil
	}
	if len(s) > 19 && (strings.HasSuffix(s, "Z") || strings.ContainsAny(s[19:], "+-")) {
		for _, layout := range []string{"2006-01-02T15:04:05.999999999-0700", "2006-01-02T15:04:05-0700"} {
			if t, err := time.Parse(layout, strings.Replace(strings.Replace(s, " ", "T", 1), ",", ".", 1)); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("bad timestamp %q", truncate(s, 40))
	}
	for _, layout := range logTimeLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", truncate(s, 40))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
