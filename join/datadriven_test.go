package join_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/fixture"
	"github.com/hotcold/hotcold/join"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

var (
	ordersSchema  = fixture.JoinOrders
	refundsSchema = fixture.JoinRefunds(true)
)

func ordersInput(cold bool) join.Input {
	in := join.Input{Name: "orders", Schema: ordersSchema, Key: []string{"order_id"}, EventTime: "order_ts"}
	if cold {
		in.ColdTable = "orders"
	}
	return in
}

func refundsInput() join.Input {
	return join.Input{Name: "refunds", Schema: refundsSchema, Key: []string{"order_id"}, EventTime: "refund_ts"}
}

// outputColumns projects order_id, customer, amount, refund_id, refund.
func outputColumns(ordersSide join.Side) []join.Column {
	rs := ordersSide ^ 1
	return []join.Column{
		{Name: "order_id", Side: ordersSide, Source: "order_id"},
		{Side: ordersSide, Source: "customer"},
		{Side: ordersSide, Source: "amount"},
		{Side: rs, Source: "refund_id"},
		{Side: rs, Source: "refund"},
	}
}

func ts(s string) int64 {
	tm, err := time.Parse("2006-01-02T15:04", s)
	if err != nil {
		panic(err)
	}
	return tm.UnixMilli()
}

func parseOrder(t *testing.T, line string) row.Row {
	f := strings.Fields(line)
	if len(f) != 4 {
		t.Fatalf("order line %q: want id ts customer amount", line)
	}
	return row.New(row.Int64Value(atoi(t, f[0])), row.TimestampValue(ts(f[1])), nullable(f[2], row.StringValue), nullableInt(t, f[3]))
}

func parseRefund(t *testing.T, line string) row.Row {
	f := strings.Fields(line)
	if len(f) != 4 {
		t.Fatalf("refund line %q: want id order_id ts refund", line)
	}
	return row.New(row.Int64Value(atoi(t, f[0])), nullableInt(t, f[1]), row.TimestampValue(ts(f[2])), nullableInt(t, f[3]))
}

func atoi(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func nullable(s string, f func(string) row.Value) row.Value {
	if s == "null" {
		return row.NullValue()
	}
	return f(s)
}

func nullableInt(t *testing.T, s string) row.Value {
	if s == "null" {
		return row.NullValue()
	}
	return row.Int64Value(atoi(t, s))
}

type harness struct {
	t        *testing.T
	dir      string
	cfg      join.Config
	cold     *coldstore.Memory
	db       *state.DB
	op       *join.Operator
	out      []string
	ordersAt join.Side
	coldVer  int
}

func (h *harness) open() error {
	db, err := state.Open(h.dir, state.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := h.cfg
	cfg.Emit = func(r row.Row) error {
		h.out = append(h.out, r.Format(h.op.OutputSchema()))
		return nil
	}
	op, err := join.New(context.Background(), db, cfg)
	if err != nil {
		db.Close()
		return err
	}
	h.db, h.op = db, op
	return nil
}

func (h *harness) close() {
	if h.op != nil {
		h.op.Close()
		h.db.Close()
		h.op, h.db = nil, nil
	}
}

// emptyColdOrders is a cold store whose orders table exists but holds no
// row and covers nothing yet (a job must not start on a missing table).
func emptyColdOrders(t *testing.T) *coldstore.Memory {
	m := coldstore.NewMemory()
	if err := m.Publish("orders", "v0", ordersSchema, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/ops", func(t *testing.T, path string) {
		h := &harness{t: t, dir: filepath.Join(t.TempDir(), "state"), cold: emptyColdOrders(t)}
		defer h.close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			h.t = t
			return h.run(d)
		})
	})
}

