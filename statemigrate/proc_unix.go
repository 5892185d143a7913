//go:build unix

package statemigrate

import (
	"errors"
	"os/exec"
	"syscall"
)

func setProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// signalGroup sends SIGTERM (or SIGKILL) to the process group of pid, or to
// pid alone when it leads no group (a job CommandJobs did not start).
func signalGroup(pid int, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(-pid, sig); err == nil {
		return nil
	}
	err := syscall.Kill(pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// alive reports whether pid, or any process of the group it leads, still
// runs. A job started as `sh -c LINE` leads its group; the shell may exit
// on SIGTERM (or exec) before the job it started has released its state,
// so a stop waits for the whole group, not only for the shell.
func alive(pid int) bool {
	if err := syscall.Kill(-pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
