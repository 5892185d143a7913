package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/hotcold/hotcold/row"
)

// The schemas of the demo's tables. Amounts are decimal(18, 2), as a
// warehouse keeps money; timestamps are event times in milliseconds (UTC).
var (
	// OrdersSchema is the orders topic and the warehouse's orders table.
	OrdersSchema = row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "order_ts", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "customer", Type: row.String, Nullable: true},
		{Name: "city", Type: row.String, Nullable: true},
		{Name: "amount", Type: row.Decimal(18, 2), Nullable: true},
	}, []string{"order_id"}, 1)
	// RefundsSchema is the refunds topic. refund_day is the event-time
	// day of refund_ts, the partition column a warehouse would add.
	RefundsSchema = row.MustSchema([]row.Column{
		{Name: "refund_id", Type: row.Int64},
		{Name: "order_id", Type: row.Int64},
		{Name: "refund_ts", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "refund_day", Type: row.Date32},
		{Name: "refund", Type: row.Decimal(18, 2), Nullable: true},
	}, []string{"refund_id"}, 1)
	// JoinedSchema is the output of orders JOIN refunds ON order_id,
	// keyed by refund_id (one output row per refund).
	JoinedSchema = row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "customer", Type: row.String, Nullable: true},
		{Name: "city", Type: row.String, Nullable: true},
		{Name: "order_amount", Type: row.Decimal(18, 2), Nullable: true},
		{Name: "refund_id", Type: row.Int64},
		{Name: "refund_ts", Type: row.Timestamp(row.Millisecond, "")},
		{Name: "refund_day", Type: row.Date32},
		{Name: "refund", Type: row.Decimal(18, 2), Nullable: true},
	}, []string{"refund_id"}, 1)
)

// cities are the order cities, the first ones more frequent.
var cities = []string{
	"Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Hangzhou", "Chengdu",
	"Wuhan", "Nanjing", "Xi'an", "Suzhou", "Tianjin", "Chongqing",
}

const (
	// refundRate is the share of orders that are refunded (some refunds
	// fall after the last day and are dropped).
	refundRate = 0.15
	// meanRefundDelay is the mean of the exponential delay between an
	// order and its refund: about 40% of refunds come within the 2-day
	// hot window, the rest reach into the cold store.
	meanRefundDelay = 3 * 24 * time.Hour
	// maxRefundDelay caps the delay.
	maxRefundDelay = 25 * 24 * time.Hour
	customers      = 50_000
)

// Order is one generated order.
type Order struct {
	ID       int64
	At       time.Time
	Customer string
	City     string
	Cents    int64
}

// Refund is one generated refund of an order.
type Refund struct {
	ID      int64
	OrderID int64
	At      time.Time
	Cents   int64
}

// Workload is the orders and refunds of Days days starting at Start, both
// in event-time order.
type Workload struct {
	Start   time.Time
	Days    int
	Orders  []Order
	Refunds []Refund
}

// Generate returns the deterministic workload of days days of perDay
// orders each, starting at start (a UTC midnight); seed picks the random
// stream. The same arguments always give the same workload.
func Generate(start time.Time, days, perDay int, seed uint64) *Workload {
	rng := rand.New(rand.NewPCG(seed, 0x686f74636f6c64)) // "hotcold"
	w := &Workload{Start: start, Days: days, Orders: make([]Order, 0, days*perDay)}
	end := w.End()
	slot := 24 * time.Hour / time.Duration(max(perDay, 1))
	for d := 0; d < days; d++ {
		day := start.Add(time.Duration(d) * 24 * time.Hour)
		for i := 0; i < perDay; i++ {
			// Evenly spread over the day, jittered within the slot (so
			// still in order), truncated to the millisecond.
			at := day.Add(time.Duration(i)*slot + time.Duration(rng.Int64N(int64(slot)))).Truncate(time.Millisecond)
			o := Order{
				ID:       int64(len(w.Orders) + 1),
				At:       at,
				Customer: fmt.Sprintf("c%05d", rng.IntN(customers)),
				City:     cities[skewed(rng, len(cities))],
				Cents:    500 + rng.Int64N(50_000),
			}
			w.Orders = append(w.Orders, o)
			if rng.Float64() >= refundRate {
				continue
			}
			delay := time.Duration(rng.ExpFloat64() * float64(meanRefundDelay))
			delay = min(delay, maxRefundDelay) + time.Minute
			rat := at.Add(delay).Truncate(time.Millisecond)
			cents := o.Cents
			if rng.IntN(10) >= 6 {
				cents = 1 + rng.Int64N(o.Cents)
			}
			if rat.Before(end) {
				w.Refunds = append(w.Refunds, Refund{OrderID: o.ID, At: rat, Cents: cents})
			}
		}
	}
	slices.SortStableFunc(w.Refunds, func(a, b Refund) int { return a.At.Compare(b.At) })
	for i := range w.Refunds {
		w.Refunds[i].ID = int64(i + 1)
	}
	return w
}

