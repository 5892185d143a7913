package coldstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// ErrDataLoss is wrapped by the errors of lookups on a live version whose
// data or metadata is missing from the store: Redis keys evicted or
// flushed, a Redis Cluster node that came back empty, Pebble data files
// deleted or damaged. Such a lookup fails instead of reporting misses
// (Result.Found false) that are not true. See DataLossError.
var ErrDataLoss = errors.New("coldstore: data loss")

// DataLossError reports that the live version of a table is incomplete in
// the store. It wraps ErrDataLoss.
type DataLossError struct {
	// Table and Version name the damaged live version (Version is empty
	// when the metadata that names it is gone).
	Table, Version string
	// Reason says what is missing, e.g. "5 of 64 sampled keys are missing".
	Reason string
}

func (e *DataLossError) Error() string {
	v := "its live version"
	if e.Version != "" {
		v = fmt.Sprintf("live version %q", e.Version)
	}
	return fmt.Sprintf("coldstore: table %q: %s is incomplete in the store (%s): its misses would be false; reload the table (hotcold load --table %s ...) or roll back to a complete version (hotcold load rollback --table %s --to VERSION)",
		e.Table, v, e.Reason, e.Table, e.Table)
}

// Unwrap returns ErrDataLoss.
func (e *DataLossError) Unwrap() error { return ErrDataLoss }

// Verifier is implemented by stores that can check that the live version
// of a table is complete: that its metadata is present and that keys
// sampled when it was loaded are still there. Both backends implement it;
// the sidecar calls it on start and at every readiness check.
//
// Verify returns nil, an error wrapping ErrDataLoss (a *DataLossError),
// ErrNoTable, or another error when the store could not be read (the
// verdict is then unknown). Once a version failed, the store's lookups of
// it fail with the same error until a Verify finds it complete again (a
// Redis Cluster node restored from a replica) or another version is live.
type Verifier interface {
	Verify(ctx context.Context, table string) error
}

// versionSamples is how many keys a load samples (uniformly) for later
// presence checks. Losing a third of the keys (one of three cluster nodes)
// goes unnoticed by 64 samples with probability (2/3)^64, about 1e-11.
const versionSamples = 64

// sampler keeps a uniform sample of the keys of one key range (reservoir
// sampling).
type sampler struct {
	rng  *rand.Rand
	n    int64
	keys [][]byte
	max  int
}

func newSampler(part, max int) *sampler {
	return &sampler{rng: rand.New(rand.NewPCG(uint64(part)+1, 0x5eed)), max: max}
}

func (s *sampler) add(k []byte) {
	s.n++
	if len(s.keys) < s.max {
		s.keys = append(s.keys, append([]byte(nil), k...))
		return
	}
	if j := s.rng.Int64N(s.n); j < int64(s.max) {
		s.keys[j] = append(s.keys[j][:0], k...)
	}
}

// mergeSamples returns up to versionSamples keys from the parts' samples,
// each part contributing in proportion to its key count, base64-encoded
// for the metadata.
func mergeSamples(parts []*sampler) []string {
	var total int64
	for _, s := range parts {
		if s != nil {
			total += s.n
		}
	}
	if total == 0 {
		return nil
	}
	var out []string
	for _, s := range parts {
		if s == nil || s.n == 0 {
			continue
		}
		want := max(1, int(int64(versionSamples)*s.n/total))
		for _, k := range s.keys[:min(want, len(s.keys))] {
			out = append(out, base64.RawURLEncoding.EncodeToString(k))
		}
	}
	return out
}

// sampleKeys decodes the samples of v (memcomparable keys, no prefix).
func (v *versionMeta) sampleKeys() ([][]byte, error) {
	out := make([][]byte, 0, len(v.Samples))
	for i, s := range v.Samples {
		k, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("version %q: samples[%d]: %w", v.Version, i, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// lossState remembers, per table, the version found incomplete.
type lossState struct {
	mu sync.RWMutex
	m  map[string]lossEntry
}

type lossEntry struct {
	id  uint64
	err *DataLossError
}

// get returns the recorded loss of the version id of table, or nil.
func (l *lossState) get(table string, id uint64) error {
	l.mu.RLock()
	e, ok := l.m[table]
	l.mu.RUnlock()
	if ok && e.id == id {
		return e.err
	}
	return nil
}

// set records (err non-nil) or clears the loss of version id of table.
func (l *lossState) set(table string, id uint64, err *DataLossError) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		if e, ok := l.m[table]; ok && e.id == id {
			delete(l.m, table)
		}
		return
	}
	if l.m == nil {
		l.m = map[string]lossEntry{}
	}
	l.m[table] = lossEntry{id: id, err: err}
}
