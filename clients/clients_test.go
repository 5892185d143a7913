//go:build unix

package clients_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/tlstest"
	"github.com/hotcold/hotcold/row"
)

// The data and jobs every client suite runs against. The suites know the
// rows by userRow's formula (see userValues).
const (
	tableUsers   = "users"   // key user_id int64, ids 1..100
	tableSecrets = "secrets" // key id int64, ids 1..3; only the other job may read it
	tableMissing = "ghost"   // granted to the enrich job, never loaded
	tableOrders  = "orders"  // key (region string, order_no int32): eu/us x 1..5
	testVersion  = "2026-11-22"
	tokenEnrich  = "tok-enrich-6a1f0c"
	tokenOther   = "tok-other-93be27"
	// lookupService is the health-checked service of `hotcold serve`.
	lookupService = "hotcold.lookup.v1.LookupService"
)

// raceEnabled is set by race_test.go; the sidecar binary is then built
// with -race too (which also reuses the packages `go test -race` compiled).
var raceEnabled bool

var (
	binDir string
	bin    struct {
		once sync.Once
		path string
		err  error
	}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hotcold-clients-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clients test:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestJavaClient runs the Java client's JUnit suite
// (clients/java/src/test, HotcoldLookupClientIT through Maven's failsafe
// plugin) against a real sidecar.
func TestJavaClient(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	mvn, err := javaToolchain()
	if err != nil {
		missing(t, "HOTCOLD_REQUIRE_JAVA", "Java toolchain: "+err.Error())
	}
	sc := startSidecar(t)
	// A second sidecar with mutual TLS for HotcoldTlsIT.
	_, tlsEnv := startMutualTLSSidecar(t, "java")
	// -o would fail on a fresh ~/.m2; Maven fetches what it lacks from
	// Maven Central once.
	reports := t.TempDir()
	cmd := exec.Command(mvn, "-B", "-f", filepath.Join(root, "clients", "java", "pom.xml"),
		"-Dhotcold.build.dir="+reports, "verify")
	cmd.Env = append(os.Environ(), tlsEnv...)
	out := runSuite(t, sc, cmd)
	// The TLS tests must have run, not been skipped for want of the
	// variables.
	if !regexp.MustCompile(`Tests run: [1-9][0-9]*, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: [^\n]* in dev\.hotcold\.client\.HotcoldTlsIT`).MatchString(out) {
		t.Fatalf("HotcoldTlsIT did not run all its tests:\n%s", out)
	}
}

// javaToolchain finds Maven and checks that a JDK 17+ runs it.
func javaToolchain() (string, error) {
	mvn, err := exec.LookPath("mvn")
	if err != nil {
		return "", errors.New("mvn is not on PATH (apt-get install maven default-jdk-headless)")
	}
	if _, err := exec.LookPath("javac"); err != nil {
		return "", errors.New("javac is not on PATH (apt-get install default-jdk-headless)")
	}
	return mvn, nil
}

// TestPythonClient runs the Python client's unittest suite
// (clients/python/tests) against a real sidecar.
func TestPythonClient(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	py := os.Getenv("HOTCOLD_PYTHON")
	if py == "" {
		// Debian's python3-grpcio and python3-grpc-tools install into the
		// system interpreter, not into a pyenv one that may come first on
		// PATH.
		py = "/usr/bin/python3"
	}
	if out, err := exec.Command(py, "-c", "import grpc, grpc_tools.protoc").CombinedOutput(); err != nil {
		missing(t, "HOTCOLD_REQUIRE_PYTHON_GRPC", fmt.Sprintf("%s with grpcio and grpc_tools (apt-get install python3-grpcio python3-grpc-tools; %v: %s)", py, err, strings.TrimSpace(string(out))))
	}
	pyDir := filepath.Join(root, "clients", "python")
	gen := t.TempDir()
	if out, err := exec.Command(py, filepath.Join(pyDir, "gen_stubs.py"), gen).CombinedOutput(); err != nil {
		t.Fatalf("generating the Python stubs: %v\n%s", err, out)
	}
	sc := startSidecar(t)
	cmd := exec.Command(py, "-m", "unittest", "discover", "-v", "-s", "tests")
	cmd.Dir = pyDir
	cmd.Env = append(os.Environ(), "PYTHONPATH="+pyDir+string(os.PathListSeparator)+gen, "PYTHONDONTWRITEBYTECODE=1")
	runSuite(t, sc, cmd)
}

// TestPythonClientOverMutualTLS runs the Python client's TLS tests
// (clients/python/tests/test_tls.py) against a sidecar whose TCP listener
// requires client certificates; the certificates are made here.
func TestPythonClientOverMutualTLS(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	py := os.Getenv("HOTCOLD_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if out, err := exec.Command(py, "-c", "import grpc, grpc_tools.protoc").CombinedOutput(); err != nil {
		missing(t, "HOTCOLD_REQUIRE_PYTHON_GRPC", fmt.Sprintf("%s with grpcio and grpc_tools (%v: %s)", py, err, strings.TrimSpace(string(out))))
	}
	pyDir := filepath.Join(root, "clients", "python")
	gen := t.TempDir()
	if out, err := exec.Command(py, filepath.Join(pyDir, "gen_stubs.py"), gen).CombinedOutput(); err != nil {
		t.Fatalf("generating the Python stubs: %v\n%s", err, out)
	}
	sc, tlsEnv := startMutualTLSSidecar(t, "py")
	cmd := exec.Command(py, "-m", "unittest", "-v", "tests.test_tls")
	cmd.Dir = pyDir
	cmd.Env = append(append(os.Environ(), "PYTHONPATH="+pyDir+string(os.PathListSeparator)+gen, "PYTHONDONTWRITEBYTECODE=1"), tlsEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") || strings.Contains(string(out), "skipped") {
		t.Fatalf("%v: %v\n%s\nsidecar log:\n%s", cmd.Args, err, out, sc.logs.String())
	}
}

// startMutualTLSSidecar starts a sidecar whose TCP listener requires a
// client certificate of a CA made here, and returns it with the
// HOTCOLD_TEST_TLS_* variables the clients' TLS suites read: the address,
// the server's CA, a client certificate and key for client, the token and
// the table.
func startMutualTLSSidecar(t *testing.T, client string) (*sidecarProc, []string) {
	t.Helper()
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	serverCA, clientCA := tlstest.NewCA(t, "server"), tlstest.NewCA(t, "clients")
	serverCA.Issue(t, "sidecar", true, p("s.pem"), p("s.key"))
	clientCA.Issue(t, client, false, p("c.pem"), p("c.key"))
	cert, err := tls.LoadX509KeyPair(p("c.pem"), p("c.key"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.Cert)
	sc := startSidecarWith(t, []string{"--tls-cert", p("s.pem"), "--tls-key", p("s.key"), "--tls-client-ca", clientCA.PEM},
		&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}})
	return sc, []string{"HOTCOLD_TEST_TLS_TCP=" + sc.tcp, "HOTCOLD_TEST_TLS_CA=" + serverCA.PEM,
		"HOTCOLD_TEST_TLS_CERT=" + p("c.pem"), "HOTCOLD_TEST_TLS_KEY=" + p("c.key"),
		"HOTCOLD_TEST_TLS_TOKEN=" + tokenEnrich, "HOTCOLD_TEST_TLS_TABLE=" + tableUsers}
}

