package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"

	// URL schemes for OpenStore.
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/hotcold/hotcold/row"
)

// Store keeps cases and run results in object storage through
// gocloud.dev/blob: a local directory by default, s3:// for a team.
//
// Layout under the bucket:
//
//	cases/<case>/case.yaml, *.jsonl         a case, as pushed
//	runs/<case>/<run id>/result.json        verdict, reason, counts, topics, problems, diff
//	runs/<case>/<run id>/inputs.jsonl       the inputs as sent (replayable case messages)
//	runs/<case>/<run id>/output.jsonl       the raw sink output
//	runs/<case>/<run id>/table.jsonl        the merged table (expected-rows format) of the first sink
//	runs/<case>/<run id>/table.<sink>.jsonl the merged table of each sink, when a case has several
//	runs/<case>/<run id>/report.txt         the human report with the diff
//	runs/<case>/<run id>/case/...           the case files as run
//
// A Store is safe for concurrent use; Close releases the bucket if
// OpenStore opened it.
type Store struct {
	b     *blob.Bucket
	url   string
	owned bool
}

// OpenStore opens a store at a URL (file:///dir, s3://bucket?region=...,
// mem://) or at a plain local directory path, which is created if needed.
// For an S3-compatible server, add
// "?endpoint=http://host:port&use_path_style=true&region=us-east-1".
func OpenStore(ctx context.Context, urlOrDir string) (*Store, error) {
	if strings.Contains(urlOrDir, "://") {
		b, err := blob.OpenBucket(ctx, urlOrDir)
		if err != nil {
			return nil, fmt.Errorf("mock: open store %s: %w", urlOrDir, err)
		}
		return &Store{b: b, url: urlOrDir, owned: true}, nil
	}
	abs, err := filepath.Abs(urlOrDir)
	if err != nil {
		return nil, fmt.Errorf("mock: open store %s: %w", urlOrDir, err)
	}
	b, err := fileblob.OpenBucket(abs, &fileblob.Options{CreateDir: true, Metadata: fileblob.MetadataDontWrite, NoTempDir: true})
	if err != nil {
		return nil, fmt.Errorf("mock: open store %s: %w", urlOrDir, err)
	}
	return &Store{b: b, url: abs, owned: true}, nil
}

// NewStore returns a store on an open bucket; the caller keeps ownership
// of the bucket (Close does not close it).
func NewStore(b *blob.Bucket, name string) *Store { return &Store{b: b, url: name} }

// Close closes the bucket if the store opened it.
func (s *Store) Close() error {
	if s.owned {
		return s.b.Close()
	}
	return nil
}

// String returns the store's URL or directory.
func (s *Store) String() string { return s.url }

// Where returns a readable location of a key in the store.
func (s *Store) Where(key string) string {
	if strings.Contains(s.url, "://") {
		u := s.url
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return strings.TrimSuffix(u, "/") + "/" + key
	}
	return filepath.Join(s.url, filepath.FromSlash(key))
}

func (s *Store) write(ctx context.Context, key string, data []byte, contentType string) error {
	if err := s.b.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: contentType}); err != nil {
		return fmt.Errorf("mock: store %s: %w", s.Where(key), err)
	}
	return nil
}

// SaveCase writes the case's files under cases/<name>/ and returns that
// prefix.
func (s *Store) SaveCase(ctx context.Context, c *Case) (string, error) {
	if len(c.files) == 0 {
		return "", fmt.Errorf("mock: case %s was not loaded from files; nothing to store", c.Name)
	}
	prefix := "cases/" + c.Name + "/"
	for i, f := range c.files {
		name := f.Name
		if i == 0 {
			name = CaseFile
		}
		if err := s.write(ctx, prefix+name, f.Data, contentTypeOf(name)); err != nil {
			return "", err
		}
	}
	return prefix, nil
}

// LoadCase loads the case stored under cases/<name>/.
func (s *Store) LoadCase(ctx context.Context, name string) (*Case, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("mock: %q is not a case name", name)
	}
	prefix := "cases/" + name + "/"
	c, err := loadCase(&bucketFS{ctx: ctx, b: s.b, prefix: prefix}, CaseFile, strings.TrimSuffix(s.Where(prefix), "/"))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("mock: no case %q in store %s (push it first with hotcold mock push)", name, s)
		}
		return nil, err
	}
	if c.Name == "" {
		c.Name = name
	}
	return c, nil
}

