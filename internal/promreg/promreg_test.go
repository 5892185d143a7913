package promreg_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/internal/promreg"
)

func TestRegisterReusesAnEqualCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	newC := func() prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "x_total", Help: "x"})
	}
	var cf promreg.Conflicts
	a := promreg.Register(reg, newC(), &cf)
	b := promreg.Register(reg, newC(), &cf)
	if a != b {
		t.Fatal("second registration did not reuse the first collector")
	}
	if c := promreg.Register(nil, newC(), &cf); c == nil {
		t.Fatal("nil registerer returned nil")
	}
	if err := cf.Err(); err != nil {
		t.Fatalf("conflicts %v", err)
	}
}

func TestRegisterReportsAConflictingCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	var cf promreg.Conflicts
	promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"a"}), &cf)
	c := promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"b"}), &cf)
	if c == nil {
		t.Fatal("the conflicting collector was not returned for local use")
	}
	err := cf.Err()
	if err == nil || !strings.Contains(err.Error(), "x_total") {
		t.Fatalf("conflict not reported: %v", err)
	}
}
