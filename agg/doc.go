// Package agg is hotcold's incremental group-by aggregation: an Operator
// that turns a changelog (+I, -U, +U, -D) into the changelog of an
// aggregate table, with one accumulator row per group in a state.DB
// namespace, and a Runner that runs one operator between two Kafka topics.
// Together with package join it lets a Go job join to a wide table and
// aggregate the result into metrics.
//
// # Functions
//
// count(*), count(col), sum, min, max, avg, first_value and last_value.
// Every function but count(*) ignores nulls. Result types: count is int64;
// sum is int64 over integers, float64 over floats, decimal128(38, s) over
// decimal128(p, s); avg is float64 over integers and floats and
// decimal128(38, max(s, 6)) over decimals, rounded half away from zero
// (unlike Flink, avg over integers is not truncated to an integer); min,
// max, first_value and last_value keep the input type. sum and avg are null
// while a group has no non-null input.
//
// # Retractions
//
// count, sum and avg subtract retracted rows exactly. min, max, first_value
// and last_value keep, per group, a multiset of the distinct values with a
// count each (Flink's MinWithRetract and friends keep a map the same way):
// retracting the current minimum falls back to the next value. first_value
// is the earliest-arrived value still counted, last_value the latest (a
// value that arrives again moves to the end; a retraction does not move
// it). The multiset costs O(distinct values in the group) per update of
// these functions; when the input has no retractions, set
// Config.AppendOnly and they keep one value (a retraction reaching them is
// then an error).
//
// A group's rows are counted; when the last one is retracted the group is
// deleted and -D emitted. A retraction for a group that does not exist is
// ignored and counted (Stats.IgnoredRetractions), as Flink does.
//
// # Output
//
// A new group emits +I; a change emits -U (the old result) then +U (the
// new); nothing is emitted when the results did not change; an emptied
// group emits -D. The output schema is the group columns (the key) then
// the aggregates in Config order.
//
// # State and migration
//
// The accumulator row of a group is described by StateSchema (of
// Config.Group and Config.Values, or of a manifest's agg operator through
// package manifest): the group columns, a row count, then each aggregate's
// accumulator columns named after it.
// Appending an aggregate appends its columns, so saved state decodes as it
// is, with the new accumulators empty (null). statemigrate migrates the
// state when aggregates are added or dropped; an aggregate added by a
// migration counts the input from the migration point on: accumulations
// add and retractions subtract, also for rows accumulated before it (so a
// count may show a net change), until the group is deleted.
//
// With Config.DayColumn (a date32 or timestamp group column) the groups
// live in event-time day buckets and whole days expire with
// Config.Retention; rows for days older than the window are late and
// dropped (Stats.Late).
//
// # Example
//
//	op, err := agg.New(db, agg.Config{
//		ID: "refunds_by_city", Input: joined, InputName: "orders_refunds", OutputName: "refunds_by_city",
//		GroupBy:    []string{"city", "order_day"},
//		Aggregates: []agg.Aggregate{{Name: "refund_total", Func: agg.Sum, Arg: "refund_amount"}},
//	})
//	out, err := op.Process(nil, r) // out: 0, 1 or 2 changelog rows
//	err = db.Commit()              // with the source offsets (db.SetOffset)
//
// Package agg/runner runs operators between Kafka topics on the runner core
// shared with join (`hotcold agg --config agg.yaml`): a consumer group, one
// operator and state per partition, offsets, state and an outbox of produced
// rows in one state batch.
//
// # Concurrency
//
// An Operator has one owner goroutine (the DB's writer).
//
// # Errors
//
// A row of the wrong width, a null group value, or a retraction reaching an
// append-only min/max/first/last is an error from Process and changes
// nothing; agg/runner applies its dirty-data policy to it (fail, skip or
// dead-letter).
package agg
