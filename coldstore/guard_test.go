package coldstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/redistest"
)

// testLoadGuards checks MinRows, MaxShrink and Force on a backend whose
// table "orders" is empty.
func testLoadGuards(t *testing.T, b coldstore.Backend) {
	ctx := context.Background()
	load := func(version string, n int64, tweak func(*coldstore.LoadSpec)) error {
		spec := coldstore.LoadSpec{Table: "orders", Version: version, Key: []string{"order_id"}, Source: coldstore.RowSource(ordersSchema, ordersRows(0, n, version))}
		if tweak != nil {
			tweak(&spec)
		}
		_, err := b.Load(ctx, spec)
		return err
	}
	live := func() (string, int64) {
		t.Helper()
		info, err := b.Describe(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		return info.Version, info.Rows
	}
	refused := func(err error, want ...string) {
		t.Helper()
		if !errors.Is(err, coldstore.ErrLoadGuard) {
			t.Fatalf("load: %v, want ErrLoadGuard", err)
		}
		for _, w := range append(want, "nothing was published", "--force") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error lacks %q: %v", w, err)
			}
		}
	}

	// A new table: an empty input is refused, and the table does not appear.
	refused(load("v0", 0, nil), "the input has no rows")
	if _, err := b.Describe(ctx, "orders"); !errors.Is(err, coldstore.ErrNoTable) {
		t.Fatalf("after a refused first load: %v, want ErrNoTable", err)
	}
	if err := load("v1", 1000, nil); err != nil {
		t.Fatal(err)
	}
	// Much smaller than the live version: refused by the default 0.5.
	refused(load("v2", 499, nil), "499 rows", "the 1000 of the live version v1", "--max-shrink 0.5")
	refused(load("v2", 0, nil), "no rows")
	if v, n := live(); v != "v1" || n != 1000 {
		t.Fatalf("live %s with %d rows after refused loads, want v1 with 1000", v, n)
	}
	// Half is fine; a looser or tighter limit, MinRows.
	if err := load("v2", 500, nil); err != nil {
		t.Fatalf("a version half the size: %v", err)
	}
	refused(load("v3", 400, func(s *coldstore.LoadSpec) { s.MaxShrink = 0.1 }), "--max-shrink 0.1")
	if err := load("v3", 100, func(s *coldstore.LoadSpec) { s.MaxShrink = 1 }); err != nil {
		t.Fatalf("MaxShrink 1 (no limit): %v", err)
	}
	refused(load("v4", 150, func(s *coldstore.LoadSpec) { s.MinRows = 200 }), "150 rows, fewer than --min-rows 200")
	// Force publishes anyway, even an empty version.
	if err := load("v4", 0, func(s *coldstore.LoadSpec) { s.Force = true }); err != nil {
		t.Fatalf("Force: %v", err)
	}
	if v, n := live(); v != "v4" || n != 0 {
		t.Fatalf("live %s with %d rows after a forced load, want v4 with 0", v, n)
	}
	for _, bad := range []func(*coldstore.LoadSpec){func(s *coldstore.LoadSpec) { s.MaxShrink = 1.5 }, func(s *coldstore.LoadSpec) { s.MinRows = -1 }} {
		if err := load("v5", 10, bad); err == nil || errors.Is(err, coldstore.ErrLoadGuard) {
			t.Errorf("an invalid guard setting: %v, want an invalid-load error", err)
		}
	}
}

func TestPebbleLoadGuardsRefuseEmptyAndShrunkenVersions(t *testing.T) {
	testLoadGuards(t, openPebble(t, t.TempDir(), nil))
}

func TestRedisLoadGuardsRefuseEmptyAndShrunkenVersions(t *testing.T) {
	srv := redistest.Start(t)
	testLoadGuards(t, openRedis(t, []string{srv.Addr()}, nil))
}
