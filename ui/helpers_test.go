package ui_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/diag"
	"github.com/hotcold/hotcold/internal/bypasstest"
	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
	"github.com/hotcold/hotcold/statemigrate"
	"github.com/hotcold/hotcold/ui"
)

// The accounts case: a debezium changelog of balances replayed through an
// isolated topic that is both the source and the sink, so that the
// "job" is the identity and the sink table is the merged input.
const accountsYAML = `description: debezium changes of accounts merge into the final balances
sources:
  - name: changes
    topic: accounts
    format: debezium-json
    columns:
      id: BIGINT NOT NULL
      owner: STRING
      balance: DECIMAL(12, 2)
    key: [id]
    messages: changes.jsonl
schedule:
  interval: 5ms
sink:
  topic: accounts
  format: debezium-json
  columns:
    id: BIGINT NOT NULL
    owner: STRING
    balance: DECIMAL(12, 2)
  key: [id]
expect:
  rows: expected.jsonl
  timeout: 20s
  quiet: 300ms
`

// hostile is a value that runs script if a page renders it as HTML.
const hostileImg = `<img src=x onerror="window.__pwned=1">`
const hostileScript = `<script>window.__pwned=2</script>`

var accountsChanges = strings.Join([]string{
	`{"op":"+I","row":{"id":1,"owner":"ann","balance":"10.00"}}`,
	`{"op":"+I","row":{"id":2,"owner":"` + strings.ReplaceAll(hostileImg, `"`, `\"`) + `","balance":"20.00"},"note":"` + strings.ReplaceAll(hostileScript, `"`, `\"`) + `"}`,
	`{"op":"-U","row":{"id":1,"owner":"ann","balance":"10.00"},"note":"ann pays 2.50"}`,
	`{"op":"+U","row":{"id":1,"owner":"ann","balance":"7.50"}}`,
}, "\n") + "\n"

var accountsExpected = `{"id":1,"owner":"ann","balance":"7.50"}` + "\n" +
	`{"id":2,"owner":"` + strings.ReplaceAll(hostileImg, `"`, `\"`) + `","balance":"20.00"}` + "\n"

func accountsFiles() map[string]string {
	return map[string]string{"case.yaml": accountsYAML, "changes.jsonl": accountsChanges, "expected.jsonl": accountsExpected}
}

