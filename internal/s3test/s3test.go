// Package s3test runs an in-process S3 server (gofakes3, in memory) for
// tests of code that reads or writes s3:// URLs through gocloud.dev/blob.
package s3test

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a running in-process S3 server with one bucket.
type Server struct {
	srv     *httptest.Server
	backend *s3mem.Backend
	bucket  string
}

// Start starts a server with bucket, stopped at cleanup, and points the
// AWS SDK's environment at test credentials (no ~/.aws files are read).
// It uses t.Setenv: not for parallel tests.
func Start(t testing.TB, bucket string) *Server {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	empty := filepath.Join(t.TempDir(), "aws-config")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	return &Server{srv: srv, backend: backend, bucket: bucket}
}

// URL returns s3://BUCKET/key with the query that points gocloud's s3blob
// at this server.
func (s *Server) URL(key string) string {
	return "s3://" + s.bucket + "/" + key + "?" + s.Query()
}

// Query is the bucket URL query for this server.
func (s *Server) Query() string {
	return "endpoint=" + s.srv.URL + "&use_path_style=true&region=us-east-1"
}

// Put stores data under key.
func (s *Server) Put(t testing.TB, key string, data []byte) {
	t.Helper()
	if _, err := s.backend.PutObject(s.bucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatal(err)
	}
}

// PutFile stores the file at path under key.
func (s *Server) PutFile(t testing.TB, key, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Put(t, key, b)
}
