package pebblelog_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/internal/pebblelog"
)

func TestPebbleMessagesGoToSlogWithTheirLevelAndComponent(t *testing.T) {
	var b strings.Builder
	l := pebblelog.New(slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Infof("flushed %d tables", 3)
	l.Errorf("background error: %s", "disk full")
	out := b.String()
	for _, want := range []string{`level=DEBUG msg="flushed 3 tables" component=pebble`, `level=ERROR msg="background error: disk full" component=pebble`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "invariant") {
			t.Errorf("Fatalf recovered %v, want a panic with the message", r)
		}
	}()
	l.Fatalf("invariant %s", "broken")
}