// missing skips the test, or fails it when the environment variable
// require is set (as CI sets it).
func missing(t *testing.T, require, what string) {
	t.Helper()
	if os.Getenv(require) != "" {
		t.Fatalf("%s is set but %s is missing", require, what)
	}
	t.Skipf("missing %s (set %s=1 to fail instead)", what, require)
}

// runSuite runs a client's test suite with HOTCOLD_TEST_* describing sc and
// an HTTP endpoint through which the suite stops, starts, pauses and
// resumes the sidecar.
func runSuite(t *testing.T, sc *sidecarProc, cmd *exec.Cmd) string {
	t.Helper()
	ctrl := httptest.NewServer(sc.controlHandler())
	t.Cleanup(ctrl.Close)

	cmd.Env = append(cmd.Env,
		"HOTCOLD_TEST_TCP="+sc.tcp,
		"HOTCOLD_TEST_UNIX="+sc.unix,
		"HOTCOLD_TEST_METRICS=http://"+sc.metrics+"/metrics",
		"HOTCOLD_TEST_TOKEN="+tokenEnrich,
		"HOTCOLD_TEST_OTHER_TOKEN="+tokenOther,
		"HOTCOLD_TEST_TABLE="+tableUsers,
		"HOTCOLD_TEST_DENIED_TABLE="+tableSecrets,
		"HOTCOLD_TEST_MISSING_TABLE="+tableMissing,
		"HOTCOLD_TEST_COMPOSITE_TABLE="+tableOrders,
		"HOTCOLD_TEST_VERSION="+testVersion,
		"HOTCOLD_TEST_CONTROL="+ctrl.URL,
	)
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		defer cancel()
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that a timeout also ends the JVMs that
	// Maven starts.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }() // owned here: ends with the process
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("killed: the suite did not finish before the test deadline")
	}
	if err != nil {
		t.Fatalf("%v: %v\n%s\nsidecar log:\n%s", cmd.Args, err, out.String(), sc.logs.String())
	}
	t.Logf("%v:\n%s", cmd.Args, out.String())
	return out.String()
}

