package coldstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/s3test"
)

// TestLoadFromS3: Parquet objects in an in-process S3 server, named by a
// glob, a prefix and one key, are downloaded with progress and loaded;
// the version's sources and the errors name the objects, not the
// downloads.
func TestLoadFromS3(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s3 := s3test.Start(t, "warehouse")
	s3.PutFile(t, "orders/dt=2026-11-22/part-0.parquet", writeParquet(t, dir, "a.parquet", ordersSchema, ordersRows(0, 300, "s3")))
	s3.PutFile(t, "orders/dt=2026-11-22/part-1.parquet", writeParquet(t, dir, "b.parquet", ordersSchema, ordersRows(300, 600, "s3")))
	s3.Put(t, "orders/dt=2026-11-22/_SUCCESS", nil)
	s3.Put(t, "orders/dt=2026-11-23/part-0.parquet", []byte("not parquet"))

	for _, tc := range []struct{ name, input string }{
		{"glob", "orders/dt=2026-11-22/*.parquet"},
		{"prefix", "orders/dt=2026-11-22/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last coldstore.FetchProgress
			calls := 0
			in, err := coldstore.FetchInputs(ctx, []string{s3.URL(tc.input)}, t.TempDir(), 0, func(p coldstore.FetchProgress) { last = p; calls++ })
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			want := []string{"s3://warehouse/orders/dt=2026-11-22/part-0.parquet", "s3://warehouse/orders/dt=2026-11-22/part-1.parquet"}
			if strings.Join(in.Sources, " ") != strings.Join(want, " ") {
				t.Fatalf("sources %v, want %v", in.Sources, want)
			}
			if calls != 2 || last.Files != 2 || last.FilesTotal != 2 || last.Bytes != last.BytesTotal || last.Bytes == 0 {
				t.Fatalf("%d progress calls, last %+v; want 2, all bytes", calls, last)
			}
			src, err := coldstore.OpenParquetAs(ctx, in.Paths, in.Sources)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			p, err := coldstore.OpenPebble(filepath.Join(t.TempDir(), "store"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			res, err := p.Load(ctx, coldstore.LoadSpec{Table: "orders", Version: "v1", Key: []string{"order_id"}, Source: src})
			if err != nil || res.Rows != 600 {
				t.Fatalf("load: %+v, %v", res, err)
			}
			wantCustomer(t, p, "orders", 599, "s3-599")
			vs, err := p.Versions(ctx, "orders")
			if err != nil || strings.Join(vs[0].Sources, " ") != strings.Join(want, " ") {
				t.Fatalf("version sources %v, %v; want the object URLs", vs, err)
			}
			if err := in.Close(); err != nil {
				t.Fatal(err)
			}
			for _, path := range in.Paths {
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s after Close: %v, want removed", path, err)
				}
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct{ input, want string }{
			{s3.URL("orders/dt=2026-11-21/*.parquet"), "s3://warehouse/orders/dt=2026-11-21/*.parquet: no object matches"},
			{s3.URL("orders/dt=2026-11-22/part-9.parquet"), "s3://warehouse/orders/dt=2026-11-22/part-9.parquet: no such object"},
			{"gs://b/k.parquet", "unsupported URL scheme"},
		} {
			_, err := coldstore.FetchInputs(ctx, []string{tc.input}, t.TempDir(), 0, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("FetchInputs(%s): %v, want %q", tc.input, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "endpoint=") {
				t.Errorf("FetchInputs(%s): %v shows the URL's query", tc.input, err)
			}
		}
		in, err := coldstore.FetchInputs(ctx, []string{s3.URL("orders/dt=2026-11-23/part-0.parquet")}, t.TempDir(), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		_, err = coldstore.OpenParquetAs(ctx, in.Paths, in.Sources)
		if err == nil || !strings.Contains(err.Error(), "s3://warehouse/orders/dt=2026-11-23/part-0.parquet") {
			t.Fatalf("a corrupt object: %v, want an error naming its URL", err)
		}
	})
}
