package coldstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotcold/hotcold/internal/bytesize"
)

// Backend is a Store that can also be loaded and administered: the
// surface of the persistent backends (Pebble, Redis) that the CLI and the
// sidecar open by URL with Open.
type Backend interface {
	Store
	// Load writes a new version of a table from spec.Source and publishes
	// it atomically. On error the live version is untouched.
	Load(ctx context.Context, spec LoadSpec) (LoadResult, error)
	// Versions lists the retained versions of a table, most recently
	// loaded first; an unknown table wraps ErrNoTable.
	Versions(ctx context.Context, table string) ([]VersionInfo, error)
	// Rollback makes a retained version live: to, or when empty the one
	// loaded before the live one.
	Rollback(ctx context.Context, table, to string) (TableInfo, error)
}

// Options are the settings Open passes to either backend. The zero value
// is the defaults.
type Options struct {
	// Create creates a Pebble store when the URL's directory holds none
	// (PebbleOptions.Create). Default false: Open fails with ErrNoStore, so
	// a reader with a typo in its path stops instead of reading a new
	// empty store. Only loaders set it.
	Create bool
	// KeepVersions is how many versions per table are retained. Default 3.
	KeepVersions int
	// CacheSize is the Pebble block cache size in bytes (Pebble only).
	// Default 256 MiB; a cache= parameter in the URL wins.
	CacheSize int64
	// PinMemory is PebbleOptions.PinMemory (Pebble only): default 256 MiB,
	// -1 off; a pin= parameter in the URL wins.
	PinMemory int64
	// Logger receives the store's logs. Default: discard.
	Logger *slog.Logger
	// Registerer registers the store's metrics. Default nil: not
	// registered.
	Registerer prometheus.Registerer
}

// Location is a parsed store URL.
type Location struct {
	// Kind is "pebble" or "redis".
	Kind string
	// Dir is the Pebble directory.
	Dir string
	// CacheSize and PinMemory are the Pebble block cache size and pin
	// budget (?cache=512MiB&pin=1GiB, pin=off for -1); 0 means unset.
	CacheSize, PinMemory int64
	// Compression is the sstable compression of loads (?compression=zstd).
	Compression string
	// Addrs are the Redis addresses (host:port); more than one means a
	// Redis Cluster.
	Addrs []string
	// Username, Password and DB authenticate and select the database
	// (DB on a standalone Redis only).
	Username, Password string
	DB                 int
	// TLS is set by the rediss:// scheme.
	TLS bool
	// Prefix is the key prefix (?prefix=); empty means the default.
	Prefix string
	// Cluster forces the cluster client for a single address
	// (?cluster=true); without it one address is auto-detected.
	Cluster bool
	// RefreshInterval is RedisOptions.RefreshInterval (?refresh=250ms;
	// refresh=0 reads the live pointer on every call); 0 means unset.
	RefreshInterval time.Duration
}

// ParseLocation parses a store URL:
//
//	pebble:DIR                       embedded Pebble store in DIR (also pebble://DIR)
//	pebble:DIR?cache=1GiB&pin=512MiB  ... with a block cache and pin budget (pin=off: no pinning)
//	pebble:DIR?compression=zstd       ... compressing loaded sstables with zstd (fastest, snappy, zstd, none)
//	redis://HOST:PORT                Redis, Valkey or Kvrocks; a cluster node is detected
//	redis://HOST:PORT,HOST:PORT,...  Redis Cluster seed nodes
//	rediss://...                     the same over TLS
//
// A Redis URL may carry user:password@, a /DB number and the query
// parameters prefix=KEYPREFIX, cluster=true and refresh=DURATION (how long
// a reader trusts a table's live version before reading it again, so how
// late another process's publish may be seen: default 1s; refresh=0 reads
// it on every call). Every problem is an error
// that shows a valid example.
func ParseLocation(s string) (Location, error) {
	bad := func(format string, args ...any) (Location, error) {
		return Location{}, fmt.Errorf("coldstore: store %q: %s (want pebble:DIR or redis://HOST:PORT[,HOST:PORT...])", Redact(s), fmt.Sprintf(format, args...))
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return bad("no scheme")
	}
	switch strings.ToLower(scheme) {
	case "pebble":
		dir, query, _ := strings.Cut(strings.TrimPrefix(rest, "//"), "?")
		if dir == "" {
			return bad("no directory")
		}
		loc := Location{Kind: "pebble", Dir: dir}
		q, err := url.ParseQuery(query)
		if err != nil {
			return bad("query: %v", err)
		}
		for k, vs := range q {
			v := vs[len(vs)-1]
			switch k {
			case "compression":
				if _, err := compressionProfile(v); err != nil || v == "" {
					return bad("compression=%q: want fastest, snappy, zstd or none", v)
				}
				loc.Compression = strings.ToLower(v)
			case "cache", "pin":
				var n int64
				if k == "pin" && (v == "off" || v == "0") {
					n = -1
				} else if n, err = bytesize.Parse(v); err != nil {
					return bad("%s=: %v", k, err)
				} else if n == 0 {
					return bad("%s=0: give a size, e.g. %s=512MiB", k, k)
				}
				if k == "cache" {
					loc.CacheSize = n
				} else {
					loc.PinMemory = n
				}
			default:
				return bad("unknown parameter %q (known for pebble: cache, pin, compression)", k)
			}
		}
		return loc, nil
	case "redis", "rediss", "valkey", "valkeys":
	default:
		return bad("unknown scheme %q", scheme)
	}
	sch := strings.ToLower(scheme)
	loc := Location{Kind: "redis", TLS: sch == "rediss" || sch == "valkeys"}
	if !strings.HasPrefix(rest, "//") {
		return bad("missing // after %s:", scheme)
	}
	rest = rest[2:]
	var query string
	rest, query, _ = strings.Cut(rest, "?")
	hostPart, path, _ := strings.Cut(rest, "/")
	if at := strings.LastIndexByte(hostPart, '@'); at >= 0 {
		ui := hostPart[:at]
		hostPart = hostPart[at+1:]
		user, pass, hasPass := strings.Cut(ui, ":")
		var err error
		if loc.Username, err = url.PathUnescape(user); err != nil {
			return bad("user name: %v", err)
		}
		if hasPass {
			if loc.Password, err = url.PathUnescape(pass); err != nil {
				return bad("password: %v", err)
			}
		}
	}
	if hostPart == "" {
		return bad("no host")
	}
	for _, h := range strings.Split(hostPart, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			return bad("address %q: %v", h, err)
		}
		if host == "" {
			return bad("address %q has no host", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return bad("address %q: port must be 1-65535", h)
		}
		loc.Addrs = append(loc.Addrs, net.JoinHostPort(host, port))
	}
	if path != "" {
		n, err := strconv.Atoi(path)
		if err != nil || n < 0 {
			return bad("database %q is not a number", path)
		}
		loc.DB = n
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return bad("query: %v", err)
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "prefix":
			loc.Prefix = v
		case "cluster":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("cluster=%q is not a boolean", v)
			}
			loc.Cluster = b
		case "refresh":
			d, err := time.ParseDuration(v)
			if v == "0" {
				d, err = time.Nanosecond, nil // every call
			}
			if err != nil || d <= 0 {
				return bad("refresh=%q: want a duration such as 250ms, or 0 to read the live version on every call", v)
			}
			loc.RefreshInterval = d
		default:
			return bad("unknown parameter %q (known: prefix, cluster, refresh)", k)
		}
	}
	if loc.DB != 0 && (len(loc.Addrs) > 1 || loc.Cluster) {
		return bad("a Redis Cluster has no database numbers")
	}
	return loc, nil
}

