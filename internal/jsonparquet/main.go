// Command jsonparquet writes a Parquet file, in the layout `hotcold load`
// reads, from a JSON description of its schema and rows. The Flink
// connector's tests (flink/) use it to make cold tables of every column
// type without a Parquet library on the JVM side:
//
//	go run ./internal/jsonparquet spec.json out.parquet
//
// spec.json:
//
//	{"columns": [{"name": "user_id", "type": "int64"},
//	             {"name": "nick", "type": "string", "nullable": true}],
//	 "key": ["user_id"],
//	 "rows": [{"user_id": 1, "nick": "a"}, {"user_id": 2, "nick": null}]}
//
// Values use the JSON spellings of row.Schema.RowFromJSON (dates as
// "2006-01-02", timestamps as numbers in the column's unit or text, bytes
// as base64, decimals as strings).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

type spec struct {
	Columns []row.Column     `json:"columns"`
	Key     []string         `json:"key"`
	Rows    []map[string]any `json:"rows"`
}

func main() {
	if len(os.Args) != 3 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: jsonparquet SPEC.json OUT.parquet\nexample: go run ./internal/jsonparquet users.json users.parquet")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "jsonparquet:", err)
		os.Exit(1)
	}
}

func run(specPath, out string) error {
	data, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	s, rows, err := decode(data)
	if err != nil {
		return fmt.Errorf("%s: %w", specPath, err)
	}
	return coldstore.WriteParquet(context.Background(), out, s, rows, nil)
}

func decode(data []byte) (*row.Schema, []row.Row, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var sp spec
	if err := dec.Decode(&sp); err != nil {
		return nil, nil, fmt.Errorf("not a spec object: %w", err)
	}
	if len(sp.Columns) == 0 {
		return nil, nil, errors.New(`"columns" is empty`)
	}
	s, err := row.NewSchema(sp.Columns, sp.Key, 1)
	if err != nil {
		return nil, nil, err
	}
	rows := make([]row.Row, len(sp.Rows))
	for i, obj := range sp.Rows {
		if err := s.RowFromMap(obj, &rows[i]); err != nil {
			return nil, nil, fmt.Errorf("rows[%d]: %w", i, err)
		}
	}
	return s, rows, nil
}
