package diag_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/diag"
)

func TestParseLogLineReadsFlinkAndISOLayouts(t *testing.T) {
	for _, tc := range []struct {
		line, level, logger, msg string
		at                       time.Time
	}{
		{"2026-11-22 10:12:04,511 WARN  org.apache.flink.runtime.taskmanager.Task                    [] - Source: x switched from RUNNING to FAILED",
			"WARN", "org.apache.flink.runtime.taskmanager.Task", "Source: x switched from RUNNING to FAILED", time.Date(2026, 11, 22, 10, 12, 4, 511e6, time.UTC)},
		{"2026-11-22T10:12:04.5Z ERROR com.example.Job - boom", "ERROR", "com.example.Job", "boom", time.Date(2026, 11, 22, 10, 12, 4, 500e6, time.UTC)},
		{"2026-11-22T12:12:04+02:00 INFO starting", "INFO", "", "starting", time.Date(2026, 11, 22, 10, 12, 4, 0, time.UTC)},
		{"2026-11-22 10:12:04.000 [main] WARNING x.Y - slow", "WARN", "x.Y", "slow", time.Date(2026, 11, 22, 10, 12, 4, 0, time.UTC)},
	} {
		e, err := diag.ParseLogLine(tc.line, nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if e.Level != tc.level || e.Logger != tc.logger || e.Message != tc.msg || !e.Time.Equal(tc.at) {
			t.Errorf("%q parsed as %+v", tc.line, e)
		}
	}
}

func TestParseLogLineTellsContinuationsFromBrokenLines(t *testing.T) {
	if _, err := diag.ParseLogLine("\tat org.apache.flink.Task.run(Task.java:1)", nil); err == nil || !strings.Contains(err.Error(), "does not start") {
		t.Errorf("a stack frame: %v, want a continuation", err)
	}
	for _, bad := range []string{"2026-11-22 10:1x:00,000 INFO broken", "2026-11-22 10:12:04,000 NOTALEVEL x", "2026-11-22"} {
		if _, err := diag.ParseLogLine(bad, nil); err == nil || strings.Contains(err.Error(), "does not start") {
			t.Errorf("%q: %v, want a parse error", bad, err)
		}
	}
}

func TestLogFilesReadsEntriesInTheWindowAndCountsBadLines(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.log", "garbage before any record\n"+
		"2026-11-22 09:00:00,000 INFO x - before the window\n"+
		"2026-11-22 10:05:00,000 ERROR x - failed\njava.lang.IllegalStateException: bad\n\tat a.B.c(B.java:1)\n"+
		"2026-11-22 10:06:00,000 INFO x - after\n")
	write(".hidden.log", "2026-11-22 10:05:00,000 ERROR x - hidden\n")
	res, err := (&diag.LogFiles{Paths: []string{dir}}).Logs(context.Background(), scenarioWindow)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 1 || len(res.Entries) != 2 || res.Unparsable != 1 || res.Bad[0].Line != 1 {
		t.Fatalf("result %+v", res)
	}
	if e := res.Entries[0]; e.Message != "failed" || len(e.More) != 2 || e.Line != 2+1 {
		t.Fatalf("first entry %+v", e)
	}
}

func TestLogFilesFailsOnlyWhenNothingIsReadable(t *testing.T) {
	if _, err := (&diag.LogFiles{Paths: []string{filepath.Join(t.TempDir(), "nope")}}).Logs(context.Background(), scenarioWindow); err == nil {
		t.Fatal("a missing log path gave no error")
	}
}
