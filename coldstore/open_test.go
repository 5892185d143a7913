package coldstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/redistest"
)

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // fmt of the Location, or "error: substring"
	}{
		{"pebble:./cold", "{pebble ./cold [] 0 false false}"},
		{"pebble:///var/lib/cold", "{pebble /var/lib/cold [] 0 false false}"},
		{"redis://127.0.0.1:6379", "{redis  [127.0.0.1:6379] 0 false false}"},
		{"redis://a:1,b:2,[::1]:3?prefix=hc:", "{redis  [a:1 b:2 [::1]:3] 0 false false}"},
		{"rediss://user:p%40ss@h:6380/2", "{redis  [h:6380] 2 true false}"},
		{"redis://h:1?cluster=true", "{redis  [h:1] 0 false true}"},
		{"valkey://h:1", "{redis  [h:1] 0 false false}"},
		{"pebble:./cold?cache=1GiB&pin=off", "{pebble ./cold [] 0 false false}"},
		{"pebble:", "error: no directory"},
		{"pebble:./cold?pin=lots", "error: pin=: size \"lots\""},
		{"pebble:./cold?cache=0", "error: cache=0: give a size"},
		{"pebble:./cold?block=1", "error: unknown parameter \"block\""},
		{"pebble:./cold?compression=lz5", "error: compression=\"lz5\""},
		{"./cold", "error: no scheme"},
		{"s3://bucket/cold", "error: unknown scheme \"s3\""},
		{"cold", "error: no scheme"},
		{"redis:h:1", "error: missing //"},
		{"redis://", "error: no host"},
		{"redis://h", "error: missing port"},
		{"redis://h:0", "error: port must be"},
		{"redis://h:1/x", "error: database \"x\""},
		{"redis://h:1?db=3", "error: unknown parameter \"db\""},
		{"redis://a:1,b:2/3", "error: no database numbers"},
		{"redis://h:1?cluster=maybe", "error: not a boolean"},
	} {
		loc, err := coldstore.ParseLocation(tc.in)
		var got string
		if err != nil {
			got = "error: " + err.Error()
		} else {
			got = fmt.Sprint(struct {
				Kind, Dir string
				Addrs     []string
				DB        int
				TLS, Cl   bool
			}{loc.Kind, loc.Dir, loc.Addrs, loc.DB, loc.TLS, loc.Cluster})
		}
		if strings.HasPrefix(tc.want, "error: ") {
			if err == nil || !strings.Contains(got, strings.TrimPrefix(tc.want, "error: ")) || !strings.Contains(got, "pebble:DIR") {
				t.Errorf("%q: %s, want %s with an example", tc.in, got, tc.want)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%q: %s, want %s", tc.in, got, tc.want)
		}
	}
	pl, err := coldstore.ParseLocation("pebble:./cold?cache=1GiB&pin=512MiB&compression=ZSTD")
	if err != nil || pl.CacheSize != 1<<30 || pl.PinMemory != 512<<20 || pl.Compression != "zstd" || pl.String() != "pebble:./cold?cache=1GiB&compression=zstd&pin=512MiB" {
		t.Errorf("pebble sizes: %+v %q %v", pl, pl.String(), err)
	}
	if pl, _ := coldstore.ParseLocation("pebble:./cold?pin=off"); pl.PinMemory != -1 || pl.String() != "pebble:./cold?pin=off" {
		t.Errorf("pin=off: %+v %q", pl, pl.String())
	}
	loc, _ := coldstore.ParseLocation("rediss://user:secret@h:1,g:2?prefix=hc:")
	if s := loc.String(); strings.Contains(s, "secret") || !strings.HasPrefix(s, "rediss://user:***@h:1,g:2") {
		t.Errorf("String() = %q", s)
	}
	if loc.Username != "user" || loc.Password != "secret" || loc.Prefix != "hc:" {
		t.Errorf("credentials/prefix: %+v", loc)
	}
}

// FuzzParseLocation: any string parses or errs; a parsed location renders
// to a URL that parses to the same location.
func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"pebble:./cold", "pebble:d?cache=3MiB&pin=off", "redis://a:1,b:2?prefix=x&cluster=1", "rediss://u:p@h:1/3", "redis://[::1]:6379", "redis://%zz@h:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		loc, err := coldstore.ParseLocation(s)
		if err != nil {
			return
		}
		if loc.Password != "" {
			return // String hides it
		}
		again, err := coldstore.ParseLocation(loc.String())
		if err != nil {
			t.Fatalf("%q parsed, its String %q does not: %v", s, loc.String(), err)
		}
		if fmt.Sprint(again) != fmt.Sprint(loc) {
			t.Fatalf("%q -> %+v -> %q -> %+v", s, loc, loc.String(), again)
		}
	})
}

func TestOpenRefusesADirectoryThatHoldsNoStore(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(base, "typo"), empty} {
		_, err := coldstore.Open(ctx, "pebble:"+dir, nil)
		if !errors.Is(err, coldstore.ErrNoStore) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "hotcold load") {
			t.Fatalf("Open(%s) = %v, want ErrNoStore naming the directory and how to create a store", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "typo")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a reader created the directory: %v", err)
	}
	// A loader creates it; readers then open it.
	st, err := coldstore.Open(ctx, "pebble:"+empty, &coldstore.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = coldstore.Open(ctx, "pebble:"+empty, nil)
	if err != nil {
		t.Fatalf("reopening a created store: %v", err)
	}
	st.Close()
}

func TestRedisURLSetsTheRefreshInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"redis://h:1":               0,
		"redis://h:1?refresh=250ms": 250 * time.Millisecond,
		"redis://h:1?refresh=0":     time.Nanosecond,
	} {
		loc, err := coldstore.ParseLocation(in)
		if err != nil || loc.RefreshInterval != want {
			t.Errorf("%q: RefreshInterval %v, %v; want %v", in, loc.RefreshInterval, err, want)
		}
		if again, err := coldstore.ParseLocation(loc.String()); err != nil || again.RefreshInterval != want {
			t.Errorf("%q renders as %q, which reads back as %v, %v", in, loc.String(), again.RefreshInterval, err)
		}
	}
	for _, bad := range []string{"redis://h:1?refresh=soon", "redis://h:1?refresh=-1s"} {
		if _, err := coldstore.ParseLocation(bad); err == nil || !strings.Contains(err.Error(), "refresh=") {
			t.Errorf("%q: %v, want an error naming refresh=", bad, err)
		}
	}
}

// A publish by another process is seen by the next call with refresh=0,
// where the default would keep answering from the old version for up to
// a second.
func TestRedisRefreshZeroSeesAnotherProcesssPublishOnTheNextCall(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	url := "redis://" + srv.Addr()
	writer, err := coldstore.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := coldstore.Open(ctx, url+"?refresh=0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	publish := func(v string) {
		t.Helper()
		if _, err := writer.Load(ctx, coldstore.LoadSpec{Table: "orders", Version: v, Key: []string{"order_id"}, Source: coldstore.RowSource(ordersSchema, ordersRows(0, 10, v))}); err != nil {
			t.Fatal(err)
		}
	}
	publish("v1")
	if info, err := reader.Describe(ctx, "orders"); err != nil || info.Version != "v1" {
		t.Fatalf("reader: %+v, %v", info, err)
	}
	publish("v2")
	if info, err := reader.Describe(ctx, "orders"); err != nil || info.Version != "v2" {
		t.Fatalf("reader with refresh=0 after another process published v2: %+v, %v", info, err)
	}
}
