package sidecar

import "context"

// CheckReadiness recomputes the health statuses and freshness gauges of s
// now, as the periodic check does.
func CheckReadiness(s *Server) { s.ready.check(context.Background()) }

// ReadinessDone is closed when the periodic readiness goroutine of s has
// ended (it is started by the first Serve).
func ReadinessDone(s *Server) <-chan struct{} { return s.ready.done }
