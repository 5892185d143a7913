package coldstore

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/hotcold/hotcold/row"
)

// RedisOptions configures a Redis-protocol store. Addrs is required; every
// other zero field is a default.
type RedisOptions struct {
	// Addrs are the server addresses (host:port). More than one is a Redis
	// Cluster (seed nodes). Required.
	Addrs []string
	// Cluster forces the cluster client for a single address. Default
	// false: a single address is probed with INFO cluster and the cluster
	// client is used if the node has cluster mode on.
	Cluster bool
	// Username and Password authenticate (Redis ACL / AUTH). Default none.
	Username, Password string
	// DB selects the database of a standalone server. Default 0.
	DB int
	// TLSConfig turns TLS on. Default nil: plain TCP.
	TLSConfig *tls.Config
	// Prefix starts every key the store writes, so that several stores (or
	// other data) can share a server. Default "hotcold:".
	Prefix string
	// KeepVersions is how many versions of each table are retained.
	// Default 3.
	KeepVersions int
	// RefreshInterval is how long a reader trusts its cached copy of a
	// table's live pointer before reading it again; a version published
	// by another process becomes visible within it (a publish by this
	// Redis value is visible at once). Default 1s; ?refresh= in a store
	// URL sets it.
	RefreshInterval time.Duration
	// DropGrace is how long the data of a version dropped by retention
	// stays after the publish that dropped it, so that readers that still
	// hold the old pointer finish. Deletion happens in a later Sweep (every
	// Load and OpenRedis sweeps). Default 1m.
	DropGrace time.Duration
	// LeaseTTL is the lifetime of a running load's lease, renewed every
	// third of it. The data of a load whose lease expired (its process
	// died) is deleted by the next Sweep. Default 30s.
	LeaseTTL time.Duration
	// LoadWorkers is the number of concurrent pipelines writing a load.
	// Default 4.
	LoadWorkers int
	// PipelineSize is the number of SET commands per pipeline round trip.
	// Default 512.
	PipelineSize int
	// PoolSize is the connection pool size per node. Default: go-redis's
	// (10 per CPU).
	PoolSize int
	// Logger receives the store's logs, and go-redis's own (its pool's
	// dial errors at Debug; go-redis has one logger per process: the last
	// store opened with a Logger gets them). Default: discard the store's;
	// go-redis's go to stderr until some store sets a Logger.
	Logger *slog.Logger
	// Registerer registers the store's metrics. Default nil: not
	// registered.
	Registerer prometheus.Registerer
}

