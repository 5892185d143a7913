package join_test

import (
	"bytes"
	"testing"

	"github.com/hotcold/hotcold/join"
)

// FuzzSplitStateValue: never a panic; a split value is its header then its
// row, and a value without a header is an error.
func FuzzSplitStateValue(f *testing.F) {
	f.Add([]byte{0x01, 0x01, 0x02, 0x00})
	f.Add([]byte{0x80})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, v []byte) {
		h, body, err := join.SplitStateValue(v)
		if err != nil {
			return
		}
		if len(h) == 0 || !bytes.Equal(append(append([]byte(nil), h...), body...), v) {
			t.Fatalf("split %x into %x + %x", v, h, body)
		}
	})
}