// sidecarProc is a `hotcold serve` process over a store loaded with
// `hotcold load`, restartable on the same addresses.
type sidecarProc struct {
	t                  *testing.T
	bin                string
	args               []string
	tcp, unix, metrics string
	logs               lockedBuffer

	mu     sync.Mutex // serializes control actions
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	paused bool

	healthTLS *tls.Config // for the health checks of a TLS listener
}

// startSidecar loads the test tables into a new Pebble store and serves
// them; the process is stopped at cleanup.
func startSidecar(t *testing.T) *sidecarProc {
	t.Helper()
	return startSidecarWith(t, nil)
}

// startSidecarWith is startSidecar whose TCP listener has the TLS of
// tlsArgs (hotcold serve's --tls-* flags) and whose health checks use
// healthTLS (nil: plaintext).
func startSidecarWith(t *testing.T, tlsArgs []string, healthTLS ...*tls.Config) *sidecarProc {
	t.Helper()
	hc := hotcoldBinary(t)
	dir := t.TempDir()
	store := "pebble:" + filepath.Join(dir, "cold")

	users := filepath.Join(dir, "users.parquet")
	writeParquet(t, users, usersSchema(), userRows())
	secrets := filepath.Join(dir, "secrets.parquet")
	writeParquet(t, secrets, secretsSchema(), secretRows())
	run(t, hc, "load", "--store", store, "--table", tableUsers, "--version", testVersion, "--key", "user_id", users)
	run(t, hc, "load", "--store", store, "--table", tableSecrets, "--version", testVersion, "--key", "id", secrets)
	orders := filepath.Join(dir, "orders.parquet")
	writeParquet(t, orders, ordersSchema(), orderRows())
	run(t, hc, "load", "--store", store, "--table", tableOrders, "--version", testVersion, "--key", "region,order_no", orders)

	sc := &sidecarProc{t: t, bin: hc, tcp: freePort(t), unix: filepath.Join(dir, "hotcold.sock"), metrics: freePort(t)}
	cfg := filepath.Join(dir, "sidecar.yaml")
	yaml := fmt.Sprintf(`# written by clients_test.go
metrics_listen: %q
drain_timeout: 1s
jobs:
  - name: enrich
    token: %q
    tables: [%s, %s, %s]
  - name: other
    token: %q
    tables: [%s]
`, sc.metrics, tokenEnrich, tableUsers, tableMissing, tableOrders, tokenOther, tableSecrets)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	sc.args = append([]string{"serve", "--store", store, "--listen", sc.tcp, "--unix", sc.unix, "--config", cfg}, tlsArgs...)
	if len(healthTLS) > 0 {
		sc.healthTLS = healthTLS[0]
	}
	t.Cleanup(func() {
		if err := sc.stop(); err != nil {
			t.Errorf("stopping the sidecar: %v", err)
		}
		if t.Failed() {
			t.Logf("sidecar log:\n%s", sc.logs.String())
		}
	})
	if err := sc.start(); err != nil {
		t.Fatal(err)
	}
	return sc
}

