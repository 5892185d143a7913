package state_test

import (
	"fmt"
	"os"
	"time"

	"github.com/hotcold/hotcold/state"
)

// Keep rows in event-time day buckets, commit them atomically with the
// source offset, reopen, and expire the days that left the hot window.
func Example() {
	dir, err := os.MkdirTemp("", "state-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	day := func(s string) state.Day { t, _ := time.Parse(time.DateOnly, s); return state.DayOf(t, nil) }

	db, err := state.Open(dir, state.Options{})
	if err != nil {
		panic(err)
	}
	ns, err := db.Namespace("orders_refunds/orders", state.Retention{Days: 2})
	if err != nil {
		panic(err)
	}
	// Two rows of order 42 on two days, one of order 7.
	_, _ = ns.Put(day("2026-11-08"), []byte("42"), []byte("ada, 10.00"))
	_, _ = ns.Put(day("2026-11-10"), []byte("42"), []byte("ada, 3.50"))
	_, _ = ns.Put(day("2026-11-10"), []byte("7"), []byte("bob, 1.00"))
	db.SetOffset("orders", 0, 3) // the next offset to read
	if err := db.Commit(); err != nil {
		panic(err)
	}
	db.Close()

	db, err = state.Open(dir, state.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	fmt.Println("resume orders/0 at", db.Offsets()[state.TopicPartition{Topic: "orders", Partition: 0}])
	ns, _ = db.Namespace("orders_refunds/orders", state.Retention{Days: 2})
	_ = ns.Lookup([]byte("42"), func(e state.Entry) error {
		fmt.Println(e.Day, string(e.Value))
		return nil
	})
	// On 2026-11-10 the window is 11-09 and 11-10: the bucket of 11-08 goes.
	res, err := ns.Expire(day("2026-11-10"), time.Time{})
	if err != nil {
		panic(err)
	}
	fmt.Println("dropped", res.Dropped, "kept", ns.Buckets())
	// Output:
	// resume orders/0 at 3
	// 2026-11-08 ada, 10.00
	// 2026-11-10 ada, 3.50
	// dropped [2026-11-08] kept [2026-11-10]
}
