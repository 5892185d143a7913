package main

import (
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"
)

var flagDispatcher = flag.String("dispatcher", "timerfd", "how the open-loop dispatcher waits for a call's due time: timerfd (a Linux timerfd read through the netpoller, which parks the goroutine and frees its P) or nanosleep (on a locked thread, which keeps its P while it sleeps)")

// timerfdSleeper waits with a timerfd read through Go's netpoller: unlike
// nanosleep(2) on a locked thread, the waiting goroutine gives its P back
// to the scheduler, and the wake-up has the timerfd's nanosecond
// resolution rather than the runtime timers' millisecond one (epoll_wait's
// timeout).
type timerfdSleeper struct {
	fd  uintptr
	f   *os.File
	buf [8]byte
}

func newTimerfdSleeper() (*timerfdSleeper, error) {
	const clockMonotonic = 1
	fd, _, e := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		return nil, fmt.Errorf("timerfd_create: %w", e)
	}
	return &timerfdSleeper{fd: fd, f: os.NewFile(fd, "timerfd")}, nil
}

// sleep waits for d (> 0).
func (t *timerfdSleeper) sleep(d time.Duration) error {
	var spec struct{ interval, value syscall.Timespec }
	spec.value = syscall.NsecToTimespec(int64(d))
	if _, _, e := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, t.fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); e != 0 {
		return fmt.Errorf("timerfd_settime: %w", e)
	}
	_, err := t.f.Read(t.buf[:])
	return err
}

func (t *timerfdSleeper) close() { t.f.Close() }
