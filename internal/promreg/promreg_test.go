package promreg_test

import (
	"testing"

	"github.com/hotcold/hotcold/internal/promreg"
	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterReusesAnEqualCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	newC := func() prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "x_total", Help: "x"})
	}
	a := promreg.Register(reg, newC())
	b := promreg.Register(reg, newC())
	if a != b {
		t.Fatal("second registration did not reuse the first collector")
	}
	if c := promreg.Register(nil, newC()); c == nil {
		t.Fatal("nil registerer returned nil")
	}
}
