package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// The sidecar runs in a child process of the benchmark (the same binary
// started with -child), so that client and server do not share a Go
// runtime: no shared GC, scheduler or CPU accounting. The child loads the
// same rows (same seed) into its own cold store, serves TCP and a unix
// socket, prints "ready TCP UNIX" on stdout and serves until its stdin
// closes.

var (
	flagChild       = flag.Bool("child", false, "internal: run as the sidecar child process")
	flagDir         = flag.String("dir", "", "internal: the child's directory")
	flagServerProf  = flag.String("server-cpuprofile", "", "write a CPU profile of the sidecar process to this file")
	flagServerTrace = flag.String("server-trace", "", "write an execution trace of the sidecar process (one latency measurement) to this file")
)

func runChild(log *slog.Logger) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := *flagRows
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]row.Row, n)
	for i := range rows {
		rows[i] = makeRow(int64(i), rng)
	}
	store, err := openStore(ctx, *flagDir, rows)
	if err != nil {
		return err
	}
	defer store.Close()
	rows = nil
	srv, err := sidecar.NewServer(store, sidecar.Options{MaxBatch: 4096, CacheBytes: 1 << 30, Registerer: prometheus.NewRegistry()})
	if err != nil {
		return err
	}
	sock := filepath.Join(*flagDir, "hotcold.sock")
	srvDone := make(chan error, 1)
	go func() {
		srvDone <- srv.Run(ctx, sidecar.Listeners{TCP: "127.0.0.1:0", Unix: sock, Ready: func(a sidecar.Addrs) {
			fmt.Printf("ready %s %s\n", a.TCP, a.Unix)
		}})
	}()
	// Commands from the parent on stdin: "prof start|stop", "trace
	// start|stop", "procs N" (GOMAXPROCS); EOF stops the child.
	in := bufio.NewScanner(os.Stdin)
	var profFile, traceFile *os.File
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if v, ok := strings.CutPrefix(line, "procs "); ok {
			n, perr := strconv.Atoi(v)
			if perr == nil && n > 0 {
				runtime.GOMAXPROCS(n)
			}
		}
		switch line {
		case "prof start":
			if *flagServerProf != "" && profFile == nil {
				if profFile, err = os.Create(*flagServerProf); err == nil {
					err = pprof.StartCPUProfile(profFile)
				}
			}
		case "prof stop":
			if profFile != nil {
				pprof.StopCPUProfile()
				profFile.Close()
				profFile = nil
			}
		case "trace start":
			if *flagServerTrace != "" && traceFile == nil {
				if traceFile, err = os.Create(*flagServerTrace); err == nil {
					err = trace.Start(traceFile)
				}
			}
		case "trace stop":
			if traceFile != nil {
				trace.Stop()
				traceFile.Close()
				traceFile = nil
			}
		}
		if err != nil {
			log.Error("child", "err", err)
		}
		fmt.Println("ok")
	}
	cancel()
	return <-srvDone
}

// child is the running sidecar process.
type child struct {
	cmd       *exec.Cmd
	stdin     *bufio.Writer
	stdinF    interface{ Close() error }
	out       *bufio.Scanner
	tcp, unix string
}

func startChild(dir string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-child", "-dir", dir, "-rows", strconv.Itoa(*flagRows), "-store", *flagStore}
	if *flagServerProf != "" {
		args = append(args, "-server-cpuprofile", *flagServerProf)
	}
	if *flagServerTrace != "" {
		args = append(args, "-server-trace", *flagServerTrace)
	}
	cmd := exec.Command(exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: bufio.NewWriter(w), stdinF: w, out: bufio.NewScanner(r)}
	done := make(chan error, 1)
	go func() {
		if !c.out.Scan() {
			done <- fmt.Errorf("the sidecar child exited before it was ready")
			return
		}
		f := strings.Fields(c.out.Text())
		if len(f) != 3 || f[0] != "ready" {
			done <- fmt.Errorf("the sidecar child said %q", c.out.Text())
			return
		}
		c.tcp, c.unix = f[1], "unix://"+f[2]
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			c.stop()
			return nil, err
		}
	case <-time.After(5 * time.Minute):
		c.stop()
		return nil, fmt.Errorf("the sidecar child was not ready after 5 minutes")
	}
	return c, nil
}

// command sends a command to the child and waits for its "ok".
func (c *child) command(s string) {
	fmt.Fprintln(c.stdin, s)
	c.stdin.Flush()
	c.out.Scan()
}

func (c *child) stop() {
	c.stdinF.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// cpu is the CPU time (user + system) the child has used so far.
func (c *child) cpu() time.Duration { return procCPU(c.cmd.Process.Pid) }

// procCPU is the CPU time (user + system) process pid has used so far,
// from /proc (clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
