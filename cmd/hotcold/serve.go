package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/sidecar"
)

func newServeCmd() *cobra.Command {
	var (
		configPath string
		listen     string
		unix       string
		unixMode   string
		metrics    string
		store      string
		maxBatch   int
		timeout    time.Duration
		drain      time.Duration
		readyEvery time.Duration
		cacheSize  sidecar.ByteSize
		noCache    bool
		verCheck   time.Duration
		logLevel   string
		logJSON    bool
		adminToken string
		tlsCert    string
		tlsKey     string
		tlsCA      string
		inputRoots []string
		maxAnswer  sidecar.ByteSize
	)
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the lookup sidecar: serve a cold store over gRPC (TCP and/or a unix socket)",
		Long: `serve runs the lookup sidecar next to Flink TaskManagers and Go services: it
answers the hotcold.lookup.v1 gRPC API (Lookup, BatchLookup, StreamLookup,
ListTables, DescribeTable) from the cold store, with a read cache keyed by
table version, request coalescing, per-job tokens, table grants and rate
limits from the config file, the gRPC health service, server reflection (so
grpcurl works without the proto) and Prometheus metrics on /metrics.

With an admin token (--admin-token-file, or admin: in the config) it also
serves the hotcold.admin.v1 API, so that the daily load goes through it while
it holds the store: hotcold load --sidecar ADDR --admin-token-file FILE (and
load list / load rollback). Without one, admin calls fail with Unimplemented.
An admin load reads only files under the --admin-input-root directories.
Over a pebble: store it pins every table in memory in the background at
startup (lookups are served meanwhile) and logs how many were pinned.

Liveness is "the process answers" (any gRPC call, e.g. a health Check, gets
an answer). Readiness is the gRPC health status: the service "" and
hotcold.lookup.v1.LookupService are NOT_SERVING while the store is
unreachable or a table granted to a job by name (or seen live since start)
has no live version; hotcold.lookup.v1.LookupService/TABLE is SERVING while
TABLE has a live version. Recomputed every --readiness-interval, with the
per-table freshness gauges hotcold_sidecar_table_published_seconds,
_covers_until_seconds and _rows on /metrics.

Flags override the config file. Without --listen or --unix (and none in the
config) it listens on 127.0.0.1:7070. A --listen that is not loopback should
have TLS (--tls-cert, --tls-key, and --tls-client-ca for mutual TLS; tls:
in the config), else tokens cross the network in clear and serve warns. On SIGINT/SIGTERM it stops accepting
calls, lets in-flight ones finish (up to --drain-timeout) and exits.`,
		Example: `  hotcold serve --store pebble:./cold --unix /tmp/hotcold.sock
  hotcold serve --store pebble:./cold --unix /tmp/hotcold.sock --admin-token-file admin.token --admin-input-root /data/exports
  hotcold serve --store pebble:/var/lib/hotcold/cold --listen :7070 --unix /run/hotcold.sock --config sidecar.yaml
  hotcold serve --store pebble:./cold --listen :7070 --tls-cert server.pem --tls-key server.key --tls-client-ca clients-ca.pem
  hotcold serve --config sidecar.yaml --metrics-listen 127.0.0.1:9464 --cache-size 1GiB`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg sidecar.Config
			if configPath != "" {
				var err error
				if cfg, err = sidecar.LoadConfig(configPath); err != nil {
					return fmt.Errorf("%w\nfix the config file (see the example in the README)", err)
				}
			}
			f := cmd.Flags()
			set := func(name string, apply func()) {
				if f.Changed(name) {
					apply()
				}
			}
			set("listen", func() { cfg.Listen = listen })
			set("unix", func() { cfg.Unix = unix })
			set("unix-mode", func() { cfg.UnixMode = unixMode })
			set("metrics-listen", func() { cfg.MetricsListen = metrics })
			set("store", func() { cfg.Store = store })
			set("max-batch", func() { cfg.MaxBatch = maxBatch })
			set("max-answer-size", func() { cfg.MaxAnswerBytes = maxAnswer })
			set("call-timeout", func() { cfg.CallTimeout = timeout })
			set("drain-timeout", func() { cfg.DrainTimeout = drain })
			set("readiness-interval", func() { cfg.ReadinessInterval = readyEvery })
			set("cache-size", func() { cfg.Cache.Size = cacheSize })
			set("no-cache", func() { cfg.Cache.Disabled = noCache })
			set("version-check-interval", func() { cfg.Cache.VersionCheckInterval = verCheck })
			set("admin-token-file", func() {
				var roots []string
				if cfg.Admin != nil {
					roots = cfg.Admin.InputRoots
				}
				cfg.Admin = &sidecar.AdminConfig{TokenFile: adminToken, InputRoots: roots}
			})
			if f.Changed("admin-input-root") {
				if cfg.Admin == nil {
					return errors.New("--admin-input-root needs the admin service: give --admin-token-file too (or admin: in the config)")
				}
				for i, r := range inputRoots {
					if abs, err := filepath.Abs(r); err == nil {
						inputRoots[i] = abs
					}
				}
				cfg.Admin.InputRoots = inputRoots
			}
			if f.Changed("tls-cert") || f.Changed("tls-key") || f.Changed("tls-client-ca") {
				if cfg.TLS == nil {
					cfg.TLS = &sidecar.TLSConfig{}
				}
				set("tls-cert", func() { cfg.TLS.CertFile = tlsCert })
				set("tls-key", func() { cfg.TLS.KeyFile = tlsKey })
				set("tls-client-ca", func() { cfg.TLS.ClientCAFile = tlsCA })
			}
			if cfg.Listen == "" && cfg.Unix == "" {
				cfg.Listen = "127.0.0.1:7070"
			}
			if err := cfg.Validate(); err != nil {
				return err
			}

			logger, err := serveLogger(cmd, logLevel, logJSON)
			if err != nil {
				return err
			}
			opts, err := cfg.ServerOptions()
			if err != nil {
				return err
			}
			serverTLS, err := cfg.ServerTLS()
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			opts.Logger, opts.Registerer = logger, reg

			ctx := cmd.Context()
			shown := coldstore.Redact(cfg.Store) // the store URL as printed and logged: no password
			st, err := coldstore.Open(ctx, cfg.Store, &coldstore.Options{Logger: logger, Registerer: reg})
			if err != nil {
				if errors.Is(err, coldstore.ErrNoStore) {
					return fmt.Errorf("open the cold store %q: %w", shown, err) // it says how to create one
				}
				return fmt.Errorf("open the cold store %q: %w (%s)", shown, err, openHint(err, shown))
			}
			defer st.Close()
			if tables, err := st.Tables(ctx); err == nil && len(tables) == 0 {
				hint := "hotcold load --store " + shown + " --table T --version V --key K FILE.parquet"
				if opts.AdminToken != "" {
					hint = "hotcold load --sidecar ADDR --admin-token-file FILE --table T --version V --key K FILE.parquet"
				}
				logger.Warn("the cold store has no tables yet: lookups will fail with NotFound until one is loaded", "store", shown, "hint", hint)
			}
			srv, err := sidecar.NewServer(st, opts)
			if err != nil {
				return err
			}
			mode, err := cfg.SocketMode()
			if err != nil {
				return err
			}
			if p, ok := st.(*coldstore.Pebble); ok {
				// Warm start in the background, stopped and waited for before
				// the store closes; lookups are served meanwhile.
				wctx, stopWarm := context.WithCancel(ctx)
				warmed := make(chan struct{})
				go func() {
					defer close(warmed)
					sidecar.WarmUp(wctx, p, logger)
				}()
				defer func() { stopWarm(); <-warmed }()
			}
			out := cmd.OutOrStdout()
			return srv.Run(ctx, sidecar.Listeners{
				TCP: cfg.Listen, TLS: serverTLS, Unix: cfg.Unix, UnixMode: mode, Metrics: cfg.MetricsListen, Gatherer: reg,
				Ready: func(a sidecar.Addrs) {
					var parts []string
					if a.TCP != "" {
						switch {
						case serverTLS != nil && serverTLS.ClientCAs != nil:
							parts = append(parts, "tcp "+a.TCP+" (mTLS)")
						case serverTLS != nil:
							parts = append(parts, "tcp "+a.TCP+" (TLS)")
						default:
							parts = append(parts, "tcp "+a.TCP)
						}
					}
					if a.Unix != "" {
						parts = append(parts, "unix://"+a.Unix)
					}
					if a.Metrics != "" {
						parts = append(parts, "metrics http://"+a.Metrics+"/metrics")
					}
					fmt.Fprintf(out, "hotcold serve: serving %s on %s\n", shown, strings.Join(parts, ", "))
				},
			})
		},
	}
	f := c.Flags()
	f.StringVar(&configPath, "config", "", "YAML config file (listen addresses, store, jobs with tokens, tables and rate limits, limits, cache)")
	f.StringVar(&listen, "listen", "", "TCP host:port of the gRPC API (default 127.0.0.1:7070 when neither --listen nor --unix is set)")
	f.StringVar(&tlsCert, "tls-cert", "", "PEM certificate chain of the TCP listener: turns on TLS (read again when the file changes); with --tls-key")
	f.StringVar(&tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&tlsCA, "tls-client-ca", "", "PEM CAs of the client certificates: turns on mutual TLS (clients without a certificate signed by one are refused)")
	f.StringVar(&unix, "unix", "", "unix socket path of the gRPC API (preferred for a sidecar next to a TaskManager)")
	f.StringVar(&unixMode, "unix-mode", "", "octal file mode of the unix socket, e.g. 0660 (default: from the umask)")
	f.StringVar(&metrics, "metrics-listen", "", "host:port of the HTTP server with /metrics (default: none)")
	f.StringVar(&store, "store", "", "cold store URL: pebble:DIR or redis://HOST:PORT[/DB]")
	f.IntVar(&maxBatch, "max-batch", 0, "largest batch of keys per request (default 1024)")
	f.Var(&maxAnswer, "max-answer-size", "largest answer sent, e.g. 64MiB; keep it at or below the clients' receive limit (default 64MiB)")
	f.DurationVar(&timeout, "call-timeout", 0, "deadline of every call (default 5s)")
	f.DurationVar(&drain, "drain-timeout", 0, "how long in-flight calls may finish on shutdown (default 10s)")
	f.DurationVar(&readyEvery, "readiness-interval", 0, "how often readiness (gRPC health: NOT_SERVING while the store is unreachable or a table has no live version) and the freshness gauges are recomputed (default 5s)")
	f.Var(&cacheSize, "cache-size", "read cache size, e.g. 256MiB (default 64MiB)")
	f.BoolVar(&noCache, "no-cache", false, "turn the read cache off")
	f.DurationVar(&verCheck, "version-check-interval", 0, "how long a table's live version is trusted before asking the store again (default 0: every call)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug (logs every call), info, warn or error")
	f.BoolVar(&logJSON, "log-json", false, "log JSON lines instead of text")
	f.StringArrayVar(&inputRoots, "admin-input-root", nil, "directory admin Load may read Parquet files under (repeatable; overrides admin.input_roots); without one, admin Load refuses every file")
	f.StringVar(&adminToken, "admin-token-file", "", "file holding the admin token: turns on the admin API for hotcold load --sidecar (overrides admin: in the config)")
	return c
}

// openHint tells what to do about an error opening the store.
func openHint(err error, shown string) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "CLUSTERDOWN"):
		return "the Redis Cluster is down or has slots no master serves: check it with redis-cli --cluster check HOST:PORT and restart or replace the failed masters"
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "NOAUTH"):
		return "the store refused the credentials: check the user and password in the store URL"
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "no such host"):
		return "the store is not reachable: check the address and that it is running"
	case errors.Is(err, coldstore.ErrLocked):
		return "another process holds it (another hotcold serve or load?); load through that sidecar with hotcold load --sidecar"
	}
	return "check the store URL; a new store is created with hotcold load --store " + shown + " ..."
}

// serveLogger returns a slog logger on the command's stderr.
func serveLogger(cmd *cobra.Command, level string, asJSON bool) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	w := cmd.ErrOrStderr()
	if w == nil {
		w = os.Stderr
	}
	hopts := &slog.HandlerOptions{Level: l}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return slog.New(slog.NewTextHandler(w, hopts)), nil
}
