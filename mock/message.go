package mock

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hotcold/hotcold/row"
)

// Message is one input message of a source, as written in the case: the
// Kafka record to send and how to send it.
type Message struct {
	// Key is the record key; nil means no key.
	Key []byte
	// Value is the record value; nil is a tombstone.
	Value []byte
	// Headers are the record headers, in order.
	Headers []Header
	// Timestamp is the record (event) timestamp; zero means the time the
	// message is sent.
	Timestamp time.Time
	// Partition is the partition to send to; -1 means the partition Kafka's
	// default partitioner picks for the key (murmur2), and partition 0 for a
	// message without a key.
	Partition int32
	// After, when set, is the wait before this message, overriding the
	// schedule's interval.
	After *time.Duration
	// Note is free text for the reader of the case; it is not sent.
	Note string
	// Pos is where the message was read.
	Pos Pos
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is a Kafka record as read or written by a run: a sampled message,
// an input as sent, or a sink output message.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte // nil: tombstone
	Headers   []Header
	Timestamp time.Time
}

// messageLine is the JSONL form of a Message. Exactly one of the key
// fields may be given, and exactly one of the value fields (or row).
type messageLine struct {
	Key         json.RawMessage `json:"key"`
	KeyText     *string         `json:"key_text"`
	KeyBase64   *string         `json:"key_base64"`
	Value       json.RawMessage `json:"value"`
	ValueText   *string         `json:"value_text"`
	ValueBase64 *string         `json:"value_base64"`
	Row         json.RawMessage `json:"row"`
	Op          string          `json:"op"`
	Headers     json.RawMessage `json:"headers"`
	Timestamp   json.RawMessage `json:"timestamp"`
	Partition   *int32          `json:"partition"`
	After       string          `json:"after"`
	Note        string          `json:"note"`
	Origin      json.RawMessage `json:"origin"`
}

var messageFields = "key, key_text, key_base64, value, value_text, value_base64, row, op, headers, timestamp, partition, after, note, origin"

// jsonProblem converts an encoding/json error on one line into a CaseError.
func jsonProblem(pos Pos, err error, known string) *CaseError {
	e := &CaseError{File: pos.File, Line: pos.Line}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		e.Column = int(syn.Offset)
		e.Problem = "malformed JSON: " + syn.Error()
	case errors.As(err, &typ):
		e.Column = int(typ.Offset)
		e.Field = typ.Field
		e.Problem = fmt.Sprintf("want a JSON %s, got %s", jsonKind(typ.Type.String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		e.Field, _ = strconv.Unquote(name)
		e.Problem = "unknown field (known fields: " + known + ")"
	default:
		e.Problem = "malformed JSON: " + err.Error()
	}
	return e
}

func jsonKind(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "integer"
	case strings.Contains(goType, "string"):
		return "string"
	}
	return goType
}

// decodeStrict decodes one JSON object, rejecting unknown fields and
// trailing data.
func decodeStrict(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return &json.SyntaxError{Offset: dec.InputOffset() + 1}
	}
	return nil
}

// parseMessage reads one message line of src. Problems are appended to ps;
// ok is false if the message could not be read.
func parseMessage(line []byte, pos Pos, src *Source, ps *problems) (m Message, ok bool) {
	var ml messageLine
	if err := decodeStrict(line, &ml); err != nil {
		ps.addErr(jsonProblem(pos, err, messageFields))
		return m, false
	}
	m.Pos = pos
	m.Partition = -1
	m.Note = ml.Note
	n := len(ps.list)

	// key
	keys := 0
	if ml.Key != nil {
		keys++
		if !bytes.Equal(ml.Key, []byte("null")) {
			m.Key = bytes.Clone(ml.Key)
		}
	}
	if ml.KeyText != nil {
		keys++
		m.Key = []byte(*ml.KeyText)
	}
	if ml.KeyBase64 != nil {
		keys++
		b, err := base64.StdEncoding.DecodeString(*ml.KeyBase64)
		if err != nil {
			ps.add(pos, "key_base64", "not base64: %v", err)
		}
		m.Key = b
	}
	if keys > 1 {
		ps.add(pos, "key", "give only one of key, key_text and key_base64")
	}

	// value
	values := 0
	if ml.Value != nil {
		values++
		if !bytes.Equal(ml.Value, []byte("null")) {
			m.Value = bytes.Clone(ml.Value)
		}
	}
	if ml.ValueText != nil {
		values++
		m.Value = []byte(*ml.ValueText)
	}
	if ml.ValueBase64 != nil {
		values++
		b, err := base64.StdEncoding.DecodeString(*ml.ValueBase64)
		if err != nil {
			ps.add(pos, "value_base64", "not base64: %v", err)
		}
		if b == nil {
			b = []byte{}
		}
		m.Value = b
	}
	if ml.Row != nil {
		values++
	}
	switch {
	case values == 0:
		ps.add(pos, "value", "the message has no value: give value, value_text, value_base64 or row (write \"value\": null for a tombstone)")
	case values > 1:
		ps.add(pos, "value", "give only one of value, value_text, value_base64 and row")
	}
	if ml.Op != "" && ml.Row == nil {
		ps.add(pos, "op", "op only applies to a row; give the message as \"row\" or drop op")
	}
	if ml.Row != nil && values == 1 {
		encodeRow(&m, ml, keys > 0, pos, src, ps)
	}

	if len(ml.Headers) > 0 && !bytes.Equal(ml.Headers, []byte("null")) {
		hs, err := parseHeaders(ml.Headers)
		if err != nil {
			ps.add(pos, "headers", "%v", err)
		}
		m.Headers = hs
	}
	if len(ml.Timestamp) > 0 && !bytes.Equal(ml.Timestamp, []byte("null")) {
		ts, err := parseTimestampJSON(ml.Timestamp)
		if err != nil {
			ps.add(pos, "timestamp", "%v", err)
		}
		m.Timestamp = ts
	}
	if ml.Partition != nil {
		if *ml.Partition < 0 {
			ps.add(pos, "partition", "%d is negative", *ml.Partition)
		}
		m.Partition = *ml.Partition
	}
	if ml.After != "" {
		d, err := parseDuration(ml.After)
		if err != nil {
			ps.add(pos, "after", "%v", err)
		}
		m.After = &d
	}
	if len(ps.list) == n {
		checkFormat(&m, pos, src, ps)
	}
	return m, len(ps.list) == n
}

