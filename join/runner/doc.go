// Package runner runs a join.Operator between Kafka topics on hotcold's
// shared runner core (internal/runcore, also under agg/runner):
// `hotcold join --config join.yaml`, or from Go with New and Run.
//
// Both input topics must be co-partitioned by the join key (same partition
// count, same key partitioner); a consumer group assigns partitions (range
// balancer, so partition p of both topics goes to the same member). Each
// owned partition has its own operator and Pebble state under
// StateDir/p<N>. Messages are decoded with a row.Codec (plain JSON by
// default); a message that cannot be decoded or joined goes to the dirty
// data policy: Fail (an error naming the record, the field and a sample of
// the raw bytes), Skip (counted and logged with a sample) or DeadLetter (the
// raw message to a topic, with headers naming its origin and the error).
// The changelog is produced in Flink's debezium-json (default) or
// upsert-kafka encoding (or canal-json, changelog-json) to the output
// partition equal to the input partition, so a key's changes stay in order.
//
// # Delivery
//
// Each poll batch is one transaction per partition: the state mutations, the
// consumed offsets and the encoded outputs (an outbox) are committed in one
// Pebble batch, the outputs are then produced with the idempotent producer,
// and the outbox is cleared with the next commit. A restart resumes from the
// offsets in state, not from the group's committed offsets (those are
// written after each batch only for lag monitoring), and first re-produces
// a leftover outbox. State updates therefore happen exactly once; output is
// at-least-once with exact re-emission: after a crash between commit and
// delivery, the same records are sent again in the same order, which a
// changelog merge keyed by the output key absorbs. Kafka transactions are
// not used: a Pebble commit and a Kafka transaction cannot be made atomic
// together without this outbox anyway.
//
// A batch is committed only once every record in it has been joined (all
// its cold lookups answered) and all its outputs are in the outbox, so the
// committed offsets never pass a record whose outputs are not committed
// with them. When Run stops on an error (a dirty record under Fail, a cold
// lookup that keeps failing, a failed produce, a fetch error) nothing
// pending is committed: the next start re-reads from the last committed
// offsets and re-delivers the last committed outbox. Only a clean stop
// (context canceled) commits, and then only complete batches. The group's
// committed offsets, which show lag, are the state's committed offsets:
// written after each batch, when a partition is opened (so a restarted job
// whose state is at the end of its inputs shows no lag) and when it is
// closed cleanly.
//
// # Bootstrap
//
// A partition without state starts at the hot window (StartRetention: the
// first record whose timestamp is in the window's first day) and raises the
// operator's watermark to now, so older rows come from the cold store: a
// new job reads two days of Kafka, not a month. StartEarliest reads
// everything.
//
// # Group membership
//
// Partitions are assigned with the range balancer, the only one that gives
// partition p of both co-partitioned inputs to the same member (a
// cooperative-sticky assignment may split them). With Config.InstanceID
// (kafka.instance_id, --instance-id) the process is a static member
// (KIP-345): restarted after a crash or kill -9 with the same ID, it takes
// its partitions back at once, without a rebalance, instead of waiting for
// the dead member's session timeout. A static member does not leave the
// group when it stops.
//
// # Lifecycle
//
// Run returns when its context is canceled (SIGTERM in the CLI): the batch
// in hand is finished and committed, partitions are closed and the group is
// left. Rebalances happen only between batches (BlockRebalanceOnPoll);
// revoked partitions are closed after their last committed batch.
//
// # Example
//
//	r, err := runner.New(runner.Config{
//		Join:        joinCfg, // join.Config with Cold set to a coldstore.Store or sidecar client
//		LeftTopic:   "orders", RightTopic: "refunds", OutputTopic: "orders_refunds",
//		Brokers:     []string{"localhost:9092"}, Group: "orders-refunds-join",
//		StateDir:    "./state",
//		Registerer:  reg, Logger: log,
//	})
//	err = r.Run(ctx)
//	st := r.Stats() // records, outputs, hot/cold hits, misses, state bytes, records/s
//
// See ../testdata/join.yaml for the documented configuration file.
package runner

// doccheck:
//	var ctx context.Context
//	var joinCfg join.Config
//	var reg prometheus.Registerer
//	var log *slog.Logger
