package runcore

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// DirtyPolicy is what happens to an input message that cannot be decoded
// or that the operator rejects.
type DirtyPolicy uint8

const (
	// Fail stops the runner with an error naming the topic, partition,
	// offset and field, and a sample of the raw bytes. Nothing pending is
	// committed. The default.
	Fail DirtyPolicy = iota
	// Skip counts the message (hotcold_<kind>_dirty_records_total, once its
	// batch is committed), logs a WARN with a sample of the raw bytes, and
	// goes on.
	Skip
	// DeadLetter writes the raw message, with headers naming its origin and
	// the error, to Config.DeadLetterTopic (through the outbox, so it is
	// written exactly when the batch is committed), and goes on.
	DeadLetter
)

// ParseDirtyPolicy reads "fail", "skip" or "dead-letter".
func ParseDirtyPolicy(s string) (DirtyPolicy, error) {
	switch s {
	case "", "fail":
		return Fail, nil
	case "skip":
		return Skip, nil
	case "dead-letter", "dlq", "deadletter":
		return DeadLetter, nil
	}
	return 0, fmt.Errorf("runner: dirty-data policy %q: want fail, skip or dead-letter", s)
}

func (p DirtyPolicy) String() string {
	switch p {
	case Skip:
		return "skip"
	case DeadLetter:
		return "dead-letter"
	}
	return "fail"
}

// DirtyError marks an error of Handler.Handle as dirty data: the record is
// bad, the job is not. It goes to the dirty-data policy; any other error
// stops the runner.
type DirtyError struct{ Err error }

func (e *DirtyError) Error() string { return e.Err.Error() }
func (e *DirtyError) Unwrap() error { return e.Err }

// Dirty wraps err as a DirtyError.
func Dirty(err error) error { return &DirtyError{Err: err} }

func isDirty(err error) (error, bool) {
	var de *DirtyError
	if errors.As(err, &de) {
		return de.Err, true
	}
	return err, false
}

// Sample renders at most 256 bytes of a raw message for a log or an error:
// as text when it is UTF-8, in hex otherwise.
func Sample(b []byte) string {
	const max = 256
	s := b
	if len(s) > max {
		s = s[:max]
	}
	if utf8.Valid(s) {
		out := string(s)
		if len(b) > max {
			out += "…(" + strconv.Itoa(len(b)) + " bytes)"
		}
		return out
	}
	return fmt.Sprintf("%x", s)
}
