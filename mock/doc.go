// Package mock replays hand-made test cases through a streaming job and
// checks its output: sample real messages, edit them, replay them in a
// controlled order, merge the job's changelog output into a table and
// compare it with the expected table.
//
// # Cases
//
// A [Case] is a directory holding case.yaml (or one YAML file) that names
//
//   - the sources: topic, key and value format, optional typed columns,
//     and the messages (a JSONL file or an inline list; each message has a
//     value, and optionally a key, headers, a timestamp and a wait), and
//     an optional end: a message sent last to every partition with a
//     far-future timestamp ([EndOfTime]), so event-time jobs flush;
//   - the schedule: the global arrival order across sources (a list such
//     as [refunds, orders*2, refunds], by timestamp, or source after
//     source) and the interval before each message;
//   - the sinks (one sink:, or a sinks list): topic, changelog format
//     (debezium-json, canal-json, changelog-json, upsert-kafka, json),
//     typed columns, the primary key to merge by (none: a multiset), and
//     the isolation it is read with (read_committed by default);
//   - the expectation of each sink: the expected table (JSONL), and/or
//     the expected changelog (expect.changelog: every change, with op
//     +I, -U, +U or -D as Flink prints them), ignored columns, a float
//     tolerance; and for the case a timeout and a quiet period;
//   - optionally, how to tell the job is ready ([Ready]: its consumer
//     group owns every source partition, a command, an HTTP probe).
//
// Load one with [LoadCase]; every problem comes back at once as
// [CaseErrors], each naming file, line and field.
//
// # Running
//
// [Run] replays a case through Kafka into isolated per-run topics
// ("<run id>.<topic>") or the case's own topics, reads every sink topic
// until the output is complete, and returns a [Result] with one
// [SinkResult] per sink:
//
//	c, err := mock.LoadCase("cases/refund-before-order")
//	...
//	res, err := mock.Run(ctx, c, mock.Options{Kafka: []kgo.Opt{kgo.SeedBrokers("localhost:9092")}})
//	...
//	if !res.Passed() {
//		fmt.Print(res.Report()) // missing, unexpected and changed rows
//	}
//
// [RunInProcess] runs the same case against a Go [Job] with no Kafka at
// all (a [SinksJob] for a case with several sinks). [RunSuite] runs many cases and returns a [Report] that prints a
// pass/fail table and JUnit XML.
//
// # Merging and comparing
//
// A [Table] materializes a changelog with Flink's rules (see its doc);
// [Compare] compares two tables order-insensitively, column by column.
// [CompareChangelog] compares the changes a sink holds with an expected
// changelog key by key: in order within a key (Flink keeps it), in any
// order across keys (Kafka defines none across partitions); the
// [ChangelogDiff] names the first difference of each key and the keys
// missing or not expected.
//
// # Verdicts
//
// A case passes only when every sink passes. A sink fails when its table
// or its changelog differs, when its changelog is wrong (a retraction of
// a row never added), or when it expects rows and receives no message. A
// sink that expects nothing and receives nothing passes only with
// evidence that the job read the inputs: the case's ready check passed,
// the in-process job processed every input, or another sink of an
// isolated run received output; otherwise its verdict is [Unknown], which
// is not a pass. A job's own exit with status 0 is no evidence (flink run
// -d exits 0 once it has submitted the job).
//
// # Sampling and storage
//
// [Sample] copies messages of a live topic into a case's JSONL format
// without joining a consumer group or committing offsets. A [Store] keeps
// cases and run results in object storage (a directory, or s3://).
//
// # Time
//
// Waits go through a [Sleeper] (Options.Sleeper), so tests replay
// schedules without sleeping; Options.Speed scales waits and
// Options.FullSpeed removes them. Ordering across sources is always the
// scheduled one: every message is acknowledged before the next message
// to another partition is sent.
//
// # Concurrency
//
// Loaded cases are immutable and may be run concurrently with distinct
// run ids. A Run owns the goroutine that reads the sink and stops it
// before returning. Table is not safe for concurrent use; Store is.
//
// # Errors
//
// Bad case files never panic: they return [CaseErrors]. A run that cannot
// be carried out returns an error and a Result with verdict [Error]; a job
// whose output differs is verdict [Fail] with a nil error. A sink that
// never produces output ends at the timeout with a Fail that names it.
package mock

// doccheck:
//	var ctx context.Context
