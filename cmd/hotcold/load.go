package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/progress"
	"github.com/hotcold/hotcold/internal/sample"
	"github.com/hotcold/hotcold/sidecar"
)

// loadFlags are the flags load and its subcommands share.
type loadFlags struct {
	store          string
	table          string
	keep           int
	sidecar        string
	adminTokenFile string
	tls            clientTLSFlags
}

// viaSidecar reports whether the command goes through a running sidecar
// (--sidecar) rather than opening the store (--store).
func (f *loadFlags) viaSidecar(cmd *cobra.Command) (bool, error) {
	if f.sidecar == "" {
		return false, nil
	}
	if fl := cmd.Flag("store"); fl != nil && fl.Changed {
		return false, errors.New("give --store (open the store here) or --sidecar (go through a running hotcold serve), not both")
	}
	return true, nil
}

// open opens --store; create says whether a directory that holds no store
// becomes a new one (only a load creates; list and rollback read).
func (f *loadFlags) open(ctx context.Context, cmd *cobra.Command, create bool) (coldstore.Backend, error) {
	if f.store == "" {
		return nil, errors.New("no store: pass --store pebble:DIR or --store redis://HOST:PORT (or set HOTCOLD_STORE), or --sidecar ADDR --admin-token-file FILE to go through a running hotcold serve")
	}
	if cmd.Flags().Changed("keep") && f.keep < 1 {
		return nil, fmt.Errorf("--keep %d: keep at least 1 version (the live one); 3 (the default) leaves two to roll back to", f.keep)
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := coldstore.Open(ctx, f.store, &coldstore.Options{KeepVersions: f.keep, Logger: logger, Create: create})
	if err != nil && isLocked(err) {
		return nil, fmt.Errorf("the store %s is held by another process (e.g. hotcold serve); load through it with --sidecar ADDR --admin-token-file FILE (the address and admin token of that hotcold serve)\n(%w)", coldstore.Redact(f.store), err)
	}
	return b, err
}

// sidecarLoadError adds to a failed load --sidecar whether anything was
// published: the sidecar answers with an error only before it publishes,
// but when the connection broke the outcome is unknown.
func sidecarLoadError(err error, addr, table, version string) error {
	if strings.Contains(err.Error(), "nothing was published") {
		return err
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Unknown, codes.Internal, codes.DataLoss:
		return fmt.Errorf("%w\nwhether version %s of %s was published is unknown (the answer was lost): check with hotcold load list --sidecar %s --table %s", err, version, table, addr, table)
	}
	return fmt.Errorf("%w\nnothing was published: the live version of %s is unchanged", err, table)
}

// parseCoversUntil reads --covers-until: an RFC 3339 instant, or a date
// YYYY-MM-DD meaning the data holds every event of that day (UTC), so the
// watermark is the start of the next day: 2026-11-22 is
// 2026-11-23T00:00:00Z. Empty is unknown (the zero time).
func parseCoversUntil(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.Parse("2006-01-02", s); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	return time.Time{}, fmt.Errorf("--covers-until %q: want a date (2026-11-22: every event of that day, UTC, is in the data, i.e. until 2026-11-23T00:00:00Z) or an RFC 3339 instant (2026-11-23T00:00:00Z)", s)
}

// isLocked reports whether opening a Pebble store failed because another
// process (or this one) holds it.
func isLocked(err error) bool { return errors.Is(err, coldstore.ErrLocked) }

// adminClient connects to the sidecar of --sidecar with the admin token
// of --admin-token-file or $HOTCOLD_ADMIN_TOKEN.
func (f *loadFlags) adminClient(ctx context.Context) (*sidecar.AdminClient, error) {
	token := ""
	if f.adminTokenFile != "" {
		b, err := os.ReadFile(f.adminTokenFile)
		if err != nil {
			return nil, fmt.Errorf("--admin-token-file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return nil, fmt.Errorf("--admin-token-file %s is empty: it must hold the sidecar's admin token", f.adminTokenFile)
		}
	} else if token = os.Getenv("HOTCOLD_ADMIN_TOKEN"); token == "" {
		return nil, errors.New("no admin token: pass --admin-token-file FILE (the token file given to hotcold serve --admin-token-file) or set HOTCOLD_ADMIN_TOKEN")
	}
	tc, err := f.tls.config()
	if err != nil {
		return nil, err
	}
	var opts []grpc.DialOption
	if tc != nil {
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	}
	return sidecar.NewAdminClient(ctx, f.sidecar, token, opts...)
}

// where names the store in messages.
func (f *loadFlags) where(viaSidecar bool) string {
	if viaSidecar {
		return "the store of sidecar " + f.sidecar
	}
	return coldstore.Redact(f.store)
}

func newLoadCmd() *cobra.Command {
	var (
		f            loadFlags
		version      string
		key          string
		coversUntil  string
		allowChange  bool
		memory       int64
		sortMemory   sidecar.ByteSize
		tmpDir       string
		progressFlag string
		asJSON       bool
		minRows      int64
		maxShrink    float64
		force        bool
	)
	cmd := &cobra.Command{
		Use:   "load (--store STORE | --sidecar ADDR) --table T --version V --key COL[,COL] FILE.parquet|s3://BUCKET/KEY...",
		Short: "Bulk-load Parquet files as a new version of a cold store table",
		Long: `load reads Parquet files (e.g. one Hive partition exported from the
warehouse), sorts the rows by key, writes them as a new version of a table and
publishes it atomically: readers see the old version or the new one, never a
mix. Rows with the same key: the last one wins (counted as duplicates).

Inputs are local files or S3 objects: s3://BUCKET/KEY.parquet,
s3://BUCKET/PREFIX/*.parquet (a glob in the last element) or s3://BUCKET/PREFIX/
(every .parquet object under it). They are downloaded to --tmp-dir (default the
system's temporary directory) first, with progress, and removed after the load.
The URL's query sets the bucket's options (region=..., and for an S3-compatible
server endpoint=http://HOST:PORT&use_path_style=true); credentials come from the
AWS environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, instance roles).

The store is pebble:DIR (embedded, sstable ingestion) or
redis://HOST:PORT[,HOST:PORT...] (Redis, Redis Cluster, Valkey, Kvrocks;
pipelined writes). The last --keep versions are kept for "load rollback".

Guards: a version with no rows (fewer than --min-rows), or with more than
--max-shrink (default 0.5) fewer rows than the live version, is refused and
nothing is published; --force publishes it anyway.

--covers-until is the event-time watermark of the data: every row with event
time before it is in this version, so hot state may drop what is older.

A pebble: store can be opened by one process only. While hotcold serve holds
it, load through the sidecar instead of --store: --sidecar ADDR (host:port or
unix:///path.sock of that hotcold serve) with the admin token it was started
with (--admin-token-file FILE, or $HOTCOLD_ADMIN_TOKEN). The sidecar reads the
files on its own host (relative paths are made absolute here first), keeps
serving lookups during the load and answers from the new version once it is
published. Interrupting the command cancels the load; nothing is published.
load list and load rollback take --sidecar too.

Progress (rows, rows/s, input read, bytes written, ETA) goes to stderr: a bar
on a terminal, plain lines with --progress always, JSON events with --json;
the last line on stdout is a JSON summary (rows, duplicates, bytes, seconds, version).
A bad file (missing key column, changed schema, corrupt data, null key) stops
the load with an error naming the file, row group and column; the live
version stays as it was.`,
		Example: `  hotcold load --store pebble:./cold --table orders --version dt=2026-11-22 \
    --key order_id --covers-until 2026-11-22T00:00:00Z orders/dt=2026-11-22/*.parquet
  hotcold load --store redis://10.0.0.1:6379,10.0.0.2:6379 --table orders --version dt=2026-11-22 \
    --key order_id part-0.parquet part-1.parquet
  hotcold load --store pebble:./cold --table orders --version dt=2026-11-22 --key order_id \
    's3://warehouse/orders/dt=2026-11-22/*.parquet?region=eu-west-1'
  # while hotcold serve --store pebble:./cold --admin-token-file admin.token --unix /tmp/hotcold.sock runs:
  hotcold load --sidecar unix:///tmp/hotcold.sock --admin-token-file admin.token --table orders \
    --version dt=2026-11-23 --key order_id orders/dt=2026-11-23/*.parquet
  hotcold load list --store pebble:./cold
  hotcold load list --sidecar 127.0.0.1:7070 --admin-token-file admin.token
  hotcold load rollback --store pebble:./cold --table orders
  hotcold load sample --rows 100000 orders.parquet   # a file to try it on`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("no Parquet files: pass FILE.parquet... after the flags (or use load list / load rollback)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, files []string) error {
			var missing []string
			if f.table == "" {
				missing = append(missing, "--table T")
			}
			if version == "" {
				missing = append(missing, "--version V (e.g. the partition, dt=2026-11-22)")
			}
			if key == "" {
				missing = append(missing, "--key COL[,COL]")
			}
			if len(missing) > 0 {
				return fmt.Errorf("missing %s", strings.Join(missing, ", "))
			}
			cu, err := parseCoversUntil(coversUntil)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("sort-memory") {
				if cmd.Flags().Changed("memory") {
					return errors.New("give --sort-memory, not also --memory (its old name)")
				}
				memory = int64(sortMemory)
			}
			if memory < 0 {
				return fmt.Errorf("--memory %d: must not be negative", memory)
			}
			mode, err := progress.ModeFor(progressFlag, asJSON, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rep := progress.New(cmd.ErrOrStderr(), mode)
			defer rep.Done()
			pp := loadProgress{r: rep, op: "load " + f.table + " " + version}
			remote, err := f.viaSidecar(cmd)
			if err != nil {
				return err
			}
			if remote {
				if cmd.Flags().Changed("keep") || cmd.Flags().Changed("tmp-dir") {
					return errors.New("--keep and --tmp-dir are the sidecar's settings with --sidecar: drop them (retention comes from the sidecar's store)")
				}
				abs := make([]string, len(files))
				for i, p := range files {
					if coldstore.IsObjectURL(p) {
						return fmt.Errorf("%s: the sidecar reads local files only: load object-store inputs with --store (this command downloads them), or copy them to the sidecar's host", p)
					}
					if abs[i], err = filepath.Abs(p); err != nil {
						return fmt.Errorf("%s: %w", p, err)
					}
				}
				c, err := f.adminClient(ctx)
				if err != nil {
					return err
				}
				defer c.Close()
				var onProgress func(coldstore.LoadProgress)
				if rep.Enabled() {
					onProgress = pp.load
				}
				res, err := c.Load(ctx, sidecar.AdminLoad{
					Table: f.table, Version: version, Key: splitList(key), Files: abs, CoversUntil: cu,
					AllowSchemaChange: allowChange, MemoryBudget: memory,
					MinRows: minRows, MaxShrink: maxShrink, Force: force,
				}, onProgress)
				if err != nil {
					return sidecarLoadError(err, f.sidecar, f.table, version)
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			var fetchProgress func(coldstore.FetchProgress)
			if rep.Enabled() {
				fetchProgress = pp.fetch
			}
			in, err := coldstore.FetchInputs(ctx, files, tmpDir, rep.Interval(), fetchProgress)
			if err != nil {
				return err
			}
			defer in.Close()
			src, err := coldstore.OpenParquetAs(ctx, in.Paths, in.Sources)
			if err != nil {
				return err
			}
			defer src.Close()
			b, err := f.open(ctx, cmd, true)
			if err != nil {
				return err
			}
			defer b.Close()
			spec := coldstore.LoadSpec{
				Table: f.table, Version: version, Key: splitList(key), CoversUntil: cu,
				AllowSchemaChange: allowChange, Source: src, MemoryBudget: memory, TempDir: tmpDir,
				MinRows: minRows, MaxShrink: maxShrink, Force: force,
			}
			if rep.Enabled() {
				spec.Progress = pp.load
				spec.ProgressInterval = rep.Interval()
			}
			res, err := b.Load(ctx, spec)
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.store, "store", os.Getenv("HOTCOLD_STORE"), "cold store: pebble:DIR or redis://HOST:PORT[,HOST:PORT...] (default $HOTCOLD_STORE)")
	pf.StringVar(&f.table, "table", "", "table name")
	pf.StringVar(&f.sidecar, "sidecar", "", "instead of --store: go through the running hotcold serve at host:port or unix:///path.sock (its admin service)")
	f.tls.add(pf)
	pf.StringVar(&f.adminTokenFile, "admin-token-file", "", "with --sidecar: file holding the sidecar's admin token (default $HOTCOLD_ADMIN_TOKEN)")
	fl := cmd.Flags()
	fl.StringVar(&version, "version", "", "name of the new version, e.g. dt=2026-11-22")
	fl.StringVar(&key, "key", "", "key columns, comma-separated, in key order")
	fl.StringVar(&coversUntil, "covers-until", "", "event-time watermark: every event before it is in the data; a date 2026-11-22 means all of that day (UTC), i.e. until 2026-11-23T00:00:00Z, or an RFC 3339 instant; empty: unknown")
	fl.BoolVar(&allowChange, "allow-schema-change", false, "accept input that appends nullable columns to the live schema")
	fl.IntVar(&f.keep, "keep", 3, "versions to keep per table, counting the new one (at least 1)")
	fl.Var(&sortMemory, "sort-memory", "memory for sorting rows, e.g. 512MiB; beyond it sorted runs spill to --tmp-dir (default 256MiB; README: Sizing)")
	fl.Int64Var(&memory, "memory", 0, "bytes for sorting rows")
	_ = fl.MarkDeprecated("memory", "use --sort-memory SIZE (e.g. 256MiB)")
	fl.StringVar(&tmpDir, "tmp-dir", "", "directory for sort spills (default: the store's) and downloaded s3:// inputs (default: the system's temporary directory)")
	fl.Int64Var(&minRows, "min-rows", 0, "refuse a version with fewer distinct rows (0: 1, so an empty input is refused)")
	fl.Float64Var(&maxShrink, "max-shrink", coldstore.DefaultMaxShrink, "refuse a version with this fraction fewer rows than the live one, or more (1: no limit)")
	fl.BoolVar(&force, "force", false, "publish even when --min-rows or --max-shrink refuses the version")
	fl.StringVar(&progressFlag, "progress", "auto", "progress on stderr: auto (a bar on a terminal), always (plain lines off a terminal), never")
	fl.BoolVar(&asJSON, "json", false, "progress on stderr as JSON events, one object a line (also off a terminal)")
	cmd.AddCommand(newLoadListCmd(&f), newLoadRollbackCmd(&f), newLoadSampleCmd())
	return cmd
}

func newLoadSampleCmd() *cobra.Command {
	var (
		o   sample.Orders
		day string
	)
	cmd := &cobra.Command{
		Use:   "sample FILE.parquet",
		Short: "Write a sample orders partition as Parquet, to try load on",
		Long: `sample writes a Parquet file shaped like one day of an orders table exported
from a warehouse: order_id, user_id, amount decimal(18,2), status, created_at.
order_id runs from --first for --rows rows, in shuffled order.`,
		Example: `  hotcold load sample --rows 100000 --day 2026-11-22 orders-2026-11-22.parquet
  hotcold load --store pebble:./cold --table orders --version dt=2026-11-22 --key order_id orders-2026-11-22.parquet`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Rows < 0 || o.Rows > sample.MaxRows {
				return fmt.Errorf("--rows %d: want 0 to %d", o.Rows, int64(sample.MaxRows))
			}
			d, err := time.Parse(time.DateOnly, day)
			if err != nil {
				return fmt.Errorf("--day %q: want YYYY-MM-DD", day)
			}
			o.Day = d
			f, err := os.Create(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			if err := sample.WriteOrders(cmd.Context(), f, o); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %d rows to %s\n", o.Rows, args[0])
			return err
		},
	}
	cmd.Flags().Int64Var(&o.Rows, "rows", 100_000, "number of rows")
	cmd.Flags().Int64Var(&o.First, "first", 0, "first order_id")
	cmd.Flags().StringVar(&day, "day", "2026-11-22", "day of created_at (UTC)")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 1, "random seed")
	return cmd
}

func newLoadListCmd(f *loadFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--table T]",
		Short: "List the tables of a cold store and their retained versions",
		Long: `list prints every retained version of every table (or of --table), the live
one marked with *. With --sidecar it asks a running hotcold serve, whose store
cannot be opened by a second process.`,
		Example: `  hotcold load list --store pebble:./cold
  hotcold load list --store redis://127.0.0.1:6379 --table orders --json
  hotcold load list --sidecar unix:///tmp/hotcold.sock --admin-token-file admin.token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			remote, err := f.viaSidecar(cmd)
			if err != nil {
				return err
			}
			all, err := listVersions(ctx, cmd, f, remote)
			if err != nil {
				if errors.Is(err, coldstore.ErrNoTable) {
					return fmt.Errorf("table %q has no version in %s: load one first (hotcold load --table %s ...)", f.table, f.where(remote), f.table)
				}
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				for _, v := range all {
					if err := enc.Encode(v); err != nil {
						return err
					}
				}
				return nil
			}
			if len(all) == 0 {
				_, err := fmt.Fprintln(out, "no tables: load one with hotcold load")
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TABLE\tVERSION\tLIVE\tROWS\tDUPLICATES\tBYTES\tCOVERS UNTIL\tLOADED AT")
			for _, v := range all {
				live, cu := "", "-"
				if v.Live {
					live = "*"
				}
				if !v.CoversUntil.IsZero() {
					cu = v.CoversUntil.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", v.Table, v.Version, live, v.Rows, v.Duplicates, v.Bytes, cu, v.LoadedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per version instead of a table")
	return cmd
}

// listVersions lists the versions of --table, or of every table, from the
// store or through the sidecar.
func listVersions(ctx context.Context, cmd *cobra.Command, f *loadFlags, remote bool) ([]coldstore.VersionInfo, error) {
	if remote {
		c, err := f.adminClient(ctx)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.Versions(ctx, f.table)
	}
	b, err := f.open(ctx, cmd, false)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	var tables []string
	if f.table != "" {
		tables = []string{f.table}
	} else {
		ts, err := b.Tables(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			tables = append(tables, t.Name)
		}
	}
	var all []coldstore.VersionInfo
	for _, t := range tables {
		vs, err := b.Versions(ctx, t)
		if err != nil {
			return nil, err
		}
		all = append(all, vs...)
	}
	return all, nil
}

func newLoadRollbackCmd(f *loadFlags) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "rollback --table T [--to VERSION]",
		Short: "Make a retained older version of a table live again",
		Long: `rollback switches the live version of a table back to the version loaded
before the current one, or to --to VERSION. Newer versions stay retained, so a
later rollback --to can return to them. It prints the new live version as JSON.
With --sidecar it goes through a running hotcold serve, whose lookups answer
from the rolled-back version right away.`,
		Example: `  hotcold load rollback --store pebble:./cold --table orders
  hotcold load rollback --store pebble:./cold --table orders --to dt=2026-11-22
  hotcold load rollback --sidecar unix:///tmp/hotcold.sock --admin-token-file admin.token --table orders`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.table == "" {
				return errors.New("missing --table T (hotcold load list shows the tables)")
			}
			ctx := cmd.Context()
			remote, err := f.viaSidecar(cmd)
			if err != nil {
				return err
			}
			var ti coldstore.TableInfo
			if remote {
				c, err := f.adminClient(ctx)
				if err != nil {
					return err
				}
				defer c.Close()
				ti, err = c.Rollback(ctx, f.table, to)
				if err != nil {
					return err
				}
			} else {
				b, err := f.open(ctx, cmd, false)
				if err != nil {
					return err
				}
				defer b.Close()
				if ti, err = b.Rollback(ctx, f.table, to); err != nil {
					return err
				}
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(ti)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "version to make live (default: the one loaded before the live one)")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// loadProgress renders a load's progress (and its downloads') on the
// command's progress reporter.
type loadProgress struct {
	r  *progress.Reporter
	op string // "load orders dt=2026-11-22"
}

// fetch reports the download of object-store inputs.
func (p loadProgress) fetch(fp coldstore.FetchProgress) {
	p.r.Report(progress.Event{Op: p.op, Step: "download", Done: int64(fp.Files), Total: int64(fp.FilesTotal), Unit: "objects",
		Bytes: fp.Bytes, BytesTotal: fp.BytesTotal, Elapsed: fp.Elapsed})
}

// load reports the load itself.
func (p loadProgress) load(lp coldstore.LoadProgress) {
	e := progress.Event{Op: p.op, Step: lp.Phase, Done: lp.Rows, Unit: "rows",
		Bytes: lp.InputBytes, BytesTotal: lp.InputTotal, Written: lp.Bytes, Elapsed: lp.Elapsed}
	switch lp.Phase {
	case "done":
		e.Step, e.Final = "", true
	case "failed":
		e.Step, e.Final, e.Failed = "", true, true
	}
	p.r.Report(e)
}
