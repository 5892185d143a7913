package statemigrate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/state"
	"github.com/hotcold/hotcold/statemigrate"
)

// jobRoot builds a job state root with one demo state per partition.
func jobRoot(t *testing.T, parts int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "state")
	for p := 0; p < parts; p++ {
		j := openDemo(t, filepath.Join(root, fmt.Sprintf("p%d", p)), 1)
		j.push(workload(uint64(p+1), 400))
		j.close()
	}
	return root
}

// TestApplyJobMigratesEveryPartitionAndPublishesThemTogether interrupts a
// job migration in its second partition: nothing is published, the source
// is unchanged, and running it again finishes without redoing the first
// partition; the published root holds every partition in the new schema.
func TestApplyJobMigratesEveryPartitionAndPublishesThemTogether(t *testing.T) {
	root := jobRoot(t, 3)
	before := dirHash(t, root)
	old, err := statemigrate.ReadJobManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	plan := statemigrate.NewPlan(old, demoManifest(t, 2))
	out := filepath.Join(t.TempDir(), "state-v2")

	ctx, cancel := context.WithCancel(context.Background())
	_, err = statemigrate.ApplyJob(ctx, root, plan, out, statemigrate.ApplyOptions{
		ProgressEvery: 50,
		Progress: func(p statemigrate.ApplyProgress) {
			if p.Partition == "p1" {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted ApplyJob = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("an interrupted job migration published %s (stat: %v)", out, err)
	}

	seen := map[string]bool{}
	res, err := statemigrate.ApplyJob(context.Background(), root, plan, out, statemigrate.ApplyOptions{
		ProgressEvery: 50,
		Progress:      func(p statemigrate.ApplyProgress) { seen[p.Partition] = true },
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen["p0"] || !seen["p1"] || !seen["p2"] {
		t.Fatalf("the resumed run reported progress on %v: want p1 and p2 only (p0 was complete)", seen)
	}
	if !res.Partitions["p0"].AlreadyDone || len(res.Partitions) != 3 || res.Keys == 0 {
		t.Fatalf("result %+v", res)
	}
	if dirHash(t, root) != before {
		t.Fatal("ApplyJob modified the source state")
	}
	got, err := statemigrate.ReadJobManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.Check(got, demoManifest(t, 2)); err != nil {
		t.Fatalf("the published partitions are not in the new schema: %v", err)
	}
	for p := 0; p < 3; p++ {
		db, err := state.Open(filepath.Join(out, fmt.Sprintf("p%d", p)), state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if db.DiskUsage() == 0 {
			t.Errorf("p%d is empty", p)
		}
		db.Close()
	}
	again, err := statemigrate.ApplyJob(context.Background(), root, plan, out, statemigrate.ApplyOptions{})
	if err != nil || !again.AlreadyDone {
		t.Fatalf("a third run: %+v, %v: want AlreadyDone", again, err)
	}
}
