//go:build linux

package redistest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the server die with the test process.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
