package sidecar_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// publishVersion k of orders: rows 0..99 except those with (i+k)%10 == 0,
// so present and missing keys both change between versions. The customer
// column names the version.
func publishVersion(t testing.TB, m *coldstore.Memory, k int) {
	t.Helper()
	var rows []row.Row
	for i := int64(0); i < 100; i++ {
		if (i+int64(k))%10 != 0 {
			rows = append(rows, orderRow(i, versionName(k)))
		}
	}
	if err := m.Publish("orders", versionName(k), ordersSchema, time.Time{}, rows); err != nil {
		t.Fatal(err)
	}
}

func versionName(k int) string { return fmt.Sprintf("v%03d", k) }

func versionIndex(t testing.TB, v string) int {
	k, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	if err != nil {
		t.Errorf("bad version %q", v)
	}
	return k
}

func TestNoStaleRowAfterANewVersionIsPublishedMidTraffic(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		strict   bool
	}{
		{"version checked on every call", 0, true},
		{"version checked every 5ms", 5 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := coldstore.NewMemory()
			t.Cleanup(func() { mem.Close() })
			publishVersion(t, mem, 0)
			sc := startSidecar(t, mem, sidecar.Options{VersionCheckInterval: tc.interval})
			c := dial(t, sc.unix, sidecar.WithAutoBatch(32, 0))

			var published atomic.Int64 // newest version whose Publish returned
			var lookups atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					seen := 0
					for n := 0; ; n++ {
						select {
						case <-stop:
							return
						default:
						}
						before := int(published.Load())
						i := int64((n*7 + w*13) % 100)
						res, err := c.Get(context.Background(), "orders", key(i))
						if err != nil {
							t.Error(err)
							return
						}
						k := versionIndex(t, res.Version)
						if wantFound := (i+int64(k))%10 != 0; res.Found != wantFound {
							t.Errorf("key %d: found=%v in %s, want %v: an answer of another version", i, res.Found, res.Version, wantFound)
							return
						}
						if res.Found && !res.Row.Equal(orderRow(i, res.Version)) {
							t.Errorf("key %d: row %v labelled %s comes from another version", i, res.Row, res.Version)
							return
						}
						if k < seen {
							t.Errorf("key %d: answered from %s after %s had answered", i, res.Version, versionName(seen))
							return
						}
						seen = k
						if tc.strict && k < before {
							t.Errorf("key %d: answered from %s, but %s was published before the call", i, res.Version, versionName(before))
							return
						}
						lookups.Add(1)
					}
				}()
			}
			for k := 1; k <= 15; k++ {
				mark := lookups.Load()
				eventually(t, "traffic between publishes", func() bool { return lookups.Load() >= mark+200 || t.Failed() })
				publishVersion(t, mem, k)
				published.Store(int64(k))
			}
			mark := lookups.Load()
			eventually(t, "traffic after the last publish", func() bool { return lookups.Load() >= mark+200 || t.Failed() })
			close(stop)
			wg.Wait()
			if hits := metricValue(t, sc, "hotcold_sidecar_cache_lookups_total"); hits == 0 {
				t.Fatal("the cache was never consulted")
			}
			res, err := c.Get(context.Background(), "orders", key(1))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.strict {
				eventually(t, "the last version to be seen", func() bool {
					res, err = c.Get(context.Background(), "orders", key(1))
					return err == nil && res.Version == versionName(15)
				})
			}
			if res.Version != versionName(15) {
				t.Fatalf("after the last publish: version %s, want %s", res.Version, versionName(15))
			}
		})
	}
}

func TestAVersionNameReusedForNewDataIsNotServedFromTheCache(t *testing.T) {
	mem := coldstore.NewMemory()
	t.Cleanup(func() { mem.Close() })
	publishOrders(t, mem, "v1", 10)
	sc := startSidecar(t, mem, sidecar.Options{})
	c := dial(t, sc.tcp)
	if res, err := c.Get(context.Background(), "orders", key(3)); err != nil || !res.Found {
		t.Fatal(res, err)
	}
	// The same version name, published again (after the old data expired)
	// with other rows.
	rows := []row.Row{orderRow(3, "reloaded")}
	if err := mem.Publish("orders", "v1", ordersSchema, time.Time{}, rows); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reloaded row", func() bool {
		res, err := c.Get(context.Background(), "orders", key(3))
		if err != nil {
			t.Fatal(err)
		}
		return res.Row.Equal(orderRow(3, "reloaded"))
	})
}
