package statemigrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/state"
)

// Role names one of the two jobs of a bypass rebuild.
type Role string

// The roles.
const (
	// Online is the job that serves the output today.
	Online Role = "online"
	// Side is the job started with the new logic to rebuild the state.
	Side Role = "side"
)

// Logic says which version of the job's logic a job runs.
type Logic string

// The logics.
const (
	OldLogic Logic = "old"
	NewLogic Logic = "new"
)

// JobSpec says how to run a job.
type JobSpec struct {
	// Logic is the logic to run.
	Logic Logic
	// StateDir is the job's state directory. An empty directory means
	// starting from the earliest input offsets.
	StateDir string
	// OutputTopic is where the job writes its output.
	OutputTopic string
	// Group is the consumer group the job commits its input offsets to, so
	// that its lag can be watched.
	Group string
	// StopAt, when not nil, makes the job stop by itself once the input
	// offsets committed in its state equal StopAt, consuming nothing past
	// them.
	StopAt Offsets
}

// Jobs starts and stops the jobs of a bypass rebuild: processes,
// containers, in-process runners. The workflow calls it from one goroutine.
//
// A job must commit its input offsets with its state (hotcold state does),
// commit them to JobSpec.Group as well, deliver its output before it exits,
// and stop cleanly (state committed) on Stop. Every method must be
// idempotent, because a resumed workflow repeats the call of the stage it
// crashed in: starting a running job, or stopping a stopped one, is not an
// error.
type Jobs interface {
	// Start starts the job of role as spec says and returns once it runs.
	Start(ctx context.Context, role Role, spec JobSpec) error
	// Stop stops the job of role at a committed state and returns once it
	// has exited.
	Stop(ctx context.Context, role Role) error
	// Wait returns once the job of role has exited by itself (StopAt
	// reached), with its error if it failed.
	Wait(ctx context.Context, role Role) error
}

// Stage is a step of the bypass workflow. Status.Stage is the last one
// completed.
type Stage string

// The stages, in order.
const (
	StageNew              Stage = "new"
	StageSideStarted      Stage = "side-started"      // 1: the side job runs the new logic from the earliest offsets
	StageSideCaughtUp     Stage = "side-caught-up"    // 2: its consumer lag is down to CaughtUpLag
	StageOutputsChecked   Stage = "outputs-checked"   // 3: its output matches the online job's
	StageOnlineStopped    Stage = "online-stopped"    // 4: the online job stopped at a committed state
	StageSideCheckpointed Stage = "side-checkpointed" // 5: both jobs at the same offsets; the side state checkpointed
	StageOffsetsMatched   Stage = "offsets-matched"   // 6: the checkpoint's offsets equal the online job's, per partition
	StageDone             Stage = "online-switched"   // 7: the online job runs the new logic on the checkpoint
)

var stages = []Stage{StageNew, StageSideStarted, StageSideCaughtUp, StageOutputsChecked,
	StageOnlineStopped, StageSideCheckpointed, StageOffsetsMatched, StageDone}

// Stages returns the stages in order. The slice is a fresh copy: changing
// it changes nothing in the package.
func Stages() []Stage { return slices.Clone(stages) }

func (s Stage) index() int { return slices.Index(stages, s) }