func (o *RedisOptions) withDefaults() (RedisOptions, error) {
	var c RedisOptions
	if o != nil {
		c = *o
	}
	var errs []error
	if len(c.Addrs) == 0 {
		errs = append(errs, errors.New("Addrs is empty: give at least one host:port"))
	}
	for name, v := range map[string]int{"KeepVersions": c.KeepVersions, "LoadWorkers": c.LoadWorkers, "PipelineSize": c.PipelineSize, "PoolSize": c.PoolSize, "DB": c.DB} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s is %d, want >= 0", name, v))
		}
	}
	for name, v := range map[string]time.Duration{"RefreshInterval": c.RefreshInterval, "DropGrace": c.DropGrace, "LeaseTTL": c.LeaseTTL} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s is %v, want >= 0", name, v))
		}
	}
	if c.DB != 0 && (len(c.Addrs) > 1 || c.Cluster) {
		errs = append(errs, errors.New("DB is set but a Redis Cluster has no database numbers"))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("coldstore: invalid RedisOptions: %w", errors.Join(errs...))
	}
	if c.Prefix == "" {
		c.Prefix = "hotcold:"
	}
	if c.KeepVersions == 0 {
		c.KeepVersions = 3
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = time.Second
	}
	if c.DropGrace == 0 {
		c.DropGrace = time.Minute
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.LoadWorkers == 0 {
		c.LoadWorkers = 4
	}
	if c.PipelineSize == 0 {
		c.PipelineSize = 512
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Redis is a cold store on a Redis-protocol server: a standalone Redis, a
// Redis Cluster, Valkey or Kvrocks. Many processes may read and load the
// same store.
//
// Keys (P is RedisOptions.Prefix):
//
//	P format                 marker of a hotcold cold store
//	P next-id                version id counter (INCR)
//	P tables                 set of table names
//	P m:<table>              table metadata: live pointer and retained versions (JSON)
//	P d:<table>:<id>:<key>   row value; <key> is the memcomparable key in unpadded base64url
//	P v:<table>:<id>         marker of a complete version (its row count), read by every lookup
//	P lease:<table>:<id>     lease of a running load (expires when its process dies)
//	P gc                     hash of versions whose data awaits deletion
//
// Data keys carry no hash tag, so a version spreads over every slot of a
// cluster. A load writes its keys with pipelined SETs, then publishes by
// replacing P m:<table> with a compare-and-set script: readers see the
// old version or the new one. A reader caches the metadata for
// RefreshInterval; a MultiGet reads every key of one version, with one MGET
// on a standalone server or a pipeline of GETs that go-redis splits by
// cluster node.
//
// Every lookup also reads the version's marker key, and Verify checks keys
// sampled by the load: a live version whose keys were flushed, evicted or
// lost with a cluster node fails lookups with a DataLossError instead of
// answering misses.
//
// Redis is safe for concurrent use.
type Redis struct {
	opts    RedisOptions
	c       redis.UniversalClient
	cluster bool
	log     *slog.Logger
	m       *metrics

	ctx    context.Context
	cancel context.CancelFunc
	loads  sync.WaitGroup

	lost lossState

	mu struct {
		sync.RWMutex
		closed bool
		tables map[string]*redisTable
	}
}

// redisTable is the cached read state of a table (meta nil: no such
// table).
type redisTable struct {
	meta       *tableMeta
	raw        string
	live       *versionMeta
	info       TableInfo
	keys       keyCodec
	prefix     string
	marker     string // the live version's marker key, "" when it has none
	fetched    time.Time
	refreshing atomic.Bool
	lookups    prometheus.Counter
	misses     prometheus.Counter
}

const redisBackend = "redis"

// OpenRedis connects to a Redis-protocol store, checks that the key space
// under Prefix belongs to hotcold and sweeps leftovers of dead loads. The
// caller must Close it.
func OpenRedis(ctx context.Context, opts *RedisOptions) (*Redis, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.Logger != nil {
		routeRedisLogs(opts.Logger)
	}
	cluster := o.Cluster || len(o.Addrs) > 1
	uo := &redis.UniversalOptions{
		Addrs: o.Addrs, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig,
		Protocol: 2, DisableIdentity: true, PoolSize: o.PoolSize,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		IsClusterMode:            cluster,
	}
	c := redis.NewUniversalClient(uo)
	if !cluster {
		info, err := c.Info(ctx, "cluster").Result()
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("coldstore: connect to Redis %s: %w", strings.Join(o.Addrs, ","), err)
		}
		if strings.Contains(info, "cluster_enabled:1") {
			_ = c.Close()
			uo.IsClusterMode, cluster = true, true
			c = redis.NewUniversalClient(uo)
		}
	}
	ctx2, cancel := context.WithCancel(context.Background())
	r := &Redis{opts: o, c: c, cluster: cluster, log: o.Logger, m: newMetrics(o.Registerer, redisBackend), ctx: ctx2, cancel: cancel}
	r.mu.tables = map[string]*redisTable{}
	fail := func(err error) (*Redis, error) {
		cancel()
		_ = c.Close()
		return nil, err
	}
	if err := c.Ping(ctx).Err(); err != nil {
		return fail(fmt.Errorf("coldstore: connect to Redis %s: %w", strings.Join(o.Addrs, ","), err))
	}
	if err := c.SetNX(ctx, r.key("format"), formatValue, 0).Err(); err != nil {
		return fail(fmt.Errorf("coldstore: Redis %s: %w", strings.Join(o.Addrs, ","), err))
	}
	if f, err := c.Get(ctx, r.key("format")).Result(); err != nil {
		return fail(fmt.Errorf("coldstore: Redis %s: %w", strings.Join(o.Addrs, ","), err))
	} else if f != formatValue {
		return fail(fmt.Errorf("coldstore: Redis %s: key %q holds %q, not a hotcold cold store of format %q: use another prefix (?prefix=)", strings.Join(o.Addrs, ","), r.key("format"), f, formatValue))
	}
	if _, err := r.Sweep(ctx); err != nil {
		r.log.Warn("coldstore: sweeping leftovers of dead loads failed; the next load retries", "err", err)
	}
	return r, nil
}

// Cluster reports whether the store talks to a Redis Cluster.
func (r *Redis) Cluster() bool { return r.cluster }

func (r *Redis) key(parts ...string) string { return r.opts.Prefix + strings.Join(parts, ":") }

func (r *Redis) metaKey(table string) string { return r.key("m", table) }

func (r *Redis) dataPrefix(table string, id uint64) string {
	return r.key("d", table, strconv.FormatUint(id, 10)) + ":"
}

func (r *Redis) markerKey(table string, id uint64) string {
	return r.key("v", table, strconv.FormatUint(id, 10))
}

func (r *Redis) leaseKey(table string, id uint64) string {
	return r.key("lease", table, strconv.FormatUint(id, 10))
}

func appendDataKey(dst []byte, prefix string, memkey []byte) []byte {
	dst = append(dst, prefix...)
	return base64.RawURLEncoding.AppendEncode(dst, memkey)
}

// readMeta reads a table's metadata: raw is "" and m nil for no table.
func (r *Redis) readMeta(ctx context.Context, table string) (raw string, m *tableMeta, err error) {
	raw, err = r.c.Get(ctx, r.metaKey(table)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("coldstore: read table %q: %w", table, err)
	}
	m, err = decodeTableMeta(table, []byte(raw))
	if err != nil {
		return "", nil, err
	}
	return raw, m, nil
}

func (r *Redis) newTable(table, raw string, m *tableMeta) *redisTable {
	t := &redisTable{meta: m, raw: raw, fetched: time.Now()}
	t.lookups, t.misses = r.m.tableCounters(table)
	if m != nil {
		t.live = m.live()
		t.info = t.live.info(table)
		t.keys = newKeyCodec(t.live.schema)
		t.prefix = r.dataPrefix(table, t.live.ID)
		if t.live.Marker {
			t.marker = r.markerKey(table, t.live.ID)
		}
	}
	return t
}

func (r *Redis) cache(table string, t *redisTable) {
	r.mu.Lock()
	if !r.mu.closed {
		r.mu.tables[table] = t
	}
	r.mu.Unlock()
}

// table returns the read state of table from the cache, refreshing it when
// older than RefreshInterval (one caller refreshes; the others use the
// cached state meanwhile).
func (r *Redis) table(ctx context.Context, table string) (*redisTable, error) {
	r.mu.RLock()
	closed := r.mu.closed
	t := r.mu.tables[table]
	r.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if t == nil || (time.Since(t.fetched) >= r.opts.RefreshInterval && t.refreshing.CompareAndSwap(false, true)) {
		raw, m, err := r.readMeta(ctx, table)
		switch {
		case err != nil:
			if t == nil {
				return nil, err
			}
			t.refreshing.Store(false)
			r.log.Warn("coldstore: refreshing table metadata failed; using the cached copy", "table", table, "err", err)
		case m == nil:
			if err := r.metaGone(ctx, table, t); err != nil {
				if t != nil {
					t.refreshing.Store(false)
				}
				return nil, err
			}
			t = r.newTable(table, raw, m)
			r.cache(table, t)
		default:
			t = r.newTable(table, raw, m)
			r.cache(table, t)
		}
	}
	if t.meta == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoTable, table)
	}
	if err := r.lost.get(table, t.live.ID); err != nil {
		return nil, err
	}
	return t, nil
}

