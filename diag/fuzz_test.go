package diag_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/diag"
)

func FuzzParseLogLine(f *testing.F) {
	for _, s := range []string{
		"2026-11-22 10:12:04,511 WARN  org.apache.flink.runtime.taskmanager.Task [] - switched",
		"2026-11-22T10:12:04.5Z ERROR x - y", "\tat a.B.c(B.java:1)", "2026-11-22 10:1x:00,000 INFO z", "2026-11-22T10:00:00+0200 INFO",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := diag.ParseLogLine(line, nil)
		if err == nil && (e.Level == "" || e.Time.IsZero()) {
			t.Fatalf("%q parsed without level or time: %+v", line, e)
		}
	})
}

func FuzzParseKeywordRules(f *testing.F) {
	f.Add(diag.DefaultRulesYAML())
	f.Add([]byte("version: 1\nrules:\n  - name: a\n    keywords: [x]\n    cause: c\n    suggestion: s\n    raw_message: ['(.*)']\n"))
	f.Add([]byte("version: 2\nrules: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kr, err := diag.ParseKeywordRules(data)
		if err != nil {
			return
		}
		for _, r := range kr.Rules {
			if r.Name == "" || r.Cause == "" || r.Suggestion == "" || len(r.Keywords) == 0 {
				t.Fatalf("invalid rule accepted: %+v", r)
			}
		}
		kr.Classify("java.lang.Exception: x\n\tat a.B.c(B.java:1)\n")
	})
}

func FuzzReadSamples(f *testing.F) {
	f.Add([]byte(`{"group":"g","topic":"t","partition":0,"time":"2026-11-22T10:00:00Z","committed":1,"end":2}` + "\n"))
	f.Add([]byte("# c\n\n{}\n"))
	f.Add([]byte(`{"group":"g","topic":"t","partition":-1,"time":"2026-11-22T10:00:00Z","committed":-5,"end":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		samples, err := diag.ReadSamples(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		w := diag.NewSampleWriter(&buf)
		for _, s := range samples {
			if s.Group == "" || s.Topic == "" || s.Partition < 0 || s.End < 0 || s.Committed < -1 {
				t.Fatalf("invalid sample accepted: %+v", s)
			}
			if err := w.Write(s); err != nil {
				t.Fatal(err)
			}
		}
		back, err := diag.ReadSamples(&buf)
		if err != nil || len(back) != len(samples) {
			t.Fatalf("written samples do not read back: %v", err)
		}
		// Whatever was read evaluates without panicking.
		diag.Replay(samples, diag.LagConfig{}, diag.Window{})
	})
}

func FuzzParseStackTrace(f *testing.F) {
	f.Add(jsonStack)
	f.Add("Caused by: \n\tat \n\t... 3 more\nSuppressed: x")
	f.Fuzz(func(t *testing.T, text string) {
		st := diag.ParseStackTrace(text)
		for _, c := range st.Causes {
			if strings.Contains(c.Class, "\n") {
				t.Fatalf("class %q spans lines", c.Class)
			}
		}
		diag.DefaultKeywordRules().Classify(text)
	})
}

func FuzzDecodeQueryRange(f *testing.F) {
	f.Add([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1700000000.5,"1.5"],[1700000015,"NaN"]]}]}}`))
	f.Add([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		series, err := diag.DecodeQueryRange(data)
		if err != nil {
			return
		}
		for _, s := range series {
			s.Mean(diag.Window{})
		}
	})
}

// FuzzReadLog feeds arbitrary bytes to the log decoder: it must not panic,
// must read to the end (every line is an entry's, a continuation, an
// unparsable line or in an unreadable part), and must keep no binary data
// or line longer than MaxLineBytes in an entry.
func FuzzReadLog(f *testing.F) {
	f.Add([]byte("2026-11-22 10:05:00,000 ERROR x - failed\njava.lang.IllegalStateException: bad\n\tat a.B.c(B.java:1)\n"))
	f.Add([]byte("garbage\n2026-11-22T10:05:00Z INFO x - y\r\n\x00\x01\x02\xff\xfe\n2026-11-22 10:1x:00,000 INFO z"))
	f.Add([]byte("2026-11-22 10:06:00,000 WARN x - " + strings.Repeat("long ", 100) + "\n\n\n"))
	f.Add([]byte{0xff, '\n', 0, '\n', 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		lf := &diag.LogFiles{MaxLineBytes: 64}
		res := lf.ReadLog(bytes.NewReader(data), "f.log", scenarioWindow)
		lines := bytes.Count(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			lines++
		}
		for _, e := range res.Entries {
			if e.Line < 1 || e.Line > lines || e.Time.IsZero() || e.Level == "" {
				t.Fatalf("entry %+v of %d lines", e, lines)
			}
			for _, s := range append([]string{e.Message}, e.More...) {
				if len(s) > 64 || strings.IndexByte(s, 0) >= 0 {
					t.Fatalf("entry keeps %q", s)
				}
			}
		}
		prev := 0
		for _, u := range res.Unreadable {
			if u.FromLine <= prev || u.ToLine < u.FromLine || u.ToLine > lines || u.Reason == "" {
				t.Fatalf("unreadable part %+v after line %d of %d", u, prev, lines)
			}
			prev = u.ToLine
		}
	})
}