// Status is the persisted progress of a bypass workflow.
type Status struct {
	// Stage is the last stage completed.
	Stage Stage `json:"stage"`
	// Aborted is set by Abort.
	Aborted bool `json:"aborted,omitempty"`
	// History records when each stage completed.
	History []StageTime `json:"history"`
	// SideLag is the side job's lag when it was found caught up.
	SideLag int64 `json:"side_lag"`
	// Compare is the output check.
	Compare *CompareResult `json:"compare,omitempty"`
	// OnlineOffsets are the online job's committed offsets when it stopped
	// (stage 4) and, from stage 5, when both jobs were aligned.
	OnlineOffsets Offsets `json:"online_offsets,omitempty"`
	// SideOffsets are the offsets of the side job's checkpoint.
	SideOffsets Offsets `json:"side_offsets,omitempty"`
	// Checkpoint is the side job's checkpoint; from stage 7, NewStateDir.
	Checkpoint string `json:"checkpoint,omitempty"`
	// NewStateDir is the online job's state directory after the switch.
	NewStateDir string `json:"new_state_dir,omitempty"`
	// Retracted is the number of old-logic keys retracted at the switch
	// (RetractOldKeys).
	Retracted int `json:"retracted,omitempty"`
	// Switch is what stage 7 saw of the switched job.
	Switch *SwitchCheck `json:"switch,omitempty"`
	// AbortReason says why the workflow rolled back by itself (the switched
	// job did not run).
	AbortReason string `json:"abort_reason,omitempty"`
}

// StageTime is one entry of Status.History.
type StageTime struct {
	Stage Stage     `json:"stage"`
	At    time.Time `json:"at"`
}

// BypassConfig configures a bypass rebuild. Required fields say so.
type BypassConfig struct {
	// WorkDir holds the workflow's progress file (bypass.json), the side
	// job's state and its checkpoint. Required; created if missing.
	WorkDir string
	// Brokers are the Kafka seed brokers, for lag and output checks.
	// Required.
	Brokers []string
	// InputTopics are the jobs' input topics. Required.
	InputTopics []string
	// Jobs starts and stops the jobs. Required.
	Jobs Jobs
	// OnlineStateDir is the state directory of the running online job. It
	// is never modified: after an abort the online job restarts on it.
	// Required.
	OnlineStateDir string
	// OnlineGroup is the online job's consumer group. Required.
	OnlineGroup string
	// OnlineOutput is the online job's output. Required (Schema may be nil
	// when SkipCompare is set).
	OnlineOutput Output
	// SideGroup is the side job's consumer group. Required.
	SideGroup string
	// SideOutput is the side job's own output. Required (Schema as for
	// OnlineOutput).
	SideOutput Output
	// NewStateDir is where the online job's state lives after the switch
	// (the side job's checkpoint is moved there). Zero means
	// WorkDir/online-state.
	NewStateDir string
	// CaughtUpLag is the total lag (records) at or below which the side job
	// counts as caught up. Default 0.
	CaughtUpLag int64
	// PollInterval is how often the lag is checked. Zero means 1s.
	PollInterval time.Duration
	// MaxMismatch is the fraction of compared rows that may differ in the
	// output check. Default 0: none.
	MaxMismatch float64
	// Samples bounds the differing rows logged and kept. Zero means 10.
	Samples int
	// SkipCompare skips stage 3's check (it then only records that it was
	// skipped). Default false.
	SkipCompare bool
	// AcceptUncompared lets stage 3 pass when it compared no row (no key
	// in common: e.g. the new logic changed the key). Default false: a
	// check that compared nothing is no evidence, and stage 3 fails.
	AcceptUncompared bool
	// SwitchTimeout bounds stage 7's wait for the switched job to show it
	// runs: a member of the online group whose lag falls (or is at most
	// CaughtUpLag). Otherwise, or once the job exits, the workflow stops
	// it, restarts the old job on its untouched state and fails. Zero
	// means 2 minutes.
	SwitchTimeout time.Duration
	// RetractOldKeys retracts, at the switch, the keys of the online
	// output that the old logic produced and the new logic does not (a
	// tombstone in upsert-kafka, a delete in a changelog format), so the
	// downstream table holds the new logic's rows only. The output must be
	// keyed. Default false: such rows stay downstream until removed by
	// other means.
	RetractOldKeys bool
	// OnStage is called after each stage is persisted. An error stops the
	// workflow there, as a crash would; Run resumes after it. Nil: none.
	OnStage func(Stage, *Status) error
	// Logger receives each stage and its progress. Nil discards them.
	Logger *slog.Logger
}

