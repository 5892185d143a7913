package demo

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/row"
)

// timedLookuper is a join.Lookuper that records the client-side latency
// of every MultiGet of the Lookuper it wraps. It is safe for concurrent
// use, as the join requires.
type timedLookuper struct {
	l  join.Lookuper
	mu struct {
		sync.Mutex
		calls []time.Duration
		keys  int64
	}
}

func newTimedLookuper(l join.Lookuper) *timedLookuper { return &timedLookuper{l: l} }

// MultiGet implements join.Lookuper.
func (t *timedLookuper) MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]coldstore.Result, error) {
	start := time.Now()
	res, err := t.l.MultiGet(ctx, table, keys)
	d := time.Since(start)
	if err == nil {
		t.mu.Lock()
		t.mu.calls = append(t.mu.calls, d)
		t.mu.keys += int64(len(keys))
		t.mu.Unlock()
	}
	return res, err
}

// Describe implements join.Lookuper.
func (t *timedLookuper) Describe(ctx context.Context, table string) (coldstore.TableInfo, error) {
	return t.l.Describe(ctx, table)
}

// LookupLatency summarizes the cold lookups of one job as its client saw
// them: one sample per batched MultiGet call.
type LookupLatency struct {
	// Calls is the number of successful MultiGet calls, Keys the keys
	// they asked for.
	Calls int64 `json:"calls"`
	Keys  int64 `json:"keys"`
	// P50 and P99 are latency quantiles of one call.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
}

func (t *timedLookuper) latency() LookupLatency {
	t.mu.Lock()
	calls := slices.Clone(t.mu.calls)
	keys := t.mu.keys
	t.mu.Unlock()
	slices.Sort(calls)
	return LookupLatency{Calls: int64(len(calls)), Keys: keys, P50: quantile(calls, 0.50), P99: quantile(calls, 0.99)}
}

// quantile returns the q-quantile (nearest rank) of sorted samples, 0 for
// none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
