//go:build unix

package procgroup

import (
	"errors"
	"os/exec"
	"syscall"
)

func setGroup(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	return nil
}

// Signal sends sig to every process of group pgid. A group that no longer
// exists is not an error.
func Signal(pgid int, sig syscall.Signal) error {
	if pgid <= 0 {
		return errors.New("procgroup: no process group")
	}
	err := syscall.Kill(-pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func signalPid(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return errors.New("procgroup: no process")
	}
	err := syscall.Kill(pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// IsLeader reports whether pid is alive and leads its own process group.
func IsLeader(pid int) bool {
	pgid, err := syscall.Getpgid(pid)
	return err == nil && pgid == pid
}
