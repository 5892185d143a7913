// Package state is the keyed state of hotcold's stateful operators: rows in
// Pebble (github.com/cockroachdb/pebble/v2), grouped into namespaces (one
// per operator side) and event-time day buckets, with the consumed source
// offsets and an output outbox committed in the same atomic batch.
//
// # Layout
//
// A row lives under <namespace id>/<day>/<memcomparable join key>/<seq>.
// Because the day comes before the key, one bucket of one namespace is one
// contiguous key range: expiring a day is a single DeleteRange, never a
// key-by-key scan. A lookup by join key seeks once per live bucket (the hot
// window is a handful of days).
//
// # Lookups
//
// Lookup sees committed rows and the pending batch. While a namespace's
// rows fit in Options.MirrorBytes (64 MiB by default; a hot window is small
// by design) they are also mirrored in an in-memory hash map, loaded on
// Open and kept current by Put, Update and DropBucket, and lookups never
// reach Pebble; Pebble stays the durable copy. A namespace that outgrows
// its budget drops the mirror and reads Pebble (one seek per live bucket)
// until it is reopened.
//
// # Expiry
//
// Namespace.Expire drops buckets older than the Retention window. For a
// cold-backed namespace a bucket is dropped only once the cold table's
// covers-until (coldstore.TableInfo.CoversUntil) is at or after the
// bucket's end, so that no key is ever in neither store. While the cold
// side lags, buckets are kept up to Retention.HardCapDays with a WARN log
// and the hotcold_state_lagging_buckets gauge; past the cap the OverCap
// policy keeps them or drops them and records the gap (UncoveredUntil).
//
// # Exactly-once state
//
// Mutations (Put, Update, DropBucket), SetOffset and AppendOutbox go into
// one pending batch; Commit writes it atomically and fsyncs the WAL. After a
// crash, Open returns the state of the last Commit and Offsets says where
// to resume consuming; the outbox holds the outputs of the committed
// transitions that were not yet delivered.
//
// # Checkpoints
//
// DB.Checkpoint writes an openable copy of the committed state to a local
// directory; Upload and Download move it to and from object storage
// (gocloud.dev/blob: s3://, file://, mem://).
//
// # Offline rewrite
//
// Rewrite streams a stopped job's state (or a checkpoint) into a new state
// directory, passing every row through a function that may re-encode or
// drop it and copying everything else (namespaces, buckets, offsets,
// outbox, meta values) as is. Memory stays bounded: rows go through
// sstables ingested into the new store. Schema migrations build on it:
//
//	res, err := state.Rewrite(ctx, oldDir, newDir, state.RewriteOptions{
//		Row: func(ns string, key, value, out []byte) ([]byte, bool, error) {
//			return reencode(out, value), true, nil
//		},
//	})
//
// # Example
//
//	db, err := state.Open(dir, state.Options{})
//	ns, err := db.Namespace("orders_refunds/orders", state.Retention{Days: 2, ColdBacked: true})
//	_, err = ns.Put(state.DayOf(eventTime, nil), key, value)
//	err = ns.Lookup(key, func(e state.Entry) error { ...; return nil })
//	db.SetOffset("orders", 0, nextOffset)
//	err = db.Commit()
//	_, err = ns.Expire(today, coversUntil)
//
// # Concurrency
//
// A DB has a single writer goroutine; Offsets, DiskUsage, Checkpoint,
// Namespace.BucketCount, Namespace.Bytes and the metrics may be read from
// any goroutine.
package state

// doccheck:
//	var ctx context.Context
//	var dir, oldDir, newDir string
//	var eventTime, coversUntil time.Time
//	var key, value []byte
//	var nextOffset int64
//	var today state.Day
//	func reencode(out, value []byte) []byte { return append(out, value...) }