// encodeRow encodes a "row" line with the source's codec.
func encodeRow(m *Message, ml messageLine, haveKey bool, pos Pos, src *Source, ps *problems) {
	if src.Schema == nil {
		ps.add(pos, "row", "source %q declares no columns; declare columns to write messages as rows, or give the value", src.Name)
		return
	}
	kind := row.Insert
	if ml.Op != "" {
		k, err := row.ParseKind(ml.Op)
		if err != nil {
			ps.add(pos, "op", "%v", err)
			return
		}
		kind = k
	}
	obj, err := decodeObject(ml.Row)
	if err != nil {
		ps.add(pos, "row", "%v", err)
		return
	}
	if unknown := unknownColumns(obj, src.Schema); unknown != "" {
		ps.add(pos, "row", "column %s is not a column of source %q (columns: %s)", unknown, src.Name, strings.Join(src.Schema.Names(), ", "))
		return
	}
	var r row.Row
	if err := src.Schema.RowFromMap(obj, &r); err != nil {
		ps.add(pos, "row", "%v", err)
		return
	}
	r.Kind = kind
	enc, ok, err := src.codec.Encode(r)
	if err != nil {
		ps.add(pos, "row", "%v", err)
		return
	}
	if !ok {
		ps.add(pos, "op", "%s rows are dropped by format %s; remove the line", kind, src.Format)
		return
	}
	m.Value = enc.Value
	if !haveKey {
		m.Key = enc.Key
		if src.KeyFormat == KeyRaw && len(src.Schema.Key()) == 1 {
			k := src.Schema.Key()[0]
			m.Key = []byte(r.Values[k].Format(src.Schema.Column(k).Type))
		}
	}
}

// checkFormat checks a message against its source's key and value formats.
func checkFormat(m *Message, pos Pos, src *Source, ps *problems) {
	if src.KeyFormat == KeyJSON && m.Key != nil && !json.Valid(m.Key) {
		ps.add(pos, "key", "the key %s is not JSON but key_format is json; set key_format: raw", quoteBytes(m.Key))
	}
	if src.Format == Raw || m.Value == nil && src.Format != row.FormatUpsertKafka {
		return
	}
	if m.Value != nil && !json.Valid(m.Value) {
		ps.add(pos, "value", "the value %s is not JSON but the format is %s; set format: raw", quoteBytes(m.Value), src.Format)
		return
	}
	if src.codec == nil {
		return
	}
	if _, err := src.codec.Decode(nil, row.Message{Key: m.Key, Value: m.Value}); err != nil {
		ps.add(pos, "value", "not valid %s for the declared columns: %v", src.Format, err)
	}
}

func quoteBytes(b []byte) string {
	if len(b) > 60 {
		return strconv.Quote(string(b[:60])) + "..."
	}
	return strconv.Quote(string(b))
}

func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if obj == nil {
		return nil, fmt.Errorf("not a JSON object: null")
	}
	return obj, nil
}

