//go:build !linux

package kafkatest

import "os/exec"

// setDeathSignal is a no-op outside Linux: the broker stops at the end of
// its stdin, which closes when the test binary dies.
func setDeathSignal(cmd *exec.Cmd) {}
