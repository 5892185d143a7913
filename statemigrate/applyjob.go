package statemigrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/state"
)

// JobMarkerFile is written into a migrated job state root last, after
// every partition's state is complete; the root is published (renamed from
// OUT.partial to OUT) only with it.
const JobMarkerFile = "hotcold-job-migration.json"

var partDir = regexp.MustCompile(`^p(0|[1-9][0-9]*)$`)

// Partitions lists the per-partition state directories (p<N>) of a job's
// state root, sorted by partition; nil when root has none (a single state
// directory).
func Partitions(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("statemigrate: read the state root %s: %w", root, err)
	}
	type pd struct {
		n    int
		name string
	}
	var ps []pd
	for _, e := range ents {
		if g := partDir.FindStringSubmatch(e.Name()); g != nil && e.IsDir() {
			n, _ := strconv.Atoi(g[1])
			ps = append(ps, pd{n, e.Name()})
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].n < ps[j].n })
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.name
	}
	return out, nil
}

// IsJobRoot reports whether dir is a job's state root: no manifest of its
// own, one state directory per partition (p<N>).
func IsJobRoot(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, manifest.FileName)); err == nil {
		return false
	}
	ps, err := Partitions(dir)
	return err == nil && len(ps) > 0
}

// ReadJobManifest reads the manifest of a state directory or of a job's
// state root; in a root every partition must hold the same manifest (job
// and operators), else the error names the partition that differs.
func ReadJobManifest(dir string) (*manifest.Manifest, error) {
	if !IsJobRoot(dir) {
		return manifest.Read(filepath.Join(dir, manifest.FileName))
	}
	ps, _ := Partitions(dir)
	var first *manifest.Manifest
	for _, p := range ps {
		m, err := manifest.Read(filepath.Join(dir, p, manifest.FileName))
		if err != nil {
			return nil, fmt.Errorf("statemigrate: partition %s of %s: %w", p, dir, err)
		}
		if first == nil {
			first = m
			continue
		}
		if err := manifest.Check(m, first); err != nil {
			return nil, fmt.Errorf("statemigrate: partition %s of %s holds another manifest than %s: %w", p, dir, ps[0], err)
		}
	}
	return first, nil
}

// JobApplyResult is the result of ApplyJob: one ApplyResult per partition.
type JobApplyResult struct {
	Out         string                  `json:"out"`
	AlreadyDone bool                    `json:"already_done"`
	Partitions  map[string]*ApplyResult `json:"partitions"`
	Keys        int64                   `json:"keys"`
	Elapsed     time.Duration           `json:"elapsed_ns"`
}

// ApplyJob migrates a job's state root src (p<N> subdirectories, the
// layout of hotcold join and hotcold agg) into a new root out. Every
// partition is migrated by Apply into OUT.partial/p<N>, with progress per
// partition (ApplyOptions.Progress and the log name it through Logger);
// a partition already complete there (after a crash) is not redone. When
// every partition is complete, the job marker is written and OUT.partial
// is renamed to OUT in one step: the set is published together or not at
// all, and a run killed at any point resumes by being run again. src is
// never modified.
func ApplyJob(ctx context.Context, src string, plan *Plan, out string, opts ApplyOptions) (*JobApplyResult, error) {
	start := time.Now()
	parts, err := Partitions(src)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("statemigrate: %s holds no partition state (p0, p1, ...): is it the state.dir of a hotcold join or agg job?", src)
	}
	if done, err := readJSON[JobApplyResult](filepath.Join(out, JobMarkerFile)); err == nil {
		done.AlreadyDone = true
		return done, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("statemigrate: %s exists but holds no completed job migration; remove it or choose another --out", out)
	}
	tmp := out + ".partial"
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	log := opts.withDefaults().Logger
	res := &JobApplyResult{Out: out, Partitions: map[string]*ApplyResult{}}
	for i, p := range parts {
		po := opts
		if opts.Progress != nil {
			po.Progress = func(ap ApplyProgress) {
				ap.Partition = p
				opts.Progress(ap)
			}
		}
		po.Logger = log.With("partition", p, "of", fmt.Sprintf("%d/%d", i+1, len(parts)))
		r, err := Apply(ctx, filepath.Join(src, p), plan, filepath.Join(tmp, p), po)
		if err != nil {
			return nil, fmt.Errorf("statemigrate: partition %s: %w", p, err)
		}
		res.Partitions[p] = r
		res.Keys += r.Keys
	}
	res.Elapsed = time.Since(start)
	if err := writeJSON(filepath.Join(tmp, JobMarkerFile), res); err != nil {
		return nil, err
	}
	syncDir(tmp)
	if err := os.Rename(tmp, out); err != nil {
		return nil, fmt.Errorf("statemigrate: publish %s as %s: %w", tmp, out, err)
	}
	syncDir(filepath.Dir(out))
	log.Info("statemigrate: job migration complete", "out", out, "partitions", len(parts), "keys", res.Keys)
	return res, nil
}

func readJSON[T any](path string) (*T, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("statemigrate: %s: %w", path, err)
	}
	return &v, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(path, append(b, '\n'))
}
