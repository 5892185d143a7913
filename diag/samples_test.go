package diag_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/diag"
)

func TestReadSamplesRoundTripsWhatSampleWriterWrote(t *testing.T) {
	var buf bytes.Buffer
	w := diag.NewSampleWriter(&buf)
	in := []diag.PartitionSample{
		{Group: "g", Topic: "orders", Partition: 3, Sample: diag.Sample{Time: t0, Committed: 10, End: 20, Live: true}},
		{Group: "g", Topic: "orders", Partition: 3, Sample: diag.Sample{Time: t0.Add(time.Second), Committed: -1, End: 25, CommitTime: t0}},
	}
	for _, s := range in {
		if err := w.Write(s); err != nil {
			t.Fatal(err)
		}
	}
	out, err := diag.ReadSamples(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || !out[0].Time.Equal(in[0].Time) || out[0].Live != true || out[1].Committed != -1 || !out[1].CommitTime.Equal(t0) {
		t.Fatalf("read %+v, want %+v", out, in)
	}
}

func TestReadSamplesNamesTheBadLine(t *testing.T) {
	for _, tc := range []struct{ name, input, want string }{
		{"unknown field", `{"group":"g","topic":"t","partition":0,"time":"2026-11-22T10:00:00Z","committed":1,"end":2,"lagg":3}`, "unknown field"},
		{"no group", `{"topic":"t","partition":0,"time":"2026-11-22T10:00:00Z","committed":1,"end":2}`, `missing "group"`},
		{"not json", `group=g`, "invalid character"},
		{"bad time", `{"group":"g","topic":"t","partition":0,"time":"yesterday","committed":1,"end":2}`, "cannot parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := "# comment\n\n" + tc.input + "\n"
			_, err := diag.ReadSamples(strings.NewReader(input))
			if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming line 3 and %q", err, tc.want)
			}
		})
	}
}

func TestReplayEvaluatesOnlyInsideTheWindow(t *testing.T) {
	var samples []diag.PartitionSample
	for i := 0; i < 10; i++ {
		samples = append(samples, diag.PartitionSample{Group: "g", Topic: "t", Sample: diag.Sample{Time: t0.Add(time.Duration(i) * time.Minute), Committed: int64(i * 10), End: int64(i*10 + 5)}})
	}
	st, _, err := diag.Replay(samples, diag.LagConfig{}, diag.Window{From: t0.Add(5 * time.Minute), To: t0.Add(7 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 3 || !st[0].Time.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("got %d evaluations starting %v, want 3 from 10:05", len(st), st[0].Time)
	}
	if st[0].Partitions[0].Samples != 6 {
		t.Fatalf("first evaluation saw %d samples, want the 6 up to 10:05", st[0].Partitions[0].Samples)
	}
}
