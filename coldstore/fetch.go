package coldstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // s3:// inputs
	"gocloud.dev/gcerrors"
)

// FetchProgress reports the progress of FetchInputs.
type FetchProgress struct {
	// Files is the number of objects downloaded so far, of FilesTotal.
	Files, FilesTotal int
	// Bytes is the number of bytes downloaded so far, of BytesTotal.
	Bytes, BytesTotal int64
	// Current is the object being downloaded ("" once all are).
	Current string
	// Elapsed is the time since FetchInputs started.
	Elapsed time.Duration
}

// Fetched is the result of FetchInputs: the local paths of the inputs, in
// order, and the temporary directory holding the downloaded ones.
type Fetched struct {
	// Paths are the local files to load: local inputs as given, then each
	// object URL's downloads in key order.
	Paths []string
	// Sources names each path's origin (the object URL without its query,
	// or the local path), for errors and the version's metadata.
	Sources []string
	dir     string
}

// Close removes the downloaded files.
func (f *Fetched) Close() error {
	if f == nil || f.dir == "" {
		return nil
	}
	return os.RemoveAll(f.dir)
}

// IsObjectURL reports whether an input names an object-store object or
// prefix (s3://...) rather than a local file.
func IsObjectURL(s string) bool { return strings.HasPrefix(s, "s3://") }

