package coldstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotcold/hotcold/row"
)

// Store is the read side of a cold store: point and batched lookups by key,
// and table metadata. Every reader of cold data (the join's cold fallback,
// the sidecar) depends on this interface only.
//
// Implementations must be safe for concurrent use. A call answers from one
// published version of the table: never a mix of two versions, never a
// half-loaded one. Keys are the table's key column values in key order,
// typed as in the table's schema.
type Store interface {
	// Get looks up one key. A missing key is Result.Found == false, not an
	// error. An unknown table is an error wrapping ErrNoTable.
	Get(ctx context.Context, table string, key []row.Value) (Result, error)
	// MultiGet looks up many keys in one call. The results are in request
	// order, one per key, all from the same version; missing keys are
	// reported per key, not as an error.
	MultiGet(ctx context.Context, table string, keys [][]row.Value) ([]Result, error)
	// Tables describes every table that has a live version.
	Tables(ctx context.Context) ([]TableInfo, error)
	// Describe describes one table; an unknown table wraps ErrNoTable.
	Describe(ctx context.Context, table string) (TableInfo, error)
	// Close releases the store. Calls after Close fail with ErrClosed.
	Close() error
}

// Result is the answer for one key.
type Result struct {
	// Row is the stored row (Kind Insert) when Found. It is owned by the
	// caller.
	Row row.Row
	// Found reports whether the key exists in the answering version.
	Found bool
	// Version is the table version that answered.
	Version string
}

// TableInfo describes the live version of a table.
type TableInfo struct {
	// Name of the table.
	Name string `json:"name"`
	// Schema of the live version, with the key columns set.
	Schema *row.Schema `json:"-"`
	// Version is the live version, e.g. "2026-11-22".
	Version string `json:"version"`
	// Rows is the number of rows in the live version.
	Rows int64 `json:"rows"`
	// CoversUntil is the event-time watermark of the live version: every
	// row with event time before it is in the cold store. Hot state may drop
	// buckets that end at or before it. Zero means unknown (drop nothing).
	CoversUntil time.Time `json:"covers_until,omitzero"`
	// LoadedAt is when the live version was published.
	LoadedAt time.Time `json:"loaded_at"`
}

// Errors shared by all backends.
var (
	// ErrNoTable is wrapped by errors for a table that has no live version.
	ErrNoTable = errors.New("coldstore: no such table")
	// ErrClosed is returned by calls on a closed store.
	ErrClosed = errors.New("coldstore: store is closed")
	// ErrLocked is wrapped by the error of OpenPebble (and Open) when
	// another process, or another open store in this one, holds the
	// directory: a Pebble store is opened by one process at a time.
	ErrLocked = errors.New("coldstore: the store directory is locked")
	// ErrNoStore is returned by Open and OpenPebble, unless told to create
	// a store, when the directory holds no cold store (it is missing,
	// empty, or holds something else): a reader never starts on a new
	// empty store because of a typo in its path.
	ErrNoStore = errors.New("coldstore: no store")
)

// KeyError is returned when a key does not fit the table's key columns.
type KeyError struct {
	Table  string
	Index  int // position of the key in a MultiGet, 0 for Get
	Reason string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("coldstore: table %q: key %d: %s", e.Table, e.Index, e.Reason)
}

// EncodeKey checks key against the key columns of s and appends its
// memcomparable encoding to dst. Backends share it so that all of them
// accept and reject the same keys.
func EncodeKey(dst []byte, table string, idx int, s *row.Schema, key []row.Value) ([]byte, error) {
	kt := s.KeyTypes()
	if len(key) != len(kt) {
		return dst, &KeyError{Table: table, Index: idx, Reason: fmt.Sprintf("has %d values, the key (%v) has %d columns", len(key), s.KeyNames(), len(kt))}
	}
	for i, v := range key {
		if v.IsNull() {
			return dst, &KeyError{Table: table, Index: idx, Reason: fmt.Sprintf("key column %q is null", s.KeyNames()[i])}
		}
		if v.Type() != kt[i].ID {
			return dst, &KeyError{Table: table, Index: idx, Reason: fmt.Sprintf("key column %q is %s, got a %s value", s.KeyNames()[i], kt[i], v.Type())}
		}
	}
	out, err := row.AppendKey(dst, kt, key)
	if err != nil {
		return dst, &KeyError{Table: table, Index: idx, Reason: err.Error()}
	}
	return out, nil
}
