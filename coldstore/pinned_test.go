package coldstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

var pinSchema = row.MustSchema([]row.Column{
	{Name: "region", Type: row.String},
	{Name: "id", Type: row.Int64},
	{Name: "name", Type: row.String, Nullable: true},
	{Name: "blob", Type: row.Binary, Nullable: true},
	{Name: "score", Type: row.Float64, Nullable: true},
}, []string{"region", "id"}, 1)

// pinRows returns n rows with composite keys of varying length (so that
// records in the pinned arena have different sizes), some nulls.
func pinRows(n int, tag string) []row.Row {
	rows := make([]row.Row, n)
	for i := range rows {
		name := row.StringValue(fmt.Sprintf("%s-%d%s", tag, i, strings.Repeat("x", i%37)))
		if i%11 == 0 {
			name = row.NullValue()
		}
		rows[i] = row.New(
			row.StringValue(fmt.Sprintf("r%d", i%7)+strings.Repeat("\x00", i%3)),
			row.Int64Value(int64(i)),
			name,
			row.BinaryValue([]byte{byte(i), 0, byte(i >> 8)}),
			row.Float64Value(float64(i)/3),
		)
	}
	return rows
}

func pinKey(i int) []row.Value {
	return []row.Value{row.StringValue(fmt.Sprintf("r%d", i%7) + strings.Repeat("\x00", i%3)), row.Int64Value(int64(i))}
}

func loadRows(t testing.TB, p *coldstore.Pebble, table, version string, rows []row.Row) {
	t.Helper()
	if _, err := p.Load(context.Background(), coldstore.LoadSpec{Table: table, Version: version, Key: pinSchema.KeyNames(), Source: coldstore.RowSource(pinSchema, rows)}); err != nil {
		t.Fatal(err)
	}
}

func mustPin(t testing.TB, p *coldstore.Pebble, table string, want bool) {
	t.Helper()
	got, err := p.Pin(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Pin(%s) = %v, want %v", table, got, want)
	}
}

// TestPinnedLookupsMatchTheBlockCachePath looks up present and absent
// keys, one by one and in batches with repeats, in a pinned store and in
// the same data read through Pebble, and wants identical answers.
func TestPinnedLookupsMatchTheBlockCachePath(t *testing.T) {
	const n = 20000
	rows := pinRows(n, "v1")
	pinnedStore := openPebble(t, t.TempDir(), nil)
	plain := openPebble(t, t.TempDir(), &coldstore.PebbleOptions{PinMemory: -1})
	loadRows(t, pinnedStore, "t", "v1", rows)
	loadRows(t, plain, "t", "v1", rows)
	mustPin(t, pinnedStore, "t", true)
	mustPin(t, plain, "t", false)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	keyOf := func() []row.Value { return pinKey(rng.IntN(n + n/4)) } // a fifth are absent
	for i := 0; i < 2000; i++ {
		k := keyOf()
		a, err := pinnedStore.Get(ctx, "t", k)
		if err != nil {
			t.Fatal(err)
		}
		b, err := plain.Get(ctx, "t", k)
		if err != nil {
			t.Fatal(err)
		}
		if a.Found != b.Found || a.Version != b.Version || (a.Found && !a.Row.Equal(b.Row)) {
			t.Fatalf("key %v: pinned %v %v, Pebble %v %v", k, a.Found, a.Row, b.Found, b.Row)
		}
	}
	for _, size := range []int{1, 7, 256, 1000} {
		keys := make([][]row.Value, size)
		for i := range keys {
			keys[i] = keyOf()
		}
		keys[size/2] = keys[0] // a repeated key
		a, err := pinnedStore.MultiGet(ctx, "t", keys)
		if err != nil {
			t.Fatal(err)
		}
		b, err := plain.MultiGet(ctx, "t", keys)
		if err != nil {
			t.Fatal(err)
		}
		for i := range keys {
			if a[i].Found != b[i].Found || a[i].Version != b[i].Version || (a[i].Found && !a[i].Row.Equal(b[i].Row)) {
				t.Fatalf("batch of %d, key %d %v: pinned %v %v, Pebble %v %v", size, i, keys[i], a[i].Found, a[i].Row, b[i].Found, b[i].Row)
			}
		}
	}
	// bad keys are the same KeyError on both paths
	_, errA := pinnedStore.MultiGet(ctx, "t", [][]row.Value{pinKey(1), {row.Int64Value(1)}})
	_, errB := plain.MultiGet(ctx, "t", [][]row.Value{pinKey(1), {row.Int64Value(1)}})
	if errA == nil || errB == nil || errA.Error() != errB.Error() {
		t.Fatalf("bad key: pinned %v, Pebble %v", errA, errB)
	}
}