// metaGone is called when table's metadata key is missing. If this store
// saw a live version (cached is its state), or the table is still listed
// in P tables, the metadata was lost (flushed, evicted, a cluster node
// restarted empty): it records and returns a DataLossError. Otherwise the
// table does not exist (nil).
func (r *Redis) metaGone(ctx context.Context, table string, cached *redisTable) error {
	if cached != nil && cached.meta != nil {
		l := &DataLossError{Table: table, Version: cached.live.Version, Reason: fmt.Sprintf("its metadata key %q is gone from Redis: flushed, evicted (set maxmemory-policy noeviction) or lost with a cluster node", r.metaKey(table))}
		r.lost.set(table, cached.live.ID, l)
		return l
	}
	listed, err := r.c.SIsMember(ctx, r.key("tables"), table).Result()
	if err != nil {
		return fmt.Errorf("coldstore: read table %q: %w", table, err)
	}
	if listed {
		return &DataLossError{Table: table, Reason: fmt.Sprintf("it is listed in %q but its metadata key %q is gone from Redis: evicted (set maxmemory-policy noeviction) or lost with a cluster node", r.key("tables"), r.metaKey(table))}
	}
	return nil
}

// markerLost records and returns the loss of t's version whose marker key
// is gone.
func (r *Redis) markerLost(t *redisTable) error {
	l := &DataLossError{Table: t.info.Name, Version: t.live.Version, Reason: fmt.Sprintf("its marker key %q is gone from Redis: its keys were flushed, evicted (set maxmemory-policy noeviction) or lost with a cluster node", t.marker)}
	r.lost.set(t.info.Name, t.live.ID, l)
	return l
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, table string, key []row.Value) (Result, error) {
	t, err := r.table(ctx, table)
	if err != nil {
		return Result{}, err
	}
	for attempt := 0; ; attempt++ {
		res, err := r.get(ctx, t, table, key)
		if !errors.Is(err, errVersionGone) {
			return res, err
		}
		if t, err = r.versionGone(ctx, t, attempt); err != nil {
			return Result{}, err
		}
	}
}

func (r *Redis) get(ctx context.Context, t *redisTable, table string, key []row.Value) (Result, error) {
	mk, err := t.keys.append(nil, table, 0, key)
	if err != nil {
		return Result{}, err
	}
	k := appendDataKey(make([]byte, 0, len(t.prefix)+len(mk)*4/3+4), t.prefix, mk)
	res := Result{Version: t.live.Version}
	v, err := r.c.Get(ctx, string(k)).Result()
	t.lookups.Inc()
	if errors.Is(err, redis.Nil) {
		if t.marker != "" {
			// A miss is true only if the version is still there.
			n, err := r.c.Exists(ctx, t.marker).Result()
			if err != nil {
				return Result{}, fmt.Errorf("coldstore: table %q: %w", table, err)
			}
			if n == 0 {
				return Result{}, errVersionGone
			}
		}
		t.misses.Inc()
		return res, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("coldstore: table %q: %w", table, err)
	}
	if err := r.decode(t, v, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}

func (r *Redis) decode(t *redisTable, v string, res *Result) error {
	// DecodeValue copies what it keeps, so reading the string's bytes in
	// place is safe.
	if err := t.info.Schema.DecodeValue(unsafe.Slice(unsafe.StringData(v), len(v)), &res.Row); err != nil {
		return fmt.Errorf("coldstore: table %q version %q: corrupt value: %w", t.info.Name, t.live.Version, err)
	}
	res.Row.Kind = row.Insert
	res.Found = true
	return nil
}

// MultiGet implements Store. On a standalone server it is one MGET; on a
// cluster a pipeline of GETs, sent to every node that owns some of the
// keys in parallel.
func (r *Redis) MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]Result, error) {
	t, err := r.table(ctx, table)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		res, err := r.multiGet(ctx, t, table, keys)
		if !errors.Is(err, errVersionGone) {
			return res, err
		}
		if t, err = r.versionGone(ctx, t, attempt); err != nil {
			return nil, err
		}
	}
}

