package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/ui"
)

func newUICmd() *cobra.Command {
	var (
		listen, token, data      string
		mockStore, reports, migr string
		cold, side, adminFile    string
		logLevel                 string
		run                      mockRunFlags
		tls                      clientTLSFlags
	)
	c := &cobra.Command{
		Use:   "ui",
		Short: "Serve the web console: mock cases, diagnosis reports, bypass rebuilds and the cold store",
		Long: `ui serves a local web console from this binary (its page is embedded: no
network access, no CDN). Its four areas:

  Mock cases   the cases of --mock-store (a directory or s3://bucket) with their
               last result; edit a source's messages and the expected table in a
               grid checked by the same validation as hotcold mock check; run a
               case against --brokers with --exec as hotcold mock run does and
               follow it; the diff with missing, unexpected and changed cells;
               the run history.
  Diagnosis    the reports that diag watch --reports file://DIR / diag run --out
               write under --reports, each opened with its lag chart.
  Migration    the bypass rebuilds under --migrations (a --work-dir of hotcold
               migrate bypass, or a directory of them): the seven stages, each
               stage's log, the compared offsets; Resume and Abort run hotcold
               migrate bypass with the arguments the run was started with.
  Cold store   tables, live and kept versions, covers-until, rows, freshness, and
               rollback (it needs the admin token, typed in the page) of --cold
               pebble:DIR / redis://..., or of a running hotcold serve through
               --sidecar ADDR --admin-token-file FILE.

--data DIR opens what hotcold demo --keep DIR leaves: DIR/mock, DIR/diag,
DIR/bypass, the cold store DIR/cold and its admin token DIR/admin.token, and,
without --brokers, an in-process Kafka to run the cases on.

It listens on 127.0.0.1 by default. Any other address needs --token (or
$HOTCOLD_UI_TOKEN): open the console once as http://HOST:PORT/?token=TOKEN.
Requests that change something must come from the console's own page. It logs
every request (slog) and serves Prometheus metrics on /metrics.`,
		Example: `  hotcold demo --keep ./demo && hotcold ui --data ./demo      # then open http://127.0.0.1:7080
  hotcold ui --mock-store s3://team-mock?region=eu-west-1 --brokers kafka:9092 --exec ./start-job.sh
  hotcold ui --reports ./diag-reports --migrations ./bypass --sidecar unix:///tmp/hotcold.sock --admin-token-file admin.token
  HOTCOLD_UI_TOKEN=$(openssl rand -hex 16) hotcold ui --listen 0.0.0.0:7080 --mock-store /shared/mock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			if token == "" {
				token = os.Getenv("HOTCOLD_UI_TOKEN")
			}
			if !ui.LoopbackHost(listen) && token == "" {
				return fmt.Errorf("--listen %s is not a loopback address: give --token (or $HOTCOLD_UI_TOKEN) so that only you can use the console", listen)
			}
			if data != "" {
				if st, err := os.Stat(data); err != nil || !st.IsDir() {
					return fmt.Errorf("--data %s: not a directory (make one with hotcold demo --keep %s)", data, data)
				}
				def := func(p *string, name string) {
					if *p == "" {
						if _, err := os.Stat(filepath.Join(data, name)); err == nil {
							*p = filepath.Join(data, name)
						}
					}
				}
				def(&mockStore, "mock")
				def(&reports, "diag")
				def(&migr, "bypass")
				def(&adminFile, "admin.token")
				if cold == "" && side == "" {
					if _, err := os.Stat(filepath.Join(data, "cold")); err == nil {
						cold = "pebble:" + filepath.Join(data, "cold")
					}
				}
				if len(run.brokers) == 0 && mockStore != "" {
					kc, err := kfake.NewCluster(kfake.NumBrokers(1))
					if err != nil {
						return fmt.Errorf("start the in-process Kafka: %w", err)
					}
					defer kc.Close()
					run.brokers = kc.ListenAddrs()
					logger.Info("no --brokers: cases run on an in-process Kafka", "brokers", strings.Join(run.brokers, ","))
				}
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			cfg := ui.Config{Token: token, Registerer: reg, Gatherer: reg, Logger: logger, Reports: reports, Migrations: migr}
			if mockStore != "" {
				s, err := mock.OpenStore(ctx, mockStore)
				if err != nil {
					return err
				}
				defer s.Close()
				cfg.Mock = s
				if len(run.brokers) > 0 {
					cfg.MockOptions = func() (mock.Options, error) { return run.options(cmd) }
				}
			}
			if migr != "" {
				cfg.Bypass = resumeBypass
			}
			adminToken := ""
			if adminFile != "" {
				b, err := os.ReadFile(adminFile)
				if err != nil {
					return fmt.Errorf("--admin-token-file: %w", err)
				}
				if adminToken = strings.TrimSpace(string(b)); adminToken == "" {
					return fmt.Errorf("--admin-token-file %s is empty: it must hold the admin token", adminFile)
				}
			}
			switch {
			case cold != "" && side != "":
				return errors.New("give --cold (open the store here) or --sidecar (go through a running hotcold serve), not both")
			case side != "":
				tc, err := tls.config()
				if err != nil {
					return err
				}
				var opts []grpc.DialOption
				if tc != nil {
					opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
				}
				cfg.Cold = ui.SidecarCold(side, adminToken, opts...)
			case cold != "":
				b, err := coldstore.Open(ctx, cold, &coldstore.Options{Logger: logger})
				if err != nil {
					if errors.Is(err, coldstore.ErrLocked) {
						return fmt.Errorf("the store %s is held by another process (e.g. hotcold serve): use --sidecar ADDR --admin-token-file FILE instead\n(%w)", coldstore.Redact(cold), err)
					}
					return err
				}
				defer b.Close()
				cfg.Cold = ui.StoreCold(b, coldstore.Redact(cold), adminToken)
			}
			srv, err := ui.New(cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
			url := "http://" + ln.Addr().String() + "/"
			fmt.Fprintf(cmd.OutOrStdout(), "hotcold console on %s", url)
			if token != "" {
				fmt.Fprint(cmd.OutOrStdout(), " (open it with ?token=<your --token>)")
			}
			fmt.Fprintln(cmd.OutOrStdout())
			logger.Info("console listening", "url", url, "mock_store", mockStore, "reports", reports, "migrations", migr, "cold", coldstore.Redact(cold), "sidecar", side)
			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return hs.Shutdown(sctx)
		},
	}
	f := c.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:7080", "host:port to serve the console on (not loopback: --token is required)")
	f.StringVar(&token, "token", "", "token every request must carry (default $HOTCOLD_UI_TOKEN); required off loopback")
	f.StringVar(&data, "data", "", "a directory left by hotcold demo --keep: its mock store, reports, bypass runs and cold store")
	f.StringVar(&mockStore, "mock-store", "", "the mock store: a directory, file:///dir or s3://bucket?region=...")
	f.StringVar(&reports, "reports", "", "directory of diagnosis reports (diag watch --reports file://DIR, diag run --out)")
	f.StringVar(&migr, "migrations", "", "a bypass --work-dir, or a directory of them")
	f.StringVar(&cold, "cold", "", "cold store to open: pebble:DIR or redis://HOST:PORT (not while hotcold serve holds it: use --sidecar)")
	f.StringVar(&side, "sidecar", "", "instead of --cold: the running hotcold serve at host:port or unix:///path.sock (its admin service)")
	f.StringVar(&adminFile, "admin-token-file", "", "file holding the admin token: lists through --sidecar, and the token rollbacks are checked against with --cold")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs := f
	fs.StringSliceVar(&run.brokers, "brokers", nil, "Kafka bootstrap brokers the cases run against, host:port (repeatable or comma-separated)")
	fs.StringVar(&run.exec, "exec", "", "start this shell command as the job under test for each run (as hotcold mock run --exec)")
	fs.DurationVar(&run.stopGrace, "stop-grace", 10*time.Second, "how long the --exec job has to stop after SIGINT before its process group is killed")
	fs.Float64Var(&run.speed, "speed", 1, "scale the scheduled waits of a run: 2 is twice as fast; 0 sends at full speed")
	fs.DurationVar(&run.timeout, "timeout", 0, "override expect.timeout of every run")
	fs.DurationVar(&run.quiet, "quiet", 0, "override expect.quiet of every run")
	fs.BoolVarP(&run.verbose, "verbose", "v", false, "log the runs' progress to stderr")
	tls.add(f)
	return c
}

// resumeBypass resumes or aborts a bypass run with hotcold migrate bypass
// itself, given the arguments the run was started with (kept in its work
// directory). Its log goes to WORK-DIR/bypass.log as every run's does.
func resumeBypass(ctx context.Context, workDir string, abort bool) error {
	args, err := ui.LoadBypassArgs(workDir)
	if err != nil {
		return err
	}
	if abort {
		args = append(args, "--abort")
	}
	c := newMigrateBypassCmd()
	c.SetArgs(args)
	c.SetOut(io.Discard)
	c.SetErr(io.Discard)
	c.SilenceUsage, c.SilenceErrors = true, true
	return c.ExecuteContext(ctx)
}
