// Package coldstore is hotcold's shared cold store: the join data older
// than the hot window, bulk-loaded once a day from the warehouse and read
// by every job that joins against it.
//
// # Reading
//
// Readers depend on the Store interface only: Get, MultiGet (results in
// request order, misses reported per key), Tables and Describe (schema,
// live version, row count and the covers-until watermark that tells hot
// state what it may drop). Three implementations pass the same
// conformance suite (package coldstoretest):
//
//   - Pebble: embedded, one Pebble database holding many tables and
//     versions; the default.
//   - Redis: a Redis-protocol server shared by many processes: Redis, Redis
//     Cluster, Valkey or Kvrocks.
//   - Memory: maps in process, for tests and small reference data.
//
// Open picks a backend from a URL:
//
//	st, err := coldstore.Open(ctx, "pebble:./cold", nil) // or "redis://10.0.0.1:6379,10.0.0.2:6379"
//	if err != nil { ... }
//	defer st.Close()
//	res, err := st.Get(ctx, "orders", []row.Value{row.Int64Value(42)})
//	if err == nil && res.Found {
//		fmt.Println(res.Row.Format(nil), "from version", res.Version)
//	}
//
// Open never creates a store for a reader: a pebble: URL whose directory
// holds no cold store (missing, empty, or something else) is ErrNoStore,
// naming the directory, so that a typo in a path stops a job instead of
// serving it an empty store. A loader passes Options{Create: true}.
//
// The Pebble backend pins the live version of each table it reads in
// memory while it fits PebbleOptions.PinMemory (default 256 MiB): a byte
// arena of the version's keys and values with an open-addressing hash
// index, built from Pebble on first read or right after a publish replaces
// a pinned version, and released when the version stops being live. A
// pinned lookup costs two memory reads; larger tables are read through
// Pebble's block cache. Pin warms a table before serving.
//
// # Loading
//
// A load reads a Source (OpenParquet streams Parquet files in record
// batches of bounded size, decoding columns in parallel), encodes every
// row with package row (memcomparable key, versioned value; Parquet rows
// straight from the Arrow columns), sorts the pairs externally
// (spilling sorted runs to disk beyond LoadSpec.MemoryBudget), keeps the
// last row of each key (counting the others as duplicates), writes the
// sorted pairs (Pebble: sstables, then one ingestion; Redis: pipelined
// SETs from several workers) under a fresh version id, and publishes the
// version by replacing the table's metadata atomically:
//
//	src, err := coldstore.OpenParquet(ctx, "orders/dt=2026-11-22/part-0.parquet")
//	if err != nil { ... }
//	defer src.Close()
//	res, err := st.Load(ctx, coldstore.LoadSpec{
//		Table: "orders", Version: "dt=2026-11-22", Key: []string{"order_id"},
//		CoversUntil: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
//		Source: src,
//	})
//
// Readers see the old version or the new one, never a mix. The last
// KeepVersions versions stay for Rollback; older ones are dropped (Pebble:
// one range deletion each). A failed or crashed load leaves nothing
// visible: Pebble removes unpublished versions when it opens, Redis sweeps
// versions whose loader's lease expired.
//
// # Errors
//
// Lookups of a table without a live version wrap ErrNoTable; malformed
// keys are *KeyError; calls after Close return ErrClosed. A load of bad
// input fails with an error naming the file, row group, row and column
// (*InputError for data problems, errors matching ErrSchemaChanged or
// ErrVersionExists otherwise) and leaves the live version untouched.
// Lookups of a live version whose data or metadata went missing from the
// store fail with a *DataLossError (wrapping ErrDataLoss) rather than
// report misses; both backends are Verifiers, whose Verify checks keys
// sampled by the load (the sidecar calls it for readiness).
//
// # Concurrency
//
// Stores are safe for concurrent use. Loads of different tables may run
// at once; a Pebble directory is opened by one process at a time, while a
// Redis store can be read and loaded by many.
//
// # Metrics
//
// With a Registerer in the options, a store exports hotcold_coldstore_*
// metrics: loads by result, rows and duplicates loaded, load seconds,
// lookups and misses per table, and (Pebble) the memory of pinned versions
// and the pins the budget refused.
package coldstore

// doccheck:
//	var ctx context.Context
//	var st coldstore.Backend
