package coldstore

import (
	"github.com/hotcold/hotcold/row"
)

// keyCodec encodes lookup keys of one table version. Its fast path checks
// the key against cached key types and appends the encoding without
// allocating; any problem is handed to EncodeKey, so that every backend
// reports exactly the same KeyError.
type keyCodec struct {
	schema *row.Schema
	types  []row.Type
}

func newKeyCodec(s *row.Schema) keyCodec { return keyCodec{schema: s, types: s.KeyTypes()} }

func (kc *keyCodec) append(dst []byte, table string, idx int, key []row.Value) ([]byte, error) {
	ok := len(key) == len(kc.types)
	if ok {
		for i := range key {
			if key[i].IsNull() || key[i].Type() != kc.types[i].ID {
				ok = false
				break
			}
		}
	}
	if ok {
		if out, err := row.AppendKey(dst, kc.types, key); err == nil {
			return out, nil
		}
	}
	out, err := EncodeKey(dst, table, idx, kc.schema, key)
	if err != nil {
		return dst, err
	}
	return out, nil
}
