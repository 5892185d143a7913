package main

import (
	"os"
	"testing"
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