// FetchInputs resolves the inputs of a load. A local path is kept as it
// is. An object URL is listed and downloaded into a new directory under
// dir (os.TempDir() when empty):
//
//	s3://bucket/orders/dt=2026-11-22/part-0.parquet    one object
//	s3://bucket/orders/dt=2026-11-22/*.parquet          a glob in the last element (path.Match)
//	s3://bucket/orders/dt=2026-11-22/                   every .parquet object under the prefix
//
// The URL's query configures the bucket as gocloud.dev/blob's s3blob does
// (region=, endpoint=, use_path_style=true for S3-compatible servers);
// credentials come from the environment (AWS_* variables, ~/.aws, instance
// roles). A URL that matches no object is an error naming it. progress,
// if not nil, is called after each object and about every interval while
// one downloads. Close the result to remove the downloads.
func FetchInputs(ctx context.Context, inputs []string, dir string, interval time.Duration, progress func(FetchProgress)) (*Fetched, error) {
	start := time.Now()
	type object struct {
		b    *blob.Bucket
		key  string
		src  string
		size int64
	}
	var objs []object
	var buckets []*blob.Bucket
	defer func() {
		for _, b := range buckets {
			_ = b.Close()
		}
	}()
	out := &Fetched{}
	order := make([]int, 0, len(inputs)) // -1: local input i, else index into objs
	var locals []string
	for _, in := range inputs {
		if !IsObjectURL(in) {
			if strings.Contains(in, "://") {
				return nil, fmt.Errorf("coldstore: input %s: unsupported URL scheme: give a local path or an s3://bucket/key URL", redactURL(in))
			}
			order = append(order, -1)
			locals = append(locals, in)
			continue
		}
		u, err := url.Parse(in)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("coldstore: input %s: not an s3://bucket/key URL", redactURL(in))
		}
		pattern := strings.TrimPrefix(u.Path, "/")
		shown := u.Scheme + "://" + u.Host + "/" + pattern
		bu := url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: u.RawQuery}
		b, err := blob.OpenBucket(ctx, bu.String())
		if err != nil {
			return nil, fmt.Errorf("coldstore: input %s: open bucket: %w", shown, err)
		}
		buckets = append(buckets, b)
		var keys []object
		add := func(key string, size int64) {
			keys = append(keys, object{b: b, key: key, src: u.Scheme + "://" + u.Host + "/" + key, size: size})
		}
		glob := strings.ContainsAny(pattern, "*?[")
		switch {
		case glob || pattern == "" || strings.HasSuffix(pattern, "/"):
			if glob {
				if _, err := path.Match(pattern, ""); err != nil {
					return nil, fmt.Errorf("coldstore: input %s: bad pattern: %w", shown, err)
				}
			}
			prefix := pattern
			if i := strings.IndexAny(pattern, "*?["); i >= 0 {
				prefix = pattern[:i]
			}
			it := b.List(&blob.ListOptions{Prefix: prefix})
			for {
				o, err := it.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return nil, fmt.Errorf("coldstore: input %s: list: %w", shown, err)
				}
				if o.IsDir {
					continue
				}
				if glob {
					if ok, _ := path.Match(pattern, o.Key); !ok {
						continue
					}
				} else if !strings.HasSuffix(o.Key, ".parquet") {
					continue
				}
				add(o.Key, o.Size)
			}
			if len(keys) == 0 {
				return nil, fmt.Errorf("coldstore: input %s: no object matches (check the bucket, prefix and pattern)", shown)
			}
			sort.Slice(keys, func(i, j int) bool { return keys[i].key < keys[j].key })
		default:
			a, err := b.Attributes(ctx, pattern)
			if gcerrors.Code(err) == gcerrors.NotFound {
				return nil, fmt.Errorf("coldstore: input %s: no such object", shown)
			}
			if err != nil {
				return nil, fmt.Errorf("coldstore: input %s: %w", shown, err)
			}
			add(pattern, a.Size)
		}
		for _, k := range keys {
			order = append(order, len(objs))
			objs = append(objs, k)
		}
	}
	// Downloads.
	var total int64
	for _, o := range objs {
		total += o.size
	}
	if len(objs) > 0 {
		if dir == "" {
			dir = os.TempDir()
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("coldstore: download directory: %w", err)
		}
		d, err := os.MkdirTemp(dir, "hotcold-inputs-")
		if err != nil {
			return nil, fmt.Errorf("coldstore: download directory: %w", err)
		}
		out.dir = d
	}
	var done atomic.Int64
	report := func(files int, cur string) {
		if progress != nil {
			progress(FetchProgress{Files: files, FilesTotal: len(objs), Bytes: done.Load(), BytesTotal: total, Current: cur, Elapsed: time.Since(start)})
		}
	}
	paths := make([]string, len(objs))
	for i, o := range objs {
		p := filepath.Join(out.dir, fmt.Sprintf("%05d-%s", i, path.Base(o.key)))
		if err := download(ctx, o.b, o.key, o.src, p, &done, interval, func() { report(i, o.src) }); err != nil {
			_ = out.Close()
			return nil, err
		}
		paths[i] = p
		report(i+1, "")
	}
	li := 0
	for _, j := range order {
		if j < 0 {
			out.Paths = append(out.Paths, locals[li])
			out.Sources = append(out.Sources, locals[li])
			li++
			continue
		}
		out.Paths = append(out.Paths, paths[j])
		out.Sources = append(out.Sources, objs[j].src)
	}
	return out, nil
}

// download copies one object to p, calling tick about every interval.
func download(ctx context.Context, b *blob.Bucket, key, src, p string, done *atomic.Int64, interval time.Duration, tick func()) error {
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		return fmt.Errorf("coldstore: input %s: %w", src, err)
	}
	defer r.Close()
	f, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("coldstore: input %s: %w", src, err)
	}
	w := &countingWriter{w: f, n: done, every: interval, tick: tick, last: time.Now()}
	if _, err := io.Copy(w, r); err != nil {
		_ = f.Close()
		return fmt.Errorf("coldstore: input %s: download: %w", src, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("coldstore: input %s: %w", src, err)
	}
	return nil
}

type countingWriter struct {
	w     io.Writer
	n     *atomic.Int64
	every time.Duration
	tick  func()
	last  time.Time
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	if c.every > 0 && time.Since(c.last) >= c.every {
		c.last = time.Now()
		c.tick()
	}
	return n, err
}

// redactURL drops the query and userinfo of an input URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
