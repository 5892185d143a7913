package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/statemigrate"
)

// These tests drive the shipped commands as processes: this test binary
// runs main when HOTCOLD_TEST_MAIN=1, so `self join ...`, `self agg ...`
// and `self migrate bypass ...` are the real CLI.

// bypassJob is one job kind under test.
type bypassJob struct {
	kind             string // join or agg
	inputs           []string
	output, outputV2 string
	group, groupV2   string
	configs          map[string]string // old, new
	produce          func(from, n int)
}

type bypassRun struct {
	t       *testing.T
	job     bypassJob
	brokers string
	self    string
	tmp     string
	work    string
	online  string
	pidFile string
}

func newBypassRun(t *testing.T, topics []string, mk func(brokers string) bypassJob) *bypassRun {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOTCOLD_TEST_MAIN", "1")
	tmp := t.TempDir()
	r := &bypassRun{t: t, brokers: c.ListenAddrs()[0], self: self, tmp: tmp,
		work: filepath.Join(tmp, "bypass"), online: filepath.Join(tmp, "online"), pidFile: filepath.Join(tmp, "job.pid")}
	r.job = mk(r.brokers)
	return r
}

// jobCmd is the --old-cmd/--new-cmd of a logic. Without exec: the pid file
// holds the shell, and a stop must reach the job through its group.
func (r *bypassRun) jobCmd(logic string) string {
	return fmt.Sprintf("%s %s --config %s --state-dir {state} --output-topic {output} --group {group} --stop-at {stop_at} --log-level debug", r.self, r.job.kind, r.job.configs[logic])
}

// startOnline starts the online job with the old logic as a process
// manager would, with its pid file, and waits until it has consumed the
// input.
func (r *bypassRun) startOnline() {
	t := r.t
	line := "echo $$ > " + r.pidFile + ".tmp && mv " + r.pidFile + ".tmp " + r.pidFile + " && exec " +
		strings.NewReplacer("{state}", r.online, "{output}", r.job.output, "{group}", r.job.group, "{stop_at}", "''").Replace(r.jobCmd("old"))
	cmd := exec.Command("/bin/sh", "-c", line)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		// The jobs CommandJobs started (the online job after the switch
		// or a restore, a side job left by a failure).
		jobs := statemigrate.CommandJobs{Dir: r.work, StopTimeout: 10 * time.Second}
		for _, role := range []statemigrate.Role{statemigrate.Online, statemigrate.Side} {
			if err := jobs.Stop(context.Background(), role); err != nil {
				t.Error(err)
			}
			jobs.Wait(context.Background(), role)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err1 := os.Stat(filepath.Join(r.online, "p1", manifest.FileName))
		_, err2 := os.Stat(r.pidFile)
		if err1 == nil && err2 == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("the online job exited:\n%s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the online job did not start")
		}
		time.Sleep(20 * time.Millisecond) // polling the child process
	}
	r.waitGroup(r.job.group)
}

// waitGroup waits until group has committed the end offsets of the inputs.
func (r *bypassRun) waitGroup(group string) {
	for _, in := range r.job.inputs {
		waitGroupAt(r.t, r.brokers, group, in, nil)
	}
}

// bypassArgs are the documented arguments of the run, as a user gives
// them.
func (r *bypassRun) bypassArgs(extra ...string) []string {
	args := []string{"migrate", "bypass", "--work-dir", r.work, "--brokers", r.brokers, "--input", strings.Join(r.job.inputs, ","),
		"--online-state", r.online, "--online-output", r.job.output, "--online-group", r.job.group,
		"--online-pid-file", r.pidFile, "--side-output", r.job.outputV2, "--side-group", r.job.groupV2,
		"--online-config", r.job.configs["old"], "--new-config", r.job.configs["new"],
		"--old-cmd", r.jobCmd("old"), "--new-cmd", r.jobCmd("new"), "--poll", "50ms", "--stop-timeout", "20s", "--switch-timeout", "60s"}
	return append(args, extra...)
}

// bypassProc is a running `hotcold migrate bypass` process.
type bypassProc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

