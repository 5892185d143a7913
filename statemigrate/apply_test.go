package statemigrate_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/statemigrate"
)

// dirHash fingerprints every file of a directory tree.
func dirHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err // directories, and a running job's control socket
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestMigratedJobContinuesLikeTheNewLogicFromTheStart runs the demo job
// with the old logic on the first half of the input, migrates its state to
// the new logic (two metrics added), continues on the second half, and
// compares with the new logic run over all input: every old column is
// equal; the new metrics equal what was counted from the migration point.
func TestMigratedJobContinuesLikeTheNewLogicFromTheStart(t *testing.T) {
	evs := workload(1, 3000)
	half := len(evs) / 2
	oldDir, newDir := t.TempDir()+"/old", t.TempDir()+"/new"

	old := openDemo(t, oldDir, 1)
	old.push(evs[:half])
	migratedAt := len(old.joined)
	old.close()

	plan := statemigrate.NewPlan(demoManifest(t, 1), demoManifest(t, 2))
	if plan.Verdict != statemigrate.Migrate {
		t.Fatalf("plan:\n%s", plan)
	}
	before := dirHash(t, oldDir)
	var progress []statemigrate.ApplyProgress
	res, err := statemigrate.Apply(context.Background(), oldDir, plan, newDir, statemigrate.ApplyOptions{
		ProgressEvery: 500, SampleEvery: 7,
		Progress: func(p statemigrate.ApplyProgress) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if after := dirHash(t, oldDir); after != before {
		t.Fatal("Apply modified the source state")
	}
	if len(progress) < 2 || !progress[len(progress)-1].Done {
		t.Fatalf("progress reports %+v", progress)
	}
	var rows int64
	for _, op := range res.Operators {
		rows += op.Rows
		if op.Rows > 0 && op.Sampled == 0 {
			t.Errorf("operator %s: no row was sample-decoded", op.ID)
		}
	}
	if rows == 0 || rows != progress[len(progress)-1].Rows {
		t.Fatalf("rows per operator %+v, progress %+v", res.Operators, progress[len(progress)-1])
	}
	cf := res.Manifest.Operator("refunds_by_city").Tables[0].Column("refund_count").CountedFrom
	if cf == nil || cf.Time.IsZero() {
		t.Fatalf("refund_count has no counted_from: %+v", res.Manifest.Operator("refunds_by_city").Tables[0])
	}

	migrated := openDemo(t, newDir, 2)
	migrated.push(evs[half:])
	migrated.close()

	ref := openDemo(t, t.TempDir(), 2)
	ref.push(evs)
	ref.close()

	// Downstream sees the old job's changelog, then the migrated job's.
	s := migrated.agg.OutputSchema()
	got := table(s, append(append([]row.Row(nil), old.out...), migrated.out...))
	want := table(s, ref.out)
	if len(got) != len(want) {
		t.Fatalf("%d groups after migration, %d from the start", len(got), len(want))
	}
	counted := countedFrom(ref.joined, migratedAt)
	updated := 0
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("group %s missing after migration", k)
		}
		// city, order_day, refund_total: as if the new logic ran from the start.
		for i := 0; i < 3; i++ {
			if !row.Equal(g.Values[i], w.Values[i]) {
				t.Fatalf("group %s column %s: %s after migration, %s from the start", k, s.Column(i).Name, g.Format(s), w.Format(s))
			}
		}
		c := counted[k]
		if c == nil {
			c = &newMetrics{}
		}
		if len(g.Values) == 3 {
			// Not updated since the migration: nothing counted yet.
			if c != nil && (c.count != 0 || !c.max().IsNull()) {
				t.Fatalf("group %s was not updated after the migration, but the reference counted %d", k, c.count)
			}
			continue
		}
		updated++
		if g.Values[3].Int64() != c.count || !row.Equal(g.Values[4], c.max()) {
			t.Fatalf("group %s: new metrics %s, counted from the migration point: count %d max %s", k, g.Format(s), c.count, c.max().Format(s.Column(4).Type))
		}
	}
	if updated == 0 {
		t.Fatal("no group was updated after the migration")
	}
}

// newMetrics is the reference for refund_count and refund_max counted from
// the migration point: changes after it, reset when the group is deleted.
type newMetrics struct {
	count int64
	vals  map[decimal128.Num]int64
}

func (m *newMetrics) max() row.Value {
	var best row.Value
	if m == nil {
		return best
	}
	for v, n := range m.vals {
		if n > 0 && (best.IsNull() || v.Greater(best.Decimal())) {
			best = row.DecimalValue(v)
		}
	}
	return best
}

