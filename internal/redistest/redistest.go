// Package redistest starts throwaway redis-server processes for tests and
// benchmarks: a single server (Start) or a Redis Cluster of several masters
// (StartCluster), each on free loopback ports with its files in a temporary
// directory, stopped by t.Cleanup.
//
// The binaries are looked up on PATH (redis-server, and redis-cli for a
// cluster). When they are missing the test is skipped, unless the
// environment variable HOTCOLD_REQUIRE_REDIS=1 is set (CI sets it), in which
// case the test fails: a CI run never silently skips the Redis tests.
//
//	func TestThing(t *testing.T) {
//		srv := redistest.Start(t)
//		c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
//		...
//	}
//
// Readiness is detected by polling (PING, CLUSTER INFO) with a deadline,
// never by sleeping a fixed time. The servers are started with Pdeathsig on
// Linux, so they die with the test binary even if it crashes.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireEnv is the environment variable that turns a missing redis-server
// into a test failure instead of a skip.
const RequireEnv = "HOTCOLD_REQUIRE_REDIS"

// StartTimeout bounds how long a server or cluster may take to become ready.
const StartTimeout = 30 * time.Second

// Server is one running redis-server. Its methods are safe for concurrent
// use.
type Server struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	log  *bytes.Buffer

	stopOnce sync.Once
	done     chan struct{}
}

// Addr returns the server's "127.0.0.1:port" address.
func (s *Server) Addr() string { return s.addr }

// Dir returns the server's working directory (its log and config files).
func (s *Server) Dir() string { return s.dir }

// Client returns a new go-redis client for the server, closed by t.Cleanup.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop stops the server and waits for it to exit. It is called by
// t.Cleanup; calling it earlier (to test an unavailable server) is fine.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// Lookup returns the path of redis-server, skipping or failing t when it is
// missing (see RequireEnv).
func Lookup(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s not found on PATH and %s=1: install it (apt-get install -y redis-server redis-tools)", name, RequireEnv)
	}
	t.Skipf("%s not found on PATH (install redis-server redis-tools, or set %s=1 to make this a failure)", name, RequireEnv)
	return ""
}

// Start starts a standalone redis-server and waits until it answers PING.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Lookup(t, "redis-server")
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s, err := startServer(t, bin, ports[0], nil)
		if err == nil {
			return s
		}
		lastErr = err // most likely the port was taken in between: retry
	}
	t.Fatalf("redistest: could not start redis-server: %v", lastErr)
	return nil
}

func startServer(t testing.TB, bin string, port int, extra []string) (*Server, error) {
	t.Helper()
	dir, err := os.MkdirTemp(t.TempDir(), "redis-"+strconv.Itoa(port)+"-")
	if err != nil {
		return nil, err
	}
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--loglevel", "warning",
		"--logfile", "",
	}
	args = append(args, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	log := &bytes.Buffer{}
	cmd.Stdout = &lockedWriter{w: log}
	cmd.Stderr = cmd.Stdout
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Stop)

	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: s.addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	err = poll(ctx, s.done, func() error { return c.Ping(ctx).Err() })
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("redis-server on port %d did not answer PING: %w; its output:\n%s", port, err, s.output())
	}
	return s, nil
}

func (s *Server) output() string {
	w := s.cmd.Stdout.(*lockedWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return s.log.String()
}

// Cluster is a running Redis Cluster of masters without replicas.
type Cluster struct {
	nodes []*Server
}

// Addrs returns the address of every master.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Addr()
	}
	return out
}

// Client returns a new go-redis cluster client, closed by t.Cleanup.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// StartCluster starts masters redis-server processes with cluster mode on,
// joins them with redis-cli --cluster create, and waits until every node
// reports cluster_state:ok with all 16384 slots assigned.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	if masters < 3 {
		t.Fatalf("redistest: a Redis Cluster needs at least 3 masters, got %d", masters)
	}
	bin := Lookup(t, "redis-server")
	cli := Lookup(t, "redis-cli")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c, err := startCluster(t, bin, cli, masters)
		if err == nil {
			return c
		}
		lastErr = err
	}
	t.Fatalf("redistest: could not start a %d-master cluster: %v", masters, lastErr)
	return nil
}

func startCluster(t testing.TB, bin, cli string, masters int) (*Cluster, error) {
	t.Helper()
	ports, err := freePorts(2 * masters)
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	stopAll := func() {
		for _, n := range c.nodes {
			n.Stop()
		}
	}
	for i := 0; i < masters; i++ {
		port, bus := ports[2*i], ports[2*i+1]
		n, err := startServer(t, bin, port, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
			"--cluster-port", strconv.Itoa(bus),
		})
		if err != nil {
			stopAll()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		stopAll()
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	for _, n := range c.nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr(), Protocol: 2, DisableIdentity: true, MaxRetries: -1})
		err := poll(ctx, n.done, func() error {
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			f := parseInfo(info)
			if f["cluster_state"] != "ok" || f["cluster_slots_ok"] != "16384" || f["cluster_known_nodes"] != strconv.Itoa(masters) {
				return fmt.Errorf("node %s: cluster_state:%s cluster_slots_ok:%s cluster_known_nodes:%s", n.Addr(), f["cluster_state"], f["cluster_slots_ok"], f["cluster_known_nodes"])
			}
			return nil
		})
		_ = cl.Close()
		if err != nil {
			stopAll()
			return nil, err
		}
	}
	// Every node agrees; make sure a cluster client sees the full slot map.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Protocol: 2, DisableIdentity: true})
	defer cc.Close()
	err = poll(ctx, nil, func() error {
		slots, err := cc.ClusterSlots(ctx).Result()
		if err != nil {
			return err
		}
		n := 0
		for _, s := range slots {
			n += s.End - s.Start + 1
		}
		if n != 16384 {
			return fmt.Errorf("CLUSTER SLOTS covers %d slots", n)
		}
		return nil
	})
	if err != nil {
		stopAll()
		return nil, err
	}
	return c, nil
}

func parseInfo(info string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok {
			out[k] = v
		}
	}
	return out
}

// poll calls f until it succeeds, ctx ends or exited is closed (the process
// died). The pause between attempts grows from 5 ms to 100 ms.
func poll(ctx context.Context, exited <-chan struct{}, f func() error) error {
	pause := 5 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-exited:
			return errors.New("the process exited")
		case <-time.After(pause):
		}
		if pause < 100*time.Millisecond {
			pause *= 2
		}
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	out := make([]int, 0, n)
	for len(out) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