// errVersionGone reports that the marker key of the version read is gone:
// the version was dropped under the read (see versionGone), or lost.
var errVersionGone = errors.New("coldstore: the version's marker key is gone")

// versionGone decides after a read found t's marker key gone: if the
// table's live version changed meanwhile (retention dropped the version
// the read started on), it returns the new state to read again; if not,
// the live version lost its keys (a DataLossError).
func (r *Redis) versionGone(ctx context.Context, t *redisTable, attempt int) (*redisTable, error) {
	raw, m, err := r.readMeta(ctx, t.info.Name)
	if err != nil {
		return nil, err
	}
	if m == nil || m.live().ID == t.live.ID || attempt >= 3 {
		return nil, r.markerLost(t)
	}
	nt := r.newTable(t.info.Name, raw, m)
	r.cache(t.info.Name, nt)
	if err := r.lost.get(t.info.Name, nt.live.ID); err != nil {
		return nil, err
	}
	return nt, nil
}

// multiGet reads keys from t's version. The marker key is read after the
// data (in the MGET, atomic, on a standalone server; in a second round
// trip, only when some key was missing, on a cluster): deleteVersion
// deletes the marker first, so a present marker means the data read was
// whole.
func (r *Redis) multiGet(ctx context.Context, t *redisTable, table string, keys [][]row.Value) ([]Result, error) {
	var err error
	ks := make([]string, len(keys))
	var mk, buf []byte
	for i, key := range keys {
		mk, err = t.keys.append(mk[:0], table, i, key)
		if err != nil {
			return nil, err
		}
		buf = appendDataKey(buf[:0], t.prefix, mk)
		ks[i] = string(buf)
	}
	out := make([]Result, len(keys))
	ncol := t.info.Schema.Len()
	slab := make([]row.Value, len(keys)*ncol) // one allocation for every row's values
	for i := range out {
		out[i].Version = t.live.Version
		out[i].Row.Values = slab[i*ncol : i*ncol : (i+1)*ncol]
	}
	if len(keys) == 0 {
		return out, nil
	}
	misses := 0
	if !r.cluster {
		if t.marker != "" {
			ks = append(ks, t.marker)
		}
		vals, err := r.c.MGet(ctx, ks...).Result()
		if err != nil {
			return nil, fmt.Errorf("coldstore: table %q: %w", table, err)
		}
		if t.marker != "" {
			if _, ok := vals[len(vals)-1].(string); !ok {
				return nil, errVersionGone
			}
			vals = vals[:len(vals)-1]
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				out[i].Row.Values = nil
				misses++
				continue
			}
			if err := r.decode(t, s, &out[i]); err != nil {
				return nil, err
			}
		}
	} else {
		pipe := r.c.Pipeline()
		cmds := make([]*redis.StringCmd, len(ks))
		for i, k := range ks {
			cmds[i] = pipe.Get(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("coldstore: table %q: %w", table, err)
		}
		for i, c := range cmds {
			s, err := c.Result()
			if errors.Is(err, redis.Nil) {
				out[i].Row.Values = nil
				misses++
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("coldstore: table %q: %w", table, err)
			}
			if err := r.decode(t, s, &out[i]); err != nil {
				return nil, err
			}
		}
		if misses > 0 && t.marker != "" {
			n, err := r.c.Exists(ctx, t.marker).Result()
			if err != nil {
				return nil, fmt.Errorf("coldstore: table %q: %w", table, err)
			}
			if n == 0 {
				return nil, errVersionGone
			}
		}
	}
	t.lookups.Add(float64(len(keys)))
	t.misses.Add(float64(misses))
	return out, nil
}

