package sidecar

import (
	"fmt"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/hotcold/hotcold/row"
)

// codec is the gRPC "proto" codec with a fast path for the hot messages:
// a wireDecoder decodes itself from the raw bytes and a *rawMessage is
// sent as it is. Everything else goes to the standard protobuf codec. The
// bytes on the wire are plain hotcold.lookup.v1 either way.
type codec struct{ base encoding.CodecV2 }

func newCodec() codec { return codec{base: encoding.GetCodecV2("proto")} }

// wireDecoder is a message that decodes itself from wire bytes it then
// owns.
type wireDecoder interface{ decodeWire(b []byte) error }

// pooledDecoder is a wireDecoder that decodes from a pooled buffer, keeps
// it while the call runs and frees it with free.
type pooledDecoder interface {
	wireDecoder
	keep(buf mem.Buffer)
}

// rawMessage is a message already in wire form.
type rawMessage struct{ b []byte }

// rawResponse is a response already in wire form, in a buffer gRPC
// returns to its pool once sent.
type rawResponse struct{ buf mem.Buffer }

// newRawResponse encodes a response of exactly n bytes with fill into a
// pooled buffer.
func newRawResponse(n int, fill func(b []byte) []byte) *rawResponse {
	pool := mem.DefaultBufferPool()
	bp := pool.Get(n)
	b := fill((*bp)[:0])
	if len(b) != n || &b[0] != &(*bp)[0] {
		// A size miscount: fill grew its own slice. Send that.
		pool.Put(bp)
		return &rawResponse{buf: mem.SliceBuffer(b)}
	}
	*bp = b
	return &rawResponse{buf: mem.NewBuffer(bp, pool)}
}

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	switch r := v.(type) {
	case *rawMessage:
		return mem.BufferSlice{mem.SliceBuffer(r.b)}, nil
	case *rawResponse:
		return mem.BufferSlice{r.buf}, nil
	}
	return c.base.Marshal(v)
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	switch d := v.(type) {
	case pooledDecoder:
		buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
		d.keep(buf)
		return d.decodeWire(buf.ReadOnlyData())
	case wireDecoder:
		return d.decodeWire(data.Materialize())
	}
	return c.base.Unmarshal(data, v)
}

func (codec) Name() string { return "proto" }

// ---- server side: BatchLookup and StreamLookup requests ----

// batchRequest is a decoded BatchLookupRequest or StreamLookupRequest.
// Keys stay in wire form until their table's schema is known; they
// reference data, which the request owns.
type batchRequest struct {
	stream   bool // decode as a StreamLookupRequest
	maxBatch int  // the server's limit, for Validate
	id       uint64
	table    string
	refs     []keyRef
	data     []byte
	buf      mem.Buffer // holds data when it came from the pool
}

func (r *batchRequest) keep(buf mem.Buffer) { r.buf = buf }

// free returns the request's buffer to the pool; the request (and every
// key slice into it) must not be used afterwards.
func (r *batchRequest) free() {
	if r.buf != nil {
		r.buf.Free()
		r.buf, r.data, r.refs = nil, nil, nil
	}
}

// keyRef is one KeyRef of a batch: its table ("" for the request's) and
// the content of its Key message.
type keyRef struct {
	table string
	key   []byte
	n     int // number of values in key
}

func (r *batchRequest) decodeWire(b []byte) error {
	r.data, r.refs = b, r.refs[:0]
	fTable, fKeys := fBatchReqTable, fBatchReqKeys
	if r.stream {
		fTable, fKeys = fStreamReqTable, fStreamReqKeys
	}
	if n := countField(b, fKeys); cap(r.refs) < n {
		r.refs = make([]keyRef, 0, n)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBadWire
		}
		b = b[n:]
		switch {
		case r.stream && num == fStreamReqID && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errBadWire
			}
			r.id, b = v, b[n:]
			continue
		case num == fTable && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errBadWire
			}
			if !utf8.Valid(v) {
				return fmt.Errorf("table is not valid UTF-8")
			}
			r.table, b = string(v), b[n:]
			continue
		case num == fKeys && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errBadWire
			}
			ref, err := decodeKeyRef(v)
			if err != nil {
				return fmt.Errorf("keys[%d]: %w", len(r.refs), err)
			}
			r.refs, b = append(r.refs, ref), b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return errBadWire
		}
		b = b[n:]
	}
	return nil
}

// countField counts the occurrences of a length-delimited field, for
// sizing; malformed input counts what it can.
func countField(b []byte, field protowire.Number) int {
	n := 0
	for len(b) > 0 {
		num, typ, m := protowire.ConsumeTag(b)
		if m < 0 {
			return n
		}
		b = b[m:]
		m = protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return n
		}
		if num == field && typ == protowire.BytesType {
			n++
		}
		b = b[m:]
	}
	return n
}

