// Package procgroup runs a job as the leader of its own process group and
// stops the whole group: a job started through a shell (sh -c, a wrapper
// script) has children that a signal to the shell alone never reaches, and
// Debian's dash does not pass signals on.
//
// Start starts an exec.Cmd in a new group; Group.Stop signals the group,
// waits until the leader has exited and no live process is left in the
// group, and kills the group after a grace period:
//
//	g, err := procgroup.Start(exec.Command("sh", "-c", line))
//	...
//	err = g.Stop(ctx, syscall.SIGTERM, 10*time.Second)
//
// For a group this process did not start (a workflow resumed after a
// crash), Signal, Live and WaitGone work from the process group id, and
// LockHolders tells which processes still hold a lock on a file (a Pebble
// directory's LOCK), so that a caller can wait until a stopped job has
// released its state.
//
// On Linux the liveness checks read /proc and ignore zombies (a process
// that has exited but whose parent has not reaped it holds no resources).
// Elsewhere on Unix they ask kill(-pgid, 0). On other systems Start fails
// with errors.ErrUnsupported.
package procgroup

// doccheck:
//	var ctx context.Context
//	var line string
