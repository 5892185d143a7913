package diag

import (
	"strings"
)

// Cause is one exception of a Java stack trace: the outermost exception or
// one of its "Caused by:" causes.
type Cause struct {
	// Class is the exception's class name, such as java.io.IOException.
	Class string `json:"class"`
	// Message is the text after "Class: ", possibly several lines.
	Message string `json:"message,omitempty"`
	// Frames are the "at ..." frames, without the "at ".
	Frames []string `json:"frames,omitempty"`
}

// Header is "Class: Message" (first message line), as Java prints it.
func (c Cause) Header() string {
	msg, _, _ := strings.Cut(c.Message, "\n")
	if msg == "" {
		return c.Class
	}
	return c.Class + ": " + msg
}

// StackTrace is a parsed Java stack trace: the chain of causes, outermost
// first.
type StackTrace struct {
	Causes []Cause `json:"causes"`
}

// Root returns the innermost cause, the root of the failure, and false if
// the trace has none.
func (s StackTrace) Root() (Cause, bool) {
	if len(s.Causes) == 0 {
		return Cause{}, false
	}
	return s.Causes[len(s.Causes)-1], true
}

// ParseStackTrace parses a Java stack trace as printed by
// Throwable.printStackTrace: a header line "Class: message", message
// continuation lines, "\tat frame" lines, "... N more", "Caused by: ..."
// and "Suppressed: ..." sections (suppressed exceptions are skipped).
// Text before the first exception header (a log message) is ignored. It
// never fails: text without a recognisable header yields no causes.
func ParseStackTrace(text string) StackTrace {
	var st StackTrace
	var cur *Cause
	suppressed := false
	suppressIndent := 0
	for _, raw := range strings.Split(text, "\n") {
		line := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		indent := len(line) - len(trimmed)
		if suppressed && indent > suppressIndent {
			continue
		}
		suppressed = false
		switch {
		case strings.HasPrefix(trimmed, "at ") && !strings.HasPrefix(trimmed, "at [") && cur != nil:
			if len(cur.Frames) < 1000 {
				cur.Frames = append(cur.Frames, strings.TrimSpace(trimmed[3:]))
			}
		case strings.HasPrefix(trimmed, "... ") && strings.HasSuffix(trimmed, " more"):
		case strings.HasPrefix(trimmed, "Caused by: "):
			c := parseHeader(strings.TrimPrefix(trimmed, "Caused by: "))
			st.Causes = append(st.Causes, c)
			cur = &st.Causes[len(st.Causes)-1]
		case strings.HasPrefix(trimmed, "Suppressed: "):
			suppressed, suppressIndent = true, indent
		case cur == nil:
			if looksLikeHeader(trimmed) {
				st.Causes = append(st.Causes, parseHeader(trimmed))
				cur = &st.Causes[len(st.Causes)-1]
			}
		case len(cur.Frames) == 0:
			// A message spanning several lines.
			if cur.Message != "" || trimmed != "" {
				cur.Message += "\n" + line
			}
		}
	}
	return st
}

func parseHeader(s string) Cause {
	class, msg, _ := strings.Cut(s, ": ")
	return Cause{Class: strings.TrimSpace(class), Message: msg}
}

// looksLikeHeader reports whether s starts with a Java class name that
// looks like an exception or error: dotted identifiers ending in
// Exception, Error or Throwable (optionally followed by ": message").
func looksLikeHeader(s string) bool {
	class, _, _ := strings.Cut(s, ": ")
	class = strings.TrimSpace(class)
	if class == "" || strings.ContainsAny(class, " \t()[]{}'\"") {
		return false
	}
	last := class
	if i := strings.LastIndexByte(class, '.'); i >= 0 {
		last = class[i+1:]
	}
	if i := strings.LastIndexByte(last, '$'); i >= 0 {
		last = last[i+1:]
	}
	return strings.HasSuffix(last, "Exception") || strings.HasSuffix(last, "Error") || last == "Throwable"
}