// String renders the location as a URL, without the password.
func (l Location) String() string {
	if l.Kind == "pebble" {
		q := url.Values{}
		if l.CacheSize > 0 {
			q.Set("cache", bytesize.Format(l.CacheSize))
		}
		switch {
		case l.PinMemory < 0:
			q.Set("pin", "off")
		case l.PinMemory > 0:
			q.Set("pin", bytesize.Format(l.PinMemory))
		}
		if l.Compression != "" {
			q.Set("compression", l.Compression)
		}
		if len(q) > 0 {
			return "pebble:" + l.Dir + "?" + q.Encode()
		}
		return "pebble:" + l.Dir
	}
	var b strings.Builder
	b.WriteString("redis")
	if l.TLS {
		b.WriteString("s")
	}
	b.WriteString("://")
	if l.Username != "" || l.Password != "" {
		b.WriteString(url.PathEscape(l.Username))
		if l.Password != "" {
			b.WriteString(":***")
		}
		b.WriteString("@")
	}
	b.WriteString(strings.Join(l.Addrs, ","))
	if l.DB != 0 {
		fmt.Fprintf(&b, "/%d", l.DB)
	}
	q := url.Values{}
	if l.Prefix != "" {
		q.Set("prefix", l.Prefix)
	}
	if l.Cluster {
		q.Set("cluster", "true")
	}
	switch {
	case l.RefreshInterval == time.Nanosecond:
		q.Set("refresh", "0")
	case l.RefreshInterval > 0:
		q.Set("refresh", l.RefreshInterval.String())
	}
	if len(q) > 0 {
		b.WriteString("?")
		b.WriteString(q.Encode())
	}
	return b.String()
}

// Open opens the backend a store URL names (see ParseLocation). The
// caller must Close it.
func Open(ctx context.Context, rawURL string, opts *Options) (Backend, error) {
	loc, err := ParseLocation(rawURL)
	if err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	switch loc.Kind {
	case "pebble":
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		po := &PebbleOptions{MustExist: !o.Create, CacheSize: o.CacheSize, PinMemory: o.PinMemory, KeepVersions: o.KeepVersions, Logger: o.Logger, Registerer: o.Registerer}
		if loc.CacheSize != 0 {
			po.CacheSize = loc.CacheSize
		}
		if loc.PinMemory != 0 {
			po.PinMemory = loc.PinMemory
		}
		po.Compression = loc.Compression
		return OpenPebble(loc.Dir, po)
	case "redis":
		ro := &RedisOptions{
			Addrs: loc.Addrs, Cluster: loc.Cluster, Username: loc.Username, Password: loc.Password, DB: loc.DB,
			Prefix: loc.Prefix, KeepVersions: o.KeepVersions, Logger: o.Logger, Registerer: o.Registerer,
			RefreshInterval: loc.RefreshInterval,
		}
		if loc.TLS {
			ro.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		return OpenRedis(ctx, ro)
	}
	return nil, errors.New("coldstore: unreachable")
}
