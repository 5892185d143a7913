package row

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Format names a changelog encoding of rows in Kafka messages, matching the
// Flink SQL formats of the same names.
type Format string

// The supported formats.
const (
	// FormatDebeziumJSON is Flink's debezium-json: {"before":…,"after":…,"op":…}.
	// Decoding maps op c/r to +I, u to -U (before) and +U (after), d to -D,
	// and accepts the {"schema":…,"payload":{…}} envelope. Encoding writes
	// +I/+U as op "c" with after, -U/-D as op "d" with before, as Flink does.
	FormatDebeziumJSON Format = "debezium-json"
	// FormatCanalJSON is Flink's canal-json: {"data":[…],"old":[…],"type":…}.
	// INSERT rows decode to +I, UPDATE to -U (data overlaid with old) and +U,
	// DELETE to -D; DDL messages are skipped. Encoding writes +I/+U as
	// INSERT and -U/-D as DELETE.
	FormatCanalJSON Format = "canal-json"
	// FormatChangelogJSON is {"data":{…},"op":"+I"}, one message per row.
	FormatChangelogJSON Format = "changelog-json"
	// FormatUpsertKafka is Flink's upsert-kafka with JSON key and value: the
	// message key is a JSON object of the key columns, the value the whole
	// row; a tombstone (null value) is a delete of its key. Encoding drops
	// -U, as Flink's upsert-kafka sink does.
	FormatUpsertKafka Format = "upsert-kafka"
	// FormatJSON is plain append-only JSON: every message is an insert.
	// Encoding a retraction is an error.
	FormatJSON Format = "json"
)

var formats = []Format{FormatDebeziumJSON, FormatCanalJSON, FormatChangelogJSON, FormatUpsertKafka, FormatJSON}

// Formats returns the supported formats. The slice is a fresh copy:
// changing it changes nothing in the package.
func Formats() []Format { return slices.Clone(formats) }

// ParseFormat validates a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("row: unknown format %q (want one of %s)", s, strings.Join(names, ", "))
}

// Message is an encoded Kafka record body. A nil Value is a tombstone.
type Message struct {
	Key, Value []byte
}

// Codec encodes rows of one schema into messages of one format and decodes
// them back. A Codec is safe for concurrent use.
type Codec struct {
	format Format
	schema *Schema
	keyS   *Schema // schema of the key columns only (upsert-kafka)
}

// NewCodec returns a codec. FormatUpsertKafka needs key columns in s.
func NewCodec(f Format, s *Schema) (*Codec, error) {
	if _, err := ParseFormat(string(f)); err != nil {
		return nil, err
	}
	c := &Codec{format: f, schema: s}
	if len(s.key) > 0 {
		cols := make([]Column, len(s.key))
		for i, k := range s.key {
			cols[i] = s.cols[k]
		}
		ks, err := NewSchema(cols, nil, s.version)
		if err != nil {
			return nil, err
		}
		c.keyS = ks
	}
	if f == FormatUpsertKafka && c.keyS == nil {
		return nil, fmt.Errorf("row: format upsert-kafka needs key columns; declare the primary key")
	}
	return c, nil
}

// Format returns the codec's format.
func (c *Codec) Format() Format { return c.format }

// Schema returns the codec's schema.
func (c *Codec) Schema() *Schema { return c.schema }

// Encode encodes one changelog row. ok is false when the format drops the
// row (-U in upsert-kafka).
func (c *Codec) Encode(r Row) (m Message, ok bool, err error) {
	if !r.Kind.Valid() {
		return m, false, fmt.Errorf("row: encode: invalid kind %d", r.Kind)
	}
	if c.keyS != nil {
		kv := make([]Value, len(c.schema.key))
		for i, k := range c.schema.key {
			if k < len(r.Values) {
				kv[i] = r.Values[k]
			}
		}
		m.Key = c.keyS.AppendJSON(nil, Row{Values: kv})
	}
	switch c.format {
	case FormatDebeziumJSON:
		b := []byte(`{"before":`)
		if r.Kind.IsAccumulate() {
			b = append(b, "null,\"after\":"...)
			b = c.schema.AppendJSON(b, r)
			b = append(b, `,"op":"c"}`...)
		} else {
			b = c.schema.AppendJSON(b, r)
			b = append(b, `,"after":null,"op":"d"}`...)
		}
		m.Value = b
	case FormatCanalJSON:
		b := []byte(`{"data":[`)
		b = c.schema.AppendJSON(b, r)
		if r.Kind.IsAccumulate() {
			b = append(b, `],"type":"INSERT"}`...)
		} else {
			b = append(b, `],"type":"DELETE"}`...)
		}
		m.Value = b
	case FormatChangelogJSON:
		b := []byte(`{"data":`)
		b = c.schema.AppendJSON(b, r)
		b = append(b, `,"op":"`...)
		b = append(b, r.Kind.String()...)
		m.Value = append(b, `"}`...)
	case FormatUpsertKafka:
		switch r.Kind {
		case UpdateBefore:
			return Message{}, false, nil
		case Delete:
			m.Value = nil
		default:
			m.Value = c.schema.AppendJSON(nil, r)
		}
	case FormatJSON:
		if r.Kind != Insert {
			return Message{}, false, fmt.Errorf("row: format json is append-only and cannot encode a %s row; use debezium-json, canal-json or upsert-kafka", r.Kind)
		}
		m.Value = c.schema.AppendJSON(nil, r)
	}
	return m, true, nil
}