func (h *harness) run(d *datadriven.TestData) string {
	t := h.t
	ctx := context.Background()
	switch d.Cmd {
	case "setup":
		typ, left, cold := "inner", "orders", "none"
		retention, hardcap, batch := 2, 0, 0
		overcap := "keep"
		d.MaybeScanArgs(t, "type", &typ)
		d.MaybeScanArgs(t, "left", &left)
		d.MaybeScanArgs(t, "cold", &cold)
		d.MaybeScanArgs(t, "retention", &retention)
		d.MaybeScanArgs(t, "hardcap", &hardcap)
		d.MaybeScanArgs(t, "overcap", &overcap)
		d.MaybeScanArgs(t, "batch", &batch)
		jt, err := join.ParseType(typ)
		if err != nil {
			return err.Error()
		}
		oc, err := state.ParseOverCapPolicy(overcap)
		if err != nil {
			return err.Error()
		}
		h.cfg = join.Config{Name: "j", Type: jt, Cold: h.cold, RetentionDays: retention, HardCapDays: hardcap, OverCap: oc,
			ColdBatchSize: batch, CoverageRefresh: -1}
		orders, refunds := ordersInput(cold == "orders"), refundsInput()
		if left == "orders" {
			h.cfg.Left, h.cfg.Right, h.ordersAt = orders, refunds, join.Left
		} else {
			h.cfg.Left, h.cfg.Right, h.ordersAt = refunds, orders, join.Right
		}
		h.cfg.Output = outputColumns(h.ordersAt)
		h.close()
		if err := h.open(); err != nil {
			return err.Error()
		}
		return "ok"
	case "cold":
		var covers string
		d.ScanArgs(t, "covers", &covers)
		var rows []row.Row
		for _, l := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if strings.TrimSpace(l) != "" {
				rows = append(rows, parseOrder(t, l))
			}
		}
		cu, err := time.Parse(time.DateOnly, covers)
		if err != nil {
			t.Fatal(err)
		}
		h.coldVer++
		if err := h.cold.Publish("orders", fmt.Sprintf("v%d", h.coldVer), ordersSchema, cu, rows); err != nil {
			return err.Error()
		}
		h.op.RefreshCoverage(ctx)
		return "ok"
	case "orders", "refunds":
		side, parse := h.ordersAt, parseOrder
		if d.Cmd == "refunds" {
			side, parse = h.ordersAt^1, parseRefund
		}
		var errs []string
		for _, l := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			if err := h.op.Push(ctx, side, parse(t, l)); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if !d.HasArg("noflush") {
			if err := h.op.Flush(ctx); err != nil {
				errs = append(errs, err.Error())
			}
		}
		return h.drainOut(errs)
	case "flush":
		var errs []string
		if err := h.op.Flush(ctx); err != nil {
			errs = append(errs, err.Error())
		}
		return h.drainOut(errs)
	case "advance":
		tm, err := time.Parse(time.DateOnly, strings.TrimSpace(d.CmdArgs[0].Key))
		if err != nil {
			t.Fatal(err)
		}
		h.op.Advance(tm)
		if err := h.op.Flush(ctx); err != nil {
			return err.Error()
		}
		return h.drainOut(nil)
	case "commit":
		if err := h.op.Commit(ctx); err != nil {
			return err.Error()
		}
		return h.drainOut(nil)
	case "restart":
		// Uncommitted state is lost, as in a crash.
		h.close()
		if err := h.open(); err != nil {
			t.Fatal(err)
		}
		return "ok"
	case "state":
		var b strings.Builder
		for _, n := range h.db.Namespaces() {
			fmt.Fprintf(&b, "%s: %v\n", n.Name(), n.Buckets())
		}
		return b.String()
	case "stats":
		st := h.op.Stats()
		var b strings.Builder
		for _, s := range []join.SideStats{st.Left, st.Right} {
			fmt.Fprintf(&b, "%s: records=%d late=%d hot_hits=%d cold_hits=%d misses=%d possibly_missed=%d expired=%d buckets=%d\n",
				s.Input, s.Records, s.Late, s.HotHits, s.ColdHits, s.Misses, s.PossiblyMissed, s.ExpiredBuckets, s.Buckets)
		}
		fmt.Fprintf(&b, "outputs=%d cold_lookups=%d\n", st.Outputs, st.ColdLookups)
		return b.String()
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

func (h *harness) drainOut(errs []string) string {
	out := append(h.out, errs...)
	h.out = nil
	if len(out) == 0 {
		return "(no output)"
	}
	return strings.Join(out, "\n")
}
