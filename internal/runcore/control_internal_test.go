package runcore

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A checkpoint of a running job taken while it is still opening partitions
// it was assigned would leave them out: it is refused with a "try again",
// naming them, and writes nothing.
func TestCheckpointOfARunningJobWaitsForThePartitionsItIsOpening(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "p0"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Runner{
		cfg:     Config{StateDir: dir},
		log:     slog.New(slog.DiscardHandler),
		parts:   map[int32]*partition{0: {}},
		opening: map[int32]bool{10: true, 2: true},
	}
	ckpt := filepath.Join(dir, "ckpt")
	_, err := r.checkpointOpen(ckpt)
	if err == nil || !strings.Contains(err.Error(), "still opening partitions p2, p10 it was assigned: try again once they are open") {
		t.Fatalf("checkpoint while opening: %v", err)
	}
	if _, err := os.Stat(ckpt); !os.IsNotExist(err) {
		t.Fatalf("the refused checkpoint wrote %s (%v)", ckpt, err)
	}
}
