package coldstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/row"
)

func sampleMeta() *tableMeta {
	s := row.MustSchema([]row.Column{{Name: "id", Type: row.Int64}, {Name: "ts", Type: row.Timestamp(row.Microsecond, "UTC"), Nullable: true}}, []string{"id"}, 2)
	v := func(name string, id uint64) versionMeta {
		return versionMeta{Version: name, ID: id, Schema: schemaToJSON(s), Rows: 3, LoadedAt: time.Unix(1700000000, 0).UTC(), CoversUntil: time.Unix(1700000000, 0).UTC(), Sources: []string{"a.parquet"}}
	}
	return &tableMeta{Format: metaFormat, Table: "orders", Live: "v2", Versions: []versionMeta{v("v2", 2), v("v1", 1)}}
}

func TestTableMetaRoundTrips(t *testing.T) {
	m := sampleMeta()
	got, err := decodeTableMeta("orders", m.encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.live().Version != "v2" || !got.live().schema.Equal(row.MustSchema(m.Versions[0].Schema.Columns, []string{"id"}, 2)) {
		t.Fatalf("decoded %+v", got)
	}
	for _, bad := range []struct{ doc, want string }{
		{`{`, "corrupt metadata"},
		{`{"format":99,"table":"orders"}`, "newer than this hotcold"},
		{`{"format":1,"table":"other","live":"v1","versions":[]}`, `metadata names table "other"`},
		{strings.Replace(string(m.encode()), `"live":"v2"`, `"live":"v9"`, 1), `live version "v9" is not among`},
		{strings.Replace(string(m.encode()), `"id":1`, `"id":2`, 1), "listed twice"},
		{strings.Replace(string(m.encode()), `"type":"int64"`, `"type":"int65"`, 1), "unknown type"},
	} {
		if _, err := decodeTableMeta("orders", []byte(bad.doc)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("decode %.60s...: %v, want %q", bad.doc, err, bad.want)
		}
	}
}

// FuzzDecodeTableMeta: any bytes decode to valid metadata (whose live
// version and schemas are usable) or to an error; never a panic.
func FuzzDecodeTableMeta(f *testing.F) {
	f.Add(sampleMeta().encode())
	f.Add([]byte(`{"format":1,"table":"orders","live":"","versions":[]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"format":1,"table":"orders","live":"v","versions":[{"version":"v","marker":true,"samples":["AQI","!!"],"schema":{"columns":[{"name":"k","type":"int64"}],"key":["k"]}}]}`))
	f.Add([]byte(`{"format":1,"table":"orders","live":"v","versions":[{"version":"v","schema":{"columns":[{"name":"k","type":"decimal128(99, 1)"}],"key":["k"]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeTableMeta("orders", b)
		if err != nil {
			return
		}
		l := m.live()
		if l == nil || l.schema == nil || len(l.schema.Key()) == 0 {
			t.Fatalf("valid metadata without a usable live version: %s", b)
		}
		for _, v := range m.Versions {
			if v.schema == nil {
				t.Fatalf("version %q without a schema", v.Version)
			}
		}
		_ = l.info("orders")
	})
}

func encodeRun(pairs ...[2]string) []byte {
	var b bytes.Buffer
	for _, p := range pairs {
		b.Write(binary.AppendUvarint(nil, uint64(len(p[0]))))
		b.Write(binary.AppendUvarint(nil, uint64(len(p[1]))))
		b.WriteString(p[0])
		b.WriteString(p[1])
	}
	return b.Bytes()
}

// FuzzRunCursor: a damaged sorted run reads as records or an error, never
// a panic or an oversized allocation.
func FuzzRunCursor(f *testing.F) {
	f.Add(encodeRun([2]string{"\x01a", "v1"}, [2]string{"\x01b", ""}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0x01})
	f.Add([]byte{0x02, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		rc := newRunCursor("fuzz", io.NopCloser(nil), bufio.NewReader(bytes.NewReader(b)))
		for rc.next() {
			if len(rc.key())+len(rc.value()) > len(b) {
				t.Fatalf("record larger than the input")
			}
		}
	})
}

func TestCheckNameNamesTheCharacterNotItsFirstByte(t *testing.T) {
	for name, want := range map[string]string{
		"ünï":         `"ünï": character 'ü' is not allowed (use ASCII letters`,
		"orders_日本":   `character '日' is not allowed`,
		"a b":         `character ' ' is not allowed`,
		"bad\xffutf8": `is not valid UTF-8`,
		"":            "is empty",
	} {
		err := CheckName(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckName(%q) = %v, want %q", name, err, want)
		}
	}
	for _, ok := range []string{"orders", "dt=2026-11-22", "a.b_c-D"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
}

func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"orders", "ünï", "a b", "\xff", "dt=2026-11-22", strings.Repeat("x", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckName(s)
		if err == nil && (s == "" || len(s) > 128) {
			t.Fatalf("CheckName(%q) accepted it", s)
		}
		if err == nil {
			for _, c := range s {
				if c > 0x7f {
					t.Fatalf("CheckName(%q) accepted a non-ASCII name", s)
				}
			}
		}
	})
}

func TestDecodeTableMetaRejectsMalformedSamples(t *testing.T) {
	_, err := decodeTableMeta("orders", []byte(`{"format":1,"table":"orders","live":"v","versions":[{"version":"v","samples":["!!"],"schema":{"columns":[{"name":"k","type":"int64"}],"key":["k"]}}]}`))
	if err == nil || !strings.Contains(err.Error(), `version "v": samples[0]`) {
		t.Fatalf("malformed sample: %v, want an error naming it", err)
	}
}
