package agg

import (
	"bytes"
	"slices"
	"testing"

	"github.com/hotcold/hotcold/row"
)

// FuzzMultiset decodes arbitrary bytes as a stored multiset: never a
// panic, and what decodes re-encodes to the same bytes.
func FuzzMultiset(f *testing.F) {
	var m multiset
	for _, k := range []int64{5, 3, 8} {
		key, _ := row.AppendKey(nil, []row.Type{row.Int64}, []row.Value{row.Int64Value(k)})
		m.add(key, 1, true, false)
	}
	f.Add(m.encode(nil))
	f.Add([]byte{})
	f.Add([]byte{0x05, 1, 2})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m multiset
		if err := m.decode(b); err != nil {
			return
		}
		enc := m.encode(nil)
		var again multiset
		if err := again.decode(enc); err != nil {
			t.Fatalf("re-encoded %x does not decode: %v", enc, err)
		}
		if !slices.EqualFunc(m.entries, again.entries, func(a, b msEntry) bool { return bytes.Equal(a.key, b.key) && a.count == b.count }) {
			t.Fatalf("round trip of %x changed the entries", b)
		}
		m.first()
		m.last()
	})
}