func decodeKeyRef(b []byte) (keyRef, error) {
	var ref keyRef
	keys := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ref, errBadWire
		}
		b = b[n:]
		switch {
		case num == fKeyRefTable && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return ref, errBadWire
			}
			if !utf8.Valid(v) {
				return ref, fmt.Errorf("table is not valid UTF-8")
			}
			ref.table, b = string(v), b[n:]
			continue
		case num == fKeyRefKey && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return ref, errBadWire
			}
			// A message field given twice merges; for Key that is the
			// concatenation of the encodings.
			if keys == 0 {
				ref.key = v
			} else {
				ref.key = append(append([]byte(nil), ref.key...), v...)
			}
			keys++
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return ref, errBadWire
		}
		b = b[n:]
	}
	n, err := countValues(ref.key)
	if err != nil {
		return ref, fmt.Errorf("key: %w", err)
	}
	ref.n = n
	return ref, nil
}

// keySet is the keys of one table in a request, in proto or wire form.
type keySet interface {
	len() int
	// values decodes key i as values of types into dst (len(types)
	// long). It returns how many values the key has; when that is
	// len(types), a value that does not convert is an error with its
	// index.
	values(i int, types []row.Type, dst []row.Value) (n, bad int, err error)
}

// wireKeys are Key message contents.
type wireKeys [][]byte

func (k wireKeys) len() int { return len(k) }

func (k wireKeys) values(i int, types []row.Type, dst []row.Value) (int, int, error) {
	n, err := countValues(k[i])
	if err != nil || n != len(types) {
		return n, 0, err
	}
	b := k[i]
	for j := range types {
		v, rest, _, _ := nextValue(b) // well-formed: counted above
		b = rest
		wv, err := decodeWireValue(v)
		if err == nil {
			dst[j], err = valueFromWire(types[j], wv)
		}
		if err != nil {
			return n, j, err
		}
	}
	return n, 0, nil
}

// ---- client side: BatchLookup responses ----

// batchResponse decodes a BatchLookupResponse into results without
// building a message tree. Values reference data, which the response
// owns.
type batchResponse struct {
	results []resultWire
	data    []byte
}

// resultWire is one decoded LookupResult.
type resultWire struct {
	found   bool
	row     []byte // content of the Row message
	version string
}

func (r *batchResponse) decodeWire(b []byte) error {
	r.data, r.results = b, r.results[:0]
	if n := countField(b, fBatchResults); cap(r.results) < n {
		r.results = make([]resultWire, 0, n)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errBadWire
		}
		b = b[n:]
		if num == fBatchResults && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errBadWire
			}
			var prev string
			if len(r.results) > 0 {
				prev = r.results[len(r.results)-1].version
			}
			res, err := decodeResult(v, prev)
			if err != nil {
				return fmt.Errorf("results[%d]: %w", len(r.results), err)
			}
			r.results, b = append(r.results, res), b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return errBadWire
		}
		b = b[n:]
	}
	return nil
}

// decodeResult decodes a LookupResult. prev is a version string to reuse
// when equal, so that the results of one table share one string.
func decodeResult(b []byte, prev string) (resultWire, error) {
	var res resultWire
	rows := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return res, errBadWire
		}
		b = b[n:]
		switch {
		case num == fResultFound && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return res, errBadWire
			}
			res.found, b = v != 0, b[n:]
			continue
		case num == fResultRow && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return res, errBadWire
			}
			if rows == 0 {
				res.row = v
			} else {
				res.row = append(append([]byte(nil), res.row...), v...)
			}
			rows++
			b = b[n:]
			continue
		case num == fResultVersion && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return res, errBadWire
			}
			if string(v) == prev {
				res.version = prev
			} else {
				if !utf8.Valid(v) {
					return res, fmt.Errorf("version is not valid UTF-8")
				}
				res.version = string(v)
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return res, errBadWire
		}
		b = b[n:]
	}
	return res, nil
}

