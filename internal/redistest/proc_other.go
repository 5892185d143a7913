//go:build !linux

package redistest

import "os/exec"

// setDeathSignal is a no-op outside Linux: servers are stopped by
// t.Cleanup only.
func setDeathSignal(cmd *exec.Cmd) {}
