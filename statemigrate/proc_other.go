//go:build !unix

package statemigrate

import (
	"errors"
	"os/exec"
)

var errNoProcesses = errors.New("statemigrate: CommandJobs needs a Unix system")

func setProcessGroup(*exec.Cmd)   {}
func signalGroup(int, bool) error { return errNoProcesses }
func alive(int) bool              { return false }