// rowFromWire decodes the content of a Row message (see
// valueFromWireSelf). With a slab, the values are appended to it when it
// has room (the row's slice is then capped); otherwise they get a slice
// of their own. keep says that b is immutable memory owned by the garbage
// collector (a response materialized for the caller) that the row's
// strings may reference.
func rowFromWire(b []byte, slab *[]row.Value, keep bool) (row.Row, error) {
	// The string values of the row reference b when keep is set (the rows
	// of a batch then share the response's bytes, as they share its value
	// slab), else one copy of the row's bytes (one allocation per row
	// instead of one per string; the copy keeps a retained row from
	// holding the whole response). A value is located by its distance to
	// the end of the buffer, which b and every slice the decoders take of
	// it share.
	var own []byte
	rowBytes := b
	if keep {
		own = b
	}
	decode := func(dst []row.Value, b []byte) ([]row.Value, error) {
		for i := 0; ; i++ {
			v, rest, ok, err := nextValue(b)
			if err != nil {
				return dst, err
			}
			if !ok {
				return dst, nil
			}
			b = rest
			wv, err := decodeWireValue(v)
			var rv row.Value
			if err == nil {
				if off := cap(rowBytes) - cap(wv.b); wv.kind == fValueString && off >= 0 && off+len(wv.b) <= len(rowBytes) {
					if own == nil {
						own = append([]byte(nil), rowBytes...)
					}
					rv = row.StringBytesValue(own[off : off+len(wv.b) : off+len(wv.b)])
				} else {
					rv, err = valueFromWireSelf(wv)
				}
			}
			if err != nil {
				return dst, fmt.Errorf("row value %d: %w", i, err)
			}
			dst = append(dst, rv)
		}
	}
	if slab != nil {
		s := *slab
		start := len(s)
		s, err := decode(s, b)
		if err != nil {
			return row.Row{}, err
		}
		if cap(s) == cap(*slab) { // fitted: no reallocation
			*slab = s
			return row.Row{Kind: row.Insert, Values: s[start:len(s):len(s)]}, nil
		}
		// It did not fit: keep the slab for the next rows and give this
		// row the new array.
		return row.Row{Kind: row.Insert, Values: s[start:len(s):len(s)]}, nil
	}
	n, err := countValues(b)
	if err != nil {
		return row.Row{}, err
	}
	vals, err := decode(make([]row.Value, 0, n), b)
	if err != nil {
		return row.Row{}, err
	}
	return row.Row{Kind: row.Insert, Values: vals}, nil
}

// appendKeyRef appends one KeyRef (table may be empty) whose key content
// keyEnc was made by appendValues, as the repeated field with the given
// number.
func appendKeyRef(b []byte, field protowire.Number, table string, keyEnc []byte) []byte {
	n := protowire.SizeTag(fKeyRefKey) + protowire.SizeBytes(len(keyEnc))
	if table != "" {
		n += protowire.SizeTag(fKeyRefTable) + protowire.SizeBytes(len(table))
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	if table != "" {
		b = protowire.AppendTag(b, fKeyRefTable, protowire.BytesType)
		b = protowire.AppendString(b, table)
	}
	b = protowire.AppendTag(b, fKeyRefKey, protowire.BytesType)
	return protowire.AppendBytes(b, keyEnc)
}

// appendTable appends the default table field of a BatchLookupRequest.
func appendTable(b []byte, table string) []byte {
	if table == "" {
		return b
	}
	b = protowire.AppendTag(b, fBatchReqTable, protowire.BytesType)
	return protowire.AppendString(b, table)
}

// ---- Lookup (one key) ----

// lookupRequest is a decoded LookupRequest (table = 1, key = 2).
type lookupRequest struct {
	table string
	key   []byte // content of the Key message
	n     int    // number of values in key
	data  []byte
	buf   mem.Buffer
}

func (r *lookupRequest) keep(buf mem.Buffer) { r.buf = buf }

// free returns the request's buffer to the pool.
func (r *lookupRequest) free() {
	if r.buf != nil {
		r.buf.Free()
		r.buf, r.data, r.key = nil, nil, nil
	}
}

func (r *lookupRequest) decodeWire(b []byte) error {
	// A LookupRequest has the field numbers and types of a KeyRef.
	ref, err := decodeKeyRef(b)
	if err != nil {
		return err
	}
	r.table, r.key, r.n, r.data = ref.table, ref.key, ref.n, b
	return nil
}

// encodeLookupRequest encodes a LookupRequest whose key content keyEnc was
// made by appendValues.
func encodeLookupRequest(table string, keyEnc []byte) []byte {
	b := make([]byte, 0, 8+len(table)+len(keyEnc))
	b = protowire.AppendTag(b, fKeyRefTable, protowire.BytesType)
	b = protowire.AppendString(b, table)
	b = protowire.AppendTag(b, fKeyRefKey, protowire.BytesType)
	return protowire.AppendBytes(b, keyEnc)
}

// lookupResponse decodes a LookupResponse: its fields 1-3 are those of a
// LookupResult; covers_until (4) is skipped.
type lookupResponse struct {
	res  resultWire
	data []byte
}

func (r *lookupResponse) decodeWire(b []byte) error {
	res, err := decodeResult(b, "")
	if err != nil {
		return err
	}
	r.res, r.data = res, b
	return nil
}
