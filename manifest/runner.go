package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hotcold/hotcold/row"
)

// Runner names the command and configuration file a job's manifest is
// derived from, so that a refusal says what to run next in the user's
// terms.
type Runner struct {
	// Command is the job's command, e.g. "hotcold join".
	Command string
	// ConfigFile is the job's configuration file (empty when not known).
	ConfigFile string
}

func (r Runner) config() string {
	if r.ConfigFile == "" {
		return "CONFIG.yaml"
	}
	return r.ConfigFile
}

// EnsureJobState is what a runner calls before it opens the state in dir
// (one partition's state directory under the job's state root):
//
//   - a directory that does not exist or is empty gets want as its
//     manifest (new state);
//   - a directory that holds data but no manifest is refused
//     (*StateRefusedError with Reason NoManifest);
//   - a manifest of another job is refused (Reason OtherJob);
//   - a manifest that Diff finds different from want is refused (Reason
//     Mismatch), naming every change in the config's terms and the
//     command that applies.
//
// On success it returns the manifest on disk (which may carry
// CountedFrom marks).
func EnsureJobState(dir string, want *Manifest, r Runner) (*Manifest, error) {
	if err := want.Validate(); err != nil {
		return nil, fmt.Errorf("manifest: the manifest derived from %s is invalid: %w", r.config(), err)
	}
	path := filepath.Join(dir, FileName)
	onDisk, err := Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		if has, herr := holdsData(dir); herr != nil {
			return nil, herr
		} else if has {
			return nil, &StateRefusedError{Reason: NoManifest, Dir: dir, Job: want.Job, Runner: r}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		if err := Write(path, want); err != nil {
			return nil, err
		}
		return want.Clone(), nil
	}
	if err != nil {
		return nil, err
	}
	if onDisk.Job != want.Job {
		return nil, &StateRefusedError{Reason: OtherJob, Dir: dir, Job: want.Job, StateJob: onDisk.Job, Runner: r}
	}
	if changes := Diff(onDisk, want); len(changes) > 0 {
		return nil, &StateRefusedError{Reason: Mismatch, Dir: dir, Job: want.Job, StateJob: onDisk.Job, Runner: r,
			Changes: changes, old: onDisk, new: want}
	}
	return onDisk, nil
}

// holdsData says whether dir exists and holds anything but a manifest (or
// the temporary file of one being written).
func holdsData(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("manifest: %w", err)
	}
	for _, e := range ents {
		if n := e.Name(); n != FileName && !strings.HasPrefix(n, "."+FileName+".tmp-") {
			return true, nil
		}
	}
	return false, nil
}

// RefusedReason says why a runner refused a state directory.
type RefusedReason uint8

// The reasons.
const (
	// NoManifest: the directory holds data but no manifest.
	NoManifest RefusedReason = iota + 1
	// OtherJob: the manifest is another job's.
	OtherJob
	// Mismatch: the manifest is the job's, for other logic.
	Mismatch
)

// StateRefusedError is returned by EnsureJobState when a runner must not
// start on the state in Dir.
type StateRefusedError struct {
	Reason RefusedReason
	// Dir is the partition's state directory.
	Dir string
	// Job is the job that wants to run; StateJob the job of the state.
	Job, StateJob string
	// Runner names the command and config file, for the next steps.
	Runner Runner
	// Changes are the differences (Reason Mismatch), from the state to the
	// config.
	Changes []Change

	old, new *Manifest
}

// Action returns the strongest action the changes need.
func (e *StateRefusedError) Action() Action {
	return (&MismatchError{Changes: e.Changes}).Action()
}

