// Package sample writes sample warehouse exports to try the cold store
// on: "hotcold load sample" is a thin command over it.
package sample

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

// OrdersSchema is the schema of an orders partition: order_id, user_id,
// amount decimal(18,2), status, created_at (milliseconds), all nullable,
// keyed by order_id.
var OrdersSchema = row.MustSchema([]row.Column{
	{Name: "order_id", Type: row.Int64, Nullable: true},
	{Name: "user_id", Type: row.Int64, Nullable: true},
	{Name: "amount", Type: row.Decimal(18, 2), Nullable: true},
	{Name: "status", Type: row.String, Nullable: true},
	{Name: "created_at", Type: row.Timestamp(row.Millisecond, ""), Nullable: true},
}, nil, 1)

// MaxRows is the most rows Orders writes.
const MaxRows = 1 << 31

// Orders describes one day of an orders table.
type Orders struct {
	// Rows is the number of rows, 0 to MaxRows.
	Rows int64
	// First is the first order_id: the rows hold order_id First to
	// First+Rows-1, in shuffled order.
	First int64
	// Day is the day of created_at (its date in UTC is used).
	Day time.Time
	// Seed seeds the random user ids, amounts, statuses, times and order.
	Seed uint64
}

// WriteOrders writes the orders o describes to w as one Parquet file.
// The same Orders write the same file.
func WriteOrders(ctx context.Context, w io.Writer, o Orders) error {
	if o.Rows < 0 || o.Rows > MaxRows {
		return fmt.Errorf("sample: %d rows: want 0 to %d", o.Rows, int64(MaxRows))
	}
	day := time.Date(o.Day.Year(), o.Day.Month(), o.Day.Day(), 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(o.Seed, 1))
	statuses := []string{"created", "paid", "shipped", "delivered", "refunded"}
	pw, err := coldstore.NewParquetWriter(w, OrdersSchema, nil)
	if err != nil {
		return err
	}
	// a random permutation of [0, rows) without holding it: i*step mod
	// rows with step coprime to rows
	rows, step := o.Rows, int64(1)
	if rows > 1 {
		for step = rows/2 + rng.Int64N(rows/2+1); gcd(step, rows) != 1; step++ {
		}
	}
	for i := int64(0); i < rows; i++ {
		if i%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r := row.New(
			row.Int64Value(o.First+(i*step)%rows),
			row.Int64Value(rng.Int64N(1_000_000)),
			row.DecimalValue(decimal128.FromI64(100+rng.Int64N(100_000))),
			row.StringValue(statuses[rng.IntN(len(statuses))]),
			row.TimestampValue(day.UnixMilli()+rng.Int64N(86_400_000)),
		)
		if err := pw.Write(r); err != nil {
			return err
		}
	}
	return pw.Close()
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
