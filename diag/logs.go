package diag

import (
	"bufio"
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
}

// Logs reads the entries within w from every file.
func (l *LogFiles) Logs(ctx context.Context, w Window) (*LogResult, error) {
	if len(l.Paths) == 0 {
		return nil, errors.New("diag: no log paths given")
	}
	maxEntries, maxBad := l.MaxEntries, l.MaxBad
	if maxEntries <= 0 {
		maxEntries = 200000
	}
	if maxBad <= 0 {
		maxBad = 20
	}
	loc := l.Location
	if loc == nil {
		loc = time.UTC
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
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := l.readFile(f, w, loc, maxEntries, maxBad, res); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Files++
	}
	slices.SortStableFunc(res.Entries, func(a, b LogEntry) int { return a.Time.Compare(b.Time) })
	if res.Files == 0 {
		if len(errs) == 0 {
			errs = append(errs, fmt.Errorf("no log files under %s", strings.Join(l.Paths, ", ")))
		}
		return res, fmt.Errorf("diag: reading logs: %w", errors.Join(errs...))
	}
	if len(errs) > 0 {
		res.Bad = append(res.Bad, BadLine{Text: "unreadable: " + errors.Join(errs...).Error()})
	}
	return res, nil
}

func (l *LogFiles) readFile(path string, w Window, loc *time.Location, maxEntries, maxBad int, res *LogResult) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return scanLog(f, path, w, loc, maxEntries, maxBad, res)
}

func scanLog(r io.Reader, name string, w Window, loc *time.Location, maxEntries, maxBad int, res *LogResult) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var cur *LogEntry
	keep := false
	flush := func() {
		if cur != nil && keep {
			if len(res.Entries) >= maxEntries {
				res.Truncated = true
			} else {
				res.Entries = append(res.Entries, *cur)
			}
		}
		cur = nil
	}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		e, err := ParseLogLine(text, loc)
		switch {
		case err == nil:
			flush()
			e.File, e.Line = name, line
			cur, keep = &e, w.Contains(e.Time)
		case errors.Is(err, errNotARecord) && cur != nil:
			if keep && len(cur.More) < 2000 {
				cur.More = append(cur.More, text)
			}
		case strings.TrimSpace(text) == "":
			// blank line before the first record
		default:
			res.Unparsable++
			if len(res.Bad) < maxBad {
				res.Bad = append(res.Bad, BadLine{File: name, Line: line, Text: truncate(text, 200)})
			}
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", name, line+1, err)
	}
	return nil
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