// skewed picks an index in [0, n) with smaller indexes more likely.
func skewed(rng *rand.Rand, n int) int {
	return int(math.Floor(float64(n) * math.Pow(rng.Float64(), 1.6)))
}

// End returns the end of the last day (exclusive).
func (w *Workload) End() time.Time { return w.DayStart(w.Days) }

// DayStart returns the start of day d (0-based).
func (w *Workload) DayStart(d int) time.Time { return w.Start.Add(time.Duration(d) * 24 * time.Hour) }

// Row returns o as a row of OrdersSchema.
func (o *Order) Row() row.Row {
	return row.New(row.Int64Value(o.ID), row.TimestampValue(o.At.UnixMilli()), row.StringValue(o.Customer),
		row.StringValue(o.City), cents(o.Cents))
}

// Row returns r as a row of RefundsSchema.
func (r *Refund) Row() row.Row {
	return row.New(row.Int64Value(r.ID), row.Int64Value(r.OrderID), row.TimestampValue(r.At.UnixMilli()),
		row.Date32Value(epochDay(r.At)), cents(r.Cents))
}

func cents(c int64) row.Value { return row.DecimalValue(decimal128.FromI64(c)) }

func epochDay(t time.Time) int32 { return int32(t.UTC().Unix() / 86400) }

// Records returns the number of input records (orders and refunds) with
// event time at or after from.
func (w *Workload) Records(from time.Time) int64 {
	var n int64
	for i := range w.Orders {
		if !w.Orders[i].At.Before(from) {
			n++
		}
	}
	for i := range w.Refunds {
		if !w.Refunds[i].At.Before(from) {
			n++
		}
	}
	return n
}

// ExpectedJoin returns the join of every refund with event time at or
// after from with its order, computed in memory: what both jobs must
// produce. Rows are in JoinedSchema.
func (w *Workload) ExpectedJoin(from time.Time) []row.Row {
	var out []row.Row
	for i := range w.Refunds {
		r := &w.Refunds[i]
		if r.At.Before(from) {
			continue
		}
		o := &w.Orders[r.OrderID-1]
		out = append(out, row.New(row.Int64Value(o.ID), row.StringValue(o.Customer), row.StringValue(o.City), cents(o.Cents),
			row.Int64Value(r.ID), row.TimestampValue(r.At.UnixMilli()), row.Date32Value(epochDay(r.At)), cents(r.Cents)))
	}
	return out
}

// ExpectedAgg returns the refund total and count per city and refund day,
// computed in memory: city, refund_day, refund_total (decimal(38, 2)),
// refunds (count), as the aggregation over the joined stream emits them.
func (w *Workload) ExpectedAgg() []row.Row {
	type group struct {
		city string
		day  int32
	}
	sums := map[group]*[2]int64{}
	var order []group
	for i := range w.Refunds {
		r := &w.Refunds[i]
		g := group{w.Orders[r.OrderID-1].City, epochDay(r.At)}
		s := sums[g]
		if s == nil {
			s = &[2]int64{}
			sums[g] = s
			order = append(order, g)
		}
		s[0] += r.Cents
		s[1]++
	}
	out := make([]row.Row, 0, len(order))
	for _, g := range order {
		s := sums[g]
		out = append(out, row.New(row.StringValue(g.city), row.Date32Value(g.day), cents(s[0]), row.Int64Value(s[1])))
	}
	return out
}
