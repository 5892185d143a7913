// Package join is hotcold's hot/cold stream-stream join: a regular
// (non-windowed) join on a key between two append-only inputs that keeps
// only the hot window (by default today and yesterday, by event-time day)
// in embedded Pebble state (package state) and falls back to a shared cold
// store for older keys. A job's state stays small, a new job bootstraps
// from two days of Kafka instead of a month, and many jobs share one cold
// copy. The Operator works on its own from Go code; package join/runner
// runs it between Kafka topics.
//
// # Semantics
//
// The join follows Flink's regular join. Both inputs are stored in hot
// state, keyed by (join key, event-time day, sequence): several rows per
// key on either side are allowed. A record joins every stored row of the
// other input with the same key, then is stored itself.
//
//   - Inner: +I[L, R] for each matching pair, whichever arrives last.
//   - LeftOuter: a left row with no match emits +I[L, null]; when its first
//     match arrives, -D[L, null] then +I[L, R]; later matches +I[L, R]. A
//     right row without a left match emits nothing. (The association count
//     is kept with the left row in state.)
//
// A null join key never matches and is not stored (a left row with one
// emits +I[L, null] in a left outer join).
//
// # Cold fallback
//
// An Input with a ColdTable is backed by a cold table keyed by the join key
// (one row per key), read through a Lookuper: coldstore.Store or the
// sidecar's Go client. A lookup reads hot state first; only on a hot miss
// does it ask the cold store, and a hot hit wins over a cold row for the
// same key. A cold row is used only if its event-time day is older than the
// hot window at the record's arrival: newer rows are hot state's
// responsibility (they are in hot state, or the job has not seen them yet
// and will join them when they arrive), which keeps every pair from being
// emitted twice. A row that joined a cold row is flagged in state, so that
// the same key arriving late on the cold-backed input (the cold row seen
// again on the stream) does not pair with it a second time. Cold rows are
// mapped to the input's schema by column name.
// In a left outer join only the right input may be cold-backed (a left
// row's +I[L, null] could not be retracted exactly once it lives in the
// cold store); New refuses the other case.
//
// Cold lookups are batched across records (up to ColdBatchSize keys per
// MultiGet) and run asynchronously, at most MaxInFlight at once. Records of
// a key wait behind the one waiting on the cold store, so outputs keep
// input order per key; records of other keys go ahead. Flush waits for
// every lookup, so the linger of a batch is bounded by the caller's flush
// cadence (the runner flushes at the end of every poll batch).
//
// The cold side fails closed. New (and CheckCold, which needs no state)
// refuses a cold store that cannot be reached, a cold table that does not
// exist and a cold schema that does not fit the input (*ColdSchemaError
// names the column and both types). A failing MultiGet is retried with
// backoff for ColdRetryFor, then fails the operator; a failed lookup, even
// of a table that disappeared, is never taken as a miss. A refreshed cold
// schema that no longer fits fails the operator too.
//
// # Time, expiry and late records
//
// A record's bucket is the day of its event-time column (UTC unless the
// state DB has another zone). The watermark is the smaller of the two
// inputs' newest days (an input that is consumed behind the other holds it
// back, as in Flink), raised by Advance; it is undefined until both inputs
// have data. The hot window is the watermark's day and the RetentionDays-1
// days before it. A record older than the window at arrival is late: it is
// joined (against hot and cold) but not stored, and counted. Flush expires
// buckets older than the window, one DeleteRange per bucket; a cold-backed
// input's bucket is dropped only once the cold table's covers-until (read
// with Describe every CoverageRefresh) has passed its end. While the cold
// side lags, buckets are kept up to HardCapDays, with a WARN log and the
// hotcold_state_lagging_buckets gauge; past the cap OverCap keeps them, or
// drops them and counts later misses as possibly missed matches. Nothing
// reads the wall clock except the coverage refresh pacing (Config.Now).
//
// # Example
//
//	db, _ := state.Open(dir, state.Options{})
//	op, err := join.New(ctx, db, join.Config{
//		Name:  "orders_refunds",
//		Left:  join.Input{Name: "orders", Schema: orders, Key: []string{"order_id"}, EventTime: "order_ts", ColdTable: "orders"},
//		Right: join.Input{Name: "refunds", Schema: refunds, Key: []string{"order_id"}, EventTime: "refund_ts"},
//		Cold:  store, // a coldstore.Store or sidecar client
//		Emit:  func(r row.Row) error { fmt.Println(r.Format(nil)); return nil },
//	})
//	err = op.Push(ctx, join.Right, refund) // may emit now or after a cold lookup
//	err = op.Commit(ctx)                   // Flush (lookups, expiry) + state commit
//
// The testdata/ops scripts (run by TestDataDriven) show every join type and
// arrival order; a new case is a few lines of text.
//
// # Metrics
//
// hotcold_join_records_total, _late_records_total, _hot_hits_total,
// _cold_hits_total, _misses_total, _possibly_missed_total (by input),
// _output_rows_total, _cold_lookup_seconds, _cold_covers_until_seconds,
// plus the state's hotcold_state_buckets, _bytes, _lagging_buckets and
// _expired_buckets_total per namespace. Stats returns the same counters.
//
// # Concurrency
//
// An Operator has one owner goroutine (Push, Flush, Commit, Advance,
// RefreshCoverage, Watermark, Close); Stats, OutputSchema and the metrics
// are safe from any goroutine. The cold lookup goroutines are
// owned by the Operator and stopped by Close.
package join

// doccheck:
//	var ctx context.Context
//	var dir string
//	var orders, refunds *row.Schema
//	var store coldstore.Store
//	var refund row.Row
