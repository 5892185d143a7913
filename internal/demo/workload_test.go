package demo_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/hotcold/hotcold/internal/demo"
)

func TestGenerateIsDeterministicAndConsistent(t *testing.T) {
	a := demo.Generate(demo.DefaultStart, 10, 500, 7)
	b := demo.Generate(demo.DefaultStart, 10, 500, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two workloads")
	}
	if c := demo.Generate(demo.DefaultStart, 10, 500, 8); reflect.DeepEqual(a.Orders, c.Orders) {
		t.Fatal("another seed gave the same orders")
	}
	if len(a.Orders) != 5000 {
		t.Fatalf("%d orders, want 5000", len(a.Orders))
	}
	// Refunds are about 15% of orders, minus those past the last day.
	if n := len(a.Refunds); n < 400 || n > 750 {
		t.Fatalf("%d refunds for 5000 orders", n)
	}
	end := a.End()
	for i, o := range a.Orders {
		if o.ID != int64(i+1) || o.At.Before(demo.DefaultStart) || !o.At.Before(end) || (i > 0 && o.At.Before(a.Orders[i-1].At)) {
			t.Fatalf("order %d: %+v is out of order or range", i, o)
		}
		if day := int(o.At.Sub(demo.DefaultStart) / (24 * time.Hour)); day != i/500 {
			t.Fatalf("order %d on day %d, want %d", i, day, i/500)
		}
	}
	var cold int
	for i, r := range a.Refunds {
		o := a.Orders[r.OrderID-1]
		if r.ID != int64(i+1) || !r.At.After(o.At) || !r.At.Before(end) || (i > 0 && r.At.Before(a.Refunds[i-1].At)) {
			t.Fatalf("refund %d: %+v (order %+v) is out of order or range", i, r, o)
		}
		if r.Cents <= 0 || r.Cents > o.Cents {
			t.Fatalf("refund %d of %d cents for an order of %d", i, r.Cents, o.Cents)
		}
		if r.At.Sub(o.At) > 48*time.Hour {
			cold++
		}
	}
	// The point of the workload: many refunds reach past a 2-day window.
	if cold < len(a.Refunds)/3 {
		t.Fatalf("only %d of %d refunds come more than 2 days after their order", cold, len(a.Refunds))
	}
}

func TestExpectedTablesCoverEveryRefund(t *testing.T) {
	w := demo.Generate(demo.DefaultStart, 5, 200, 1)
	if got := len(w.ExpectedJoin(time.Time{})); got != len(w.Refunds) {
		t.Fatalf("expected join has %d rows for %d refunds", got, len(w.Refunds))
	}
	from := w.DayStart(3)
	var inWindow int
	for _, r := range w.Refunds {
		if !r.At.Before(from) {
			inWindow++
		}
	}
	if got := len(w.ExpectedJoin(from)); got != inWindow {
		t.Fatalf("expected join from day 3 has %d rows, want %d", got, inWindow)
	}
	var refunds int64
	for _, r := range w.ExpectedAgg() {
		refunds += r.Values[3].Int64()
	}
	if refunds != int64(len(w.Refunds)) {
		t.Fatalf("expected aggregation counts %d refunds, want %d", refunds, len(w.Refunds))
	}
	var records int64 = int64(len(w.Orders) + len(w.Refunds))
	if got := w.Records(time.Time{}); got != records {
		t.Fatalf("Records(zero) = %d, want %d", got, records)
	}
	if got := w.Records(w.End()); got != 0 {
		t.Fatalf("Records(end) = %d, want 0", got)
	}
	if demo.JoinedSchema.Len() != len(w.ExpectedJoin(time.Time{})[0].Values) {
		t.Fatal("expected join rows do not fit JoinedSchema")
	}
}
