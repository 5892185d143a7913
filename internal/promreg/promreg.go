// Package promreg registers Prometheus collectors so that several
// instances of one component (many state DBs, operators or stores in one
// process) can share a Registerer: a collector that is already registered
// is reused instead of failing.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with reg and returns the collector to use: c, or the
// equal collector registered before it. A nil reg registers nothing. A
// conflicting collector of another shape leaves c unregistered rather than
// failing the caller, whose metrics then stay local.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
