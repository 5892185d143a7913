package state_test

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/hotcold/hotcold/state"
)

func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestReadOnlyOpenReadsOffsetsWithoutTouchingTheFiles: a read-only open
// sees the committed offsets, modifies no file, cannot commit, and never
// creates a store where there is none.
func TestReadOnlyOpenReadsOffsetsWithoutTouchingTheFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p0")
	db, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.SetOffset("orders", 0, 42)
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	db.SetOffset("orders", 0, 43) // uncommitted: in no file
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := treeHash(t, dir)
	ro, err := state.Open(dir, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := ro.Offsets()[state.TopicPartition{Topic: "orders", Partition: 0}]; got != 42 {
		t.Fatalf("read-only offsets: %d, want 42", got)
	}
	ro.SetOffset("orders", 0, 50)
	if err := ro.Commit(); err == nil {
		t.Fatal("Commit on a read-only state succeeded")
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if treeHash(t, dir) != before {
		t.Fatal("a read-only open changed the state's files")
	}
	missing := filepath.Join(t.TempDir(), "p1")
	if _, err := state.Open(missing, state.Options{ReadOnly: true}); err == nil {
		t.Fatal("a read-only open of a missing state succeeded")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a read-only open created %s (stat: %v)", missing, err)
	}
}