func (e *StateRefusedError) Error() string {
	var b strings.Builder
	root := filepath.Dir(e.Dir)
	cfg := e.Runner.config()
	manifestCmd := fmt.Sprintf("%s manifest --config %s > new-manifest.yaml", e.Runner.Command, cfg)
	switch e.Reason {
	case NoManifest:
		fmt.Fprintf(&b, "manifest: %s holds state but no %s, so nothing says which job and logic wrote it; nothing was read or changed.\n", e.Dir, FileName)
		fmt.Fprintf(&b, "If it is the state of this job (%q) under the logic of %s (e.g. written by a hotcold before manifests), write its manifest into every partition directory of %s:\n", e.Job, cfg, root)
		fmt.Fprintf(&b, "  %s manifest --config %s > %s\n", e.Runner.Command, cfg, filepath.Join(e.Dir, FileName))
		b.WriteString("Otherwise point state.dir (or --state-dir) at this job's own state, or at an empty directory to start afresh.")
	case OtherJob:
		fmt.Fprintf(&b, "manifest: %s is the state of job %q, this is job %q (%s); nothing was read or changed.\n", e.Dir, e.StateJob, e.Job, cfg)
		fmt.Fprintf(&b, "Point state.dir (or --state-dir) at job %q's own state, or at an empty directory to start afresh; if %s is meant to continue job %q, give it the same name.", e.Job, cfg, e.StateJob)
	case Mismatch:
		fmt.Fprintf(&b, "manifest: %s was written by job %q under other logic than %s describes; nothing was read or changed:", e.Dir, e.Job, cfg)
		for _, c := range e.Changes {
			b.WriteString("\n  - ")
			b.WriteString(e.describe(c))
		}
		b.WriteString("\n")
		next := ActionNone
		fix := false
		for _, c := range e.Changes {
			if c.Action == ActionFix {
				fix = true
			} else {
				next = max(next, c.Action)
			}
		}
		if fix {
			fmt.Fprintf(&b, "First fix %s (the changes marked [fix]). ", cfg)
		}
		switch next {
		case ActionRebuild:
			fmt.Fprintf(&b, "The saved state cannot be migrated in place: rebuild it with a side job. Run `%s`, `hotcold migrate plan --from %s --to new-manifest.yaml` for details, then `hotcold migrate bypass` (see hotcold migrate bypass --help). To keep the old logic, start with the config the state was written with.", manifestCmd, root)
		case ActionMetadata, ActionRewrite:
			fmt.Fprintf(&b, "A state migration applies: with the job stopped run `%s`, `hotcold migrate plan --from %s --to new-manifest.yaml`, then `hotcold migrate apply --state %s --to new-manifest.yaml --out NEWDIR` and point state.dir (or --state-dir) at NEWDIR.", manifestCmd, root, root)
		default:
			fmt.Fprintf(&b, "Then start again; `%s` and `hotcold migrate plan --from %s --to new-manifest.yaml` show the details.", manifestCmd, root)
		}
	}
	return b.String()
}

// describe renders a change in the terms of the job's config: join sides
// by input name ("column orders.amount"), types as the config spells them.
func (e *StateRefusedError) describe(c Change) string {
	var where string
	var op *Operator
	if e.new != nil {
		op = e.new.Operator(c.Operator)
	}
	if op == nil && e.old != nil {
		op = e.old.Operator(c.Operator)
	}
	var oldT, newT *Table
	if op != nil && c.Table != "" {
		oldT, newT = e.table(e.old, c.Operator, c.Table), e.table(e.new, c.Operator, c.Table)
	}
	prefix := ""
	if op != nil && op.Kind == KindJoin {
		t := newT
		if t == nil {
			t = oldT
		}
		if t != nil && t.Input != "" {
			prefix = t.Input + "."
		}
	}
	switch {
	case c.Column != "":
		where = "column " + prefix + c.Column
	case c.Table != "" && prefix != "":
		where = "input " + strings.TrimSuffix(prefix, ".")
	case c.Table != "":
		where = "state " + c.Table
	default:
		where = "operator " + c.Operator
	}
	detail := c.Detail
	switch c.Kind {
	case ColumnTypeChanged:
		if oldT != nil && newT != nil {
			if oc, nc := oldT.Column(c.Column), newT.Column(c.Column); oc != nil && nc != nil {
				detail = fmt.Sprintf("type %s in state, %s in config", SQLType(oc.Type), SQLType(nc.Type))
			}
		}
	case VersionNotBumped:
		if op != nil && e.old != nil {
			if o := e.old.Operator(c.Operator); o != nil {
				detail = fmt.Sprintf("the state columns changed but version stayed %d: set version: %d in %s", o.Version, o.Version+1, e.Runner.config())
			}
		}
	case VersionChanged:
		if o := e.old.Operator(c.Operator); o != nil && op != nil {
			detail = fmt.Sprintf("version %d in state, %d in config", o.Version, op.Version)
		}
	}
	return fmt.Sprintf("%s: %s [%s]", where, detail, c.Action)
}

func (e *StateRefusedError) table(m *Manifest, op, ns string) *Table {
	if m == nil {
		return nil
	}
	o := m.Operator(op)
	if o == nil {
		return nil
	}
	for i := range o.Tables {
		if o.Tables[i].Namespace == ns {
			return &o.Tables[i]
		}
	}
	return nil
}

// SQLType spells a type the way configuration files usually do (and
// row.ParseType reads): bigint, int, double, float, string, bytes,
// boolean, date, timestamp(3), timestamp_ltz(6), decimal(18, 2).
func SQLType(t row.Type) string {
	switch t.ID {
	case row.TypeBool:
		return "boolean"
	case row.TypeInt32:
		return "int"
	case row.TypeInt64:
		return "bigint"
	case row.TypeFloat32:
		return "float"
	case row.TypeFloat64:
		return "double"
	case row.TypeString:
		return "string"
	case row.TypeBinary:
		return "bytes"
	case row.TypeDate32:
		return "date"
	case row.TypeTimestamp:
		p := 3
		if t.Unit == row.Microsecond {
			p = 6
		}
		switch t.Zone {
		case "":
			return fmt.Sprintf("timestamp(%d)", p)
		case "UTC":
			return fmt.Sprintf("timestamp_ltz(%d)", p)
		}
		return t.String()
	case row.TypeDecimal128:
		return fmt.Sprintf("decimal(%d, %d)", t.Precision, t.Scale)
	}
	return t.String()
}