// TestPinnedResultsAreOwnedByTheCaller scribbles over results of a pinned
// store and reads the rows again.
func TestPinnedResultsAreOwnedByTheCaller(t *testing.T) {
	p := openPebble(t, t.TempDir(), nil)
	rows := pinRows(100, "own")
	loadRows(t, p, "t", "v1", rows)
	mustPin(t, p, "t", true)
	ctx := context.Background()
	res, err := p.MultiGet(ctx, "t", [][]row.Value{pinKey(1), pinKey(2)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		copy(r.Row.Values[2].Bytes(), "XXXXXXXX")
		copy(r.Row.Values[3].Bytes(), "XXX")
		r.Row.Values = append(r.Row.Values, row.NullValue())
	}
	g, err := p.Get(ctx, "t", pinKey(3))
	if err != nil {
		t.Fatal(err)
	}
	copy(g.Row.Values[2].Bytes(), "XXXXXXXX")
	for _, i := range []int{1, 2, 3} {
		got, err := p.Get(ctx, "t", pinKey(i))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Found || !got.Row.Equal(rows[i]) {
			t.Fatalf("row %d after scribbling: %v, want %v", i, got.Row, rows[i])
		}
	}
}

// pinLog collects the store's log messages and signals each on a channel.
type pinLog struct {
	mu   sync.Mutex
	msgs chan string
}

func (l *pinLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *pinLog) Handle(_ context.Context, r slog.Record) error {
	var table, version string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "table":
			table = a.Value.String()
		case "version":
			version = a.Value.String()
		}
		return true
	})
	if strings.Contains(r.Message, "pinned") {
		l.msgs <- fmt.Sprintf("%s %s/%s", r.Message, table, version)
	}
	return nil
}
func (l *pinLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *pinLog) WithGroup(string) slog.Handler      { return l }

