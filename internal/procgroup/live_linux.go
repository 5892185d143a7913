package procgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// stat reads the state and process group of pid from /proc/<pid>/stat.
func stat(pid string) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0, 0, false
	}
	pg, err := strconv.Atoi(f[2])
	if err != nil || len(f[0]) == 0 {
		return 0, 0, false
	}
	return f[0][0], pg, true
}

func dead(state byte) bool { return state == 'Z' || state == 'X' || state == 'x' }

// Alive reports whether process pid runs (a zombie does not).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	st, _, ok := stat(strconv.Itoa(pid))
	return ok && !dead(st)
}

// Live returns the processes of group pgid that have not exited (zombies
// excluded).
func Live(pgid int) ([]int, error) {
	// Cheap first: no process at all in the group.
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return nil, nil
	}
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if st, pg, ok := stat(n); ok && pg == pgid && !dead(st) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// LockHolders returns the processes that hold a POSIX (fcntl), flock or
// open-file-description lock on the file at path, as /proc/locks lists
// them (an OFD lock has no owning process and is reported as -1). It opens
// nothing but /proc/locks: opening the file itself would drop this
// process's own fcntl locks on it when closed. A missing file has no
// holders.
func LockHolders(path string) ([]int, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff)
	minor := dev&0xff | (dev>>12)&^uint64(0xff)
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino)
	f, err := os.Open("/proc/locks")
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.ErrUnsupported
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: POSIX  ADVISORY  WRITE 23055 fe:00:9986182 0 EOF"; a
		// waiter's line has "->" after the number.
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" {
			continue
		}
		if !strings.EqualFold(fields[5], want) {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, sc.Err()
}
