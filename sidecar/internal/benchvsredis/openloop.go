package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// openLoop offers op at rate calls per second for d, open loop: call i is
// due at start + i/rate whatever happened to the calls before it, and its
// latency counts from that due time, so a stall delays (and is charged
// to) every call due during it instead of hiding them (no coordinated
// omission). workers goroutines make the calls; a call due while all are
// busy waits in the queue, on the clock.
//
// Go's timers wake at best about 1 ms late on Linux (the scheduler's
// netpoll sleeps in whole milliseconds), which at 10k calls/s would
// dispatch calls in bursts of ten and charge the generator's lateness to
// the server. The dispatcher therefore waits on a timerfd read through
// the netpoller (-dispatcher timerfd, the default), which wakes with the
// timerfd's nanosecond resolution and gives the goroutine's P back while
// it waits. The former way, -dispatcher nanosleep (its own OS thread, 1 ns
// timer slack, nanosleep(2)), keeps its P for the whole sleep: at
// GOMAXPROCS 1 (the pinned variant) the workers could not run until
// sysmon took the P back, and the driver fell behind at rates timerfd
// sustains. Its own lateness is reported as dispatchLag.
func openLoop(rate float64, d time.Duration, workers int, op func(*rand.Rand) error) (lat latencies, dispatchLag latencies, err error) {
	total := int(rate * d.Seconds())
	interval := float64(time.Second) / rate
	lat = make(latencies, total)
	lag := make(latencies, total)
	var firstErr atomic.Value
	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job, total)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for j := range jobs {
				if err := op(rng); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
				lat[j.i] = time.Since(j.due)
			}
		}()
	}
	sleep := func(wait time.Duration) {
		ts := syscall.NsecToTimespec(int64(wait))
		syscall.Nanosleep(&ts, nil)
	}
	lock := true
	switch *flagDispatcher {
	case "nanosleep":
	case "timerfd":
		t, terr := newTimerfdSleeper()
		if terr != nil {
			return nil, nil, terr
		}
		defer t.close()
		sleep = func(wait time.Duration) {
			if err := t.sleep(wait); err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		}
		lock = false
	default:
		return nil, nil, fmt.Errorf("-dispatcher %q: want timerfd or nanosleep", *flagDispatcher)
	}
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		if lock {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			const prSetTimerslack = 29
			syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerslack, 1, 0)
		}
		start := time.Now()
		for i := 0; i < total; i++ {
			due := start.Add(time.Duration(float64(i) * interval))
			if wait := time.Until(due); wait > 0 {
				sleep(wait)
			}
			lag[i] = time.Since(due)
			jobs <- job{i, due}
		}
	}()
	<-dispatched
	close(jobs)
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return nil, nil, e
	}
	lat.sort()
	lag.sort()
	return lat, lag, nil
}

// latencies are every call's latency; sorted, they give exact
// percentiles (what an HdrHistogram approximates).
type latencies []time.Duration

func (l latencies) sort() { slices.Sort(l) }

// q is the p-quantile of sorted l (nearest rank).
func (l latencies) q(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(p*float64(len(l))+0.999999) - 1
	return l[min(len(l)-1, max(0, i))]
}
