//go:build !unix

package procgroup

import (
	"errors"
	"os/exec"
	"syscall"
)

func setGroup(*exec.Cmd) error            { return errors.ErrUnsupported }
func signalPid(int, syscall.Signal) error { return errors.ErrUnsupported }
func Signal(int, syscall.Signal) error    { return errors.ErrUnsupported }
func IsLeader(int) bool                   { return false }
func Alive(int) bool                      { return false }
func Live(int) ([]int, error)             { return nil, errors.ErrUnsupported }
func LockHolders(string) ([]int, error)   { return nil, errors.ErrUnsupported }
