// Package runcore is the one Kafka runner core of hotcold: join/runner
// (`hotcold join`) and agg/runner (`hotcold agg`) are thin adapters over
// it. An adapter supplies an Operator that opens a Handler per partition;
// the core does the rest.
//
// # What the core owns
//
//   - The consumer group: franz-go with the range balancer (the only one
//     that gives partition p of every co-partitioned input to one member),
//     rebalances only between batches (BlockRebalanceOnPoll), and static
//     membership with Config.InstanceID (KIP-345).
//   - Per-partition Pebble state under StateDir/p<N>: the handler's state
//     mutations, the consumed offsets and the encoded outputs (the outbox,
//     in the one outbox format of outbox.go) committed in one batch per
//     poll; outputs produced after the commit with the idempotent producer;
//     a leftover outbox re-delivered when a partition is opened.
//   - Dirty-data policies for every input: Fail (an error naming the
//     record and field with a sample of the raw bytes), Skip (logged with a
//     sample) and DeadLetter (the raw record to a topic, through the outbox).
//     A Handler marks bad input with Dirty(err).
//   - Metrics (hotcold_<kind>_runner_records_total, _produced_total,
//     _dirty_records_total{topic,policy}, _runner_batch_seconds) on an
//     injected Registerer; progress and warnings on an injected slog.Logger.
//   - The shared config-file code: the kafka:, state:, dirty: and metrics:
//     sections, ParseDoc's shape check and Doc.Err's file:line:col errors.
//
// # Commit rules
//
// Offsets advance only past records whose outputs are all in the same
// committed batch: a batch is committed after Handler.Flush (every record's
// outputs emitted). On every error path (a dirty record under Fail, a
// failed Flush, a failed produce, a fetch error) nothing pending is
// committed and the next start re-reads from the last committed offsets.
// Only a clean stop (context canceled) commits, and then only complete
// batches. Dirty records are counted (Stats, the dirty metric) when their
// batch is committed. The group's committed offsets are written from state
// after each batch, when a partition is opened and when it is closed
// cleanly; they show lag, and restarts resume from state, not from them.
//
// # Example
//
//	r, err := runcore.New(runcore.Config{Kind: "agg", Operator: op, Inputs: []string{"refunds"},
//		OutputTopic: "refunds_by_city", Brokers: brokers, Group: "refunds-by-city", StateDir: "./state"})
//	err = r.Run(ctx) // until ctx is canceled or a fatal error
package runcore

// doccheck:
//	var ctx context.Context
//	var op runcore.Operator
//	var brokers []string