// Cases lists the names of the stored cases.
func (s *Store) Cases(ctx context.Context) ([]string, error) {
	var out []string
	it := s.b.List(&blob.ListOptions{Prefix: "cases/", Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("mock: list cases in %s: %w", s, err)
		}
		if o.IsDir {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(o.Key, "cases/"), "/"))
		}
	}
}

// Runs lists the run ids of the stored results of a case
// (runs/<case>/<run id>/), in key order: for run ids made by Run, which
// embed the UTC start time, that is oldest first.
func (s *Store) Runs(ctx context.Context, name string) ([]string, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("mock: %q is not a case name", name)
	}
	prefix := "runs/" + sanitizeName(name) + "/"
	var out []string
	it := s.b.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("mock: list runs of %s in %s: %w", name, s, err)
		}
		if o.IsDir {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(o.Key, prefix), "/"))
		}
	}
}

// SaveResult writes a run's inputs, raw output, merged table, report and
// summary under runs/<case>/<run id>/ and returns that prefix.
func (s *Store) SaveResult(ctx context.Context, r *Result) (string, error) {
	prefix := "runs/" + sanitizeName(r.Case) + "/" + sanitizeName(r.RunID) + "/"
	var in bytes.Buffer
	for _, sn := range r.Sent {
		origin := []byte(`{"source":`)
		origin = strconv.AppendQuote(origin, sn.Source)
		origin = append(origin, `,"step":`...)
		origin = strconv.AppendInt(origin, int64(sn.Step+1), 10)
		origin = append(origin, ',')
		origin = appendOrigin(origin, sn.Record)
		origin = append(origin, `,"sent_at":`...)
		origin = strconv.AppendQuote(origin, sn.At.UTC().Format(time.RFC3339Nano))
		if sn.Pos.File != "" {
			origin = append(origin, `,"from":`...)
			origin = strconv.AppendQuote(origin, sn.Pos.String())
		}
		origin = append(origin, '}')
		in.Write(AppendRecordJSON(nil, sn.Record, origin))
		in.WriteByte('\n')
	}
	var out bytes.Buffer
	for _, rec := range r.Output {
		origin := append(appendOrigin([]byte{'{'}, rec), '}')
		out.Write(AppendRecordJSON(nil, rec, origin))
		out.WriteByte('\n')
	}
	var table bytes.Buffer
	if r.Schema != nil {
		for _, row := range r.Table {
			table.Write(r.Schema.AppendJSON(nil, row))
			table.WriteByte('\n')
		}
	}
	type file struct {
		name, ctype string
		data        []byte
	}
	var tables []file
	if len(r.Sinks) > 1 {
		for _, sr := range r.Sinks {
			var t bytes.Buffer
			for _, row := range sr.Table {
				t.Write(sr.Schema.AppendJSON(nil, row))
				t.WriteByte('\n')
			}
			tables = append(tables, file{"table." + sanitizeName(sr.Name) + ".jsonl", "application/x-ndjson", t.Bytes()})
		}
	}
	summary, err := json.MarshalIndent(summarize(r), "", "  ")
	if err != nil {
		return "", fmt.Errorf("mock: encode result: %w", err)
	}
	files := append([]file{
		{"inputs.jsonl", "application/x-ndjson", in.Bytes()},
		{"output.jsonl", "application/x-ndjson", out.Bytes()},
		{"table.jsonl", "application/x-ndjson", table.Bytes()},
		{"report.txt", "text/plain; charset=utf-8", []byte(r.Report())},
		{"result.json", "application/json", append(summary, '\n')},
	}, tables...)
	for _, f := range files {
		if err := s.write(ctx, prefix+f.name, f.data, f.ctype); err != nil {
			return "", err
		}
	}
	for i, f := range r.Files {
		name := f.Name
		if i == 0 {
			name = CaseFile
		}
		if err := s.write(ctx, prefix+"case/"+name, f.Data, contentTypeOf(name)); err != nil {
			return "", err
		}
	}
	return prefix, nil
}

