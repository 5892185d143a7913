package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"gocloud.dev/blob"
)

// completeMarker is written last by Upload; Download refuses a checkpoint
// without it (an upload that did not finish).
const completeMarker = "CHECKPOINT-COMPLETE"

// Checkpoint writes a consistent, openable copy of the committed state
// (with its offsets) to dir, which must not exist. Uncommitted mutations
// are not included. Safe to call concurrently with the writer.
func (db *DB) Checkpoint(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.pdb.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("state: checkpoint to %s: %w", dir, err)
	}
	return nil
}

// Progress is called after each file of an upload or download with the
// file's name and the files done out of the total.
type Progress func(file string, done, total int)

// Upload copies the checkpoint directory dir to bucket under prefix (e.g.
// "jobs/orders_refunds/p0/2026-11-22T10:00:00Z"), then writes a completion
// marker. progress may be nil.
func Upload(ctx context.Context, bucket *blob.Bucket, prefix, dir string, progress Progress) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state: upload %s: %w", dir, err)
	}
	for i, f := range files {
		if err := uploadFile(ctx, bucket, path.Join(prefix, f), filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			return fmt.Errorf("state: upload %s: %w", f, err)
		}
		if progress != nil {
			progress(f, i+1, len(files))
		}
	}
	if err := bucket.WriteAll(ctx, path.Join(prefix, completeMarker), []byte(strings.Join(files, "\n")), nil); err != nil {
		return fmt.Errorf("state: upload completion marker: %w", err)
	}
	return nil
}

func uploadFile(ctx context.Context, bucket *blob.Bucket, key, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := bucket.NewWriter(ctx, key, nil)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// Download copies the checkpoint stored under prefix in bucket into dir
// (created; it must not exist), ready for Open. A checkpoint whose upload
// did not complete is an error. progress may be nil.
func Download(ctx context.Context, bucket *blob.Bucket, prefix, dir string, progress Progress) error {
	list, err := bucket.ReadAll(ctx, path.Join(prefix, completeMarker))
	if err != nil {
		return fmt.Errorf("state: checkpoint %q in the bucket is missing or incomplete (no %s): %w", prefix, completeMarker, err)
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("state: download checkpoint: %s already exists; remove it or choose another directory", dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var files []string
	if len(list) > 0 {
		files = strings.Split(string(list), "\n")
	}
	for i, f := range files {
		if f == "" || strings.HasPrefix(f, "/") || strings.Contains(f, "..") {
			return fmt.Errorf("state: checkpoint %q lists a bad file name %q", prefix, f)
		}
		dst := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := downloadFile(ctx, bucket, path.Join(prefix, f), dst); err != nil {
			return fmt.Errorf("state: download %s: %w", f, err)
		}
		if progress != nil {
			progress(f, i+1, len(files))
		}
	}
	return nil
}

func downloadFile(ctx context.Context, bucket *blob.Bucket, key, dst string) error {
	r, err := bucket.NewReader(ctx, key, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
