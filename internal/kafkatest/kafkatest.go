package kafkatest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing java or mvn
// into a test failure instead of a skip.
const RequireEnv = "HOTCOLD_REQUIRE_JAVA"

// StartTimeout bounds how long the broker may take to print READY.
const StartTimeout = 2 * time.Minute

// mainClass is the test kit's broker entry point.
const mainClass = "dev.hotcold.kafka.testkit.BrokerMain"

// Broker is one running broker JVM.
type Broker struct {
	addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   *tail
	done  chan struct{}

	stopOnce sync.Once
}

// Addr returns the bootstrap address, "127.0.0.1:PORT".
func (b *Broker) Addr() string { return b.addr }

// Stop stops the broker (closing its stdin) and waits for it to exit,
// killing it after 30s. It is called by t.Cleanup; calling it earlier is
// fine.
func (b *Broker) Stop() {
	b.stopOnce.Do(func() {
		_ = b.stdin.Close()
		select {
		case <-b.done:
		case <-time.After(30 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
}

// Start starts a broker and waits until it serves. Each config argument,
// "name=value", overrides a broker setting (e.g.
// "group.max.session.timeout.ms=600000").
func Start(t testing.TB, config ...string) *Broker {
	t.Helper()
	java := lookup(t, "java")
	cp, err := classpath(t)
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	args := append([]string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m", "-cp", cp, mainClass}, config...)
	cmd := exec.Command(java, args...)
	setDeathSignal(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	b := &Broker{cmd: cmd, stdin: stdin, log: &tail{max: 16 << 10}, done: make(chan struct{})}
	cmd.Stderr = b.log
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("kafkatest: start %s: %v", java, err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
		if first {
			close(lines)
		}
		_ = cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(b.Stop)
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "READY ") {
			b.Stop()
			t.Fatalf("kafkatest: the broker did not start (%q); the end of its stderr:\n%s", line, b.log)
		}
		b.addr = strings.TrimSpace(strings.TrimPrefix(line, "READY "))
	case <-time.After(StartTimeout):
		b.Stop()
		t.Fatalf("kafkatest: the broker printed no READY within %s; the end of its stderr:\n%s", StartTimeout, b.log)
	}
	t.Logf("kafkatest: Apache Kafka broker on %s (started in %s)", b.addr, time.Since(start).Round(time.Millisecond))
	return b
}

// lookup returns the path of a tool, skipping or failing t when it is
// missing (see RequireEnv).
func lookup(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s not found on PATH and %s=1: install it (apt-get install -y default-jdk-headless maven)", name, RequireEnv)
	}
	t.Skipf("%s not found on PATH: this test needs a real Kafka broker (install default-jdk-headless maven, or set %s=1 to make this a failure)", name, RequireEnv)
	return ""
}

var (
	buildMu sync.Mutex
	builtCP string
)

// classpath builds the test kit if needed and returns the broker JVM's
// classpath.
func classpath(t testing.TB) (string, error) {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if builtCP != "" {
		return builtCP, nil
	}
	dir, err := testkitDir()
	if err != nil {
		return "", err
	}
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(target, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(target, ".kafkatest.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	cp, fresh := cached(dir)
	if !fresh {
		mvn := lookup(t, "mvn")
		t.Logf("kafkatest: building %s with Maven (the first time fetches Kafka's jars)", dir)
		cmd := exec.Command(mvn, "-B", "-q", "--no-transfer-progress", "-f", filepath.Join(dir, "pom.xml"), "compile")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("mvn -f %s compile: %v\n%s", dir, err, lastLines(out, 40))
		}
		if err := os.WriteFile(filepath.Join(target, stampFile), nil, 0o644); err != nil {
			return "", err
		}
		if cp, fresh = cached(dir); !fresh {
			return "", fmt.Errorf("mvn -f %s compile left no usable classpath.txt", dir)
		}
	}
	builtCP = cp
	return cp, nil
}

// testkitDir is flink/kafka-testkit of this checkout.
func testkitDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot find the source directory of internal/kafkatest")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "flink", "kafka-testkit")
	if _, err := os.Stat(filepath.Join(dir, "pom.xml")); err != nil {
		return "", fmt.Errorf("the Kafka test kit is missing: %w", err)
	}
	return filepath.Clean(dir), nil
}

// stampFile is written after each build by this package: the build is up
// to date while pom.xml and every source are older than it.
const stampFile = ".kafkatest.built"

// cached returns the classpath of an up-to-date build of dir: built by this
// package after the last change of pom.xml and the sources, and every jar
// its classpath.txt names present.
func cached(dir string) (string, bool) {
	classes := filepath.Join(dir, "target", "classes")
	st, err := os.Stat(filepath.Join(dir, "target", stampFile))
	if err != nil {
		return "", false
	}
	built := st.ModTime()
	stale := false
	check := func(p string) {
		if st, err := os.Stat(p); err != nil || st.ModTime().After(built) {
			stale = true
		}
	}
	check(filepath.Join(dir, "pom.xml"))
	check(filepath.Join(classes, "dev", "hotcold", "kafka", "testkit", "BrokerMain.class"))
	_ = filepath.WalkDir(filepath.Join(dir, "src", "main"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			check(p)
		}
		return nil
	})
	if stale {
		return "", false
	}
	deps, err := os.ReadFile(filepath.Join(classes, "dev", "hotcold", "kafka", "testkit", "classpath.txt"))
	if err != nil {
		return "", false
	}
	for _, jar := range filepath.SplitList(strings.TrimSpace(string(deps))) {
		if _, err := os.Stat(jar); err != nil {
			return "", false
		}
	}
	return classes + string(os.PathListSeparator) + strings.TrimSpace(string(deps)), true
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.b))
}
