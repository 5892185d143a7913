package runcore

import (
	"encoding/binary"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"
)

// outboxEntry is one record to produce: an output change or a dead letter.
// It is the one outbox format of every hotcold runner (join and agg).
type outboxEntry struct {
	dlq     bool
	key     []byte
	value   []byte // nil: tombstone
	headers []kgo.RecordHeader
}

const (
	flagDLQ       = 1
	flagTombstone = 2
)

// encode appends the entry: flags, then uvarint-length-prefixed key and
// value, a uvarint header count and each header's key and value.
func (e *outboxEntry) encode(dst []byte) []byte {
	var flags byte
	if e.dlq {
		flags |= flagDLQ
	}
	if e.value == nil {
		flags |= flagTombstone
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(e.key)))
	dst = append(dst, e.key...)
	dst = binary.AppendUvarint(dst, uint64(len(e.value)))
	dst = append(dst, e.value...)
	dst = binary.AppendUvarint(dst, uint64(len(e.headers)))
	for _, h := range e.headers {
		dst = binary.AppendUvarint(dst, uint64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = binary.AppendUvarint(dst, uint64(len(h.Value)))
		dst = append(dst, h.Value...)
	}
	return dst
}

var errBadOutbox = errors.New("runner: corrupt outbox entry in state")

func decodeOutboxEntry(b []byte) (outboxEntry, error) {
	var e outboxEntry
	if len(b) < 1 {
		return e, errBadOutbox
	}
	flags := b[0]
	b = b[1:]
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		out := append([]byte{}, b[k:k+int(n)]...)
		b = b[k+int(n):]
		return out, true
	}
	var ok bool
	if e.key, ok = next(); !ok {
		return e, errBadOutbox
	}
	if e.value, ok = next(); !ok {
		return e, errBadOutbox
	}
	e.dlq = flags&flagDLQ != 0
	if flags&flagTombstone != 0 {
		e.value = nil
	}
	nh, k := binary.Uvarint(b)
	if k <= 0 || nh > uint64(len(b)) {
		return e, errBadOutbox
	}
	b = b[k:]
	for i := uint64(0); i < nh; i++ {
		hk, ok1 := next()
		hv, ok2 := next()
		if !ok1 || !ok2 {
			return e, errBadOutbox
		}
		e.headers = append(e.headers, kgo.RecordHeader{Key: string(hk), Value: hv})
	}
	if len(b) != 0 {
		return e, errBadOutbox
	}
	return e, nil
}
