package runner_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
)

// retyped returns s with column name's type replaced.
func retyped(t *testing.T, s *row.Schema, name string, typ row.Type) *row.Schema {
	t.Helper()
	cols := s.Columns()
	cols[s.Index(name)].Type = typ
	out, err := row.NewSchema(cols, s.KeyNames(), s.Version())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunnerWritesItsManifestAndRefusesStateOfOtherLogic is issue #18
// point 1: the join writes the manifest derived from its config into every
// partition's state, and a restart with a column retyped (bigint ->
// timestamp(3)) on that state is refused, naming the change and what to
// run, instead of decoding old values as garbage.
func TestRunnerWritesItsManifestAndRefusesStateOfOtherLogic(t *testing.T) {
	c := newCluster(t)
	w := genWorkload(20)
	produceWorkload(t, c.ListenAddrs(), w)
	total := int64(len(w.orders) + len(w.refunds))
	dir := t.TempDir()
	cold := w.coldStore(t, 7)
	cfg := runnerConfig(c.ListenAddrs(), dir, cold)
	want, err := cfg.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if want.Job != "orders_refunds" || want.Operators[0].Tables[0].Namespace != "orders_refunds/orders" || want.Operators[0].Output != "out" {
		t.Fatalf("derived manifest %+v", want)
	}
	runUntil(t, cfg, func(s runner.Stats) bool { return s.Records >= total })
	dirs, _ := filepath.Glob(filepath.Join(dir, "p*"))
	if len(dirs) != 3 {
		t.Fatalf("state dirs %v, want p0..p2", dirs)
	}
	for _, d := range dirs {
		m, err := manifest.Read(filepath.Join(d, manifest.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if err := manifest.Check(m, want); err != nil || m.Job != want.Job {
			t.Fatalf("%s: manifest %+v differs from the derived one: %v", d, m, err)
		}
	}
	// The same config starts again.
	if _, err := runner.New(cfg); err != nil {
		t.Fatalf("restart with the same config: %v", err)
	}

	// amount retyped bigint -> timestamp(3).
	bad := runnerConfig(c.ListenAddrs(), dir, cold)
	bad.ConfigFile = "join.yaml"
	bad.Join.Left.Schema = retyped(t, ordersSchema, "amount", row.Timestamp(row.Millisecond, ""))
	_, err = runner.New(bad)
	if err == nil {
		t.Fatal("a retyped column on old state was accepted")
	}
	for _, s := range []string{
		"column orders.amount: type bigint in state, timestamp(3) in config [rebuild]",
		"set version: 2 in join.yaml",
		"hotcold join manifest --config join.yaml > new-manifest.yaml",
		"hotcold migrate plan --from " + dir + " --to new-manifest.yaml",
		"hotcold migrate bypass",
		"nothing was read or changed",
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}

	// Another job's state.
	other := runnerConfig(c.ListenAddrs(), dir, cold)
	other.Job = "refunds_audit"
	_, err = runner.New(other)
	if err == nil || !strings.Contains(err.Error(), `is the state of job "orders_refunds", this is job "refunds_audit"`) || strings.Contains(err.Error(), "bypass") {
		t.Fatalf("another job's state: %v", err)
	}

	// State without a manifest.
	if err := os.Remove(filepath.Join(dirs[0], manifest.FileName)); err != nil {
		t.Fatal(err)
	}
	_, err = runner.New(bad)
	if err == nil || !strings.Contains(err.Error(), "holds state but no "+manifest.FileName) ||
		!strings.Contains(err.Error(), "hotcold join manifest --config join.yaml > "+filepath.Join(dirs[0], manifest.FileName)) {
		t.Fatalf("state without a manifest: %v", err)
	}
}

// A column added with a default: the manifest records the default and
// the schema version; both come from the config.
func TestManifestRecordsVersionAndDefaults(t *testing.T) {
	f, err := runner.ParseFile("join.yaml", []byte(strings.Replace(manifestJoinYAML, "VERSION", "version: 3", 1)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	op := m.Operators[0]
	ch := op.Tables[0].Column("channel")
	if op.Version != 3 || ch == nil || ch.Default == nil || *ch.Default != "unknown" || m.Job != "orders_refunds" || op.JoinType != "left" {
		t.Fatalf("manifest %+v", m)
	}
	cfg, err := f.Config(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Join.Left.Schema
	if s.Version() != 3 || s.Column(s.Index("channel")).Default.String() != "unknown" {
		t.Fatalf("left schema %s, default %v", s, s.Column(s.Index("channel")).Default)
	}

	f, err = runner.ParseFile("join.yaml", []byte(strings.Replace(strings.Replace(manifestJoinYAML, "VERSION", "", 1), "default: unknown", "default: [x]", 1)))
	if err == nil {
		_, err = f.Config(nil)
	}
	if err == nil || !strings.Contains(err.Error(), "left.columns[2].default") {
		t.Fatalf("bad default: %v", err)
	}
}

const manifestJoinYAML = `
name: orders_refunds
type: left
VERSION
kafka: {brokers: [localhost:9092], group: g}
left:
  name: orders
  topic: orders
  key: [order_id]
  event_time: order_ts
  columns:
    - {name: order_id, type: bigint}
    - {name: order_ts, type: timestamp(3)}
    - {name: channel, type: string, default: unknown}
right:
  name: refunds
  topic: refunds
  key: [order_id]
  event_time: refund_ts
  columns:
    - {name: refund_id, type: bigint}
    - {name: order_id, type: bigint}
    - {name: refund_ts, type: timestamp(3)}
output:
  topic: out
  columns:
    - {from: left.order_id}
    - {from: left.channel}
    - {from: right.refund_id}
state: {dir: ./state}
`