func countedFrom(joined []row.Row, from int) map[string]*newMetrics {
	rows := map[string]int64{}
	out := map[string]*newMetrics{}
	for i, r := range joined {
		k := fmt.Sprint([]row.Value{r.Values[1], r.Values[2]})
		sign := int64(1)
		if !r.Kind.IsAccumulate() {
			sign = -1
		}
		if rows[k] == 0 && sign < 0 {
			continue
		}
		rows[k] += sign
		if rows[k] == 0 {
			delete(out, k)
			continue
		}
		if i < from {
			continue
		}
		m := out[k]
		if m == nil {
			m = &newMetrics{vals: map[decimal128.Num]int64{}}
			out[k] = m
		}
		if !r.Values[3].IsNull() {
			m.count += sign
		}
		if v := r.Values[4]; !v.IsNull() {
			m.vals[v.Decimal()] += sign
		}
	}
	return out
}

func TestApplyRerunIsANoOpAndLeftoversAreReplaced(t *testing.T) {
	src, out := t.TempDir()+"/old", t.TempDir()+"/new"
	j := openDemo(t, src, 1)
	j.push(workload(2, 100))
	j.close()
	plan := statemigrate.NewPlan(demoManifest(t, 1), demoManifest(t, 2))
	// A crashed earlier run left a partial output behind.
	if err := os.MkdirAll(out+".partial/junk", 0o755); err != nil {
		t.Fatal(err)
	}
	first, err := statemigrate.Apply(context.Background(), src, plan, out, statemigrate.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first.AlreadyDone {
		t.Fatal("first run reported AlreadyDone")
	}
	if _, err := os.Stat(out + ".partial"); !os.IsNotExist(err) {
		t.Fatalf("partial output left behind: %v", err)
	}
	h := dirHash(t, out)
	again, err := statemigrate.Apply(context.Background(), src, plan, out, statemigrate.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !again.AlreadyDone || fmt.Sprint(again.Operators) != fmt.Sprint(first.Operators) {
		t.Fatalf("re-run: %+v, first %+v", again, first)
	}
	if dirHash(t, out) != h {
		t.Fatal("re-run changed the output")
	}
	// Another migration into the same directory is refused.
	other := demoManifest(t, 2)
	other.Operators[1].Version = 3
	_, err = statemigrate.Apply(context.Background(), src, statemigrate.NewPlan(demoManifest(t, 1), other), out, statemigrate.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "already holds another migration") {
		t.Fatalf("Apply into a used directory: %v", err)
	}
}

func TestApplyRefusesWhatItCannotMigrate(t *testing.T) {
	src := t.TempDir() + "/old"
	j := openDemo(t, src, 1)
	j.push(workload(3, 50))
	j.close()
	from := demoManifest(t, 1)

	rebuild := demoManifest(t, 1)
	rebuild.Operators[0].JoinType = "inner"
	_, err := statemigrate.Apply(context.Background(), src, statemigrate.NewPlan(from, rebuild), t.TempDir()+"/x", statemigrate.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "verdict is rebuild") || !strings.Contains(err.Error(), "hotcold migrate bypass") {
		t.Fatalf("rebuild plan: %v", err)
	}

	// A plan made from another manifest than the state's.
	stale := demoManifest(t, 2)
	_, err = statemigrate.Apply(context.Background(), src, statemigrate.NewPlan(stale, stale), t.TempDir()+"/x", statemigrate.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "not the plan's old manifest") {
		t.Fatalf("stale plan: %v", err)
	}

	_, err = statemigrate.Apply(context.Background(), t.TempDir(), statemigrate.NewPlan(from, from), t.TempDir()+"/x", statemigrate.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "no readable manifest") {
		t.Fatalf("no manifest: %v", err)
	}
}

// TestApplyRewritesDroppedColumns drops a join column and an aggregate:
// the values are rewritten and the new job reads them.
func TestApplyRewritesDroppedColumns(t *testing.T) {
	src, out := t.TempDir()+"/old", t.TempDir()+"/new"
	j := openDemo(t, src, 2)
	j.push(workload(4, 300))
	j.close()
	from := demoManifest(t, 2)
	to := from.Clone()
	a := &to.Operators[1]
	a.Version = 3
	a.Tables[0].Columns = append(a.Tables[0].Columns[:3], a.Tables[0].Columns[4]) // drop refund_count
	plan := statemigrate.NewPlan(from, to)
	if plan.Verdict != statemigrate.Migrate || !plan.Operators[1].Rewrite {
		t.Fatalf("plan:\n%s", plan)
	}
	res, err := statemigrate.Apply(context.Background(), src, plan, out, statemigrate.ApplyOptions{SampleEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Operators[1]; r.Rewritten != r.Rows || r.Sampled < r.Rows || r.Rows == 0 {
		t.Fatalf("agg result %+v", r)
	}
	if res.Operators[0].Rewritten != 0 {
		t.Fatalf("join rewritten without need: %+v", res.Operators[0])
	}
	m, err := manifest.Read(filepath.Join(out, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if m.Operator("refunds_by_city").Tables[0].Column("refund_count") != nil {
		t.Fatal("dropped column still in the manifest")
	}
}