// Tables implements Store. It reads every table's metadata afresh.
func (r *Redis) Tables(ctx context.Context) ([]TableInfo, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	names, err := r.c.SMembers(ctx, r.key("tables")).Result()
	if err != nil {
		return nil, fmt.Errorf("coldstore: list tables: %w", err)
	}
	sort.Strings(names)
	out := make([]TableInfo, 0, len(names))
	for _, name := range names {
		raw, m, err := r.readMeta(ctx, name)
		if err != nil {
			return nil, err
		}
		if m == nil {
			// Listed without metadata: lost. Keep the cached state, so
			// that lookups report the loss rather than "no such table".
			r.mu.RLock()
			cached := r.mu.tables[name]
			r.mu.RUnlock()
			if err := r.metaGone(ctx, name, cached); err != nil {
				r.log.Error("coldstore: a table's metadata is gone", "err", err)
			}
			continue
		}
		t := r.newTable(name, raw, m)
		r.cache(name, t)
		out = append(out, t.info)
	}
	return out, nil
}

// Describe implements Store.
func (r *Redis) Describe(ctx context.Context, table string) (TableInfo, error) {
	t, err := r.table(ctx, table)
	if err != nil {
		return TableInfo{}, err
	}
	return t.info, nil
}

// Versions lists the retained versions of table, most recently loaded
// first, read afresh.
func (r *Redis) Versions(ctx context.Context, table string) ([]VersionInfo, error) {
	if err := r.checkOpen(); err != nil {
		return nil, err
	}
	_, m, err := r.readMeta(ctx, table)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoTable, table)
	}
	out := make([]VersionInfo, len(m.Versions))
	for i := range m.Versions {
		out[i] = m.Versions[i].versionInfo(table, m.Versions[i].Version == m.Live)
	}
	return out, nil
}

// casScript replaces a key's value if it still holds ARGV[1] ("" for a
// missing key): the atomic publish.
var casScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false then cur = '' end
if cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

func (r *Redis) cas(ctx context.Context, table, old string, m *tableMeta) (bool, error) {
	n, err := casScript.Run(ctx, r.c, []string{r.metaKey(table)}, old, string(m.encode())).Int()
	if err != nil {
		return false, fmt.Errorf("coldstore: publish %s: %w", table, err)
	}
	return n == 1, nil
}

// Rollback makes a retained version live again (see Pebble.Rollback).
func (r *Redis) Rollback(ctx context.Context, table, to string) (TableInfo, error) {
	if err := r.checkOpen(); err != nil {
		return TableInfo{}, err
	}
	for attempt := 0; ; attempt++ {
		raw, m, err := r.readMeta(ctx, table)
		if err != nil {
			return TableInfo{}, err
		}
		if m == nil {
			return TableInfo{}, fmt.Errorf("%w: %q", ErrNoTable, table)
		}
		target, err := rollbackTarget(m, to)
		if err != nil {
			return TableInfo{}, err
		}
		from := m.Live
		m.Live = target
		ok, err := r.cas(ctx, table, raw, m)
		if err != nil {
			return TableInfo{}, err
		}
		if ok {
			t := r.newTable(table, string(m.encode()), m)
			r.cache(table, t)
			r.log.Info("coldstore: rolled back", "table", table, "from", from, "to", target)
			return t.info, nil
		}
		if attempt >= 10 {
			return TableInfo{}, fmt.Errorf("coldstore: rollback %s: the table keeps changing under concurrent loads; retry", table)
		}
	}
}

func (r *Redis) checkOpen() error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.mu.closed {
		return ErrClosed
	}
	return nil
}

// Close implements Store. It stops loads in progress (their data is
// deleted) and closes the connections. Calling it again returns nil.
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.mu.closed {
		r.mu.Unlock()
		return nil
	}
	r.mu.closed = true
	r.mu.Unlock()
	r.cancel()
	r.loads.Wait()
	return r.c.Close()
}

// gcEntry records a version whose data is to be deleted: a load in
// progress ("staging", deletable once its lease expired) or a version
// dropped by retention ("dropped", deletable after NotBefore).
type gcEntry struct {
	Table     string    `json:"table"`
	ID        uint64    `json:"id"`
	Version   string    `json:"version"`
	Kind      string    `json:"kind"`
	NotBefore time.Time `json:"not_before,omitzero"`
}

func gcField(table string, id uint64) string { return table + ":" + strconv.FormatUint(id, 10) }

// SweepResult reports what a Sweep deleted.
type SweepResult struct {
	// Versions is the number of unpublished or dropped versions deleted.
	Versions int
	// Keys is the number of data keys deleted.
	Keys int64
	// Pending is the number of entries not yet deletable (running loads,
	// versions inside DropGrace).
	Pending int
}

