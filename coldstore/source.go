package coldstore

import (
	"github.com/apache/arrow/go/v17/arrow"

	"context"
	"fmt"
	"io"

	"github.com/hotcold/hotcold/row"
)

// Source streams the input rows of one load. Load reads it to the end and
// does not close it; the caller does.
//
// A Source is used by one goroutine at a time. It may additionally
// implement
//
//	InputBytes() (read, total int64)  // progress of the input, in bytes
//	Names() []string                  // input names recorded with the version
type Source interface {
	// Schema is the schema of the rows. Its key columns, if any, are
	// ignored: the load names the key.
	Schema() *row.Schema
	// Next reads the next row into r, reusing r's storage. The values are
	// valid until the following call. At the end it returns io.EOF.
	Next(ctx context.Context, r *row.Row) error
	// Position describes where the row last returned by Next came from,
	// for error messages, e.g. "orders.parquet: row group 2, row 17".
	Position() string
	// Close releases the source.
	Close() error
}

// recordSource is a Source that can hand out whole Arrow records, which a
// load encodes column-wise without building rows (ParquetSource). A load
// uses either Next or nextRecord on a source, never both.
type recordSource interface {
	Source
	// nextRecord returns the next record, valid until the following
	// call; io.EOF at the end.
	nextRecord(ctx context.Context) (arrow.Record, error)
	// seekRow makes Position describe row i of the current record.
	seekRow(i int)
}

type sizedSource interface {
	InputBytes() (read, total int64)
}

type namedSource interface {
	Names() []string
}

// RowSource returns a Source over rows held in memory, for tests and small
// reference tables. The rows are not copied; do not modify them until the
// load has returned.
func RowSource(s *row.Schema, rows []row.Row) Source {
	return &rowSource{s: s, rows: rows, i: -1}
}

type rowSource struct {
	s    *row.Schema
	rows []row.Row
	i    int
}

func (r *rowSource) Schema() *row.Schema { return r.s }

func (r *rowSource) Next(ctx context.Context, out *row.Row) error {
	if r.i+1 >= len(r.rows) {
		r.i = len(r.rows)
		return io.EOF
	}
	if (r.i+1)%4096 == 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	r.i++
	out.Kind = row.Insert
	out.Values = append(out.Values[:0], r.rows[r.i].Values...)
	return nil
}

func (r *rowSource) Position() string { return fmt.Sprintf("row %d", r.i) }

func (r *rowSource) Close() error { return nil }

func (r *rowSource) Names() []string { return []string{"memory"} }
