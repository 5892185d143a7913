// Package pebblelog is the one adapter from Pebble's Logger to log/slog,
// shared by the state and cold stores.
package pebblelog

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// New returns a pebble.Logger writing to l (nil: slog.Default()): Infof
// at debug level, Errorf at error level, each with component=pebble.
// Fatalf logs at error level and panics, as Pebble requires of it (it
// calls Fatalf only on internal invariant violations, never on input).
func New(l *slog.Logger) pebble.Logger {
	if l == nil {
		l = slog.Default()
	}
	return logger{l}
}

type logger struct{ l *slog.Logger }

func (p logger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p logger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble")
	panic("pebble: " + msg)
}