// Sweep deletes the data of loads whose process died (lease expired) and
// of versions dropped by retention more than DropGrace ago. It never
// deletes a version the table's metadata retains. Every Load sweeps; call
// it to reclaim space sooner.
func (r *Redis) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	if err := r.checkOpen(); err != nil {
		return res, err
	}
	all, err := r.c.HGetAll(ctx, r.key("gc")).Result()
	if err != nil {
		return res, fmt.Errorf("coldstore: sweep: %w", err)
	}
	fields := make([]string, 0, len(all))
	for f := range all {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		var e gcEntry
		if err := json.Unmarshal([]byte(all[f]), &e); err != nil || validateName("table", e.Table) != nil {
			r.log.Warn("coldstore: sweep: dropping a malformed entry", "field", f, "value", all[f])
			_ = r.c.HDel(ctx, r.key("gc"), f).Err()
			continue
		}
		switch e.Kind {
		case "staging":
			n, err := r.c.Exists(ctx, r.leaseKey(e.Table, e.ID)).Result()
			if err != nil {
				return res, fmt.Errorf("coldstore: sweep: %w", err)
			}
			if n > 0 {
				res.Pending++
				continue
			}
		case "dropped":
			if time.Now().Before(e.NotBefore) {
				res.Pending++
				continue
			}
		}
		_, m, err := r.readMeta(ctx, e.Table)
		if err != nil {
			return res, err
		}
		if m == nil || !retainsID(m, e.ID) {
			n, err := r.deleteVersion(ctx, e.Table, e.ID)
			res.Keys += n
			if err != nil {
				return res, err
			}
			res.Versions++
			r.log.Info("coldstore: deleted version data", "table", e.Table, "version", e.Version, "id", e.ID, "kind", e.Kind, "keys", n)
		}
		if err := r.c.HDel(ctx, r.key("gc"), f).Err(); err != nil {
			return res, fmt.Errorf("coldstore: sweep: %w", err)
		}
	}
	return res, nil
}

func retainsID(m *tableMeta, id uint64) bool {
	for _, v := range m.Versions {
		if v.ID == id {
			return true
		}
	}
	return false
}

// deleteVersion deletes every data key of a version: SCAN MATCH on every
// master, UNLINK in pipelined batches.
func (r *Redis) deleteVersion(ctx context.Context, table string, id uint64) (int64, error) {
	pattern := globEscape(r.dataPrefix(table, id)) + "*"
	var deleted atomic.Int64
	del := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		batch := make([]string, 0, 512)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			pipe := c.Pipeline()
			for _, k := range batch {
				pipe.Unlink(ctx, k)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
			deleted.Add(int64(len(batch)))
			batch = batch[:0]
			return nil
		}
		for it.Next(ctx) {
			batch = append(batch, it.Val())
			if len(batch) == cap(batch) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := it.Err(); err != nil {
			return err
		}
		return flush()
	}
	// The marker first: a reader that still sees it after reading data
	// keys read them before any was deleted (see multiGet).
	err := r.c.Del(ctx, r.markerKey(table, id)).Err()
	switch c := r.c.(type) {
	case *redis.ClusterClient:
		if err == nil {
			err = c.ForEachMaster(ctx, del)
		}
	case *redis.Client:
		if err == nil {
			err = del(ctx, c)
		}
	default:
		err = fmt.Errorf("unexpected client %T", r.c)
	}
	if err != nil {
		return deleted.Load(), fmt.Errorf("coldstore: delete version data of %s (id %d): %w", table, id, err)
	}
	return deleted.Load(), nil
}

func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

var errLeaseLost = errors.New("coldstore: the load's lease expired (was the process stalled longer than LeaseTTL?); its data will be swept: rerun the load")