// unknownColumns returns the first field of obj (quoted) that is not a
// column of s, or "".
func unknownColumns(obj map[string]any, s *row.Schema) string {
	var bad []string
	for k := range obj {
		if s.Index(k) < 0 {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	first := bad[0]
	for _, b := range bad[1:] {
		if b < first {
			first = b
		}
	}
	return strconv.Quote(first)
}

// parseHeaders reads {"k": "v", ...} (order kept) or
// [{"key": "k", "value": "v"} | {"key": "k", "value_base64": "..."}].
func parseHeaders(raw json.RawMessage) ([]Header, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var list []struct {
			Key         *string `json:"key"`
			Value       *string `json:"value"`
			ValueBase64 *string `json:"value_base64"`
		}
		if err := decodeStrict(raw, &list); err != nil {
			return nil, fmt.Errorf("want a list of {\"key\": ..., \"value\": ...} objects: %v", err)
		}
		out := make([]Header, 0, len(list))
		for i, h := range list {
			if h.Key == nil {
				return nil, fmt.Errorf("header %d has no key", i)
			}
			hd := Header{Key: *h.Key}
			switch {
			case h.Value != nil && h.ValueBase64 != nil:
				return nil, fmt.Errorf("header %q: give value or value_base64, not both", *h.Key)
			case h.Value != nil:
				hd.Value = []byte(*h.Value)
			case h.ValueBase64 != nil:
				b, err := base64.StdEncoding.DecodeString(*h.ValueBase64)
				if err != nil {
					return nil, fmt.Errorf("header %q: value_base64: %v", *h.Key, err)
				}
				hd.Value = b
			}
			out = append(out, hd)
		}
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	t, err := dec.Token()
	if err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("want an object of string values or a list of {\"key\", \"value\"} objects")
	}
	var out []Header
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("malformed: %v", err)
		}
		vt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("malformed: %v", err)
		}
		k := kt.(string)
		switch v := vt.(type) {
		case string:
			out = append(out, Header{Key: k, Value: []byte(v)})
		case nil:
			out = append(out, Header{Key: k})
		default:
			return nil, fmt.Errorf("header %q: want a string value (use the list form with value_base64 for bytes)", k)
		}
	}
	return out, nil
}

var tsType = row.Timestamp(row.Millisecond, "")

func parseTimestampJSON(raw json.RawMessage) (time.Time, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return time.Time{}, err
	}
	return parseTimestampValue(v)
}

func parseTimestampValue(v any) (time.Time, error) {
	tv, err := row.ValueFromJSON(tsType, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("want \"2006-01-02 15:04:05.000\" (UTC), RFC 3339 or epoch milliseconds: %v", err)
	}
	return time.UnixMilli(tv.Int64()).UTC(), nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (want e.g. 250ms, 2s, 1m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// AppendRecordJSON appends r as one JSONL line (without the newline) in
// the case message format, so that sampled and recorded messages can be
// replayed as they are. Keys and values that are single-line JSON are
// written as "key"/"value", other UTF-8 as "key_text"/"value_text", other
// bytes as base64; a nil value is written as "value": null. origin, if not
// nil, is written verbatim as the informational "origin" field.
func AppendRecordJSON(dst []byte, r Record, origin []byte) []byte {
	dst = append(dst, '{')
	first := true
	field := func(dst []byte, name string) []byte {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = strconv.AppendQuote(dst, name)
		return append(dst, ':')
	}
	if origin != nil {
		dst = field(dst, "origin")
		dst = append(dst, origin...)
	}
	if !r.Timestamp.IsZero() {
		dst = field(dst, "timestamp")
		dst = append(dst, '"')
		dst = r.Timestamp.UTC().AppendFormat(dst, "2006-01-02 15:04:05.000")
		dst = append(dst, '"')
	}
	if r.Key != nil {
		dst = appendBytesField(dst, field, "key", r.Key)
	}
	if r.Value == nil {
		dst = field(dst, "value")
		dst = append(dst, "null"...)
	} else {
		dst = appendBytesField(dst, field, "value", r.Value)
	}
	if len(r.Headers) > 0 {
		dst = field(dst, "headers")
		dst = appendHeaders(dst, r.Headers)
	}
	return append(dst, '}')
}

func appendBytesField(dst []byte, field func([]byte, string) []byte, name string, b []byte) []byte {
	switch {
	case isInlineJSON(b):
		dst = field(dst, name)
		return append(dst, b...)
	case utf8.Valid(b):
		dst = field(dst, name+"_text")
		return appendJSONString(dst, string(b))
	default:
		dst = field(dst, name+"_base64")
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"')
	}
}

// isInlineJSON reports whether b can be embedded in a JSONL line verbatim
// and read back to the same bytes.
func isInlineJSON(b []byte) bool {
	if len(b) == 0 || bytes.IndexAny(b, "\r\n") >= 0 || len(bytes.TrimSpace(b)) != len(b) {
		return false
	}
	if bytes.Equal(b, []byte("null")) {
		return false // would read back as "no key" / a tombstone
	}
	return json.Valid(b)
}

func appendHeaders(dst []byte, hs []Header) []byte {
	unique := true
	seen := make(map[string]bool, len(hs))
	for _, h := range hs {
		if seen[h.Key] || !utf8.Valid(h.Value) || h.Value == nil {
			unique = false
			break
		}
		seen[h.Key] = true
	}
	if unique {
		dst = append(dst, '{')
		for i, h := range hs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, h.Key)
			dst = append(dst, ':')
			dst = appendJSONString(dst, string(h.Value))
		}
		return append(dst, '}')
	}
	dst = append(dst, '[')
	for i, h := range hs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"key":`...)
		dst = appendJSONString(dst, h.Key)
		switch {
		case h.Value == nil:
		case utf8.Valid(h.Value):
			dst = append(dst, `,"value":`...)
			dst = appendJSONString(dst, string(h.Value))
		default:
			dst = append(dst, `,"value_base64":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, h.Value)
			dst = append(dst, '"')
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // never fails for a string
	return append(dst, b...)
}