// LoadSummary reads the result.json of a stored run.
func (s *Store) LoadSummary(ctx context.Context, prefix string) (*Summary, error) {
	data, err := s.b.ReadAll(ctx, strings.TrimSuffix(prefix, "/")+"/result.json")
	if err != nil {
		return nil, fmt.Errorf("mock: read %s: %w", s.Where(prefix+"result.json"), err)
	}
	var sum Summary
	if err := json.Unmarshal(data, &sum); err != nil {
		return nil, fmt.Errorf("mock: read %s: %w", s.Where(prefix+"result.json"), err)
	}
	return &sum, nil
}

// ReadFile reads one stored object, such as "runs/<case>/<run>/table.jsonl".
func (s *Store) ReadFile(ctx context.Context, key string) ([]byte, error) {
	data, err := s.b.ReadAll(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("mock: read %s: %w", s.Where(key), err)
	}
	return data, nil
}

func appendOrigin(dst []byte, r Record) []byte {
	dst = append(dst, `"topic":`...)
	dst = strconv.AppendQuote(dst, r.Topic)
	dst = append(dst, `,"partition":`...)
	dst = strconv.AppendInt(dst, int64(r.Partition), 10)
	dst = append(dst, `,"offset":`...)
	return strconv.AppendInt(dst, r.Offset, 10)
}

func contentTypeOf(name string) string {
	switch path.Ext(name) {
	case ".yaml", ".yml":
		return "application/yaml"
	case ".jsonl":
		return "application/x-ndjson"
	}
	return "application/octet-stream"
}

// Summary is the result.json of a stored run.
type Summary struct {
	Case     string            `json:"case"`
	RunID    string            `json:"run_id"`
	Mode     string            `json:"mode"`
	Verdict  Verdict           `json:"verdict"`
	Reason   string            `json:"reason,omitempty"`
	Complete string            `json:"complete,omitempty"`
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
	Topics   map[string]string `json:"topics"`
	Sent     int               `json:"sent"`
	Received int               `json:"received"`
	Rows     int               `json:"rows"`
	Problems []string          `json:"problems,omitempty"`
	// Diff and Changelog are the first sink's.
	Diff      *DiffSummary      `json:"diff,omitempty"`
	Changelog *ChangelogSummary `json:"changelog,omitempty"`
	// Sinks are every sink's verdict and diffs.
	Sinks []SinkSummary `json:"sinks,omitempty"`
}

// SinkSummary is one sink in result.json.
type SinkSummary struct {
	Name      string            `json:"name"`
	Topic     string            `json:"topic"`
	Verdict   Verdict           `json:"verdict"`
	Reason    string            `json:"reason,omitempty"`
	Evidence  string            `json:"evidence,omitempty"`
	Received  int               `json:"received"`
	Rows      int               `json:"rows"`
	Problems  []string          `json:"problems,omitempty"`
	Diff      *DiffSummary      `json:"diff,omitempty"`
	Changelog *ChangelogSummary `json:"changelog,omitempty"`
}

// ChangelogSummary is a changelog diff in result.json: changes are
// {"op": "+I", "row": {...}} objects, as in an expected changelog.
type ChangelogSummary struct {
	Diverged   []DivergenceSummary `json:"diverged,omitempty"`
	Missing    []KeyChangesSummary `json:"missing,omitempty"`
	Unexpected []KeyChangesSummary `json:"unexpected,omitempty"`
}

// DivergenceSummary is the first difference of one key in result.json.
type DivergenceSummary struct {
	Key        string          `json:"key"`
	Change     int             `json:"change"` // 1-based
	Expected   json.RawMessage `json:"expected,omitempty"`
	ExpectedAt string          `json:"expected_at,omitempty"`
	Actual     json.RawMessage `json:"actual,omitempty"`
	ActualAt   string          `json:"actual_at,omitempty"`
	Columns    []ColumnDiff    `json:"columns,omitempty"`
	Note       string          `json:"note,omitempty"`
}

// KeyChangesSummary is the changes of one key in result.json.
type KeyChangesSummary struct {
	Key     string            `json:"key"`
	Changes []json.RawMessage `json:"changes"`
}

func changeJSON(s *row.Schema, r row.Row) json.RawMessage {
	b := []byte(`{"op":"` + r.Kind.String() + `","row":`)
	b = s.AppendJSON(b, r)
	return append(b, '}')
}

