package mock_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/mock"
)

// seedTopic creates a topic with two partitions and writes n records to
// each, with keys, headers and timestamps 1s apart (partition p, record i
// at base + i seconds).
func seedTopic(t *testing.T, kopts []kgo.Opt, topic string, n int, base time.Time) {
	t.Helper()
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, kopts...), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctxFor(t), 2, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for p := int32(0); p < 2; p++ {
		for i := 0; i < n; i++ {
			v := []byte(fmt.Sprintf(`{"p":%d,"i":%d}`, p, i))
			if i%3 == 2 {
				v = []byte(fmt.Sprintf("plain text %d/%d", p, i))
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprintf(`{"i":%d}`, i)), Value: v,
				Timestamp: base.Add(time.Duration(i) * time.Second), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}})
		}
	}
	if err := cl.ProduceSync(ctxFor(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func sampleLines(t *testing.T, o mock.SampleOptions) []string {
	t.Helper()
	var buf bytes.Buffer
	n, err := mock.Sample(ctxFor(t), o, &buf)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if buf.Len() == 0 {
		lines = nil
	}
	if n != len(lines) {
		t.Fatalf("Sample returned %d but wrote %d lines", n, len(lines))
	}
	return lines
}

func TestSampleWritesReplayableMessagesWithoutAGroup(t *testing.T) {
	kopts := newCluster(t)
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	seedTopic(t, kopts, "orders", 10, base)

	lines := sampleLines(t, mock.SampleOptions{Kafka: kopts, Topic: "orders", Last: 3})
	if len(lines) != 6 {
		t.Fatalf("%d lines, want the last 3 of each of 2 partitions:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	want0 := `{"origin":{"topic":"orders","partition":0,"offset":7},"timestamp":"2026-11-22 10:00:07.000","key":{"i":7},"value":{"p":0,"i":7},"headers":{"h":"v"}}`
	found := false
	for _, l := range lines {
		if l == want0 {
			found = true
		}
	}
	if !found {
		t.Errorf("no line %s in\n%s", want0, strings.Join(lines, "\n"))
	}
	if !strings.Contains(strings.Join(lines, "\n"), `"value_text":"plain text 1/8"`) {
		t.Errorf("non-JSON values must be kept as value_text:\n%s", strings.Join(lines, "\n"))
	}

	// the sample loads as the messages of a raw source and replays the same bytes
	fsys := caseFS("sources: [{name: s, topic: orders, format: raw, messages: m.jsonl}]\nsink: {topic: out, format: json, columns: {v: STRING}}\nexpect: {rows: []}\n",
		"m.jsonl", strings.Join(lines, "\n"))
	c, err := mock.LoadCaseFS(fsys, "c")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c.Sources[0].Messages[0].Value); !strings.HasPrefix(got, `{"p":`) && !strings.HasPrefix(got, "plain text") {
		t.Errorf("value read back as %q", got)
	}

	// no consumer group was joined or committed
	cl, _ := kgo.NewClient(kopts...)
	defer cl.Close()
	groups, err := kadm.NewClient(cl).ListGroups(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 0 {
		t.Fatalf("sampling created consumer groups %v", groups.Groups())
	}
}

func TestSampleStartsFromATimeOrTheStartAndHonoursPartitionsAndMax(t *testing.T) {
	kopts := newCluster(t)
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	seedTopic(t, kopts, "orders", 10, base)

	if got := sampleLines(t, mock.SampleOptions{Kafka: kopts, Topic: "orders", FromTime: base.Add(8 * time.Second)}); len(got) != 4 {
		t.Errorf("from time: %d lines, want records 8 and 9 of both partitions", len(got))
	}
	got := sampleLines(t, mock.SampleOptions{Kafka: kopts, Topic: "orders", FromStart: true, Partitions: []int32{1}})
	if len(got) != 10 || !strings.Contains(got[0], `"partition":1,"offset":0`) {
		t.Errorf("partition 1 from the start: %d lines, first %s", len(got), got[0])
	}
	if got := sampleLines(t, mock.SampleOptions{Kafka: kopts, Topic: "orders", FromStart: true, Max: 5}); len(got) != 5 {
		t.Errorf("max 5: %d lines", len(got))
	}
	if got := sampleLines(t, mock.SampleOptions{Kafka: kopts, Topic: "orders", FromTime: base.Add(time.Hour)}); len(got) != 0 {
		t.Errorf("from a time after the last record: %d lines", len(got))
	}
}

func TestSampleExplainsBadRequests(t *testing.T) {
	kopts := newCluster(t)
	seedTopic(t, kopts, "orders", 1, time.Now())
	for _, tc := range []struct {
		o    mock.SampleOptions
		want string
	}{
		{mock.SampleOptions{Kafka: kopts, Topic: "nope"}, "topic nope does not exist"},
		{mock.SampleOptions{Kafka: kopts, Topic: "orders", Partitions: []int32{7}}, "topic orders has no partition 7 (it has 2)"},
		{mock.SampleOptions{Kafka: kopts, Topic: "orders", Last: 1, FromStart: true}, "give only one of Last, FromTime and FromStart"},
		{mock.SampleOptions{}, "Topic: name the topic"},
	} {
		_, err := mock.Sample(ctxFor(t), tc.o, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}
