package coldstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

// wantLoss checks that err is a DataLossError naming table and version (if
// not empty) and saying what to do.
func wantLoss(t *testing.T, what string, err error, table, version string) {
	t.Helper()
	var dl *coldstore.DataLossError
	if !errors.As(err, &dl) || !errors.Is(err, coldstore.ErrDataLoss) {
		t.Fatalf("%s: error %v, want a DataLossError", what, err)
	}
	if dl.Table != table || dl.Version != version {
		t.Fatalf("%s: loss of %q version %q, want %q version %q", what, dl.Table, dl.Version, table, version)
	}
	for _, want := range []string{"hotcold load --table " + table, "hotcold load rollback"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %q does not say what to do (%q)", what, err, want)
		}
	}
}

func orderKeys(from, to int64) [][]row.Value {
	var ks [][]row.Value
	for i := from; i < to; i++ {
		ks = append(ks, []row.Value{row.Int64Value(i)})
	}
	return ks
}

// eachMaster runs f on every master of env (the one server when
// standalone).
func (e redisEnv) eachMaster(t *testing.T, f func(c *redis.Client) error) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch c := e.raw.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error { return f(c) })
	case *redis.Client:
		err = f(c)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestRedisDataLoss: keys flushed, evicted (deleted) or lost with their
// metadata make lookups fail with a DataLossError, never answer misses;
// a reload makes the table whole again.
func TestRedisDataLoss(t *testing.T) {
	ctx := context.Background()
	for _, env := range redisEnvs(t) {
		t.Run(env.name, func(t *testing.T) {
			dir := t.TempDir()
			prefix := uniquePrefix()
			r := openRedis(t, env.addrs, &coldstore.RedisOptions{Prefix: prefix, RefreshInterval: time.Nanosecond})
			load := func(version string) {
				t.Helper()
				mustLoad(t, r, "orders", version, []string{"order_id"}, writeParquet(t, dir, version+".parquet", ordersSchema, ordersRows(0, 600, version)))
			}
			load("v1")
			if err := r.Verify(ctx, "orders"); err != nil {
				t.Fatalf("Verify of a whole version: %v", err)
			}
			if res := mustGetOrder(t, r, "orders", 10_000); res.Found {
				t.Fatal("key 10000 found")
			}

			t.Run("flushall", func(t *testing.T) {
				env.eachMaster(t, func(c *redis.Client) error { return c.FlushAll(ctx).Err() })
				_, err := r.MultiGet(ctx, "orders", orderKeys(0, 10))
				wantLoss(t, "MultiGet after FLUSHALL", err, "orders", "v1")
				_, err = r.Get(ctx, "orders", []row.Value{row.Int64Value(10_000)})
				wantLoss(t, "Get of a missing key after FLUSHALL", err, "orders", "v1")
				wantLoss(t, "Verify after FLUSHALL", r.Verify(ctx, "orders"), "orders", "v1")
				_, err = r.Describe(ctx, "orders")
				wantLoss(t, "Describe after FLUSHALL", err, "orders", "v1")
				load("v2")
				if err := r.Verify(ctx, "orders"); err != nil {
					t.Fatalf("Verify after the reload: %v", err)
				}
				wantCustomer(t, r, "orders", 7, "v2-7")
			})

			t.Run("data keys evicted", func(t *testing.T) {
				var n atomic.Int64 // masters run in parallel
				env.eachMaster(t, func(c *redis.Client) error {
					it := c.Scan(ctx, 0, prefix+"d:orders:*", 1000).Iterator()
					for it.Next(ctx) {
						if err := c.Del(ctx, it.Val()).Err(); err != nil {
							return err
						}
						n.Add(1)
					}
					return it.Err()
				})
				if n := n.Load(); n != 600 {
					t.Fatalf("deleted %d data keys, want 600", n)
				}
				err := r.Verify(ctx, "orders")
				wantLoss(t, "Verify after the data keys were deleted", err, "orders", "v2")
				if !strings.Contains(err.Error(), "64 of 64 keys sampled") {
					t.Fatalf("Verify: %v, want the sampled key count", err)
				}
				_, err = r.MultiGet(ctx, "orders", orderKeys(0, 10))
				wantLoss(t, "MultiGet after a failed Verify", err, "orders", "v2")
				// Another reader finds out from its own Verify.
				r2 := openRedis(t, env.addrs, &coldstore.RedisOptions{Prefix: prefix})
				wantLoss(t, "Verify by a new reader", r2.Verify(ctx, "orders"), "orders", "v2")
				load("v3")
				wantCustomer(t, r, "orders", 8, "v3-8")
			})

			t.Run("metadata lost", func(t *testing.T) {
				if err := env.raw.Del(ctx, prefix+"m:orders").Err(); err != nil {
					t.Fatal(err)
				}
				_, err := r.Get(ctx, "orders", []row.Value{row.Int64Value(1)})
				wantLoss(t, "Get after the metadata key was deleted", err, "orders", "v3")
				// A reader that never saw the table learns it from P tables.
				r2 := openRedis(t, env.addrs, &coldstore.RedisOptions{Prefix: prefix})
				_, err = r2.Get(ctx, "orders", []row.Value{row.Int64Value(1)})
				wantLoss(t, "Get by a new reader", err, "orders", "")
				wantLoss(t, "Verify by a new reader", r2.Verify(ctx, "orders"), "orders", "")
				infos, err := r.Tables(ctx)
				if err != nil || len(infos) != 0 {
					t.Fatalf("Tables = %v, %v; want no live table", infos, err)
				}
				_, err = r.Describe(ctx, "orders")
				wantLoss(t, "Describe after Tables", err, "orders", "v3")
			})
		})
	}
}

