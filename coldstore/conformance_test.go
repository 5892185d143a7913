package coldstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/coldstore/coldstoretest"
	"github.com/hotcold/hotcold/internal/redistest"
	"github.com/hotcold/hotcold/row"
)

func TestMemoryConformance(t *testing.T) {
	coldstoretest.Run(t, func(t *testing.T) coldstoretest.Harness {
		h := coldstoretest.MemoryHarness()
		t.Cleanup(func() { _ = h.Store.Close() })
		return h
	})
}

// TestPebbleConformance runs the suite on the block-cache read path
// (pinning off).
func TestPebbleConformance(t *testing.T) {
	coldstoretest.Run(t, func(t *testing.T) coldstoretest.Harness {
		p, err := coldstore.OpenPebble(t.TempDir(), &coldstore.PebbleOptions{CacheSize: 8 << 20, PinMemory: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return coldstoretest.BackendHarness(p)
	})
}

// TestPebblePinnedConformance runs the suite on the pinned read path:
// every publish waits until the new version is pinned in memory.
func TestPebblePinnedConformance(t *testing.T) {
	coldstoretest.Run(t, func(t *testing.T) coldstoretest.Harness {
		p, err := coldstore.OpenPebble(t.TempDir(), &coldstore.PebbleOptions{CacheSize: 8 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		h := coldstoretest.BackendHarness(p)
		load := h.Publish
		h.Publish = func(ctx context.Context, table, version string, s *row.Schema, coversUntil time.Time, rows []row.Row) error {
			if err := load(ctx, table, version, s, coversUntil, rows); err != nil {
				return err
			}
			pinned, err := p.Pin(ctx, table)
			if err != nil {
				return err
			}
			if !pinned {
				return fmt.Errorf("table %s version %s was not pinned", table, version)
			}
			return nil
		}
		return h
	})
}

var prefixSeq atomic.Int64

// uniquePrefix gives each store on a shared server its own key space.
func uniquePrefix() string { return fmt.Sprintf("t%d:", prefixSeq.Add(1)) }

func openRedis(t testing.TB, addrs []string, o *coldstore.RedisOptions) *coldstore.Redis {
	t.Helper()
	var opts coldstore.RedisOptions
	if o != nil {
		opts = *o
	}
	opts.Addrs = addrs
	if opts.Prefix == "" {
		opts.Prefix = uniquePrefix()
	}
	if opts.DropGrace == 0 {
		opts.DropGrace = time.Nanosecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := coldstore.OpenRedis(ctx, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestRedisConformance(t *testing.T) {
	srv := redistest.Start(t)
	coldstoretest.Run(t, func(t *testing.T) coldstoretest.Harness {
		return coldstoretest.BackendHarness(openRedis(t, []string{srv.Addr()}, nil))
	})
}

func TestRedisClusterConformance(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	coldstoretest.Run(t, func(t *testing.T) coldstoretest.Harness {
		r := openRedis(t, cl.Addrs(), nil)
		if !r.Cluster() {
			t.Fatal("store on a cluster does not use the cluster client")
		}
		return coldstoretest.BackendHarness(r)
	})
}
