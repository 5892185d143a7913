package join

import (
	"encoding/binary"
	"fmt"
)

// StateNamespace is the state namespace of an input of the join named
// name: <name>/<input>.
func StateNamespace(name, input string) string { return name + "/" + input }

// SplitStateValue splits a value the join stores for an input row into its
// header (a uvarint: the number of matches a left outer join has emitted,
// and whether a cold row was joined) and the row, in the value encoding of
// the input's row.Schema. A migration rewrites the row and keeps the
// header as it is.
func SplitStateValue(v []byte) (header, rowValue []byte, err error) {
	_, n := binary.Uvarint(v)
	if n <= 0 {
		return nil, nil, fmt.Errorf("join: corrupt state value: bad match header")
	}
	return v[:n], v[n:], nil
}
