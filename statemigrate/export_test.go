package statemigrate

import (
	"bufio"
	"os"

	"github.com/cockroachdb/pebble/v2/objstorage"
)

// PebbleOptions lets the benchmarks open state's Pebble store for their
// baseline copies.
var PebbleOptions = pebbleOptions

// NewFileWritable is Apply's sstable destination, for the baseline copy.
func NewFileWritable(f *os.File) objstorage.Writable {
	return &fileWritable{f: f, bw: bufio.NewWriterSize(f, 1<<20)}
}
