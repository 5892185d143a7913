// Package row is the data model every hotcold package shares: schemas with
// Arrow types, rows of typed values with an explicit null, the changelog
// kind (+I, -U, +U, -D), an order-preserving key encoding, a compact
// versioned value encoding, and conversions to and from Arrow record
// batches, JSON objects and Flink's changelog formats.
//
// # Schemas
//
// A [Schema] is an ordered list of [Column]s, the columns that form the key,
// and a version:
//
//	s, err := row.NewSchema([]row.Column{
//		{Name: "order_id", Type: row.Int64},
//		{Name: "city", Type: row.String, Nullable: true},
//		{Name: "amount", Type: row.Decimal(18, 2), Nullable: true},
//	}, []string{"order_id"}, 1)
//
// Every problem with a schema (a key naming a missing column, a duplicated
// name, a bad decimal precision) comes back in one error naming the column.
//
// # Keys
//
// [Schema.AppendKey] and [AppendKey] write a memcomparable encoding:
// bytes.Compare of two encoded keys equals the order of their values
// ([Compare]), so keys can be range-scanned in Pebble. Nulls sort first;
// -0 equals +0; NaN sorts above +Inf; strings may hold zero bytes.
//
// # Values
//
// [Schema.AppendValue] writes a row compactly together with the schema
// version; [Schema.DecodeValue] reads bytes written by the same or an older
// version whose columns are a prefix of the reader's, filling appended
// columns with their [Column.Default]. This is what state-column migration
// stands on. Decoding into a reused [Row] allocates nothing.
//
// # Changelogs
//
// A [Row] carries a [Kind] with Flink's RowKind byte values. A [Codec]
// reads and writes rows as Kafka messages in Flink's debezium-json,
// canal-json, changelog-json, upsert-kafka and plain json formats.
//
// # Errors
//
// Bad input never panics: a JSON value of the wrong type is a [*FieldError]
// naming the column and the value; truncated encodings name the column that
// could not be read.
//
// # Concurrency
//
// Schemas and Codecs are immutable and safe for concurrent use. Rows and
// Values are plain values; a Row decoded by DecodeValue is reused by the
// next decode into it.
package row