// Load writes a new version with pipelined SETs from several workers, and
// publishes it with a compare-and-set of the table's metadata. On error the
// version's keys are deleted (or swept later) and the live version is
// untouched.
func (r *Redis) Load(ctx context.Context, spec LoadSpec) (res LoadResult, err error) {
	start := time.Now()
	if err := spec.check(); err != nil {
		return res, err
	}
	r.mu.RLock()
	if r.mu.closed {
		r.mu.RUnlock()
		return res, ErrClosed
	}
	r.loads.Add(1)
	r.mu.RUnlock()
	defer r.loads.Done()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(r.ctx, func() { cancel(ErrClosed) })
	defer stop()

	prog := startProgress(&spec)
	defer func() {
		prog.finish(err)
		r.m.loaded(res, err)
	}()
	if _, err := r.Sweep(ctx); err != nil {
		r.log.Warn("coldstore: sweep before load failed", "err", err)
	}

	_, cur, err := r.readMeta(ctx, spec.Table)
	if err != nil {
		return res, err
	}
	var live *versionMeta
	if cur != nil {
		live = cur.live()
		if cur.find(spec.Version) != nil {
			return res, errorOf(ErrVersionExists, "coldstore: load %s: version %q is already retained: pick a new version name, or roll back to it with hotcold load rollback", spec.Table, spec.Version)
		}
	}
	schema, err := loadSchema(&spec, live)
	if err != nil {
		return res, err
	}

	// Stage: id, gc entry, lease.
	idv, err := r.c.Incr(ctx, r.key("next-id")).Result()
	if err != nil {
		return res, fmt.Errorf("coldstore: load %s: %w", spec.Table, err)
	}
	id := uint64(idv)
	field := gcField(spec.Table, id)
	entry, _ := json.Marshal(gcEntry{Table: spec.Table, ID: id, Version: spec.Version, Kind: "staging"})
	if err := r.c.HSet(ctx, r.key("gc"), field, entry).Err(); err != nil {
		return res, fmt.Errorf("coldstore: load %s: %w", spec.Table, err)
	}
	lease := r.leaseKey(spec.Table, id)
	host, _ := os.Hostname()
	if err := r.c.Set(ctx, lease, fmt.Sprintf("%s:%d", host, os.Getpid()), r.opts.LeaseTTL).Err(); err != nil {
		return res, fmt.Errorf("coldstore: load %s: %w", spec.Table, err)
	}
	leaseDone := make(chan struct{})
	leaseStopped := make(chan struct{})
	go func() { // renews the lease until the load ends
		defer close(leaseStopped)
		t := time.NewTicker(r.opts.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-leaseDone:
				return
			case <-t.C:
				ok, err := r.c.PExpire(ctx, lease, r.opts.LeaseTTL).Result()
				if err == nil && !ok {
					cancel(errLeaseLost)
					return
				}
			}
		}
	}()
	published := false
	defer func() {
		close(leaseDone)
		<-leaseStopped
		if published {
			return
		}
		// Delete what was written; if that fails the lease expires and a
		// later Sweep deletes it.
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if _, derr := r.deleteVersion(cctx, spec.Table, id); derr == nil {
			_ = r.c.HDel(cctx, r.key("gc"), field).Err()
		} else {
			r.log.Warn("coldstore: could not delete the data of a failed load; a later sweep will", "table", spec.Table, "id", id, "err", derr)
		}
		_ = r.c.Del(cctx, lease).Err()
	}()
	wrap := func(err error) error {
		if c := context.Cause(ctx); c != nil && !errors.Is(err, c) && (errors.Is(c, errLeaseLost) || errors.Is(c, ErrClosed)) {
			err = fmt.Errorf("%w (%v)", c, err)
		}
		return fmt.Errorf("coldstore: load %s version %s: %w", spec.Table, spec.Version, err)
	}

	prefix := r.dataPrefix(spec.Table, id)
	var batches atomic.Int64
	pl := &pipeline{
		spec: &spec, schema: schema, workers: r.opts.LoadWorkers, tempDir: os.TempDir(), prog: prog,
		newWriter: func(ctx context.Context, part int) (pairWriter, error) {
			return &redisWriter{r: r, ctx: ctx, prefix: prefix, pipe: r.c.Pipeline(), batches: &batches}, nil
		},
	}
	if err := pl.run(ctx); err != nil {
		return res, wrap(err)
	}
	if err := spec.guard(live, pl.pairs.Load()); err != nil {
		return res, err
	}
	if err := r.c.Set(ctx, r.markerKey(spec.Table, id), pl.pairs.Load(), 0).Err(); err != nil {
		return res, wrap(err)
	}
	if h := testHooks.beforePublish; h != nil {
		h()
	}
	prog.setPhase("publish")
	vm := versionMeta{
		Version: spec.Version, ID: id, Schema: schemaToJSON(schema), schema: schema,
		Rows: pl.pairs.Load(), Duplicates: pl.dups.Load(), Bytes: pl.bytes.Load(),
		LoadedAt: time.Now().UTC().Truncate(time.Millisecond), Sources: sourceNames(spec.Source),
		Samples: mergeSamples(pl.samples), Marker: true,
	}
	if !spec.CoversUntil.IsZero() {
		vm.CoversUntil = spec.CoversUntil.UTC()
	}
	dropped, m, err := r.publish(ctx, spec.Table, lease, live, vm)
	if err != nil {
		return res, wrap(err)
	}
	published = true
	_ = r.c.SAdd(ctx, r.key("tables"), spec.Table).Err()
	_ = r.c.HDel(ctx, r.key("gc"), field).Err()
	_ = r.c.Del(ctx, lease).Err()
	r.cache(spec.Table, r.newTable(spec.Table, string(m.encode()), m))
	if _, err := r.Sweep(ctx); err != nil {
		r.log.Warn("coldstore: sweep after load failed", "err", err)
	}
	res = LoadResult{
		Table: spec.Table, Version: spec.Version, Rows: vm.Rows, Duplicates: vm.Duplicates, Bytes: vm.Bytes,
		Seconds: time.Since(start).Seconds(), SchemaVersion: schema.Version(), SpilledRuns: pl.runs,
		Dropped: dropped, Schema: schema,
	}
	if s, ok := spec.Source.(sizedSource); ok {
		_, res.InputBytes = s.InputBytes()
	}
	r.log.Info("coldstore: published", "table", spec.Table, "version", spec.Version, "rows", res.Rows, "duplicates", res.Duplicates, "seconds", res.Seconds, "dropped", dropped)
	return res, nil
}

// redisWriter writes the pairs of one key range with pipelined SETs.
type redisWriter struct {
	r       *Redis
	ctx     context.Context
	prefix  string
	pipe    redis.Pipeliner
	n       int
	kb      []byte
	batches *atomic.Int64
}

func (w *redisWriter) add(k, v []byte) error {
	w.kb = appendDataKey(w.kb[:0], w.prefix, k)
	// the pipeline keeps its arguments until Exec: copy the value
	w.pipe.Set(w.ctx, string(w.kb), string(v), 0)
	if w.n++; w.n >= w.r.opts.PipelineSize {
		return w.flush()
	}
	return nil
}