// TestRedisClusterNodeRestartedEmpty: one of three masters loses its keys
// (restarted without persistence); the sampled check notices, and
// lookups fail instead of answering a third of the keys as misses.
func TestRedisClusterNodeRestartedEmpty(t *testing.T) {
	ctx := context.Background()
	env := redisEnvs(t)[1]
	cl := env.raw.(*redis.ClusterClient)
	dir := t.TempDir()
	prefix := uniquePrefix()
	r := openRedis(t, env.addrs, &coldstore.RedisOptions{Prefix: prefix})
	mustLoad(t, r, "orders", "v1", []string{"order_id"}, writeParquet(t, dir, "v1.parquet", ordersSchema, ordersRows(0, 3000, "v1")))
	if err := r.Verify(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	// Flush the master that does not hold the metadata or the marker:
	// only the sampled keys can tell.
	keep := map[string]bool{}
	for _, k := range []string{prefix + "m:orders", prefix + "tables"} {
		n, err := cl.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		keep[n.Options().Addr] = true
	}
	var mu sync.Mutex // masters run in parallel
	var victim string
	if err := cl.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		if !keep[c.Options().Addr] && victim == "" {
			victim = c.Options().Addr
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if victim == "" {
		t.Fatal("every master holds metadata")
	}
	vc := redis.NewClient(&redis.Options{Addr: victim})
	defer vc.Close()
	if err := vc.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	err := r.Verify(ctx, "orders")
	wantLoss(t, "Verify", err, "orders", "v1")
	_, err = r.MultiGet(ctx, "orders", orderKeys(0, 3000))
	wantLoss(t, "MultiGet", err, "orders", "v1")
}

// TestPebbleDataLoss: a live version whose data range is gone fails its
// lookups once Verify (or the next open) notices; a store whose data
// files were deleted does not open, and says so.
func TestPebbleDataLoss(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sd := filepath.Join(dir, "store")
	p, err := coldstore.OpenPebble(sd, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustLoad(t, p, "orders", "v1", []string{"order_id"}, writeParquet(t, dir, "v1.parquet", ordersSchema, ordersRows(0, 600, "v1")))
	if err := p.Verify(ctx, "orders"); err != nil {
		t.Fatalf("Verify of a whole version: %v", err)
	}
	if err := coldstore.DeleteLiveData(p, "orders"); err != nil {
		t.Fatal(err)
	}
	wantLoss(t, "Verify", p.Verify(ctx, "orders"), "orders", "v1")
	_, err = p.Get(ctx, "orders", []row.Value{row.Int64Value(10_000)})
	wantLoss(t, "Get", err, "orders", "v1")
	_, err = p.MultiGet(ctx, "orders", orderKeys(0, 10))
	wantLoss(t, "MultiGet", err, "orders", "v1")

	// The check runs on open too.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p, err = coldstore.OpenPebble(sd, &coldstore.PebbleOptions{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Get(ctx, "orders", []row.Value{row.Int64Value(1)})
	wantLoss(t, "Get after reopening", err, "orders", "v1")
	mustLoad(t, p, "orders", "v2", []string{"order_id"}, writeParquet(t, dir, "v2.parquet", ordersSchema, ordersRows(0, 600, "v2")))
	wantCustomer(t, p, "orders", 7, "v2-7")
	if err := p.Verify(ctx, "orders"); err != nil {
		t.Fatalf("Verify after the reload: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	// Data files deleted.
	ents, err := os.ReadDir(sd)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".sst" {
			if err := os.Remove(filepath.Join(sd, e.Name())); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no .sst files to delete")
	}
	_, err = coldstore.OpenPebble(sd, &coldstore.PebbleOptions{MustExist: true})
	if !errors.Is(err, coldstore.ErrDataLoss) || !strings.Contains(err.Error(), "restore the directory from a backup") {
		t.Fatalf("open with its data files deleted: %v, want ErrDataLoss saying what to do", err)
	}
}