// mockStore opens a store in a temporary directory holding the accounts
// case, pushed as hotcold mock push does.
func mockStore(t *testing.T) *mock.Store {
	t.Helper()
	s, err := mock.OpenStore(context.Background(), filepath.Join(t.TempDir(), "mock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	fsys := fstest.MapFS{}
	for n, text := range accountsFiles() {
		fsys[n] = &fstest.MapFile{Data: []byte(text)}
	}
	c, err := mock.LoadCaseFS(fsys, "case.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Name = "accounts"
	if _, err := s.SaveCase(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return s
}

// kafka starts an in-process Kafka closed at the end of the test.
func kafka(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// runOptions are the options hotcold ui builds from --brokers and --exec:
// the job under test is a real process started per run (the case routes
// its source into its sink itself, so the process only has to run until
// it is interrupted).
func runOptions(brokers []string) func() (mock.Options, error) {
	return func() (mock.Options, error) {
		return mock.Options{Kafka: []kgo.Opt{kgo.SeedBrokers(brokers...)}, FullSpeed: true, Brokers: strings.Join(brokers, ","),
			StartJob: mock.ExecJob("exec sleep 300", strings.Join(brokers, ","), 5*time.Second, nil, nil), StopTimeout: 15 * time.Second}, nil
	}
}

type env struct {
	srv   *ui.Server
	http  *httptest.Server
	store *mock.Store
	cfg   ui.Config
}

func newServer(t *testing.T, cfg ui.Config) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer, cfg.Gatherer = reg, reg
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := ui.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	return &env{srv: s, http: hs, store: cfg.Mock, cfg: cfg}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// writeReport diagnoses a recorded lag history (the gc scenario of diag's
// tests) with no other source and writes the report as diag run --out
// does, under dir/sub.
func writeReport(t *testing.T, dir, sub string) {
	t.Helper()
	f, err := os.Open("../diag/testdata/scenarios/gc/lag.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	samples, err := diag.ReadSamples(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	from, to := samples[0].Time, samples[len(samples)-1].Time.Add(time.Second)
	w := diag.Window{From: from, To: to}
	lag, _, err := diag.Replay(samples, diag.LagConfig{}, w)
	if err != nil {
		t.Fatal(err)
	}
	d, err := diag.NewDiagnoser(diag.DiagnoserConfig{})
	if err != nil {
		t.Fatal(err)
	}
	r := d.Diagnose(context.Background(), diag.Query{Group: samples[0].Group, Window: w, Lag: lag})
	if _, err := diag.WriteReport(context.Background(), diag.DirSink{Dir: dir}, sub, r); err != nil {
		t.Fatal(err)
	}
}

var ordersSchema = row.MustSchema([]row.Column{{Name: "order_id", Type: row.Int64}, {Name: "amount", Type: row.Int64, Nullable: true}}, []string{"order_id"}, 1)

// coldStore opens a Pebble cold store with two versions of orders, the
// second live.
func coldStore(t *testing.T) coldstore.Backend {
	t.Helper()
	ctx := context.Background()
	b, err := coldstore.Open(ctx, "pebble:"+filepath.Join(t.TempDir(), "cold"), &coldstore.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	for i, v := range []string{"dt=2026-11-21", "dt=2026-11-22"} {
		var rows []row.Row
		for k := 0; k < 3+i; k++ {
			rows = append(rows, row.New(row.Int64Value(int64(k)), row.Int64Value(int64(10*k))))
		}
		if _, err := b.Load(ctx, coldstore.LoadSpec{Table: "orders", Version: v, Key: []string{"order_id"},
			CoversUntil: time.Date(2026, 11, 22+i, 0, 0, 0, 0, time.UTC), Source: coldstore.RowSource(ordersSchema, rows)}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// ---- a bypass rebuild on kfake with in-process agg jobs (as statemigrate's tests)

// bypassRun prepares a bypass rebuild stopped after stage 2 (as after a
// crash), and returns the migrations directory and the function that
// resumes or aborts it with its log in WORK-DIR/bypass.log, as hotcold
// migrate bypass does.
func bypassRun(t *testing.T) (string, func(ctx context.Context, dir string, abort bool) error) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "refunds", "refunds_by_city", "refunds_by_city_v2"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	jobs := bypasstest.NewJobs(brokers, kgo.FetchMaxWait(50*time.Millisecond))
	root := t.TempDir() // removed after the jobs are stopped (cleanups run last first)
	t.Cleanup(jobs.StopAll)
	out := func(topic string, l statemigrate.Logic) statemigrate.Output {
		db, err := state.Open(t.TempDir(), state.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		op, err := agg.New(db, bypasstest.RefundsAgg(l))
		if err != nil {
			t.Fatal(err)
		}
		return statemigrate.Output{Topic: topic, Schema: op.OutputSchema()}
	}
	work := filepath.Join(root, "migrations", "refunds-v2")
	cfg := statemigrate.BypassConfig{
		WorkDir: work, Brokers: brokers, InputTopics: []string{"refunds"}, Jobs: jobs,
		OnlineStateDir: filepath.Join(root, "online"), OnlineGroup: "refunds_by_city", OnlineOutput: out("refunds_by_city", statemigrate.OldLogic),
		SideGroup: "refunds_by_city_v2", SideOutput: out("refunds_by_city_v2", statemigrate.NewLogic), PollInterval: 20 * time.Millisecond,
	}
	if err := jobs.Start(context.Background(), statemigrate.Online, statemigrate.JobSpec{
		Logic: statemigrate.OldLogic, StateDir: cfg.OnlineStateDir, OutputTopic: "refunds_by_city", Group: "refunds_by_city"}); err != nil {
		t.Fatal(err)
	}
	produceRefunds(t, brokers, 40)
	run := func(ctx context.Context, dir string, abort bool, onStage func(statemigrate.Stage, *statemigrate.Status) error) error {
		lf, err := ui.AppendBypassLog(dir)
		if err != nil {
			return err
		}
		defer lf.Close()
		c := cfg
		c.WorkDir, c.OnStage = dir, onStage
		c.Logger = slog.New(slog.NewTextHandler(lf, nil))
		b, err := statemigrate.NewBypass(c)
		if err != nil {
			return err
		}
		if abort {
			_, err = b.Abort(ctx)
		} else {
			_, err = b.Run(ctx)
		}
		return err
	}
	err = run(context.Background(), work, false, func(s statemigrate.Stage, _ *statemigrate.Status) error {
		if s == statemigrate.StageSideCaughtUp {
			return errors.New("simulated crash after side-caught-up")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("first run: %v", err)
	}
	return filepath.Join(root, "migrations"), func(ctx context.Context, dir string, abort bool) error { return run(ctx, dir, abort, nil) }
}

func produceRefunds(t *testing.T, brokers []string, n int) {
	t.Helper()
	codec, err := row.NewCodec(row.FormatChangelogJSON, bypasstest.RefundRows)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("refunds"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		city := []string{"beijing", "shanghai", "guangzhou"}[i%3]
		m, _, err := codec.Encode(row.New(row.StringValue(city), row.Int64Value(int64(i)), row.Int64Value(int64(10+i%7))))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Key: []byte(city), Value: m.Value})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// do sends a request as the console's page does (same origin, JSON).
func (e *env) do(t *testing.T, method, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", e.http.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
