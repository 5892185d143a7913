package main

import (
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

func TestMaskOf(t *testing.T) {
	m := maskOf(0, 1, 65)
	if m[0] != 3 || m[1] != 2 {
		t.Fatalf("maskOf(0, 1, 65) = %x %x, want 3 2", m[0], m[1])
	}
}

// setAffinity to the mask the process already has changes nothing but goes
// through every thread.
func TestSetAffinityOwnMask(t *testing.T) {
	all, err := allCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if all == (cpuMask{}) {
		t.Fatal("allCPUs is empty")
	}
	if err := setAffinity(os.Getpid(), all); err != nil {
		t.Fatal(err)
	}
	again, err := allCPUs()
	if err != nil || again != all {
		t.Fatalf("after setAffinity: %x, %v; want %x", again, err, all)
	}
}

func TestLatenciesQuantile(t *testing.T) {
	l := latencies{5, 1, 4, 2, 3}
	l.sort()
	for _, c := range []struct {
		p    float64
		want int
	}{{0, 1}, {0.5, 3}, {0.99, 5}, {1, 5}} {
		if got := l.q(c.p); int(got) != c.want {
			t.Errorf("q(%v) = %v, want %v", c.p, int(got), c.want)
		}
	}
}

// The timerfd sleeper wakes no earlier than asked, again and again (it is
// re-armed each time).
func TestTimerfdSleeper(t *testing.T) {
	s, err := newTimerfdSleeper()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	for i := 0; i < 3; i++ {
		start := time.Now()
		if err := s.sleep(200 * time.Microsecond); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 200*time.Microsecond {
			t.Fatalf("sleep(200µs) returned after %v", el)
		}
	}
}

// Every call of an open loop is made and timed, whichever dispatcher.
func TestOpenLoopCountsEveryCall(t *testing.T) {
	for _, disp := range []string{"timerfd", "nanosleep"} {
		t.Run(disp, func(t *testing.T) {
			old := *flagDispatcher
			*flagDispatcher = disp
			defer func() { *flagDispatcher = old }()
			var calls atomic.Int64
			lat, lag, err := openLoop(2000, 100*time.Millisecond, 4, func(*rand.Rand) error { calls.Add(1); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if len(lat) != 200 || len(lag) != 200 || calls.Load() != 200 {
				t.Fatalf("%d latencies, %d lags, %d calls; want 200 each", len(lat), len(lag), calls.Load())
			}
		})
	}
}