func (w *redisWriter) flush() error {
	if w.n == 0 {
		return nil
	}
	w.n = 0
	if _, err := w.pipe.Exec(w.ctx); err != nil {
		return err
	}
	if h := testHooks.afterSST; h != nil {
		h(int(w.batches.Add(1)))
	}
	return nil
}

func (w *redisWriter) finish() error { return w.flush() }

func (w *redisWriter) abort() { w.pipe.Discard() }

// publish compare-and-sets the table metadata to include vm as live,
// recording the versions retention drops for a later sweep.
func (r *Redis) publish(ctx context.Context, table, lease string, checked *versionMeta, vm versionMeta) ([]string, *tableMeta, error) {
	for attempt := 0; ; attempt++ {
		raw, cur, err := r.readMeta(ctx, table)
		if err != nil {
			return nil, nil, err
		}
		m, dropped, err := nextMeta(table, cur, checked, vm, r.opts.KeepVersions)
		if err != nil {
			return nil, nil, err
		}
		markDropped := func() error {
			for _, d := range dropped {
				e, _ := json.Marshal(gcEntry{Table: table, ID: d.ID, Version: d.Version, Kind: "dropped", NotBefore: time.Now().Add(r.opts.DropGrace).UTC()})
				if err := r.c.HSet(ctx, r.key("gc"), gcField(table, d.ID), e).Err(); err != nil {
					return err
				}
			}
			return nil
		}
		// Before the switch, so that a crash right after it still deletes
		// the dropped data; again after, in case a concurrent sweep saw
		// the entries while the versions were still retained.
		if err := markDropped(); err != nil {
			return nil, nil, err
		}
		if n, err := r.c.Exists(ctx, lease).Result(); err != nil {
			return nil, nil, err
		} else if n == 0 {
			return nil, nil, errLeaseLost
		}
		ok, err := r.cas(ctx, table, raw, m)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			if err := markDropped(); err != nil {
				r.log.Warn("coldstore: could not record dropped versions; their data may stay until deleted by hand", "table", table, "err", err)
			}
			names := make([]string, len(dropped))
			for i, d := range dropped {
				names[i] = d.Version
			}
			return names, m, nil
		}
		if attempt >= 10 {
			return nil, nil, fmt.Errorf("coldstore: publish %s: the table keeps changing under concurrent loads; retry", table)
		}
	}
}

// dataKey returns the Redis key that holds a row of the live version of
// table (tests and benchmarks reach it through export_test.go).
func (r *Redis) dataKey(ctx context.Context, table string, key []row.Value) (string, error) {
	t, err := r.table(ctx, table)
	if err != nil {
		return "", err
	}
	mk, err := t.keys.append(nil, table, 0, key)
	if err != nil {
		return "", err
	}
	return string(appendDataKey(nil, t.prefix, mk)), nil
}

var (
	_ Store   = (*Redis)(nil)
	_ Backend = (*Redis)(nil)
)

// Verify implements Verifier. It reads the table's metadata afresh, then
// the live version's marker key and the keys its load sampled (one
// pipeline, split by cluster node).
func (r *Redis) Verify(ctx context.Context, table string) error {
	if err := r.checkOpen(); err != nil {
		return err
	}
	raw, m, err := r.readMeta(ctx, table)
	if err != nil {
		return err
	}
	if m == nil {
		r.mu.RLock()
		cached := r.mu.tables[table]
		r.mu.RUnlock()
		if err := r.metaGone(ctx, table, cached); err != nil {
			return err
		}
		return fmt.Errorf("%w: %q", ErrNoTable, table)
	}
	t := r.newTable(table, raw, m)
	samples, err := t.live.sampleKeys()
	if err != nil {
		return err // checked by decodeTableMeta: unreachable
	}
	pipe := r.c.Pipeline()
	var mc *redis.IntCmd
	if t.marker != "" {
		mc = pipe.Exists(ctx, t.marker)
	}
	cmds := make([]*redis.IntCmd, len(samples))
	var kb []byte
	for i, s := range samples {
		kb = appendDataKey(kb[:0], t.prefix, s)
		cmds[i] = pipe.Exists(ctx, string(kb))
	}
	if len(cmds) > 0 || mc != nil {
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("coldstore: verify table %q: %w", table, err)
		}
	}
	r.cache(table, t)
	if mc != nil && mc.Val() == 0 {
		return r.markerLost(t)
	}
	missing := 0
	for _, c := range cmds {
		if c.Val() == 0 {
			missing++
		}
	}
	if missing > 0 {
		l := &DataLossError{Table: table, Version: t.live.Version, Reason: fmt.Sprintf("%d of %d keys sampled when it was loaded are gone from Redis: evicted (set maxmemory-policy noeviction), flushed or lost with a cluster node", missing, len(samples))}
		r.lost.set(table, t.live.ID, l)
		return l
	}
	r.lost.set(table, t.live.ID, nil)
	return nil
}

var _ Verifier = (*Redis)(nil)
