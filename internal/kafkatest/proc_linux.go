//go:build linux

package kafkatest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal stops the broker (SIGTERM: its shutdown hook deletes its
// files) when the test binary dies.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
