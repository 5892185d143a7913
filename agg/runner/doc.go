// Package runner runs an agg.Operator between Kafka topics on hotcold's
// shared runner core (the one join/runner uses): `hotcold agg --config
// agg.yaml`, or from Go with New and Run.
//
// A consumer group assigns the input's partitions (static membership with
// Config.InstanceID); each owned partition has its own operator and Pebble
// state under StateDir/p<N>, with the operator's manifest. Because state is
// per partition, every row of a group must be in one input partition: key
// the input by the group columns or by a subset of them. The aggregate
// changelog goes to the output partition equal to the input partition, so a
// group's -U/+U pairs stay in order.
//
// # Delivery
//
// Each poll batch is one transaction per partition: the accumulator
// updates, the consumed offsets and the encoded outputs (an outbox) are
// committed in one Pebble batch, then produced; a restart resumes from the
// offsets in state and first re-produces a leftover outbox. State updates
// happen exactly once; output is at-least-once with exact re-emission,
// which a changelog merge keyed by the group columns absorbs. On an error
// (a dirty record under Fail, a failed produce) nothing pending is
// committed; only a clean stop commits.
//
// A record that does not decode, or whose row the operator rejects (a null
// group value, a retraction reaching an append-only min/max), goes to the
// dirty-data policy: Fail, Skip or DeadLetter.
//
// # Example
//
//	r, err := runner.New(runner.Config{
//		Agg:        aggCfg, // agg.Config: Input schema, GroupBy, Aggregates
//		InputTopic: "orders_refunds", OutputTopic: "refunds_by_city",
//		Brokers:    []string{"localhost:9092"}, Group: "refunds-by-city",
//		StateDir:   "./state",
//	})
//	err = r.Run(ctx)
//	st := r.Stats() // records, aggregated, skipped, dead-lettered, outputs, records/s
//
// See ../testdata/agg.yaml for the documented configuration file.
package runner

// doccheck:
//	var ctx context.Context
//	var aggCfg agg.Config
