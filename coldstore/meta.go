package coldstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/hotcold/hotcold/row"
)

// metaFormat is the version of the table metadata document. A store refuses
// to read a newer one.
const metaFormat = 1

// tableMeta is the metadata document of one table, stored under one key in
// every backend: the live pointer and the retained versions. Replacing it
// is the atomic publish.
type tableMeta struct {
	Format int    `json:"format"`
	Table  string `json:"table"`
	// Live is the name of the live version.
	Live string `json:"live"`
	// Versions are the retained versions, most recently loaded first. The
	// live version is always among them.
	Versions []versionMeta `json:"versions"`
}

// versionMeta describes one published version.
type versionMeta struct {
	Version string `json:"version"`
	// ID is the store-unique number that prefixes the version's data keys.
	ID          uint64     `json:"id"`
	Schema      schemaJSON `json:"schema"`
	Rows        int64      `json:"rows"`
	Duplicates  int64      `json:"duplicates"`
	Bytes       int64      `json:"bytes"`
	CoversUntil time.Time  `json:"covers_until,omitzero"`
	LoadedAt    time.Time  `json:"loaded_at"`
	Sources     []string   `json:"sources,omitempty"`
	// Samples are keys of the version (memcomparable, unpadded base64url)
	// sampled uniformly by the load, checked for presence by Verify.
	Samples []string `json:"samples,omitempty"`
	// Marker reports that the version has a marker key (Redis: P v:<table>:<id>)
	// that every lookup reads with its keys: a flushed or evicted store is
	// noticed at the first lookup.
	Marker bool `json:"marker,omitempty"`

	schema *row.Schema // decoded Schema
}

// schemaJSON is the stored form of a row.Schema.
type schemaJSON struct {
	Version uint32       `json:"version"`
	Columns []row.Column `json:"columns"`
	Key     []string     `json:"key"`
}

func schemaToJSON(s *row.Schema) schemaJSON {
	return schemaJSON{Version: s.Version(), Columns: s.Columns(), Key: s.KeyNames()}
}

func (m *tableMeta) live() *versionMeta {
	for i := range m.Versions {
		if m.Versions[i].Version == m.Live {
			return &m.Versions[i]
		}
	}
	return nil
}

func (m *tableMeta) find(version string) *versionMeta {
	for i := range m.Versions {
		if m.Versions[i].Version == version {
			return &m.Versions[i]
		}
	}
	return nil
}

func (m *tableMeta) encode() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("coldstore: encode table metadata: %v", err)) // only plain fields: cannot fail
	}
	return b
}

// decodeTableMeta parses and validates a metadata document. It never
// panics; every problem is an error naming the table and field.
func decodeTableMeta(table string, data []byte) (*tableMeta, error) {
	var m tableMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("coldstore: table %q: corrupt metadata: %w", table, err)
	}
	if m.Format > metaFormat {
		return nil, fmt.Errorf("coldstore: table %q: metadata format %d is newer than this hotcold understands (%d): upgrade hotcold", table, m.Format, metaFormat)
	}
	var errs []error
	if m.Table != table {
		errs = append(errs, fmt.Errorf("metadata names table %q", m.Table))
	}
	if len(m.Versions) == 0 {
		errs = append(errs, errors.New("no versions"))
	}
	seen := map[string]bool{}
	ids := map[uint64]bool{}
	for i := range m.Versions {
		v := &m.Versions[i]
		if err := validateName("version", v.Version); err != nil {
			errs = append(errs, fmt.Errorf("versions[%d]: %w", i, err))
		}
		if seen[v.Version] {
			errs = append(errs, fmt.Errorf("version %q listed twice", v.Version))
		}
		seen[v.Version] = true
		if ids[v.ID] {
			errs = append(errs, fmt.Errorf("version %q: id %d listed twice", v.Version, v.ID))
		}
		ids[v.ID] = true
		if v.Rows < 0 || v.Duplicates < 0 || v.Bytes < 0 {
			errs = append(errs, fmt.Errorf("version %q: negative counts", v.Version))
		}
		if _, err := v.sampleKeys(); err != nil {
			errs = append(errs, err)
		}
		s, err := row.NewSchema(v.Schema.Columns, v.Schema.Key, v.Schema.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("version %q: schema: %w", v.Version, err))
			continue
		}
		if len(s.Key()) == 0 {
			errs = append(errs, fmt.Errorf("version %q: schema has no key", v.Version))
			continue
		}
		v.schema = s
	}
	if m.live() == nil && len(m.Versions) > 0 {
		errs = append(errs, fmt.Errorf("live version %q is not among the versions", m.Live))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("coldstore: table %q: corrupt metadata: %w", table, errors.Join(errs...))
	}
	return &m, nil
}

func (v *versionMeta) info(table string) TableInfo {
	return TableInfo{Name: table, Schema: v.schema, Version: v.Version, Rows: v.Rows, CoversUntil: v.CoversUntil, LoadedAt: v.LoadedAt}
}

func (v *versionMeta) versionInfo(table string, live bool) VersionInfo {
	return VersionInfo{
		Table: table, Version: v.Version, Live: live, Schema: v.schema,
		Rows: v.Rows, Duplicates: v.Duplicates, Bytes: v.Bytes,
		CoversUntil: v.CoversUntil, LoadedAt: v.LoadedAt,
		Sources: append([]string(nil), v.Sources...),
	}
}

// VersionInfo describes one retained version of a table.
type VersionInfo struct {
	Table   string `json:"table"`
	Version string `json:"version"`
	// Live reports whether readers see this version.
	Live bool `json:"live"`
	// Schema of the version, with the key columns set.
	Schema *row.Schema `json:"-"`
	// Rows is the number of distinct keys.
	Rows int64 `json:"rows"`
	// Duplicates is the number of input rows replaced by a later row with
	// the same key during the load.
	Duplicates int64 `json:"duplicates"`
	// Bytes is the size of the encoded keys and values.
	Bytes       int64     `json:"bytes"`
	CoversUntil time.Time `json:"covers_until,omitzero"`
	LoadedAt    time.Time `json:"loaded_at"`
	// Sources names the input files of the load.
	Sources []string `json:"sources,omitempty"`
}

// validateName checks a table or version name: 1 to 128 characters of
// letters, digits, '_', '-', '.' and '='. The restriction keeps names safe in
// key prefixes (Pebble, Redis hash tags and SCAN patterns) and file names.
func validateName(what, s string) error {
	if err := CheckName(s); err != nil {
		return fmt.Errorf("%s name %w", what, err)
	}
	return nil
}

// CheckName checks a table or version name: 1 to 128 letters, digits,
// '_', '-', '.' or '='. The error describes the problem without saying
// what s names, e.g. `"a b": character ' ' is not allowed (...)`.
func CheckName(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%+q is not valid UTF-8 (use letters, digits, '_', '-', '.', '=')", s)
	}
	// Rune by rune, so that a non-ASCII letter is named as the user typed
	// it ('ü', not the first byte of its encoding).
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '=' {
			continue
		}
		return fmt.Errorf("%q: character %q is not allowed (use ASCII letters, digits, '_', '-', '.', '=')", s, c)
	}
	if len(s) > 128 {
		return fmt.Errorf("%.20q... is longer than 128 characters", s)
	}
	return nil
}