// Decode appends the rows that one message decodes to (zero, one or two)
// to dst. The rows own their bytes. Malformed input is an error naming the
// field; it never panics.
func (c *Codec) Decode(dst []Row, m Message) ([]Row, error) {
	switch c.format {
	case FormatDebeziumJSON:
		return c.decodeDebezium(dst, m.Value)
	case FormatCanalJSON:
		return c.decodeCanal(dst, m.Value)
	case FormatChangelogJSON:
		var env struct {
			Data json.RawMessage `json:"data"`
			Op   string          `json:"op"`
		}
		if err := unmarshal(m.Value, &env); err != nil {
			return dst, fmt.Errorf("row: changelog-json: %w", err)
		}
		k, err := ParseKind(env.Op)
		if err != nil {
			return dst, fmt.Errorf("row: changelog-json: field \"op\": %w", err)
		}
		return c.appendObject(dst, k, env.Data, "data")
	case FormatUpsertKafka:
		if len(m.Value) == 0 {
			if len(m.Key) == 0 {
				return dst, fmt.Errorf("row: upsert-kafka: tombstone without a key")
			}
			var kr Row
			if err := c.keyS.RowFromJSON(m.Key, &kr); err != nil {
				return dst, fmt.Errorf("row: upsert-kafka: key: %w", err)
			}
			r := Row{Kind: Delete, Values: make([]Value, len(c.schema.cols))}
			for i, k := range c.schema.key {
				r.Values[k] = kr.Values[i]
			}
			return append(dst, r.Clone()), nil
		}
		var obj map[string]any
		if err := unmarshal(m.Value, &obj); err != nil || obj == nil {
			if err == nil {
				err = fmt.Errorf("not a JSON object")
			}
			return dst, fmt.Errorf("row: upsert-kafka: value: %w", err)
		}
		if len(m.Key) > 0 {
			// key fields excluded from the value (value.fields-include EXCEPT_KEY)
			var kobj map[string]any
			if err := unmarshal(m.Key, &kobj); err != nil {
				return dst, fmt.Errorf("row: upsert-kafka: key: %w", err)
			}
			for _, k := range c.schema.key {
				name := c.schema.cols[k].Name
				if v, ok := obj[name]; !ok || v == nil {
					obj[name] = kobj[name]
				}
			}
		}
		return c.appendMap(dst, Insert, obj, "value")
	case FormatJSON:
		return c.appendObject(dst, Insert, m.Value, "value")
	}
	return dst, fmt.Errorf("row: unknown format %q", c.format)
}

func unmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return nil
}

// appendObject decodes one JSON object (raw) as a row of kind k. The
// object is decoded in lenient mode: a non-nullable column missing from a
// delete's before image is allowed, since sources often send only keys.
func (c *Codec) appendObject(dst []Row, k Kind, raw json.RawMessage, field string) ([]Row, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return dst, fmt.Errorf("row: %s: field %q is missing or null", c.format, field)
	}
	var obj map[string]any
	if err := unmarshal(raw, &obj); err != nil {
		return dst, fmt.Errorf("row: %s: field %q: %w", c.format, field, err)
	}
	return c.appendMap(dst, k, obj, field)
}

func (c *Codec) appendMap(dst []Row, k Kind, obj map[string]any, field string) ([]Row, error) {
	var r Row
	if err := c.schema.RowFromMap(obj, &r); err != nil {
		if fe, ok := err.(*FieldError); ok && (k == Delete || k == UpdateBefore) && strings.Contains(fe.Reason, "not nullable") {
			// a retraction image may carry only the key; fill what is there
			if err2 := c.lenientRow(obj, &r); err2 != nil {
				return dst, fmt.Errorf("row: %s: field %q: %w", c.format, field, err2)
			}
		} else {
			return dst, fmt.Errorf("row: %s: field %q: %w", c.format, field, err)
		}
	}
	r.Kind = k
	return append(dst, r), nil
}

