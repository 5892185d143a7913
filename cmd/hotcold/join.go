package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/join/runner"
	"github.com/hotcold/hotcold/sidecar"
)

func newJoinCmd() *cobra.Command {
	var (
		rf       runnerFlags
		waitCold time.Duration
	)
	c := &cobra.Command{
		Use:   "join --config join.yaml",
		Short: "Run a hot/cold stream-stream join between two Kafka topics",
		Long: `join consumes two co-partitioned Kafka topics, joins them keeping only the hot
window (by default today and yesterday, by event-time day) in local Pebble
state, looks older keys up in the shared cold store (in-process by URL, or
through the lookup sidecar), and produces the changelog (debezium-json or
upsert-kafka) to an output topic.

State, consumed offsets and outputs are committed atomically per poll batch;
a restart resumes from the offsets in state. SIGTERM or Ctrl-C finishes the
batch in hand, commits it and leaves the consumer group. On an error nothing
pending is committed: the next start re-reads it.

The cold side fails closed: an unreachable store or sidecar (unless
--wait-cold), an unknown cold table or a cold schema that does not fit the
input stops the job at start; a cold lookup that keeps failing at run time
stops it without committing. A lookup error is never taken as a miss.

Every partition state directory holds the job's manifest (written on first
start, derived from the config: 'hotcold join manifest --config join.yaml'
prints it). A start on state of another job, of other logic (a column
retyped, dropped, ...) or without a manifest is refused with the change and
the command to run next (hotcold migrate plan/apply, or bypass).

The config file is documented in join/testdata/join.yaml.`,
		Example: `  hotcold join --config join.yaml
  hotcold join --config join.yaml --brokers kafka-1:9092,kafka-2:9092 --state-dir /var/lib/hotcold/orders_refunds
  hotcold join --config join.yaml --wait-cold 2m   # the sidecar may start after the job
  hotcold join --config join.yaml --stop-at orders/0=500,refunds/0=120   # process up to these offsets, then exit 0
  hotcold join manifest --config join.yaml   # print the state manifest the config describes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := rf.start(cmd.ErrOrStderr(), "the join's", "join/testdata/join.yaml")
			if err != nil {
				return err
			}
			f, err := runner.ReadFile(rf.config)
			if err != nil {
				return err
			}
			stop, err := rf.override(&f.Kafka, &f.State)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cold, closeCold, err := openJoinCold(ctx, f)
			if err != nil {
				return err
			}
			defer closeCold()
			cfg, err := f.Config(cold)
			if err != nil {
				return err
			}
			reg := runnerRegistry()
			cfg.Registerer = reg
			cfg.Logger = log
			cfg.StopAt = stop
			if rf.outTopic != "" {
				// Only where the outputs go: the state's manifest keeps
				// the config's output name, so that a bypass's side job
				// (another topic) builds state the switched job accepts.
				cfg.OutputTopic = rf.outTopic
			}
			cfg.WaitCold = waitCold
			r, err := runner.New(cfg)
			if err != nil {
				return err
			}
			if f.Metrics.Listen != "" {
				stop, addr, err := serveJoinMetrics(f.Metrics.Listen, reg)
				if err != nil {
					return err
				}
				defer stop()
				log.Info("serving metrics", "url", "http://"+addr+"/metrics")
			}
			err = r.Run(ctx)
			st := r.Stats()
			fmt.Fprintf(cmd.OutOrStdout(), "read %d records (%.0f/s): %d joined, %d skipped as dirty, %d dead-lettered, %d before the hot window; produced %d changes; lookups: %d hot hits, %d cold hits, %d misses\n",
				st.Records, st.RecordsPerSecond, st.Joined, st.Skipped, st.DeadLettered, st.BeforeWindow, st.Outputs, st.HotHits, st.ColdHits, st.Misses)
			return err
		},
	}
	c.AddCommand(newCheckpointCmd("join", func(config string) (string, error) {
		f, err := runner.ReadFile(config)
		if err != nil {
			return "", err
		}
		return f.State.Dir, nil
	}))
	fl := c.Flags()
	rf.register(fl, "the join's")
	fl.DurationVar(&waitCold, "wait-cold", 0, "wait up to this long for an unreachable cold side (e.g. the sidecar starting) instead of failing at once")
	c.AddCommand(newRunnerManifestCmd("hotcold join", "the join's", "join.yaml", joinManifest))
	return c
}

// openJoinCold opens the cold side the config names: a sidecar address or
// a store URL. It returns nil when neither is set.
func openJoinCold(ctx context.Context, f *runner.File) (join.Lookuper, func(), error) {
	switch {
	case f.Cold.Sidecar != "" && f.Cold.Store != "":
		return nil, nil, errors.New("config: set cold.store or cold.sidecar, not both")
	case f.Cold.Sidecar != "":
		var opts []sidecar.Option
		if f.Cold.Token != "" {
			opts = append(opts, sidecar.WithToken(f.Cold.Token))
		}
		cl, err := sidecar.Dial(f.Cold.Sidecar, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("cold.sidecar %q: %w (is 'hotcold serve' running there?)", f.Cold.Sidecar, err)
		}
		return cl, func() { cl.Close() }, nil
	case f.Cold.Store != "":
		st, err := coldstore.Open(ctx, f.Cold.Store, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("cold.store %q: %w (load it first with 'hotcold load')", coldstore.Redact(f.Cold.Store), err)
		}
		return st, func() { st.Close() }, nil
	}
	return nil, func() {}, nil
}

func serveJoinMetrics(listen string, reg *prometheus.Registry) (func(), string, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, "", fmt.Errorf("metrics.listen %q: %w", listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "hotcold: metrics server:", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, strings.TrimSpace(ln.Addr().String()), nil
}
