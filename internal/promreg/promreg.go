// Package promreg registers Prometheus collectors so that several
// instances of one component (many state DBs, operators or stores in one
// process) can share a Registerer: a collector that is already registered
// is reused instead of failing, and one that conflicts (the same name with
// other labels or help) is reported, not dropped.
package promreg

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Conflicts collects the collectors a component could not register. The
// zero value is ready to use.
type Conflicts struct{ errs []error }

// Err returns every conflict joined, or nil.
func (c *Conflicts) Err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return fmt.Errorf("metrics: %w", errors.Join(c.errs...))
}

// Register registers c with reg and returns the collector to use: c, or the
// equal collector registered before it. A nil reg registers nothing. A
// collector that conflicts with one registered before (the same name with
// other labels, help or type) is added to cf and returned unregistered, so
// that the caller can fail with cf.Err().
func Register[C prometheus.Collector](reg prometheus.Registerer, c C, cf *Conflicts) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	cf.errs = append(cf.errs, fmt.Errorf("%w (is another component of this process registering a metric of that name?)", err))
	return c
}