func (c *BypassConfig) validate() error {
	var errs []error
	req := func(ok bool, what string) {
		if !ok {
			errs = append(errs, errors.New(what))
		}
	}
	req(c.WorkDir != "", "WorkDir is empty")
	req(len(c.Brokers) > 0, "Brokers is empty")
	req(len(c.InputTopics) > 0, "InputTopics is empty")
	req(c.Jobs != nil, "Jobs is nil")
	req(c.OnlineStateDir != "", "OnlineStateDir is empty")
	req(c.OnlineGroup != "", "OnlineGroup is empty")
	req(c.OnlineOutput.Topic != "", "OnlineOutput.Topic is empty")
	req(c.SideGroup != "", "SideGroup is empty")
	req(c.SideOutput.Topic != "", "SideOutput.Topic is empty")
	req(c.SideOutput.Topic != c.OnlineOutput.Topic, "SideOutput.Topic equals OnlineOutput.Topic: the side job needs its own output")
	req(c.SideGroup != c.OnlineGroup, "SideGroup equals OnlineGroup: the side job needs its own consumer group")
	if !c.SkipCompare {
		req(c.OnlineOutput.Schema != nil && c.SideOutput.Schema != nil, "the output schemas are needed to compare outputs (or set SkipCompare)")
	}
	if c.RetractOldKeys {
		req(c.OnlineOutput.Schema != nil && c.SideOutput.Schema != nil, "the output schemas are needed to retract old keys (RetractOldKeys)")
	}
	req(c.CaughtUpLag >= 0, "CaughtUpLag is negative")
	req(c.MaxMismatch >= 0 && c.MaxMismatch <= 1, "MaxMismatch is outside [0, 1]")
	if len(errs) > 0 {
		return fmt.Errorf("statemigrate: invalid bypass config: %w", errors.Join(errs...))
	}
	return nil
}

// Bypass is a bypass rebuild: a side job rebuilds the state with the new
// logic from the earliest offsets, is checked against the online job, and
// takes over exactly where the online job stopped. Every stage is
// persisted in WorkDir/bypass.json (written atomically), so Run resumes
// after a crash from the stage after the last one completed.
//
// A Bypass is used from one goroutine.
type Bypass struct {
	cfg  BypassConfig
	log  *slog.Logger
	file string
}

// NewBypass validates cfg and prepares the work directory.
func NewBypass(cfg BypassConfig) (*Bypass, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.NewStateDir == "" {
		cfg.NewStateDir = filepath.Join(cfg.WorkDir, "online-state")
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Samples == 0 {
		cfg.Samples = 10
	}
	if cfg.SwitchTimeout == 0 {
		cfg.SwitchTimeout = 2 * time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, err
	}
	return &Bypass{cfg: cfg, log: log, file: filepath.Join(cfg.WorkDir, "bypass.json")}, nil
}

func (b *Bypass) sideStateDir() string  { return filepath.Join(b.cfg.WorkDir, "side-state") }
func (b *Bypass) checkpointDir() string { return filepath.Join(b.cfg.WorkDir, "checkpoint") }

// onlineCopyDir is the copy of the stopped online job's state that stage 5
// runs forward, when the side job got ahead of it.
func (b *Bypass) onlineCopyDir() string { return filepath.Join(b.cfg.WorkDir, "online-copy") }

// onlineAt is the online job's state as of stage 5: its copy when stage 5
// ran it forward, else its own (read only).
func (b *Bypass) onlineAt() string {
	if _, err := os.Stat(b.onlineCopyDir()); err == nil {
		return b.onlineCopyDir()
	}
	return b.cfg.OnlineStateDir
}

func (b *Bypass) sideSpec(stopAt Offsets) JobSpec {
	return JobSpec{Logic: NewLogic, StateDir: b.sideStateDir(), OutputTopic: b.cfg.SideOutput.Topic, Group: b.cfg.SideGroup, StopAt: stopAt}
}

func (b *Bypass) onlineSpec(stopAt Offsets) JobSpec {
	return JobSpec{Logic: OldLogic, StateDir: b.cfg.OnlineStateDir, OutputTopic: b.cfg.OnlineOutput.Topic, Group: b.cfg.OnlineGroup, StopAt: stopAt}
}

// Status reads the persisted progress (StageNew if the workflow has not
// started).
func (b *Bypass) Status() (*Status, error) {
	data, err := os.ReadFile(b.file)
	if errors.Is(err, fs.ErrNotExist) {
		return &Status{Stage: StageNew}, nil
	}
	if err != nil {
		return nil, err
	}
	var st Status
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("statemigrate: %s is corrupt: %w", b.file, err)
	}
	if st.Stage.index() < 0 {
		return nil, fmt.Errorf("statemigrate: %s: unknown stage %q", b.file, st.Stage)
	}
	return &st, nil
}

