package coldstore

import (
	"bytes"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
)

// encodePageHeader writes a PageHeader with the thrift compact protocol.
func encodePageHeader(t testing.TB, typ, uncompressed, compressed, sub int16, numValues int32) []byte {
	t.Helper()
	mem := thrift.NewTMemoryBuffer()
	p := thrift.NewTCompactProtocolConf(mem, nil)
	ctx := t.Context()
	w := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	w(p.WriteStructBegin(ctx, "PageHeader"))
	for id, v := range map[int16]int16{1: typ, 2: uncompressed, 3: compressed} {
		w(p.WriteFieldBegin(ctx, "", thrift.I32, id))
		w(p.WriteI32(ctx, int32(v)))
		w(p.WriteFieldEnd(ctx))
	}
	if sub != 0 {
		w(p.WriteFieldBegin(ctx, "", thrift.STRUCT, sub))
		w(p.WriteStructBegin(ctx, ""))
		w(p.WriteFieldBegin(ctx, "", thrift.I32, 1))
		w(p.WriteI32(ctx, numValues))
		w(p.WriteFieldEnd(ctx))
		w(p.WriteFieldBegin(ctx, "", thrift.STRING, 9)) // unknown field: skipped
		w(p.WriteString(ctx, "x"))
		w(p.WriteFieldEnd(ctx))
		w(p.WriteFieldStop(ctx))
		w(p.WriteStructEnd(ctx))
		w(p.WriteFieldEnd(ctx))
	}
	w(p.WriteFieldStop(ctx))
	w(p.WriteStructEnd(ctx))
	w(p.Flush(ctx))
	return mem.Bytes()
}

func TestPageHeaderChecks(t *testing.T) {
	for _, tc := range []struct {
		name          string
		typ, unc, cmp int16
		sub           int16
		nv            int32
		ok            bool
	}{
		{"data page", pageData, 1000, 500, 5, 100, true},
		{"dictionary page", pageDictionary, 4000, 3000, 7, 1000, true},
		{"dictionary claiming too many values", pageDictionary, 4000, 3000, 7, 2_000_000_000, false},
		{"dictionary without a count", pageDictionary, 4000, 3000, 0, 0, false},
		{"negative size", pageData, -1, 5, 5, 1, false},
		{"past the chunk", pageData, 10, 30000, 5, 1, false},
		{"unknown type", 9, 10, 10, 5, 1, false},
		{"negative values", pageDataV2, 10, 10, 8, -3, false},
	} {
		b := encodePageHeader(t, tc.typ, tc.unc, tc.cmp, tc.sub, tc.nv)
		h, n, err := parsePageHeader(append(b, 0xde, 0xad))
		if err != nil {
			t.Fatalf("%s: parse: %v", tc.name, err)
		}
		if n != len(b) {
			t.Fatalf("%s: consumed %d bytes, the header has %d", tc.name, n, len(b))
		}
		if err := checkPage(h, 10000); (err == nil) != tc.ok {
			t.Errorf("%s: checkPage = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	if _, _, err := parsePageHeader([]byte{0x15}); err == nil {
		t.Error("a truncated header parsed")
	}
}

// FuzzPageHeader: any bytes parse to a header or an error, never a panic,
// and never claim more bytes than given.
func FuzzPageHeader(f *testing.F) {
	f.Add(encodePageHeader(f, pageData, 1000, 500, 5, 100))
	f.Add(encodePageHeader(f, pageDictionary, 4000, 3000, 7, 1000))
	f.Add(encodePageHeader(f, pageDataV2, 10, 10, 8, 3))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0x1c}, 100)) // nested structs
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := parsePageHeader(b)
		if err != nil {
			return
		}
		if n < 0 || n > len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		_ = checkPage(h, int64(len(b)))
	})
}
