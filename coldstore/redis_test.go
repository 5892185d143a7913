package coldstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/redistest"
	"github.com/hotcold/hotcold/row"
)

// redisEnv is one test's Redis deployment: a standalone server or a
// cluster, with a raw client to inspect keys.
type redisEnv struct {
	name  string
	addrs []string
	raw   redis.UniversalClient
}

func redisEnvs(t *testing.T) []redisEnv {
	srv := redistest.Start(t)
	cl := redistest.StartCluster(t, 3)
	return []redisEnv{
		{name: "standalone", addrs: []string{srv.Addr()}, raw: srv.Client(t)},
		{name: "cluster", addrs: cl.Addrs(), raw: cl.Client(t)},
	}
}

// countKeys counts the keys matching pattern on every master.
func (e redisEnv) countKeys(t testing.TB, pattern string) int {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	n := 0
	count := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		k := 0
		for it.Next(ctx) {
			k++
		}
		mu.Lock()
		n += k
		mu.Unlock()
		return it.Err()
	}
	var err error
	switch c := e.raw.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, count)
	case *redis.Client:
		err = count(ctx, c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRedisLoadFromParquetAndRetention(t *testing.T) {
	for _, env := range redisEnvs(t) {
		t.Run(env.name, func(t *testing.T) {
			dir := t.TempDir()
			prefix := uniquePrefix()
			r := openRedis(t, env.addrs, &coldstore.RedisOptions{Prefix: prefix, KeepVersions: 2, PipelineSize: 50})
			for i := 1; i <= 3; i++ {
				f1 := writeParquet(t, dir, fmt.Sprintf("v%d-a.parquet", i), ordersSchema, ordersRows(0, 300, fmt.Sprintf("v%d", i)))
				f2 := writeParquet(t, dir, fmt.Sprintf("v%d-b.parquet", i), ordersSchema, append(ordersRows(300, 600, fmt.Sprintf("v%d", i)), orderRow(7, "dup")))
				res := mustLoad(t, r, "orders", fmt.Sprintf("v%d", i), []string{"order_id"}, f1, f2)
				if res.Rows != 600 || res.Duplicates != 1 {
					t.Fatalf("load v%d: %+v", i, res)
				}
			}
			wantCustomer(t, r, "orders", 7, "dup")
			wantCustomer(t, r, "orders", 599, "v3-599")
			wantCustomer(t, r, "orders", 600, "")
			names, live := versionNames(t, r, "orders")
			if fmt.Sprint(names) != "[v3 v2]" || live != "v3" {
				t.Fatalf("versions %v live %q", names, live)
			}
			// v1 was swept (DropGrace is 1ns in these tests)
			if n := env.countKeys(t, prefix+"d:*"); n != 1200 {
				t.Fatalf("%d data keys, want 1200 (v3 and v2)", n)
			}
			if env.name == "cluster" {
				// the version spreads over every master
				cc := env.raw.(*redis.ClusterClient)
				err := cc.ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
					n, err := c.DBSize(ctx).Result()
					if err == nil && n < 100 {
						err = fmt.Errorf("master %s holds only %d keys", c.Options().Addr, n)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			// rollback, seen by another store after its refresh interval
			other := openRedis(t, env.addrs, &coldstore.RedisOptions{Prefix: prefix, RefreshInterval: time.Nanosecond})
			wantCustomer(t, other, "orders", 1, "v3-1")
			if _, err := r.Rollback(context.Background(), "orders", ""); err != nil {
				t.Fatal(err)
			}
			wantCustomer(t, other, "orders", 1, "v2-1")
			ts, err := other.Tables(context.Background())
			if err != nil || len(ts) != 1 || ts[0].Version != "v2" || ts[0].Rows != 600 {
				t.Fatalf("Tables from another store: %+v %v", ts, err)
			}
		})
	}
}

func TestRedisBadInputLeavesTheLiveVersion(t *testing.T) {
	for _, env := range redisEnvs(t) {
		t.Run(env.name, func(t *testing.T) {
			prefix := uniquePrefix()
			r := openRedis(t, env.addrs, &coldstore.RedisOptions{Prefix: prefix, PipelineSize: 20})
			testBadInput(t, r, func() int { return env.countKeys(t, prefix+"d:*") })
		})
	}
}

func TestRedisDataKeyIsSafeForRedisCLI(t *testing.T) {
	srv := redistest.Start(t)
	r := openRedis(t, []string{srv.Addr()}, &coldstore.RedisOptions{Prefix: "hc:"})
	s := row.MustSchema([]row.Column{{Name: "k", Type: row.String}, {Name: "v", Type: row.Int64, Nullable: true}}, []string{"k"}, 1)
	if _, err := r.Load(context.Background(), coldstore.LoadSpec{Table: "t", Version: "v1", Key: []string{"k"}, Source: coldstore.RowSource(s, []row.Row{row.New(row.StringValue("a\x00b"), row.Int64Value(1))})}); err != nil {
		t.Fatal(err)
	}
	k, err := coldstore.RedisDataKey(context.Background(), r, "t", []row.Value{row.StringValue("a\x00b")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k, "hc:d:t:") || strings.ContainsAny(k, "\x00\r\n *?") {
		t.Fatalf("data key %q", k)
	}
	if n := srv.Client(t).Exists(context.Background(), k).Val(); n != 1 {
		t.Fatalf("EXISTS %q = %d", k, n)
	}
}

func TestRedisCrashDuringLoadIsSwept(t *testing.T) {
	srv := redistest.Start(t)
	env := redisEnv{addrs: []string{srv.Addr()}, raw: srv.Client(t)}
	dir := t.TempDir()
	prefix := uniquePrefix()
	r := openRedis(t, env.addrs, &coldstore.RedisOptions{Prefix: prefix})
	mustLoad(t, r, "orders", "v1", []string{"order_id"}, writeParquet(t, dir, "v1.parquet", ordersSchema, ordersRows(0, 100, "one")))
	v2 := writeParquet(t, dir, "v2.parquet", ordersSchema, ordersRows(0, 3000, "two"))
	crashChild(t, crashSpec{Backend: "redis", Addrs: env.addrs, Prefix: prefix, Point: "sst", Files: []string{v2}})

	if n := env.countKeys(t, prefix+"d:*"); n <= 100 {
		t.Fatalf("the crashed load left %d data keys: the test would prove nothing", n)
	}
	// readers never saw it
	wantCustomer(t, r, "orders", 1, "one-1")
	names, live := versionNames(t, r, "orders")
	if fmt.Sprint(names) != "[v1]" || live != "v1" {
		t.Fatalf("versions %v live %q", names, live)
	}
	// once the dead load's lease (1s) expires, a sweep deletes its keys
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := r.Sweep(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.Versions == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the crashed load was not swept: %+v", res)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		}
	}
	if n := env.countKeys(t, prefix+"d:*"); n != 100 {
		t.Fatalf("%d data keys after the sweep, want 100", n)
	}
	mustLoad(t, r, "orders", "v2", []string{"order_id"}, v2)
	wantCustomer(t, r, "orders", 2000, "two-2000")
}

func TestOpenByURL(t *testing.T) {
	ctx := context.Background()
	cl := redistest.StartCluster(t, 3)
	// one seed address of a cluster is detected as a cluster
	b, err := coldstore.Open(ctx, "redis://"+cl.Addrs()[0]+"?prefix="+uniquePrefix(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.(*coldstore.Redis).Cluster() {
		t.Fatal("a cluster node was not detected as a cluster")
	}
	dir := t.TempDir()
	mustLoad(t, b, "orders", "v1", []string{"order_id"}, writeParquet(t, dir, "o.parquet", ordersSchema, ordersRows(0, 50, "u")))
	wantCustomer(t, b, "orders", 49, "u-49")

	p, err := coldstore.Open(ctx, "pebble:"+t.TempDir(), &coldstore.Options{KeepVersions: 1, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, ok := p.(*coldstore.Pebble); !ok {
		t.Fatalf("pebble: URL opened a %T", p)
	}
	if _, err := coldstore.Open(ctx, "redis://127.0.0.1:1", nil); err == nil {
		t.Fatal("opening an unreachable Redis succeeded")
	}
}
