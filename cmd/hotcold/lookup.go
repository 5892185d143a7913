package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

func newLookupCmd() *cobra.Command {
	var (
		addr    string
		table   string
		token   string
		timeout time.Duration
		list    bool
		tlsf    clientTLSFlags
	)
	c := &cobra.Command{
		Use:   "lookup --addr ADDR --table TABLE KEY...",
		Short: "Look keys up through a running lookup sidecar and print the rows as JSON lines",
		Long: `lookup asks a running sidecar (hotcold serve) for the rows of the given keys
and prints one JSON line per key, in argument order:

  {"key":[42],"found":true,"version":"2026-11-22","row":{"order_id":42,...}}
  {"key":[43],"found":false,"version":"2026-11-22"}

A KEY is the key column values in key order, separated by commas ("42",
"42,2"), or a JSON array for values that contain commas ('["a,b",2]').
Values are read in the key columns' types (numbers, dates as 2006-01-02,
timestamps as "2006-01-02 15:04:05.000", decimals, base64 bytes). All keys
are read in one BatchLookup call, from one table version.

--addr is host:port for TCP or unix:///path.sock for the unix socket. The
token of a job (when the sidecar has jobs configured) comes from --token or
the HOTCOLD_TOKEN environment variable. --list prints the tables instead.
Over TLS give --tls-ca (and --tls-cert/--tls-key when the sidecar requires
client certificates).`,
		Example: `  hotcold lookup --addr unix:///tmp/hotcold.sock --table orders 42 43
  hotcold lookup --addr 127.0.0.1:7070 --table refunds 42,1 42,2
  hotcold lookup --addr sidecar.example:7070 --tls-ca ca.pem --tls-cert me.pem --tls-key me.key --table orders 42
  HOTCOLD_TOKEN=s3cret hotcold lookup --addr unix:///run/hotcold.sock --list`,
		RunE: func(cmd *cobra.Command, keys []string) error {
			if addr == "" {
				return fmt.Errorf("--addr is required: host:port or unix:///path.sock of a running `hotcold serve`")
			}
			if !list && (table == "" || len(keys) == 0) {
				return fmt.Errorf("give --table and at least one KEY (or --list to see the tables)")
			}
			if token == "" {
				token = os.Getenv("HOTCOLD_TOKEN")
			}
			opts := []sidecar.Option{sidecar.WithCallTimeout(timeout)}
			tc, err := tlsf.config()
			if err != nil {
				return err
			}
			if tc != nil {
				opts = append(opts, sidecar.WithTLS(tc))
			}
			if token != "" {
				opts = append(opts, sidecar.WithToken(token))
			}
			c, err := sidecar.Dial(addr, opts...)
			if err != nil {
				return err
			}
			defer c.Close()
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			ctx := cmd.Context()
			if list {
				return listTables(ctx, c, out)
			}
			return lookupKeys(ctx, c, out, table, keys)
		},
	}
	f := c.Flags()
	tlsf.add(f)
	f.StringVar(&addr, "addr", "", "sidecar address: host:port or unix:///path.sock")
	f.StringVar(&table, "table", "", "table to read")
	f.StringVar(&token, "token", "", "bearer token of your job (default $HOTCOLD_TOKEN)")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "deadline of each call")
	f.BoolVar(&list, "list", false, "list the tables you may read instead of looking keys up")
	return c
}

func lookupKeys(ctx context.Context, c *sidecar.Client, out *bufio.Writer, table string, args []string) error {
	ti, err := c.Describe(ctx, table)
	if err != nil {
		return fmt.Errorf("describe %q: %w", table, err)
	}
	types := ti.Schema.KeyTypes()
	keys := make([][]row.Value, len(args))
	for i, a := range args {
		k, err := parseKey(a, ti.Schema.KeyNames(), types)
		if err != nil {
			return fmt.Errorf("KEY %d (%q): %w", i+1, a, err)
		}
		keys[i] = k
	}
	res, err := c.MultiGet(ctx, table, keys)
	if err != nil {
		return err
	}
	if res[0].Version != ti.Version {
		// A new version was published in between: print with its schema.
		if ti, err = c.Describe(ctx, table); err != nil {
			return err
		}
	}
	var line []byte
	for i, r := range res {
		line = append(line[:0], `{"key":[`...)
		for j, v := range keys[i] {
			if j > 0 {
				line = append(line, ',')
			}
			line = row.AppendJSONValue(line, types[j], v)
		}
		line = fmt.Appendf(line, `],"found":%t,"version":%q`, r.Found, r.Version)
		if r.Found {
			line = append(line, `,"row":`...)
			if len(r.Row.Values) == ti.Schema.Len() {
				line = ti.Schema.AppendJSON(line, r.Row)
			} else {
				line = fmt.Appendf(line, "%q", r.Row.String())
			}
		}
		line = append(line, "}\n"...)
		if _, err := out.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// parseKey reads one KEY argument: comma-separated values or a JSON array,
// each converted to its key column's type.
func parseKey(arg string, names []string, types []row.Type) ([]row.Value, error) {
	var raw []any
	if strings.HasPrefix(strings.TrimSpace(arg), "[") {
		dec := json.NewDecoder(bytes.NewReader([]byte(arg)))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("not a JSON array: %v", err)
		}
	} else {
		for _, p := range strings.Split(arg, ",") {
			raw = append(raw, strings.TrimSpace(p))
		}
	}
	if len(raw) != len(types) {
		return nil, fmt.Errorf("the key (%s) has %d columns, got %d values", strings.Join(names, ", "), len(types), len(raw))
	}
	out := make([]row.Value, len(raw))
	for i, r := range raw {
		if r == nil {
			return nil, fmt.Errorf("key column %q: a key value must not be null", names[i])
		}
		v, err := row.ValueFromJSON(types[i], r)
		if err != nil {
			return nil, fmt.Errorf("key column %q (%s): %v", names[i], types[i], err)
		}
		out[i] = v
	}
	return out, nil
}

func listTables(ctx context.Context, c *sidecar.Client, out *bufio.Writer) error {
	tables, err := c.Tables(ctx)
	if err != nil {
		return err
	}
	for _, t := range tables {
		type column struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			Nullable bool   `json:"nullable"`
		}
		var cols []column
		var key []string
		if t.Schema != nil {
			for _, c := range t.Schema.Columns() {
				cols = append(cols, column{c.Name, c.Type.String(), c.Nullable})
			}
			key = t.Schema.KeyNames()
		}
		b, err := json.Marshal(struct {
			coldstore.TableInfo
			Key     []string `json:"key"`
			Columns []column `json:"columns"`
		}{t, key, cols})
		if err != nil {
			return err
		}
		out.Write(append(b, '\n'))
	}
	return nil
}
