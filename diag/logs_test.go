package diag_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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

// A line longer than any buffer used to end the reading of its file (the
// scanner's 4 MiB limit), losing the restart cause after it. Now its prefix
// is read, it is listed as unreadable, and the rest of the file is read.
func TestLogFilesReadLinesOfAnyLength(t *testing.T) {
	dir := t.TempDir()
	long := "2026-11-22 10:04:00,000 INFO x - payload " + strings.Repeat("é", 3<<20) // 6 MiB
	text := "2026-11-22 10:03:00,000 INFO x - before\n" + long + "\n" +
		"2026-11-22 10:05:00,000 ERROR x - failed\njava.lang.IllegalStateException: bad\n"
	if err := os.WriteFile(filepath.Join(dir, "tm.log"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	lf := &diag.LogFiles{Paths: []string{dir}, MaxLineBytes: 1 << 10}
	res, err := lf.Logs(context.Background(), scenarioWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 3 || res.Entries[2].Message != "failed" || res.Entries[2].Line != 3 || len(res.Entries[2].More) != 1 {
		t.Fatalf("entries %+v, want before, the long one's prefix and the failure after it", res.Entries)
	}
	if m := res.Entries[1].Message; len(m) > 1<<10 || !strings.HasPrefix(m, "payload é") || !utf8.ValidString(m) {
		t.Fatalf("long line kept as %d bytes (valid UTF-8 %t), want its valid prefix of at most 1 KiB", len(m), utf8.ValidString(m))
	}
	if len(res.Unreadable) != 1 || res.Unreadable[0].Where() != filepath.Join(dir, "tm.log")+":2" ||
		!strings.Contains(res.Unreadable[0].Reason, "line of 6291497 bytes") {
		t.Fatalf("unreadable %+v, want line 2 named with its length", res.Unreadable)
	}
	d, err := diag.NewDiagnoser(diag.DiagnoserConfig{Logs: lf})
	if err != nil {
		t.Fatal(err)
	}
	ev := d.Collect(context.Background(), diag.Query{Window: scenarioWindow})
	if !hasMissing(ev.Missing, "logs", "log "+filepath.Join(dir, "tm.log")+":2") {
		t.Fatalf("missing evidence %+v does not list the long line", ev.Missing)
	}
}

// Binary garbage used to be appended to the record before it. It now ends
// that record and is listed, by line range, as binary data.
func TestLogFilesReportBinaryGarbage(t *testing.T) {
	var b strings.Builder
	b.WriteString("2026-11-22 10:05:00,000 ERROR x - failed\njava.lang.IllegalStateException: bad\n")
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		line := make([]byte, 80)
		for i := range line {
			line[i] = byte(rnd.IntN(256))
			if line[i] == '\n' {
				line[i] = 0
			}
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteString("2026-11-22 10:06:00,000 INFO x - after\n")
	res := (&diag.LogFiles{}).ReadLog(strings.NewReader(b.String()), "tm.log", scenarioWindow)
	if len(res.Entries) != 2 || len(res.Entries[0].More) != 1 || res.Entries[1].Message != "after" || res.Entries[1].Line != 203 {
		t.Fatalf("entries %+v, want the failure without the garbage, and the record after it", res.Entries)
	}
	if len(res.Unreadable) != 1 || res.Unreadable[0].Where() != "tm.log:3-202" || !strings.Contains(res.Unreadable[0].Reason, "binary data (200 line(s)") {
		t.Fatalf("unreadable %+v, want lines 3-202 as binary data", res.Unreadable)
	}
	if res.Unparsable != 0 {
		t.Fatalf("%d unparsable lines: binary lines are not counted as broken records", res.Unparsable)
	}
}

func hasMissing(ms []diag.Missing, source, what string) bool {
	for _, m := range ms {
		if m.Source == source && m.What == what {
			return true
		}
	}
	return false
}
