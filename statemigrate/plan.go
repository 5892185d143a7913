package statemigrate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/hotcold/hotcold/manifest"
)

// Verdict is what a plan concludes for an operator or a whole job.
type Verdict string

// The verdicts, from least to most severe.
const (
	// Unchanged: the state fits the new logic as it is.
	Unchanged Verdict = "unchanged"
	// Migrate: a state-column migration applies (Apply).
	Migrate Verdict = "migrate"
	// Rebuild: the state cannot be migrated; rebuild it with a side job
	// (Bypass).
	Rebuild Verdict = "rebuild"
	// Fix: the new manifest is not a valid successor of the old one; fix
	// it and plan again.
	Fix Verdict = "fix"
)

func (v Verdict) rank() int {
	switch v {
	case Migrate:
		return 1
	case Rebuild:
		return 2
	case Fix:
		return 3
	}
	return 0
}

func verdictOf(a manifest.Action) Verdict {
	switch a {
	case manifest.ActionMetadata, manifest.ActionRewrite:
		return Migrate
	case manifest.ActionRebuild:
		return Rebuild
	case manifest.ActionFix:
		return Fix
	}
	return Unchanged
}

// Plan is the verdict on migrating the state of a job from one manifest to
// another: per operator, whether its state fits as is, can be migrated
// (and whether its values must be rewritten), or must be rebuilt, with the
// reasons. Make one with NewPlan; it is immutable.
type Plan struct {
	// From and To are the manifests compared.
	From *manifest.Manifest `json:"-"`
	To   *manifest.Manifest `json:"-"`
	// Verdict is the most severe operator verdict.
	Verdict Verdict `json:"verdict"`
	// Operators has one entry per operator of To, then one per operator
	// only in From (removed).
	Operators []OperatorPlan `json:"operators"`
}

// OperatorPlan is the verdict for one operator.
type OperatorPlan struct {
	// ID is the operator id.
	ID string `json:"id"`
	// Kind is join or agg.
	Kind manifest.OperatorKind `json:"kind"`
	// Verdict is the most severe of the changes' verdicts.
	Verdict Verdict `json:"verdict"`
	// Rewrite says that Apply rewrites the stored values (a dropped or
	// reordered column); false for a migration that only updates the
	// manifest (appended columns decode from the old values as they are).
	Rewrite bool `json:"rewrite"`
	// Changes are the differences with their reasons.
	Changes []manifest.Change `json:"changes"`
	// Suggestion says what to do next.
	Suggestion string `json:"suggestion"`
}

// NewPlan compares the manifest of saved state (old) with the manifest of
// the new logic (new). Both must be valid (manifest.Parse validates).
func NewPlan(old, new *manifest.Manifest) *Plan {
	p := &Plan{From: old, To: new, Verdict: Unchanged}
	changes := manifest.Diff(old, new)
	byOp := map[string][]manifest.Change{}
	for _, c := range changes {
		byOp[c.Operator] = append(byOp[c.Operator], c)
	}
	add := func(id string, kind manifest.OperatorKind) {
		op := OperatorPlan{ID: id, Kind: kind, Verdict: Unchanged, Changes: byOp[id]}
		if op.Changes == nil {
			op.Changes = []manifest.Change{}
		}
		action := manifest.ActionNone
		for _, c := range op.Changes {
			action = max(action, c.Action)
		}
		op.Verdict = verdictOf(action)
		op.Rewrite = action == manifest.ActionRewrite
		op.Suggestion = suggest(op)
		if op.Verdict.rank() > p.Verdict.rank() {
			p.Verdict = op.Verdict
		}
		p.Operators = append(p.Operators, op)
	}
	for _, op := range new.Operators {
		add(op.ID, op.Kind)
	}
	for _, op := range old.Operators {
		if new.Operator(op.ID) == nil {
			add(op.ID, op.Kind)
		}
	}
	return p
}

func suggest(op OperatorPlan) string {
	switch op.Verdict {
	case Unchanged:
		return "nothing to do"
	case Migrate:
		if op.Rewrite {
			return "hotcold migrate apply rewrites this operator's state values"
		}
		return "hotcold migrate apply updates the manifest; the saved values are read as they are"
	case Fix:
		return "fix the new manifest (see the changes marked fix), then plan again"
	}
	for _, c := range op.Changes {
		switch c.Kind {
		case manifest.AggregateChanged:
			return "add the aggregate under a new name instead (migrates; counted from the migration point), or rebuild the state with hotcold migrate bypass"
		case manifest.ColumnTypeChanged:
			return "add a column under a new name instead (migrates), or rebuild the state with hotcold migrate bypass"
		}
	}
	return "rebuild the state with a side job: hotcold migrate bypass"
}

// Overall returns one sentence on what to do with the whole job.
func (p *Plan) Overall() string {
	switch p.Verdict {
	case Unchanged:
		return "unchanged: the saved state fits the new logic as it is"
	case Migrate:
		return "migrate: run hotcold migrate apply --state DIR --to NEW.yaml --out NEWDIR, then start the new job on NEWDIR"
	case Rebuild:
		return "rebuild: the state cannot be migrated in place; run hotcold migrate bypass to rebuild it with a side job and switch over"
	}
	return "fix: the new manifest is not a valid successor of the old one; fix it and plan again"
}

// Format writes the plan as a human-readable table.
func (p *Plan) Format(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OPERATOR\tKIND\tVERDICT\tACTION\tCHANGE")
	for _, op := range p.Operators {
		verdict := string(op.Verdict)
		if op.Verdict == Migrate {
			if op.Rewrite {
				verdict += " (rewrite)"
			} else {
				verdict += " (metadata)"
			}
		}
		if len(op.Changes) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\n", op.ID, op.Kind, verdict)
			continue
		}
		for i, c := range op.Changes {
			id, kind, v := op.ID, string(op.Kind), verdict
			if i > 0 {
				id, kind, v = "", "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, kind, v, c.Action, changeText(c))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, op := range p.Operators {
		if op.Verdict != Unchanged {
			if _, err := fmt.Fprintf(w, "%s: %s\n", op.ID, op.Suggestion); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "overall: %s\n", p.Overall())
	return err
}

func changeText(c manifest.Change) string {
	var where []string
	if c.Table != "" {
		where = append(where, "state "+c.Table)
	}
	if c.Column != "" {
		where = append(where, "column "+c.Column)
	}
	if len(where) == 0 {
		return c.Detail
	}
	return strings.Join(where, " ") + ": " + c.Detail
}

// String renders the plan as Format does.
func (p *Plan) String() string {
	var b strings.Builder
	_ = p.Format(&b)
	return b.String()
}

// MarshalJSON renders the plan for --json.
func (p *Plan) MarshalJSON() ([]byte, error) {
	type plain Plan
	return json.Marshal(struct {
		*plain
		Overall string `json:"overall"`
	}{(*plain)(p), p.Overall()})
}
