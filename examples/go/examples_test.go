// Package examples holds small numbered Go programs, one idea each, that
// run to completion on their own (an in-process kfake cluster, temporary
// directories): start with 01. TestExamplesRun builds and runs every one and
// compares its output with the expected.txt beside it, so that the
// examples cannot rot.
package examples_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

func TestExamplesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every example program")
	}
	dirs, err := filepath.Glob("[0-9][0-9]-*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 4 {
		t.Fatalf("found %d example programs, want at least 4", len(dirs))
	}
	bin := t.TempDir()
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, "expected.txt"))
			if err != nil {
				t.Fatalf("%v: each example keeps its output in expected.txt", err)
			}
			exe := filepath.Join(bin, dir)
			if runtime.GOOS == "windows" {
				exe += ".exe"
			}
			build := exec.Command("go", "build", "-o", exe, "./"+dir)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build ./%s: %v\n%s", dir, err, out)
			}
			var stdout, stderr bytes.Buffer
			run := exec.Command(exe)
			run.Stdout, run.Stderr = &stdout, &stderr
			if err := run.Run(); err != nil {
				t.Fatalf("%s: %v\n%s", dir, err, stderr.Bytes())
			}
			if !bytes.Equal(stdout.Bytes(), want) {
				t.Fatalf("%s printed\n%s\nwant (expected.txt)\n%s", dir, stdout.Bytes(), want)
			}
		})
	}
}
