package runcore

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestOutboxEntryRoundTrips(t *testing.T) {
	for _, e := range []outboxEntry{
		{key: []byte("k"), value: []byte("v")},
		{value: nil},
		{dlq: true, key: []byte{0}, value: []byte{}, headers: []kgo.RecordHeader{{Key: "a", Value: []byte("b")}}},
	} {
		got, err := decodeOutboxEntry(e.encode(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got.dlq != e.dlq || !bytes.Equal(got.key, e.key) || (got.value == nil) != (e.value == nil) || !bytes.Equal(got.value, e.value) || len(got.headers) != len(e.headers) {
			t.Fatalf("round trip %+v -> %+v", e, got)
		}
	}
}

func FuzzDecodeOutboxEntry(f *testing.F) {
	f.Add((&outboxEntry{key: []byte("k"), value: []byte("v")}).encode(nil))
	f.Add((&outboxEntry{dlq: true, headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}).encode(nil))
	f.Add([]byte{})
	f.Add([]byte{3, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeOutboxEntry(b)
		if err != nil {
			return
		}
		again, err := decodeOutboxEntry(e.encode(nil))
		if err != nil || !bytes.Equal(again.key, e.key) || !bytes.Equal(again.value, e.value) {
			t.Fatalf("re-encode of %x: %v", b, err)
		}
	})
}