// start starts the process and returns once it answers health checks.
func (s *sidecarProc) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("the sidecar is already running")
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = &s.logs, &s.logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start hotcold %v: %v", s.args, err)
	}
	exited := make(chan struct{})
	go func() { // owned by the process: ends when it exits; stop waits for it
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	if err := s.waitHealthy(exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		s.cmd = nil
		return err
	}
	return nil
}

// waitHealthy polls the gRPC health service until it reports SERVING, the
// process exits, or a minute passes.
func (s *sidecarProc) waitHealthy(exited <-chan struct{}) error {
	creds := insecure.NewCredentials()
	if s.healthTLS != nil {
		creds = credentials.NewTLS(s.healthTLS)
	}
	conn, err := grpc.NewClient(s.tcp, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		// The per-table service: the sidecar as a whole is not ready, by
		// design, while the job's tableMissing has no live version.
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: lookupService + "/" + tableUsers})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hotcold serve did not become healthy within a minute (last: %v)\n%s", err, s.logs.String())
		}
		select {
		case <-exited:
			return fmt.Errorf("hotcold serve exited before becoming healthy:\n%s", s.logs.String())
		case <-time.After(20 * time.Millisecond): // poll interval
		}
	}
}

// stop ends the process gracefully (SIGTERM) and returns once it exited;
// after 30 seconds it kills it. Stopping a stopped sidecar does nothing.
func (s *sidecarProc) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	if s.paused {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		s.paused = false
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		err = errors.New("hotcold serve did not exit within 30s of SIGTERM; killed it")
	}
	if err == nil && !s.cmd.ProcessState.Success() {
		err = fmt.Errorf("hotcold serve exited with %v", s.cmd.ProcessState)
	}
	s.cmd = nil
	return err
}

// signal pauses (SIGSTOP) or resumes (SIGCONT) the running process; a
// pause returns once every thread has stopped.
func (s *sidecarProc) signal(pause bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("the sidecar is not running")
	}
	sig := syscall.SIGCONT
	if pause {
		sig = syscall.SIGSTOP
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return err
	}
	s.paused = pause
	if pause {
		// kill(2) returns before the threads have stopped: a request sent
		// right after could still be answered.
		return waitStopped(s.cmd.Process.Pid)
	}
	return nil
}

// waitStopped polls /proc until every thread of pid is stopped. Without
// /proc (not Linux) it returns at once.
func waitStopped(pid int) error {
	taskDir := fmt.Sprintf("/proc/%d/task", pid)
	if _, err := os.Stat(taskDir); err != nil {
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		running := ""
		tasks, err := os.ReadDir(taskDir)
		if err != nil {
			return err
		}
		for _, task := range tasks {
			stat, err := os.ReadFile(filepath.Join(taskDir, task.Name(), "stat"))
			if err != nil {
				continue // the thread exited
			}
			// "tid (comm) S ...": the state follows the last ')'.
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] != 'T' && stat[i+2] != 't' {
				running = task.Name()
				break
			}
		}
		if running == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("thread %s of the sidecar (pid %d) did not stop within 30s of SIGSTOP", running, pid)
		}
		time.Sleep(time.Millisecond) // poll interval
	}
}

