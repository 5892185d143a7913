package coldstore

import (
	"context"
	"errors"
	"io"

	"github.com/cockroachdb/pebble/v2"

	"github.com/hotcold/hotcold/row"
)

// SetTestHooks installs crash-test hooks: afterSST runs after the n-th
// sstable (Pebble) or pipeline batch (Redis) of a load is written,
// beforePublish after the data is in place and before publishing. It
// returns a function that removes them.
func SetTestHooks(afterSST func(n int), beforePublish func()) (reset func()) {
	testHooks.afterSST, testHooks.beforePublish = afterSST, beforePublish
	return func() { testHooks.afterSST, testHooks.beforePublish = nil, nil }
}

// CountKeys counts the keys of p's database that start with prefix.
func CountKeys(p *Pebble, prefix string) (int, error) {
	n := 0
	err := p.scan([]byte(prefix), func(k, v []byte) error { n++; return nil })
	return n, err
}

// BatchLoad is the baseline of BenchmarkLoad1M: it reads src, encodes
// every row exactly as Load does, and writes the pairs in input order with
// Pebble batches of batchRows rows under a fresh version prefix, then
// flushes the memtable so that the data is durable in sstables, as an
// ingest is. It publishes nothing. It returns the number of rows.
func BatchLoad(ctx context.Context, p *Pebble, table string, key []string, src Source, batchRows int) (int64, error) {
	s, err := src.Schema().WithKey(key)
	if err != nil {
		return 0, err
	}
	p.loadMu.Lock()
	id, err := p.stage(table, "batch")
	p.loadMu.Unlock()
	if err != nil {
		return 0, err
	}
	prefix := dataPrefix(table, id)
	b := p.db.NewBatch()
	var r row.Row
	var kb, vb []byte
	var n int64
	set := func() error {
		if err := b.Set(kb, vb, nil); err != nil {
			return err
		}
		n++
		if n%int64(batchRows) == 0 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return err
			}
			b = p.db.NewBatch()
		}
		return nil
	}
	// Encode the way Load does: straight from the Arrow columns when the
	// source has them.
	if rs, ok := src.(recordSource); ok {
		var rr *row.RecordReader
		for {
			rec, err := rs.nextRecord(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return n, err
			}
			if rr == nil {
				rr, err = s.NewRecordReader(rec)
			} else {
				err = rr.Reset(rec)
			}
			if err != nil {
				return n, err
			}
			for i := 0; i < int(rec.NumRows()); i++ {
				if kb, err = rr.AppendKey(append(kb[:0], prefix...), i); err != nil {
					return n, err
				}
				if vb, err = rr.AppendValue(vb[:0], i); err != nil {
					return n, err
				}
				if err := set(); err != nil {
					return n, err
				}
			}
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return n, err
		}
		return n, p.db.Flush()
	}
	for {
		err := src.Next(ctx, &r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		kb, err = s.AppendKey(append(kb[:0], prefix...), r)
		if err != nil {
			return n, err
		}
		vb, err = s.AppendValue(vb[:0], r)
		if err != nil {
			return n, err
		}
		if err := set(); err != nil {
			return n, err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return n, err
	}
	return n, p.db.Flush()
}

// DeleteLiveData deletes the data keys of the live version of table from
// p's database, keeping its metadata: the damage of a lost or restored-
// from-the-wrong-backup data range, for the data loss tests.
func DeleteLiveData(p *Pebble, table string) error {
	p.mu.RLock()
	t, err := p.readTable(table)
	p.mu.RUnlock()
	if err != nil {
		return err
	}
	return p.db.DeleteRange(t.prefix, row.PrefixEnd(t.prefix), pebble.Sync)
}

// RedisDataKey returns the Redis key that holds a row of the live version
// of table.
func RedisDataKey(ctx context.Context, r *Redis, table string, key []row.Value) (string, error) {
	return r.dataKey(ctx, table, key)
}