func (b *Bypass) save(st *Status) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(b.file, append(data, '\n'))
}

// Run runs the workflow, or resumes it after the last completed stage,
// until the online job runs the new logic. It returns the final status.
// An error leaves the status at the last completed stage: fix the cause
// and Run again, or Abort.
func (b *Bypass) Run(ctx context.Context) (*Status, error) {
	st, err := b.Status()
	if err != nil {
		return nil, err
	}
	if st.Aborted {
		return st, fmt.Errorf("statemigrate: the bypass in %s was aborted; remove the directory to start over", b.cfg.WorkDir)
	}
	if st.Stage != StageNew {
		b.log.Info("bypass: resuming", "after", st.Stage)
	}
	steps := map[Stage]func(context.Context, *Status) error{
		StageSideStarted:      b.startSide,
		StageSideCaughtUp:     b.waitCaughtUp,
		StageOutputsChecked:   b.checkOutputs,
		StageOnlineStopped:    b.stopOnline,
		StageSideCheckpointed: b.checkpointSide,
		StageOffsetsMatched:   b.matchOffsets,
		StageDone:             b.switchOnline,
	}
	for i := st.Stage.index() + 1; i < len(stages); i++ {
		s := stages[i]
		b.log.Info(fmt.Sprintf("bypass: stage %d/%d: %s", i, len(stages)-1, s))
		if err := steps[s](ctx, st); err != nil {
			return st, fmt.Errorf("statemigrate: bypass stage %d (%s): %w", i, s, err)
		}
		st.Stage = s
		st.History = append(st.History, StageTime{Stage: s, At: time.Now().UTC()})
		if err := b.save(st); err != nil {
			return st, err
		}
		b.log.Info(fmt.Sprintf("bypass: stage %d/%d done: %s", i, len(stages)-1, s))
		if b.cfg.OnStage != nil {
			if err := b.cfg.OnStage(s, st); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// Abort stops the side job and, if the online job was stopped, restarts it
// with the old logic on its own state, so that it continues as it was. A
// workflow that completed cannot be aborted: the online job already runs
// the new logic (its old state directory is untouched, for a manual
// rollback).
func (b *Bypass) Abort(ctx context.Context) (*Status, error) {
	st, err := b.Status()
	if err != nil {
		return nil, err
	}
	if st.Stage == StageDone {
		return st, fmt.Errorf("statemigrate: the bypass completed: the online job runs the new logic on %s; to roll back, stop it and start the old job on %s (untouched)", st.NewStateDir, b.cfg.OnlineStateDir)
	}
	b.log.Info("bypass: aborting", "after", st.Stage)
	if err := b.cfg.Jobs.Stop(ctx, Side); err != nil {
		return st, fmt.Errorf("statemigrate: abort: stop the side job: %w", err)
	}
	if st.Stage.index() >= StageOnlineStopped.index() {
		// Whatever online job the workflow started (the old logic on a
		// copy in stage 5, the new logic in stage 7) stops first.
		if err := b.cfg.Jobs.Stop(ctx, Online); err != nil {
			return st, fmt.Errorf("statemigrate: abort: stop the online job: %w", err)
		}
		if snap, err := b.readSnapshot(); err != nil {
			return st, err
		} else if snap != nil {
			n, err := b.restoreOutput(ctx, snap)
			if err != nil {
				return st, fmt.Errorf("statemigrate: abort: restore the online output: %w", err)
			}
			b.log.Info("bypass: online output restored to the old job's rows", "keys", n)
		}
		if err := b.cfg.Jobs.Start(ctx, Online, b.onlineSpec(nil)); err != nil {
			return st, fmt.Errorf("statemigrate: abort: restart the online job: %w", err)
		}
		b.log.Info("bypass: online job restarted with the old logic on its own state", "state", b.cfg.OnlineStateDir)
	}
	st.Aborted = true
	return st, b.save(st)
}

// Stage 1.
func (b *Bypass) startSide(ctx context.Context, st *Status) error {
	if err := os.MkdirAll(b.sideStateDir(), 0o755); err != nil {
		return err
	}
	return b.cfg.Jobs.Start(ctx, Side, b.sideSpec(nil))
}

// Stage 2.
func (b *Bypass) waitCaughtUp(ctx context.Context, st *Status) error {
	// After a crash the side job may not run any more.
	if err := b.cfg.Jobs.Start(ctx, Side, b.sideSpec(nil)); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.cfg.Brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		lag, err := groupLag(ctx, adm, b.cfg.SideGroup, b.cfg.InputTopics)
		if err != nil {
			return err
		}
		b.log.Info("bypass: side job lag", "lag", lag, "caught_up_at", b.cfg.CaughtUpLag)
		if lag <= b.cfg.CaughtUpLag {
			st.SideLag = lag
			return nil
		}
		t.Reset(b.cfg.PollInterval)
	}
}

// groupLag is the total lag of group on topics: end offsets minus the
// group's committed offsets (the start offset where it has none).
func groupLag(ctx context.Context, adm *kadm.Client, group string, topics []string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("start offsets: %w", err)
	}
	commits, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = commits.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		commits, err = nil, nil // nothing committed yet
	}
	if err != nil {
		return 0, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	var lag int64
	ends.Each(func(e kadm.ListedOffset) {
		at := int64(0)
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok {
			at = s.Offset
		}
		if c, ok := commits.Lookup(e.Topic, e.Partition); ok && c.At >= 0 {
			at = c.At
		}
		lag += max(0, e.Offset-at)
	})
	return lag, nil
}

// Stage 3.
func (b *Bypass) checkOutputs(ctx context.Context, st *Status) error {
	if b.cfg.SkipCompare {
		b.log.Warn("bypass: output check skipped (SkipCompare)")
		return nil
	}
	res, err := CompareOutputs(ctx, b.cfg.Brokers, b.cfg.OnlineOutput, b.cfg.SideOutput, b.cfg.Samples)
	if err != nil {
		return err
	}
	st.Compare = res
	b.log.Info("bypass: outputs compared", "result", res.String())
	for _, d := range res.Samples {
		b.log.Info("bypass: differing row", "key", d.Key, "online", d.Online, "side", d.Side)
	}
	if res.Compared == 0 && !b.cfg.AcceptUncompared {
		_ = b.save(st)
		return fmt.Errorf("the output check compared no row (%s): the outputs share no key, so nothing shows the new logic is right; check the outputs yourself, then Run again with AcceptUncompared (--accept-uncompared), or Abort", res)
	}
	if res.Compared == 0 {
		b.log.Warn("bypass: the output check compared no row; going on (AcceptUncompared)", "result", res.String())
	}
	allowed := int(b.cfg.MaxMismatch * float64(res.Compared))
	if res.Differ > allowed {
		_ = b.save(st)
		return fmt.Errorf("%d of %d compared rows differ (at most %d allowed by MaxMismatch): check the new logic, then Run again, or Abort", res.Differ, res.Compared, allowed)
	}
	return nil
}

// Stage 4.
func (b *Bypass) stopOnline(ctx context.Context, st *Status) error {
	if err := b.cfg.Jobs.Stop(ctx, Online); err != nil {
		return err
	}
	off, err := readOffsets(b.cfg.OnlineStateDir)
	if err != nil {
		return err
	}
	st.OnlineOffsets = off
	b.log.Info("bypass: online job stopped", "offsets", off.String())
	return nil
}

// Stage 5: bring both jobs to the same offsets, then checkpoint the side
// job's state.
func (b *Bypass) checkpointSide(ctx context.Context, st *Status) error {
	ckpt := b.checkpointDir()
	if _, err := os.Stat(ckpt); err == nil {
		return nil // done before a crash
	}
	if err := b.cfg.Jobs.Stop(ctx, Side); err != nil {
		return err
	}
	online, err := readOffsets(b.cfg.OnlineStateDir)
	if err != nil {
		return err
	}
	side, err := readOffsets(b.sideStateDir())
	if err != nil {
		return err
	}
	target := maxOffsets(online, side)
	b.log.Info("bypass: aligning the jobs", "online", online.String(), "side", side.String(), "target", target.String())
	if !online.Equal(target) {
		// The side job got ahead: run the online job (old logic, its own
		// output) up to the same offsets, so that nothing is skipped. It
		// runs on a copy of its state: the online state is never modified
		// (an abort restarts the old job on it; what the copy produced is
		// then re-sent exactly).
		cp := b.onlineCopyDir()
		if _, err := os.Stat(cp); errors.Is(err, fs.ErrNotExist) {
			if err := copyTree(b.cfg.OnlineStateDir, cp); err != nil {
				return err
			}
		}
		spec := b.onlineSpec(target)
		spec.StateDir = cp
		if err := b.runTo(ctx, Online, spec, cp, target); err != nil {
			return err
		}
	}
	if !side.Equal(target) {
		if err := b.runTo(ctx, Side, b.sideSpec(target), b.sideStateDir(), target); err != nil {
			return err
		}
	}
	st.OnlineOffsets = target
	tmp := ckpt + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	dirs, err := stateDirs(b.sideStateDir())
	if err != nil {
		return err
	}
	for _, d := range dirs {
		// One checkpoint per partition (p<N>), in the same layout.
		rel, _ := filepath.Rel(b.sideStateDir(), d)
		if err := checkpointOne(ctx, d, filepath.Join(tmp, rel)); err != nil {
			return err
		}
	}
	syncDir(tmp)
	if err := os.Rename(tmp, ckpt); err != nil {
		return err
	}
	st.Checkpoint = ckpt
	b.log.Info("bypass: side job checkpointed", "checkpoint", ckpt, "offsets", target.String())
	return nil
}

// checkpointOne checkpoints the state in dir (with its manifest) into dst.
func checkpointOne(ctx context.Context, dir, dst string) error {
	man, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		return fmt.Errorf("the side job wrote no manifest in %s (does its runner write one?): %w", dir, err)
	}
	db, err := state.Open(dir, state.Options{})
	if err != nil {
		return fmt.Errorf("open the side job's state %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		db.Close()
		return err
	}
	err = db.Checkpoint(ctx, dst)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(filepath.Join(dst, manifest.FileName), man)
}

// runTo starts a stopped job with StopAt and waits until it has stopped
// there.
func (b *Bypass) runTo(ctx context.Context, role Role, spec JobSpec, dir string, target Offsets) error {
	b.log.Info("bypass: running a job up to the target offsets", "job", role, "target", target.String())
	if err := b.cfg.Jobs.Start(ctx, role, spec); err != nil {
		return err
	}
	if err := b.cfg.Jobs.Wait(ctx, role); err != nil {
		return fmt.Errorf("%s job: %w", role, err)
	}
	got, err := readOffsets(dir)
	if err != nil {
		return err
	}
	if !got.Equal(target) {
		return fmt.Errorf("the %s job stopped at %s, not at %s", role, got, target)
	}
	return nil
}

// Stage 6.
func (b *Bypass) matchOffsets(ctx context.Context, st *Status) error {
	online, err := readOffsets(b.onlineAt())
	if err != nil {
		return err
	}
	side, err := readOffsets(b.checkpointDir())
	if err != nil {
		return err
	}
	st.OnlineOffsets, st.SideOffsets = online, side
	var diffs []string
	for tp := range maxOffsets(online, side) {
		o, ok1 := online[tp]
		s, ok2 := side[tp]
		if o != s || ok1 != ok2 {
			diffs = append(diffs, fmt.Sprintf("%s/%d: online %d, side %d", tp.Topic, tp.Partition, o, s))
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		return fmt.Errorf("the jobs' committed offsets differ, so the switch would skip or repeat input: %v; Abort, or remove %s and Run again", diffs, b.checkpointDir())
	}
	b.log.Info("bypass: committed offsets match per partition", "offsets", online.String())
	return nil
}

// Stage 7.
func (b *Bypass) switchOnline(ctx context.Context, st *Status) error {
	dst := b.cfg.NewStateDir
	if _, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(b.checkpointDir(), dst); err != nil {
			return fmt.Errorf("move the checkpoint to %s: %w", dst, err)
		}
	} else if err != nil {
		return err
	}
	st.NewStateDir, st.Checkpoint = dst, dst
	if b.cfg.RetractOldKeys {
		if err := b.retract(ctx, st); err != nil {
			return err
		}
	}
	spec := JobSpec{Logic: NewLogic, StateDir: dst, OutputTopic: b.cfg.OnlineOutput.Topic, Group: b.cfg.OnlineGroup}
	if err := b.cfg.Jobs.Start(ctx, Online, spec); err != nil {
		return b.rollback(ctx, st, fmt.Errorf("the switched job did not start: %w", err))
	}
	if err := b.verifySwitch(ctx, st); err != nil {
		var sf *switchFailed
		if errors.As(err, &sf) {
			return b.rollback(ctx, st, err)
		}
		return err
	}
	b.log.Info("bypass: the online job runs the new logic on the rebuilt state", "state", dst, "lag", st.Switch.Lag, "lag_at_start", st.Switch.LagAtStart)
	return nil
}

// stateDirs lists the state directories under dir: the p<N> of a job's
// state root, or dir itself.
func stateDirs(dir string) ([]string, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("state %s: %w", dir, err)
	}
	ps, err := Partitions(dir)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return []string{dir}, nil
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = filepath.Join(dir, p)
	}
	return out, nil
}

// readOffsets returns the committed offsets of a stopped job's state (of
// every partition of a job's state root), reading it read-only: its files
// are not modified, and a missing store is an error, never a new one.
func readOffsets(dir string) (Offsets, error) {
	dirs, err := stateDirs(dir)
	if err != nil {
		return nil, err
	}
	out := Offsets{}
	for _, d := range dirs {
		db, err := state.Open(d, state.Options{ReadOnly: true})
		if err != nil {
			return nil, fmt.Errorf("open state %s read-only (is its job still running?): %w", d, err)
		}
		maps.Copy(out, db.Offsets())
		if err := db.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// copyTree copies the files of src into a new directory dst (built in
// dst.partial and renamed, so that a crash leaves no half copy at dst).
func copyTree(src, dst string) error {
	tmp := dst + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(tmp, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if d.Name() == "LOCK" || !d.Type().IsRegular() {
			return nil // the store's lock file (the copy gets its own), a job's control socket
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, tmp, err)
	}
	return os.Rename(tmp, dst)
}