// controlHandler serves POST /stop, /start, /pause and /resume; each
// answers 200 once done.
func (s *sidecarProc) controlHandler() http.Handler {
	mux := http.NewServeMux()
	for action, f := range map[string]func() error{
		"stop":   s.stop,
		"start":  s.start,
		"pause":  func() error { return s.signal(true) },
		"resume": func() error { return s.signal(false) },
	} {
		mux.HandleFunc("POST /"+action, func(w http.ResponseWriter, _ *http.Request) {
			if err := f(); err != nil {
				s.t.Errorf("harness %s: %v", action, err)
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprintln(w, "ok")
		})
	}
	return mux
}

// hotcoldBinary builds cmd/hotcold once per test binary.
func hotcoldBinary(t *testing.T) string {
	t.Helper()
	bin.once.Do(func() {
		path := filepath.Join(binDir, "hotcold")
		args := []string{"build", "-o", path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command(goTool(), append(args, "./cmd/hotcold")...)
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			bin.err = fmt.Errorf("go %v: %v\n%s", args, err, out)
			return
		}
		bin.path = path
	})
	if bin.err != nil {
		t.Fatal(bin.err)
	}
	return bin.path
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, out)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ---- test data ----

func usersSchema() *row.Schema {
	return row.MustSchema([]row.Column{
		{Name: "user_id", Type: row.Int64},
		{Name: "name", Type: row.String},
		{Name: "score", Type: row.Float64},
		{Name: "active", Type: row.Bool},
		{Name: "born", Type: row.Date32},
		{Name: "signup", Type: row.Timestamp(row.Microsecond, "UTC")},
		{Name: "last_login", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "balance", Type: row.Decimal(12, 2)},
		{Name: "avatar", Type: row.Binary},
		{Name: "nickname", Type: row.String, Nullable: true},
		{Name: "level", Type: row.Int32},
		{Name: "ratio", Type: row.Float32},
	}, []string{"user_id"}, 1)
}

// userRows are users 1..100. Row id holds: name "user-<id>", score id*1.5,
// active id even, born day 10000+id, signup 1700000000s + id µs (UTC),
// last_login 1700000000s + id ms (wall clock), balance <id>.25, avatar
// bytes {id, id+1}, nickname "nick-<id>" for even ids else null, level
// id%7, ratio id*0.25. The client suites assert these values.
func userRows() []row.Row {
	rows := make([]row.Row, 0, 100)
	for id := int64(1); id <= 100; id++ {
		nick := row.NullValue()
		if id%2 == 0 {
			nick = row.StringValue(fmt.Sprintf("nick-%d", id))
		}
		rows = append(rows, row.New(
			row.Int64Value(id),
			row.StringValue(fmt.Sprintf("user-%d", id)),
			row.Float64Value(float64(id)*1.5),
			row.BoolValue(id%2 == 0),
			row.Date32Value(int32(10000+id)),
			row.TimestampValue(1_700_000_000_000_000+id),
			row.TimestampValue(1_700_000_000_000+id),
			row.DecimalValue(decimal128.FromI64(id*100+25)),
			row.BinaryValue([]byte{byte(id), byte(id + 1)}),
			nick,
			row.Int32Value(int32(id%7)),
			row.Float32Value(float32(id)*0.25),
		))
	}
	return rows
}

func secretsSchema() *row.Schema {
	return row.MustSchema([]row.Column{
		{Name: "id", Type: row.Int64},
		{Name: "secret", Type: row.String},
	}, []string{"id"}, 1)
}

func secretRows() []row.Row {
	var rows []row.Row
	for id := int64(1); id <= 3; id++ {
		rows = append(rows, row.New(row.Int64Value(id), row.StringValue(fmt.Sprintf("top secret %d", id))))
	}
	return rows
}

func ordersSchema() *row.Schema {
	return row.MustSchema([]row.Column{
		{Name: "region", Type: row.String},
		{Name: "order_no", Type: row.Int32},
		{Name: "total", Type: row.Float64},
	}, []string{"region", "order_no"}, 1)
}

// orderRows are orders (region, order_no) for regions eu and us and
// order_no 1..5, with total order_no*10 (eu) or order_no*100 (us).
func orderRows() []row.Row {
	var rows []row.Row
	for _, r := range []struct {
		region string
		scale  float64
	}{{"eu", 10}, {"us", 100}} {
		for n := int32(1); n <= 5; n++ {
			rows = append(rows, row.New(row.StringValue(r.region), row.Int32Value(n), row.Float64Value(float64(n)*r.scale)))
		}
	}
	return rows
}

func writeParquet(t *testing.T, path string, s *row.Schema, rows []row.Row) {
	t.Helper()
	if err := coldstore.WriteParquet(context.Background(), path, s, rows, nil); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a bytes.Buffer safe for a process's stdout and stderr
// and a concurrent reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
