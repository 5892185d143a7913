package coldstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hotcold/hotcold/row"
)

// Memory is an in-process Store that keeps every table in maps. It has the
// same versioning semantics as the persistent backends (Publish swaps a
// whole version atomically) and passes the same conformance suite; use it
// in tests of code that reads a cold store, and for small reference data.
type Memory struct {
	mu struct {
		sync.RWMutex
		closed bool
		tables map[string]*memTable
	}
}

type memTable struct {
	info TableInfo
	rows map[string]row.Row
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	m := &Memory{}
	m.mu.tables = map[string]*memTable{}
	return m
}

// Publish replaces the live version of table with rows, atomically. The
// schema must have key columns; a row whose key is null or duplicated is
// an error (nothing is published). Rows are copied.
func (m *Memory) Publish(table, version string, s *row.Schema, coversUntil time.Time, rows []row.Row) error {
	if table == "" || version == "" {
		return fmt.Errorf("coldstore: publish: table and version must be set")
	}
	if len(s.Key()) == 0 {
		return fmt.Errorf("coldstore: publish %q: schema has no key columns", table)
	}
	t := &memTable{rows: make(map[string]row.Row, len(rows))}
	var buf []byte
	for i, r := range rows {
		var err error
		buf, err = s.AppendKey(buf[:0], r)
		if err != nil {
			return fmt.Errorf("coldstore: publish %q: row %d: %w", table, i, err)
		}
		c := r.Clone()
		c.Kind = row.Insert
		t.rows[string(buf)] = c
	}
	t.info = TableInfo{Name: table, Schema: s, Version: version, Rows: int64(len(t.rows)), CoversUntil: coversUntil, LoadedAt: time.Now().UTC()}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return ErrClosed
	}
	m.mu.tables[table] = t
	return nil
}

func (m *Memory) table(table string) (*memTable, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.mu.closed {
		return nil, ErrClosed
	}
	t, ok := m.mu.tables[table]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoTable, table)
	}
	return t, nil
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, table string, key []row.Value) (Result, error) {
	rs, err := m.MultiGet(ctx, table, [][]row.Value{key})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// MultiGet implements Store.
func (m *Memory) MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := m.table(table)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(keys))
	var buf []byte
	for i, k := range keys {
		buf, err = EncodeKey(buf[:0], table, i, t.info.Schema, k)
		if err != nil {
			return nil, err
		}
		r, ok := t.rows[string(buf)]
		out[i] = Result{Found: ok, Version: t.info.Version}
		if ok {
			out[i].Row = r.Clone()
		}
	}
	return out, nil
}

// Tables implements Store.
func (m *Memory) Tables(ctx context.Context) ([]TableInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.mu.closed {
		return nil, ErrClosed
	}
	out := make([]TableInfo, 0, len(m.mu.tables))
	for _, t := range m.mu.tables {
		out = append(out, t.info)
	}
	slices.SortFunc(out, func(a, b TableInfo) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, nil
}

// Describe implements Store.
func (m *Memory) Describe(ctx context.Context, table string) (TableInfo, error) {
	t, err := m.table(table)
	if err != nil {
		return TableInfo{}, err
	}
	return t.info, nil
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.closed = true
	return nil
}

var _ Store = (*Memory)(nil)
