package agg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
)

// multiset is the retraction-aware accumulator of min, max, first_value
// and last_value: distinct values (in their memcomparable key encoding)
// with a count each. Min and max keep the entries sorted by value; first
// and last keep them in arrival order (first_value: the order in which a
// value first arrived; last_value: a value moves to the end whenever it
// arrives again). An entry whose count reaches zero is removed; a
// retraction of a value never seen leaves an entry with a negative count
// that a later accumulation cancels (rows accumulated before a migration
// added the aggregate). The result is the first or last entry with a
// positive count.
//
// Encoded as a sequence of (uvarint key length, key, varint count).
type multiset struct {
	entries []msEntry
}

type msEntry struct {
	key   []byte
	count int64
}

var errCorruptMultiset = errors.New("corrupt value multiset")

// decode reads b; the entries reference b.
func (m *multiset) decode(b []byte) error {
	m.entries = m.entries[:0]
	for len(b) > 0 {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return errCorruptMultiset
		}
		key := b[k : k+int(l)]
		b = b[k+int(l):]
		c, k := binary.Varint(b)
		if k <= 0 {
			return errCorruptMultiset
		}
		b = b[k:]
		m.entries = append(m.entries, msEntry{key: key, count: c})
	}
	return nil
}

func (m *multiset) encode(dst []byte) []byte {
	for _, e := range m.entries {
		dst = binary.AppendUvarint(dst, uint64(len(e.key)))
		dst = append(dst, e.key...)
		dst = binary.AppendVarint(dst, e.count)
	}
	return dst
}

// add changes the count of key by delta. sorted keeps entries ordered by
// key; otherwise moveToEnd moves an accumulated existing entry to the end.
// key is copied only when a new entry is created (callers pass a scratch
// slice, so we copy).
func (m *multiset) add(key []byte, delta int64, sorted, moveToEnd bool) {
	var i int
	var found bool
	if sorted {
		i, found = slices.BinarySearchFunc(m.entries, key, func(e msEntry, k []byte) int { return bytes.Compare(e.key, k) })
	} else {
		i = slices.IndexFunc(m.entries, func(e msEntry) bool { return bytes.Equal(e.key, key) })
		found = i >= 0
		if !found {
			i = len(m.entries)
		}
	}
	if !found {
		m.entries = slices.Insert(m.entries, i, msEntry{key: bytes.Clone(key), count: delta})
		return
	}
	e := m.entries[i]
	e.count += delta
	if e.count == 0 {
		m.entries = slices.Delete(m.entries, i, i+1)
		return
	}
	if moveToEnd && delta > 0 && i != len(m.entries)-1 {
		m.entries = slices.Delete(m.entries, i, i+1)
		m.entries = append(m.entries, e)
		return
	}
	m.entries[i] = e
}

// first returns the first entry with a positive count.
func (m *multiset) first() ([]byte, bool) {
	for _, e := range m.entries {
		if e.count > 0 {
			return e.key, true
		}
	}
	return nil, false
}

// last returns the last entry with a positive count.
func (m *multiset) last() ([]byte, bool) {
	for i := len(m.entries) - 1; i >= 0; i-- {
		if m.entries[i].count > 0 {
			return m.entries[i].key, true
		}
	}
	return nil, false
}
