package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
)

// The pinned variant of the latency measurement (-pin) runs the load
// generator (this process, GOMAXPROCS 1) on CPU 0 and the server under test
// (the sidecar child, GOMAXPROCS 1, or redis-server) on CPU 1, so that the
// driver's goroutines never wait for a CPU behind the server's and the
// other way round: the nearest this 2-vCPU machine gets to redis-benchmark
// on a client machine of its own. redis-benchmark, started from this
// process, inherits CPU 0.

// cpuMask is a sched_setaffinity(2) mask of up to 1024 CPUs.
type cpuMask [16]uint64

func maskOf(cpus ...int) cpuMask {
	var m cpuMask
	for _, c := range cpus {
		m[c/64] |= 1 << (c % 64)
	}
	return m
}

// allCPUs is the mask of every CPU this process may run on at start.
func allCPUs() (cpuMask, error) {
	var m cpuMask
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if e != 0 {
		return m, fmt.Errorf("sched_getaffinity: %w", e)
	}
	return m, nil
}

// setAffinity sets the CPU mask of every thread of process pid. Threads
// started later inherit the mask of the thread that starts them; two passes
// catch a thread started by a not yet pinned one during the first.
func setAffinity(pid int, m cpuMask) error {
	for pass := 0; pass < 2; pass++ {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
			if e != 0 && e != syscall.ESRCH {
				return fmt.Errorf("sched_setaffinity of thread %d of process %d: %w", tid, pid, e)
			}
		}
	}
	return nil
}

// pinSuffix names the pinned variant's rows.
const pinSuffix = ", pinned"

// pinned runs f with this process on CPU 0 at GOMAXPROCS 1 and the sidecar
// child (GOMAXPROCS 1) and redis-server on CPU 1, then puts every process
// back on all CPUs at its former GOMAXPROCS.
func pinned(ch *child, redisPid int, f func() error) (err error) {
	if runtime.NumCPU() < 2 {
		return fmt.Errorf("-pin needs at least 2 CPUs, this machine has %d", runtime.NumCPU())
	}
	all, err := allCPUs()
	if err != nil {
		return err
	}
	pids := []int{os.Getpid(), ch.cmd.Process.Pid, redisPid}
	procs := runtime.GOMAXPROCS(1)
	ch.command("procs 1")
	defer func() {
		runtime.GOMAXPROCS(procs)
		ch.command("procs " + strconv.Itoa(procs))
		for _, pid := range pids {
			if e := setAffinity(pid, all); e != nil && err == nil {
				err = e
			}
		}
	}()
	for i, pid := range pids {
		if err := setAffinity(pid, maskOf(min(i, 1))); err != nil {
			return err
		}
	}
	return f()
}

// pinNote describes the pinned rows of the latency table.
func pinNote() string {
	if !*flagPin {
		return ""
	}
	return " Rows \"" + pinSuffix[2:] + "\" are the same measurements with the driver (this process, GOMAXPROCS 1) on CPU 0 and the server (sidecar child at GOMAXPROCS 1, or redis-server) on CPU 1, peak and 50% rate measured pinned; redis-benchmark, started from the driver, runs on CPU 0."
}
