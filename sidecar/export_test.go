package sidecar

import "context"

// CheckReadiness recomputes the health statuses and freshness gauges of s
// now, as the periodic check does.
func CheckReadiness(s *Server) { s.ready.check(context.Background()) }
