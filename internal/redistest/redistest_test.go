package redistest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hotcold/hotcold/internal/redistest"
)

func TestStartAnswersPing(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	if err := c.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v := c.Get(context.Background(), "k").Val(); v != "v" {
		t.Fatalf("GET k = %q", v)
	}
}

func TestStartClusterServesEverySlot(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	if n := len(cl.Addrs()); n != 3 {
		t.Fatalf("%d masters", n)
	}
	c := cl.Client(t)
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		k := fmt.Sprintf("key-%d", i)
		if err := c.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	var mu sync.Mutex
	sizes := map[string]int64{}
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		mu.Lock()
		sizes[m.Options().Addr] = n
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for addr, n := range sizes {
		if n == 0 {
			t.Errorf("master %s holds no keys: slots are not spread (sizes %v)", addr, sizes)
		}
	}
	if len(sizes) != 3 {
		t.Errorf("ForEachMaster saw %d masters", len(sizes))
	}
}
