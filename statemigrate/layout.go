package statemigrate

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// This file is the only place that knows how package state stores its
// rows in Pebble (see the top of state/db.go):
//
//	0x00 'n' <name>                          -> namespace id (uint32 BE)
//	0x01 <ns id uint32 BE> <day> <key> <seq> -> row value
//	every other 0x00 key                     -> metadata (copied as is)
//
// and the Pebble comparer and filters state opens its store with. Apply
// must stream every row of a namespace, which state's public API does not
// offer (there is no Namespace.Scan and no bulk rewrite). Until state
// exports one — proposed: state.Rewrite(ctx, src, dst string, fn
// func(namespace string, value, dst []byte) ([]byte, error)), built on the
// code below — Apply reads and writes the raw keys and interprets only
// these facts. The Apply tests run on state written by state.DB, so a
// change of layout or comparer fails them loudly.

const (
	metaPrefix = 0x00
	rowPrefix  = 0x01
)

// stateComparer mirrors state's comparer: bytewise order, and a row key
// split before its 8-byte sequence suffix (for prefix bloom filters).
var stateComparer = func() *pebble.Comparer {
	c := *pebble.DefaultComparer
	c.Name = "hotcold.state.v1"
	c.Split = func(k []byte) int {
		if len(k) < 9 || k[0] != rowPrefix {
			return len(k)
		}
		return len(k) - 8
	}
	return &c
}()

// pebbleOptions returns Pebble options compatible with state's store.
func pebbleOptions(readOnly bool) *pebble.Options {
	o := &pebble.Options{Comparer: stateComparer, Logger: quietLogger{}, ReadOnly: readOnly}
	o.EnsureDefaults()
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return o
}

// namespaceName returns the namespace name of a namespace-id metadata key
// and its id from the value.
func namespaceName(key, value []byte) (name string, id uint32, ok bool) {
	if len(key) < 2 || key[0] != metaPrefix || key[1] != 'n' || len(value) != 4 {
		return "", 0, false
	}
	return string(key[2:]), binary.BigEndian.Uint32(value), true
}

// rowNamespace returns the namespace id of a row key.
func rowNamespace(key []byte) (uint32, bool) {
	if len(key) < 5 || key[0] != rowPrefix {
		return 0, false
	}
	return binary.BigEndian.Uint32(key[1:5]), true
}

// quietLogger drops Pebble's informational logs.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
