// Package demo is `hotcold demo`: the whole hot/cold story on one machine,
// and the project's end-to-end benchmark.
//
// [Run] generates a month of orders and refunds (deterministic: the same
// [Config] gives the same data), exports the days before the hot window as
// Parquet partitions the way a warehouse would
// (Dir/warehouse/orders/dt=YYYY-MM-DD/part-0.parquet), bulk-loads them into
// the embedded Pebble cold store with covers-until at the start of the hot
// window, serves the store with the lookup sidecar on a unix socket, and
// starts an in-process Kafka (franz-go kfake). Then it runs the real join
// runner (join/runner) twice:
//
//   - the hot/cold job keeps HotDays (2) in its Pebble state and finds older
//     orders through the sidecar's Go client (the join's cold Lookuper);
//   - the baseline keeps every day in its state and has no cold store.
//
// Each job is fed the month live: the feeder produces the records in
// event-time order while the job runs, keeping at most two hours of event
// time waiting in Kafka. A job that starts in front of a month-long backlog
// of two topics fetches them by bytes, not by event time, so the refunds
// (the sparser topic) would race days ahead of their orders; the join would
// still produce the same rows (it is symmetric), but the hot/cold/miss
// counters would describe that race rather than a running job.
//
// The cold store is loaded once, before the jobs start, with every day
// before the final hot window, as the last daily load of the month would
// leave it. That it already holds orders the stream has not reached yet
// changes nothing: the join uses a cold row only when it is older than the
// job's hot window at that moment, which the daily loads would have
// covered too.
//
// Then a fresh job of each kind bootstraps from the complete topics — the
// baseline from the beginning, the hot/cold job from the hot window only —
// which is the bootstrap time; the agg runner (agg/runner, `hotcold agg`)
// sums the refunds per city and day over both joined streams (each joined
// topic has one partition: the agg runner keeps state per input partition,
// and the join's output is partitioned like its input, by order_id, not by
// the group columns); and the merged changelogs (mock.Table:
// upsert by key) are compared with each other and with the join and
// aggregation computed in memory.
//
// The [Report] holds, for both jobs, records/s, state bytes (compacted, on
// disk), bootstrap time, where refunds found their orders (hot hits, cold
// hits, misses), the sidecar's client-side p50/p99 per batched lookup, and
// whether the outputs are identical; it prints as a table
// ([Report.WriteTable]), JSON ([Report.WriteJSON]) or a markdown section for
// BENCHMARKS.md ([Report.WriteMarkdown]).
//
// # Example
//
//	rep, err := demo.Run(ctx, demo.Config{
//		Dir:          dir,
//		Days:         6,
//		OrdersPerDay: 300,
//		Progress:     progress.New(os.Stderr, progress.Lines).Report,
//	})
//	if err != nil {
//		return err
//	}
//	rep.WriteTable(os.Stdout)
//	if !rep.Identical { ... }
//
// # Files and processes
//
// Everything is written under Config.Dir and kept: Run stops the sidecar,
// Kafka and the jobs before it returns but removes no file. A directory of
// an earlier run (marked by a .hotcold-demo file) is reused: its
// warehouse/, cold/ and state/ are replaced. Any other non-empty directory
// is refused.
//
// # Concurrency
//
// Run may be called concurrently with different directories. Progress
// reports come from one goroutine at a time.
package demo

// doccheck:
//	var ctx context.Context
//	var dir string