func (r *bypassRun) startBypass(extra ...string) *bypassProc {
	r.t.Helper()
	cmd := exec.Command(r.self, r.bypassArgs(extra...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	p := &bypassProc{cmd: cmd, out: &out, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	r.t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	return p
}

func (r *bypassRun) stage() statemigrate.Stage {
	b, err := os.ReadFile(filepath.Join(r.work, "bypass.json"))
	if err != nil {
		return statemigrate.StageNew
	}
	var st statemigrate.Status
	if err := json.Unmarshal(b, &st); err != nil {
		r.t.Fatalf("bypass.json: %v", err)
	}
	return st.Stage
}

// killAt kill -9s the bypass process as soon as its progress file shows
// stage s completed (it is then in the next stage).
func (r *bypassRun) killAt(p *bypassProc, s statemigrate.Stage) {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for slices_index(r.stage()) < slices_index(s) {
		select {
		case <-p.done:
			r.t.Fatalf("the bypass exited before stage %s: %v\n%s", s, p.cmd.ProcessState, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the bypass did not reach stage %s:\n%s", s, p.out.String())
		}
		time.Sleep(5 * time.Millisecond) // polling the child's progress file
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	<-p.done
	r.t.Logf("killed the bypass (-9) after stage %s; its progress file says %s", s, r.stage())
}

func slices_index(s statemigrate.Stage) int {
	for i, x := range statemigrate.Stages() {
		if x == s {
			return i
		}
	}
	return -1
}

func (p *bypassProc) wait(t *testing.T) (string, int) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("the bypass did not finish:\n%s", p.out.String())
	}
	return p.out.String(), p.cmd.ProcessState.ExitCode()
}

// treeHash is a checksum of every file of a state directory.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
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

// runInterrupted runs the bypass to the end, kill -9ing its process in
// stage 3 (after side-caught-up) and in stage 5 (after online-stopped,
// with new input that puts the side job ahead), resuming each time. It
// returns the final status.
func (r *bypassRun) runInterrupted() *statemigrate.Status {
	t := r.t
	p := r.startBypass()
	r.killAt(p, statemigrate.StageSideCaughtUp)
	p = r.startBypass()
	r.killAt(p, statemigrate.StageOnlineStopped)
	stopped := treeHash(t, r.online)
	r.job.produce(1000, 9) // the side job runs on; stage 5 runs the old logic up to it
	p = r.startBypass()
	out, code := p.wait(t)
	if code != 0 || !strings.Contains(out, "stage online-switched") {
		t.Fatalf("bypass exit %d:\n%s", code, out)
	}
	if got := strings.Count(readFile(filepath.Join(r.work, "bypass.log")), "bypass: resuming"); got != 2 {
		t.Fatalf("%d resumes in bypass.log, want 2", got)
	}
	if treeHash(t, r.online) != stopped {
		t.Fatal("the bypass modified the online job's state after stopping it")
	}
	b, err := os.ReadFile(filepath.Join(r.work, "bypass.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st statemigrate.Status
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Stage != statemigrate.StageDone || !st.OnlineOffsets.Equal(st.SideOffsets) || len(st.OnlineOffsets) != 2*len(r.job.inputs) {
		t.Fatalf("status %s", b)
	}
	if st.Compare == nil || st.Compare.Compared == 0 || st.Compare.Differ != 0 {
		t.Fatalf("output check %+v", st.Compare)
	}
	if st.Switch == nil || st.Switch.Members == 0 {
		t.Fatalf("switch check %+v", st.Switch)
	}
	return &st
}

// outputRecords reads topic from its start to its end: the values by
// key, in order.
func outputRecords(t *testing.T, brokers, topic string) map[string][]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	out := map[string][]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("reading", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := remaining[r.Partition]; !ok || r.Offset >= end {
				return
			} else if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			out[string(r.Key)] = append(out[string(r.Key)], string(r.Value))
		})
	}
	return out
}

const bypassJoinYAML = `name: orders_refunds
kafka:
  brokers: [%s]
  group: orders_refunds
  start_from: earliest
  max_poll_records: 5
left:
  name: orders
  topic: orders
  key: [order_id]
  event_time: order_ts
  columns:
    - {name: order_id, type: bigint}
    - {name: order_ts, type: timestamp(3)}
    - {name: customer, type: string, nullable: true}
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
  topic: orders_refunds
  format: upsert-kafka
  key: [refund_id]
  columns:
    - {from: left.order_id}
    - {from: left.customer}
    - {from: right.refund_id}
%sstate:
  dir: ./unused
`

func joinBypassJob(t *testing.T, brokers string) bypassJob {
	dir := t.TempDir()
	configs := map[string]string{}
	for logic, extra := range map[string]string{"old": "", "new": "    - {from: right.refund_ts}\n"} {
		p := filepath.Join(dir, logic+".yaml")
		if err := os.WriteFile(p, []byte(fmt.Sprintf(bypassJoinYAML, brokers, extra)), 0o644); err != nil {
			t.Fatal(err)
		}
		configs[logic] = p
	}
	produce := func(from, n int) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			ts := time.Date(2026, 11, 1, 0, 0, i%3600, 0, time.UTC).Format("2006-01-02 15:04:05")
			key := []byte(fmt.Sprint(i))
			recs = append(recs, &kgo.Record{Topic: "orders", Key: key, Value: []byte(fmt.Sprintf(`{"order_id": %d, "order_ts": %q, "customer": "c%d"}`, i, ts, i%7))})
			recs = append(recs, &kgo.Record{Topic: "refunds", Key: key, Value: []byte(fmt.Sprintf(`{"refund_id": %d, "order_id": %d, "refund_ts": %q}`, 100000+i, i, ts))})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return bypassJob{kind: "join", inputs: []string{"orders", "refunds"}, output: "orders_refunds", outputV2: "orders_refunds_v2",
		group: "orders_refunds", groupV2: "orders_refunds_v2", configs: configs, produce: produce}
}

// TestBypassDrivesHotcoldJoinThroughKill9sToTheSwitch: the whole bypass
// with hotcold join as shipped, its process kill -9ed twice and resumed;
// every refund is joined exactly once in the online output, those after
// the switch by the new logic.
func TestBypassDrivesHotcoldJoinThroughKill9sToTheSwitch(t *testing.T) {
	r := newBypassRun(t, []string{"orders", "refunds", "orders_refunds", "orders_refunds_v2"}, func(b string) bypassJob { return joinBypassJob(t, b) })
	r.job.produce(0, 40)
	r.startOnline()
	st := r.runInterrupted()
	if st.Compare.Compared != 40 {
		t.Fatalf("output check %+v", st.Compare)
	}
	r.job.produce(2000, 5) // joined by the switched job
	deadline := time.Now().Add(30 * time.Second)
	for {
		recs := outputRecords(t, r.brokers, "orders_refunds")
		if len(recs) == 54 {
			for k, vs := range recs {
				if len(vs) != 1 {
					t.Fatalf("refund %s joined %d times: %v", k, len(vs), vs)
				}
				// Before the bypass: the old logic; after the switch: the new.
				// Those that arrived while the online job was stopped went to
				// whichever job stage 5 ran up to them: the old logic on the
				// online copy up to where the side job had got, the switched
				// job after.
				isNew := strings.Contains(vs[0], "refund_ts")
				before, after := !strings.Contains(k, `"refund_id":101`) && !strings.Contains(k, `"refund_id":102`), strings.Contains(k, `"refund_id":102`)
				if before && isNew || after && !isNew {
					t.Fatalf("refund %s was joined by the %v logic: %s", k, map[bool]string{true: "new", false: "old"}[isNew], vs[0])
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d refunds in the online output, want 54:\n%v\njob log:\n%s", len(recs), recs, readFile(filepath.Join(r.work, "online.log")))
		}
		time.Sleep(50 * time.Millisecond) // polling Kafka
	}
}

func aggBypassJob(t *testing.T, brokers string) bypassJob {
	return bypassJob{kind: "agg", inputs: []string{"refunds"}, output: "refunds_by_city", outputV2: "refunds_by_city_v2",
		group: "refunds_by_city", groupV2: "refunds_by_city_v2",
		configs: map[string]string{"old": migrateAggYAML(t, "old", brokers), "new": migrateAggYAML(t, "new", brokers)},
		produce: func(from, n int) { produceRefunds(t, brokers, from, n) }}
}

// TestBypassDrivesHotcoldAggThroughKill9sToTheSwitch: the same with
// hotcold agg; the switched job counts with the new metric over all
// history.
func TestBypassDrivesHotcoldAggThroughKill9sToTheSwitch(t *testing.T) {
	r := newBypassRun(t, []string{"refunds", "refunds_by_city", "refunds_by_city_v2"}, func(b string) bypassJob { return aggBypassJob(t, b) })
	r.job.produce(0, 40)
	r.startOnline()
	r.runInterrupted()
	r.job.produce(2000, 4)
	schema, _, err := configOutput(r.job.configs["new"])
	if err != nil {
		t.Fatal(err)
	}
	// 0..39, 1000..1008 and 2000..2003 by i%4.
	want := "bj, 14, 5192, 2000\ngz, 13, 4210, 2002\nsh, 13, 4197, 2001\nsz, 13, 4223, 2003"
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := statemigrate.ReadTable(context.Background(), []string{r.brokers}, statemigrate.Output{Topic: "refunds_by_city", Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(rows, "\n"); got == want {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("table:\n%s\nwant:\n%s", got, want)
		}
		time.Sleep(50 * time.Millisecond) // polling Kafka
	}
}

// TestBypassRestoresTheOldHotcoldAggWhenTheSwitchedJobDies: the new logic
// refuses to start as the online job; the bypass exits non-zero saying
// why, and the old job runs again on its untouched state and keeps
// counting. --abort with the documented flags then works too.
func TestBypassRestoresTheOldHotcoldAggWhenTheSwitchedJobDies(t *testing.T) {
	r := newBypassRun(t, []string{"refunds", "refunds_by_city", "refunds_by_city_v2"}, func(b string) bypassJob { return aggBypassJob(t, b) })
	r.job.produce(0, 40)
	r.startOnline()
	newCmd := "if [ {output} = " + r.job.output + " ]; then echo 'boom: the new logic refuses to start' >&2; exit 3; fi; " + r.jobCmd("new")
	args := r.bypassArgs()
	for i, a := range args {
		if a == "--new-cmd" {
			args[i+1] = newCmd
		}
	}
	cmd := exec.Command(r.self, args...)
	out, err := cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() == 0 {
		t.Fatalf("the bypass succeeded:\n%s", out)
	}
	for _, want := range []string{"the switched job exited", "status 3", "boom: the new logic refuses to start", "the old job was restarted with the old logic on its untouched state"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("bypass output lacks %q:\n%s", want, out)
		}
	}
	b, _ := os.ReadFile(filepath.Join(r.work, "bypass.json"))
	var st statemigrate.Status
	if err := json.Unmarshal(b, &st); err != nil || !st.Aborted || !strings.Contains(st.AbortReason, "boom") {
		t.Fatalf("status: %v\n%s", err, b)
	}
	// The old job counts new input with the old logic on its own state.
	r.job.produce(2000, 4)
	schema, _, err := configOutput(r.job.configs["old"])
	if err != nil {
		t.Fatal(err)
	}
	want := "bj, 11, 2180\ngz, 11, 2202\nsh, 11, 2191\nsz, 11, 2213"
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows, err := statemigrate.ReadTable(context.Background(), []string{r.brokers}, statemigrate.Output{Topic: "refunds_by_city", Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(rows, "\n"); got == want {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("table:\n%s\nwant:\n%s\nonline log:\n%s", got, want, readFile(filepath.Join(r.work, "online.log")))
		}
		time.Sleep(50 * time.Millisecond) // polling Kafka
	}
	// --abort as documented: the run's flags plus --abort.
	abort := exec.Command(r.self, append(args, "--abort")...)
	if out, err := abort.CombinedOutput(); err != nil || !strings.Contains(string(out), "(aborted)") {
		t.Fatalf("--abort: %v\n%s", err, out)
	}
}

// TestBypassAbortWithTheDocumentedFlags: a bypass kill -9ed in stage 5 is
// aborted with the flags of its run plus --abort (no --skip-compare): the
// side job stops and the old job runs again on its untouched state.
func TestBypassAbortWithTheDocumentedFlags(t *testing.T) {
	r := newBypassRun(t, []string{"refunds", "refunds_by_city", "refunds_by_city_v2"}, func(b string) bypassJob { return aggBypassJob(t, b) })
	r.job.produce(0, 40)
	r.startOnline()
	p := r.startBypass()
	r.killAt(p, statemigrate.StageOnlineStopped)
	out, err := exec.Command(r.self, append(r.bypassArgs(), "--abort")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "(aborted)") {
		t.Fatalf("--abort: %v\n%s", err, out)
	}
	jobs := statemigrate.CommandJobs{Dir: r.work}
	if exited, _ := jobs.Exited(context.Background(), statemigrate.Online); exited {
		t.Fatal("the old job is not running after the abort")
	}
	if _, err := os.Stat(filepath.Join(r.work, "side.pid")); err == nil {
		t.Fatal("the side job still runs after the abort")
	}
	r.job.produce(2000, 4)
	r.waitGroup(r.job.group)
}
