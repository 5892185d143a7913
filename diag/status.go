package diag

import (
	"fmt"
	"strings"
	"time"
)

// Status is the health of a consumer group partition (or of a whole group,
// as the worst of its partitions), in the manner of LinkedIn Burrow.
// Statuses are ordered by severity: a larger value is worse.
type Status uint8

const (
	// StatusOK: the consumer keeps up (no lag now, or its lag reached zero
	// at a commit in the window and it has not stopped, or it is falling
	// neither behind nor still).
	StatusOK Status = iota
	// StatusWarn: the consumer moves but its lag at commits never
	// decreases (or the oldest unconsumed message is older than
	// LagConfig.WarnTimeLag).
	StatusWarn
	// StatusStall: Burrow's STALL. A live consumer owns the partition (or
	// is known to commit) but commits the same offset while there is lag:
	// at every commit in the window, or for longer than the stall
	// threshold.
	StatusStall
	// StatusStop: there is lag and no commit for longer than the span of
	// the window's commits or than the stall threshold, and the consumer
	// was not caught up in the last stall threshold: the consumer stopped
	// or does not commit (for Flink: no checkpoint completes).
	StatusStop
	// StatusRewind: the committed offset went back in the window and has
	// not since come back to where it was before.
	StatusRewind
)

var statusNames = [...]string{"OK", "WARN", "STALL", "STOP", "REWIND"}

// String returns the upper-case name: OK, WARN, STALL, STOP or REWIND.
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", s)
}

// Healthy reports whether s is StatusOK.
func (s Status) Healthy() bool { return s == StatusOK }

// MarshalText encodes the status as its name.
func (s Status) MarshalText() ([]byte, error) {
	if int(s) >= len(statusNames) {
		return nil, fmt.Errorf("diag: invalid status %d", s)
	}
	return []byte(statusNames[s]), nil
}

// UnmarshalText parses a status name (case-insensitive). "ERR" is accepted
// as Burrow's name for StatusStall.
func (s *Status) UnmarshalText(b []byte) error {
	name := strings.ToUpper(string(b))
	if name == "ERR" {
		*s = StatusStall
		return nil
	}
	for i, n := range statusNames {
		if n == name {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("diag: unknown status %q (want OK, WARN, STALL, STOP or REWIND)", b)
}

// Duration is a time.Duration that encodes in JSON as a Go duration string
// such as "1m30s", so that reports and event streams stay readable.
type Duration time.Duration

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText encodes d as a duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText parses a duration string such as "90s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("diag: bad duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}
