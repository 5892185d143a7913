//go:build unix && !linux

package procgroup

import (
	"errors"
	"syscall"
)

// Alive reports whether process pid exists (zombies included: this
// system's /proc is not read).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Live returns the group's id while any process of group pgid exists
// (zombies included; the members are not listed on this system).
func Live(pgid int) ([]int, error) {
	err := syscall.Kill(-pgid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return nil, nil
	}
	return []int{pgid}, nil
}

// LockHolders is supported on Linux only.
func LockHolders(path string) ([]int, error) { return nil, errors.ErrUnsupported }
