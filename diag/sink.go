package diag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// report URLs
	_ "gocloud.dev/blob/memblob"  // mem:// report URLs (tests)
	_ "gocloud.dev/blob/s3blob"   // s3:// report URLs
)

// ReportSink stores rendered reports. Implementations must be safe for
// concurrent use.
type ReportSink interface {
	Put(ctx context.Context, name string, data []byte) error
}

// reportFiles are the names WriteReport writes under its prefix.
var reportFiles = []string{"report.json", "report.txt", "report.html"}

// WriteReport renders r as JSON, terminal text and HTML and stores them as
// prefix/report.json, prefix/report.txt and prefix/report.html. It returns
// the names written.
func WriteReport(ctx context.Context, sink ReportSink, prefix string, r *Report) ([]string, error) {
	var js, txt, html bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		return nil, err
	}
	if err := r.WriteText(&txt); err != nil {
		return nil, err
	}
	if err := r.WriteHTML(&html); err != nil {
		return nil, err
	}
	var names []string
	for i, b := range []*bytes.Buffer{&js, &txt, &html} {
		name := path.Join(prefix, reportFiles[i])
		if err := sink.Put(ctx, name, b.Bytes()); err != nil {
			return names, fmt.Errorf("diag: storing %s: %w", name, err)
		}
		names = append(names, name)
	}
	return names, nil
}

// DirSink stores reports as files under a local directory, creating it as
// needed. Each file is written to a temporary name and renamed, so a reader
// never sees half a report.
type DirSink struct{ Dir string }

// Put implements ReportSink.
func (d DirSink) Put(_ context.Context, name string, data []byte) error {
	if name == "" || strings.Contains(name, "..") {
		return fmt.Errorf("diag: bad report name %q", name)
	}
	p := filepath.Join(d.Dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".report-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// BlobSink stores reports in a gocloud.dev/blob bucket (file://, s3://,
// mem://). The caller owns the bucket and closes it.
type BlobSink struct{ Bucket *blob.Bucket }

// OpenBlobSink opens the bucket at a gocloud.dev URL such as
// "file:///var/lib/hotcold/reports?create_dir=1" or "s3://bucket?region=eu-west-1".
// Close the returned bucket when done.
func OpenBlobSink(ctx context.Context, url string) (*BlobSink, *blob.Bucket, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("diag: opening report bucket %q: %w (use file:///abs/dir?create_dir=1 or s3://bucket)", url, err)
	}
	return &BlobSink{Bucket: b}, b, nil
}

// Put implements ReportSink.
func (s *BlobSink) Put(ctx context.Context, name string, data []byte) error {
	ct := "application/octet-stream"
	switch path.Ext(name) {
	case ".json":
		ct = "application/json"
	case ".txt":
		ct = "text/plain; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	}
	return s.Bucket.WriteAll(ctx, name, data, &blob.WriterOptions{ContentType: ct})
}