func (c *Codec) lenientRow(obj map[string]any, r *Row) error {
	r.Values = make([]Value, len(c.schema.cols))
	for i, col := range c.schema.cols {
		raw, ok := obj[col.Name]
		if !ok || raw == nil {
			continue
		}
		v, err := ValueFromJSON(col.Type, raw)
		if err != nil {
			return &FieldError{Column: col.Name, Type: col.Type, Value: jsonText(raw), Reason: err.Error()}
		}
		r.Values[i] = v
	}
	return nil
}

func (c *Codec) decodeDebezium(dst []Row, value []byte) ([]Row, error) {
	if len(value) == 0 {
		return dst, nil // a Kafka tombstone after a delete; Flink skips it
	}
	var env struct {
		Before  json.RawMessage `json:"before"`
		After   json.RawMessage `json:"after"`
		Op      *string         `json:"op"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := unmarshal(value, &env); err != nil {
		return dst, fmt.Errorf("row: debezium-json: %w", err)
	}
	if env.Op == nil && len(env.Payload) > 0 && string(env.Payload) != "null" {
		// schema-include envelope
		if err := unmarshal(env.Payload, &env); err != nil {
			return dst, fmt.Errorf("row: debezium-json: field \"payload\": %w", err)
		}
	}
	if env.Op == nil {
		return dst, fmt.Errorf("row: debezium-json: field \"op\" is missing")
	}
	switch *env.Op {
	case "c", "r":
		return c.appendObject(dst, Insert, env.After, "after")
	case "u":
		if len(env.Before) == 0 || string(env.Before) == "null" {
			return dst, fmt.Errorf("row: debezium-json: field \"before\" of an update (op u) is null; the source must send full before images (for Postgres: ALTER TABLE … REPLICA IDENTITY FULL)")
		}
		dst, err := c.appendObject(dst, UpdateBefore, env.Before, "before")
		if err != nil {
			return dst, err
		}
		return c.appendObject(dst, UpdateAfter, env.After, "after")
	case "d":
		return c.appendObject(dst, Delete, env.Before, "before")
	case "t", "m":
		return dst, nil // truncate and message events carry no rows
	}
	return dst, fmt.Errorf("row: debezium-json: field \"op\": unknown operation %q (want c, r, u or d)", *env.Op)
}

func (c *Codec) decodeCanal(dst []Row, value []byte) ([]Row, error) {
	if len(value) == 0 {
		return dst, nil
	}
	var env struct {
		Data  []map[string]any `json:"data"`
		Old   []map[string]any `json:"old"`
		Type  string           `json:"type"`
		IsDdl bool             `json:"isDdl"`
	}
	if err := unmarshal(value, &env); err != nil {
		return dst, fmt.Errorf("row: canal-json: %w", err)
	}
	if env.IsDdl {
		return dst, nil
	}
	switch env.Type {
	case "INSERT":
		for i, d := range env.Data {
			var err error
			if dst, err = c.appendMap(dst, Insert, d, fmt.Sprintf("data[%d]", i)); err != nil {
				return dst, err
			}
		}
	case "UPDATE":
		if len(env.Old) != len(env.Data) {
			return dst, fmt.Errorf("row: canal-json: UPDATE has %d data rows but %d old rows", len(env.Data), len(env.Old))
		}
		for i, d := range env.Data {
			before := make(map[string]any, len(d))
			for k, v := range d {
				before[k] = v
			}
			for k, v := range env.Old[i] {
				before[k] = v
			}
			var err error
			if dst, err = c.appendMap(dst, UpdateBefore, before, fmt.Sprintf("old[%d]", i)); err != nil {
				return dst, err
			}
			if dst, err = c.appendMap(dst, UpdateAfter, d, fmt.Sprintf("data[%d]", i)); err != nil {
				return dst, err
			}
		}
	case "DELETE":
		for i, d := range env.Data {
			var err error
			if dst, err = c.appendMap(dst, Delete, d, fmt.Sprintf("data[%d]", i)); err != nil {
				return dst, err
			}
		}
	case "CREATE", "ALTER", "ERASE", "QUERY", "TRUNCATE", "RENAME", "CINDEX", "DINDEX":
		return dst, nil
	default:
		return dst, fmt.Errorf("row: canal-json: field \"type\": unknown type %q (want INSERT, UPDATE or DELETE)", env.Type)
	}
	return dst, nil
}