func summarizeChangelog(d *ChangelogDiff) *ChangelogSummary {
	if d == nil || d.Empty() {
		return nil
	}
	cs := &ChangelogSummary{}
	for _, dv := range d.Diverged {
		ds := DivergenceSummary{Key: dv.Key, Change: dv.Index + 1, ActualAt: dv.ActualAt, Columns: dv.Columns, Note: dv.Note}
		if dv.Expected != nil {
			ds.Expected = changeJSON(d.Schema, *dv.Expected)
			if dv.ExpectedAt.File != "" {
				ds.ExpectedAt = dv.ExpectedAt.String()
			}
		}
		if dv.Actual != nil {
			ds.Actual = changeJSON(d.Schema, *dv.Actual)
		}
		cs.Diverged = append(cs.Diverged, ds)
	}
	keys := func(list []KeyChanges) []KeyChangesSummary {
		var out []KeyChangesSummary
		for _, kc := range list {
			ks := KeyChangesSummary{Key: kc.Key}
			for _, r := range kc.Changes {
				ks.Changes = append(ks.Changes, changeJSON(d.Schema, r))
			}
			out = append(out, ks)
		}
		return out
	}
	cs.Missing, cs.Unexpected = keys(d.Missing), keys(d.Unexpected)
	return cs
}

func summarizeDiff(d *Diff) *DiffSummary {
	if d == nil || d.Empty() {
		return nil
	}
	ds := &DiffSummary{}
	for _, m := range d.Missing {
		ds.Missing = append(ds.Missing, d.Schema.AppendJSON(nil, m))
	}
	for _, u := range d.Unexpected {
		ds.Unexpected = append(ds.Unexpected, d.Schema.AppendJSON(nil, u))
	}
	for _, ch := range d.Changed {
		ds.Changed = append(ds.Changed, ChangeSummary{Expected: d.Schema.AppendJSON(nil, ch.Expected), Actual: d.Schema.AppendJSON(nil, ch.Actual), Columns: ch.Columns})
	}
	return ds
}

// DiffSummary is the diff in result.json; rows are JSON objects.
type DiffSummary struct {
	Missing    []json.RawMessage `json:"missing,omitempty"`
	Unexpected []json.RawMessage `json:"unexpected,omitempty"`
	Changed    []ChangeSummary   `json:"changed,omitempty"`
}

// ChangeSummary is one changed row in result.json.
type ChangeSummary struct {
	Expected json.RawMessage `json:"expected"`
	Actual   json.RawMessage `json:"actual"`
	Columns  []ColumnDiff    `json:"columns"`
}

func summarize(r *Result) Summary {
	s := Summary{Case: r.Case, RunID: r.RunID, Mode: r.Mode, Verdict: r.Verdict, Reason: r.Reason, Complete: r.Complete,
		Started: r.Started.UTC(), Finished: r.Finished.UTC(), Topics: r.Topics, Sent: len(r.Sent), Received: len(r.Output), Rows: r.rows()}
	for _, p := range r.Problems {
		s.Problems = append(s.Problems, p.String())
	}
	s.Diff, s.Changelog = summarizeDiff(r.Diff), summarizeChangelog(r.Changelog)
	for _, sr := range r.Sinks {
		ss := SinkSummary{Name: sr.Name, Topic: sr.Topic, Verdict: sr.Verdict, Reason: sr.Reason, Evidence: sr.Evidence, Received: len(sr.Output), Rows: len(sr.Table),
			Diff: summarizeDiff(sr.Diff), Changelog: summarizeChangelog(sr.Changelog)}
		for _, p := range sr.Problems {
			ss.Problems = append(ss.Problems, p.String())
		}
		s.Sinks = append(s.Sinks, ss)
	}
	return s
}

// bucketFS is a read-only fs.FS over a bucket prefix, enough for loading
// a case.
type bucketFS struct {
	ctx    context.Context
	b      *blob.Bucket
	prefix string
}

func (f *bucketFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	data, err := f.b.ReadAll(f.ctx, f.prefix+name)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
		}
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return data, nil
}

func (f *bucketFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: errors.ErrUnsupported}
}
