package mock_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/mock"
)

func readyCase(t *testing.T, ready string) *mock.Case {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ready.yaml")
	if err := os.WriteFile(p, []byte(`name: ready
sources:
  - name: changes
    topic: in
    format: json
    partitions: 2
    columns: {id: BIGINT NOT NULL}
    key: [id]
    messages: [{row: {id: 1}}]
sink:
  topic: out
  format: json
  columns: {id: BIGINT NOT NULL}
  key: [id]
expect:
  rows: []
  timeout: 20s
  quiet: 200ms
ready: `+ready+`
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return loadCase(t, p)
}

// groupJob joins consumer group job-<run id> on the source topic and reads
// without writing.
func groupJob(kopts []kgo.Opt) mock.StartFunc {
	return func(ctx context.Context, run mock.RunInfo) (func() error, error) {
		cl, err := kgo.NewClient(append(append([]kgo.Opt{}, kopts...), kgo.ConsumerGroup("job-"+run.RunID), kgo.ConsumeTopics(run.Topics["in"]))...)
		if err != nil {
			return nil, err
		}
		jctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for jctx.Err() == nil {
				cl.PollFetches(jctx)
			}
		}()
		return func() error { cancel(); <-done; cl.Close(); return nil }, nil
	}
}

func TestRunWaitsUntilTheJobsGroupOwnsEverySourcePartition(t *testing.T) {
	kopts := newCluster(t)
	res, err := mock.Run(ctxFor(t), readyCase(t, `{group: "job-{run_id}", timeout: 30s}`), mock.Options{Kafka: kopts, FullSpeed: true, StartJob: groupJob(kopts)})
	if err != nil || !res.Passed() {
		t.Fatalf("%v\n%s", err, res.Report())
	}
}

func TestRunIsAnErrorWhenTheJobIsNotReady(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer srv.Close()
	for name, tc := range map[string]struct{ ready, want string }{
		"no group": {`{group: "job-{run_id}", timeout: 300ms}`, "consumer group job-"},
		"command":  {`{command: "echo still starting; exit 1", timeout: 300ms}`, `ready.command "echo still starting; exit 1": exit status 1: still starting`},
		"http":     {`{http: "` + srv.URL + `", timeout: 300ms}`, "answers 503 Service Unavailable"},
	} {
		t.Run(name, func(t *testing.T) {
			kopts := newCluster(t)
			res, err := mock.Run(ctxFor(t), readyCase(t, tc.ready), mock.Options{Kafka: kopts, FullSpeed: true})
			if err == nil || res.Verdict != mock.Error || !strings.Contains(res.Reason, "not ready within 300ms") || !strings.Contains(res.Reason, tc.want) {
				t.Fatalf("error %v, verdict %s, want one naming %q", err, res.Verdict, tc.want)
			}
			if len(res.Sent) != 0 {
				t.Fatalf("sent %d messages to a job that was not ready", len(res.Sent))
			}
		})
	}
}

func TestRunSendsOnceAnHTTPProbeAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	kopts := newCluster(t)
	res, err := mock.Run(ctxFor(t), readyCase(t, `{http: "`+srv.URL+`"}`), mock.Options{Kafka: kopts, FullSpeed: true})
	if err != nil || !res.Passed() || len(res.Sent) != 1 {
		t.Fatalf("%v\n%s", err, res.Report())
	}
}