func waitLog(t *testing.T, l *pinLog, want string) {
	t.Helper()
	select {
	case m := <-l.msgs:
		if !strings.Contains(m, want) {
			t.Fatalf("log %q, want one containing %q", m, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no log containing %q", want)
	}
}

// TestPinFollowsPublishAndRollback: a pinned table's next version is
// pinned as soon as it is published, without waiting for a lookup, the
// old copy's memory is released, and a rollback pins the version it makes
// live.
func TestPinFollowsPublishAndRollback(t *testing.T) {
	reg := prometheus.NewRegistry()
	logs := &pinLog{msgs: make(chan string, 16)}
	p := openPebble(t, t.TempDir(), &coldstore.PebbleOptions{Registerer: reg, Logger: slog.New(logs)})
	ctx := context.Background()
	loadRows(t, p, "t", "v1", pinRows(1000, "v1"))
	if _, err := p.Get(ctx, "t", pinKey(1)); err != nil { // the first lookup starts the pin
		t.Fatal(err)
	}
	waitLog(t, logs, "version pinned in memory t/v1")
	one := gather(t, reg)[`hotcold_coldstore_pinned_bytes{backend="pebble"}`]
	if one <= 0 {
		t.Fatalf("pinned bytes %v after pinning v1", one)
	}

	loadRows(t, p, "t", "v2", pinRows(1000, "v2"))
	waitLog(t, logs, "version pinned in memory t/v2") // no lookup needed
	if got := gather(t, reg)[`hotcold_coldstore_pinned_bytes{backend="pebble"}`]; got != one {
		t.Fatalf("pinned bytes %v after replacing v1 by an equal-sized v2, want %v", got, one)
	}
	got, err := p.Get(ctx, "t", pinKey(5))
	if err != nil || got.Version != "v2" || got.Row.Values[2].Str() != "v2-5xxxxx" {
		t.Fatalf("after publishing v2: %v %v %v", got.Version, got.Row, err)
	}

	if _, err := p.Rollback(ctx, "t", "v1"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logs, "version pinned in memory t/v1")
	mustPin(t, p, "t", true)
	got, err = p.Get(ctx, "t", pinKey(5))
	if err != nil || got.Version != "v1" || got.Row.Values[2].Str() != "v1-5xxxxx" {
		t.Fatalf("after rollback to v1: %v %v %v", got.Version, got.Row, err)
	}
}

// TestPinMemoryIsABudget: versions that do not fit in what is left of
// PinMemory are read through Pebble, with the same answers.
func TestPinMemoryIsABudget(t *testing.T) {
	reg := prometheus.NewRegistry()
	small := pinRows(100, "s")
	big := pinRows(5000, "b")
	// room for the small table, not for the big one as well
	p := openPebble(t, t.TempDir(), &coldstore.PebbleOptions{Registerer: reg, PinMemory: 64 << 10})
	loadRows(t, p, "small", "v1", small)
	loadRows(t, p, "big", "v1", big)
	mustPin(t, p, "small", true)
	mustPin(t, p, "big", false)
	m := gather(t, reg)
	if m[`hotcold_coldstore_pin_refused_total{backend="pebble"}`] != 1 {
		t.Fatalf("pin_refused_total %v, want 1", m[`hotcold_coldstore_pin_refused_total{backend="pebble"}`])
	}
	if b := m[`hotcold_coldstore_pinned_bytes{backend="pebble"}`]; b <= 0 || b > 64<<10 {
		t.Fatalf("pinned_bytes %v, want within (0, 64 KiB]", b)
	}
	ctx := context.Background()
	for _, c := range []struct {
		table string
		rows  []row.Row
	}{{"small", small}, {"big", big}} {
		for _, i := range []int{0, 50, 99} {
			got, err := p.Get(ctx, c.table, pinKey(i))
			if err != nil || !got.Found || !got.Row.Equal(c.rows[i]) {
				t.Fatalf("%s key %d: %v %v %v", c.table, i, got.Found, got.Row, err)
			}
		}
	}
	if _, err := coldstore.OpenPebble(t.TempDir(), &coldstore.PebbleOptions{PinMemory: -2}); err == nil || !strings.Contains(err.Error(), "PinMemory") {
		t.Fatalf("PinMemory -2: %v, want an error naming PinMemory", err)
	}
}

// TestCloseWhilePinning closes the store while versions are being pinned
// and lookups run: nothing panics or races, and Pin reports no pin.
func TestCloseWhilePinning(t *testing.T) {
	dir := t.TempDir()
	p, err := coldstore.OpenPebble(dir, &coldstore.PebbleOptions{CacheSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	loadRows(t, p, "t", "v1", pinRows(20000, "c"))
	ctx := context.Background()
	var wg sync.WaitGroup
	pinned := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, err := p.Pin(ctx, "t")
		pinned <- err
	}()
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			if _, err := p.Get(ctx, "t", pinKey(i%20000)); err != nil {
				return // ErrClosed
			}
		}
	}()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := <-pinned; err != nil && err != coldstore.ErrClosed {
		t.Fatalf("Pin during Close: %v", err)
	}
	// reopening serves the data and pins it
	p2 := openPebble(t, dir, nil)
	mustPin(t, p2, "t", true)
	got, err := p2.Get(ctx, "t", pinKey(7))
	if err != nil || !got.Found {
		t.Fatalf("after reopen: %v %v", got, err)
	}
}
