package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/coldstore"
)

func TestWritesRowsThatReadBack(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "s.json")
	out := filepath.Join(dir, "o.parquet")
	if err := os.WriteFile(spec, []byte(`{"columns": [{"name": "id", "type": "int64"}, {"name": "d", "type": "decimal128(5, 2)", "nullable": true}],
		"key": ["id"], "rows": [{"id": 1, "d": "1.25"}, {"id": 2, "d": null}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(spec, out); err != nil {
		t.Fatal(err)
	}
	src, err := coldstore.OpenParquet(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if got, cols := src.Rows(), len(src.Schema().Columns()); got != 2 || cols != 2 {
		t.Fatalf("read %d rows of %d columns, want 2 of 2", got, cols)
	}
}

func TestBadRowNamesItsIndexAndColumn(t *testing.T) {
	_, _, err := decode([]byte(`{"columns": [{"name": "id", "type": "int64"}], "key": ["id"], "rows": [{"id": 1}, {"id": "x"}]}`))
	if err == nil || !strings.Contains(err.Error(), "rows[1]") || !strings.Contains(err.Error(), "id") {
		t.Fatalf("err = %v, want one naming rows[1] and column id", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"columns": [{"name": "id", "type": "int64"}], "key": ["id"], "rows": [{"id": 1}]}`))
	f.Add([]byte(`{"columns": [{"name": "t", "type": "timestamp[us, UTC]"}], "key": ["t"], "rows": [{"t": "2026-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = decode(data) // must not panic
	})
}
