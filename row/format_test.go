package row_test

import (
	"strings"
	"testing"

	"github.com/hotcold/hotcold/row"
)

var orders = row.MustSchema([]row.Column{
	{Name: "id", Type: row.Int64},
	{Name: "city", Type: row.String},
	{Name: "amount", Type: row.Decimal(10, 2), Nullable: true},
}, []string{"id"}, 1)

func decodeAll(t *testing.T, c *row.Codec, msgs ...row.Message) []string {
	t.Helper()
	var rows []row.Row
	for _, m := range msgs {
		var err error
		rows, err = c.Decode(rows, m)
		if err != nil {
			t.Fatalf("decode %s: %v", m.Value, err)
		}
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Format(orders)
	}
	return out
}

func TestCodecsRoundTripEveryKind(t *testing.T) {
	in := []row.Row{
		{Kind: row.Insert, Values: []row.Value{row.Int64Value(1), row.StringValue("Oslo"), row.NullValue()}},
		{Kind: row.UpdateBefore, Values: []row.Value{row.Int64Value(1), row.StringValue("Oslo"), row.NullValue()}},
		{Kind: row.UpdateAfter, Values: []row.Value{row.Int64Value(1), row.StringValue("Bergen"), row.NullValue()}},
		{Kind: row.Delete, Values: []row.Value{row.Int64Value(1), row.StringValue("Bergen"), row.NullValue()}},
	}
	// What each format can carry, after Flink's encoders: debezium and canal
	// have no update kinds (they encode -U as a delete and +U as an insert);
	// upsert-kafka drops -U and keeps only the key of a delete.
	want := map[row.Format][]string{
		row.FormatChangelogJSON: {"+I[1, Oslo, null]", "-U[1, Oslo, null]", "+U[1, Bergen, null]", "-D[1, Bergen, null]"},
		row.FormatDebeziumJSON:  {"+I[1, Oslo, null]", "-D[1, Oslo, null]", "+I[1, Bergen, null]", "-D[1, Bergen, null]"},
		row.FormatCanalJSON:     {"+I[1, Oslo, null]", "-D[1, Oslo, null]", "+I[1, Bergen, null]", "-D[1, Bergen, null]"},
		row.FormatUpsertKafka:   {"+I[1, Oslo, null]", "+I[1, Bergen, null]", "-D[1, null, null]"},
	}
	for f, w := range want {
		c, err := row.NewCodec(f, orders)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []row.Message
		for _, r := range in {
			m, ok, err := c.Encode(r)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				msgs = append(msgs, m)
			}
		}
		got := decodeAll(t, c, msgs...)
		if strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("%s: got %v want %v", f, got, w)
		}
	}
}

func TestDebeziumDecodesFlinkShapes(t *testing.T) {
	c, _ := row.NewCodec(row.FormatDebeziumJSON, orders)
	got := decodeAll(t, c,
		row.Message{Value: []byte(`{"before":null,"after":{"id":1,"city":"Rome","amount":"9.50"},"op":"r","source":{"db":"x"},"ts_ms":1}`)},
		row.Message{Value: []byte(`{"schema":{"type":"struct"},"payload":{"before":{"id":1,"city":"Rome","amount":9.5},"after":{"id":1,"city":"Milan","amount":9.5},"op":"u"}}`)},
		row.Message{Value: []byte(`{"before":{"id":1},"after":null,"op":"d"}`)},
		row.Message{Value: nil}, // tombstone after a delete
	)
	want := "+I[1, Rome, 9.50] -U[1, Rome, 9.50] +U[1, Milan, 9.50] -D[1, null, null]"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v", got)
	}
	_, err := c.Decode(nil, row.Message{Value: []byte(`{"before":null,"after":{"id":1,"city":"x"},"op":"u"}`)})
	if err == nil || !strings.Contains(err.Error(), "REPLICA IDENTITY FULL") {
		t.Fatalf("update without before: %v", err)
	}
	_, err = c.Decode(nil, row.Message{Value: []byte(`{"after":{"id":"x","city":"a"},"op":"c"}`)})
	if err == nil || !strings.Contains(err.Error(), `"after"`) || !strings.Contains(err.Error(), `"id"`) {
		t.Fatalf("bad field: %v", err)
	}
}

func TestCanalUpdateOverlaysOld(t *testing.T) {
	c, _ := row.NewCodec(row.FormatCanalJSON, orders)
	got := decodeAll(t, c,
		row.Message{Value: []byte(`{"data":[{"id":"1","city":"Lyon","amount":"3.00"},{"id":"2","city":"Nice","amount":null}],"type":"INSERT","database":"d","table":"t","isDdl":false}`)},
		row.Message{Value: []byte(`{"data":[{"id":"1","city":"Paris","amount":"3.00"}],"old":[{"city":"Lyon"}],"type":"UPDATE","isDdl":false}`)},
		row.Message{Value: []byte(`{"data":[{"id":"2","city":"Nice","amount":null}],"type":"DELETE","isDdl":false}`)},
		row.Message{Value: []byte(`{"data":null,"type":"ALTER","isDdl":true,"sql":"alter table t add c int"}`)},
	)
	want := "+I[1, Lyon, 3.00] +I[2, Nice, null] -U[1, Lyon, 3.00] +U[1, Paris, 3.00] -D[2, Nice, null]"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v", got)
	}
}

func TestUpsertKafkaTombstoneIsDeleteOfKey(t *testing.T) {
	c, _ := row.NewCodec(row.FormatUpsertKafka, orders)
	got := decodeAll(t, c,
		row.Message{Key: []byte(`{"id":5}`), Value: []byte(`{"city":"Kyiv","amount":1}`)},
		row.Message{Key: []byte(`{"id":5}`)},
	)
	if strings.Join(got, " ") != "+I[5, Kyiv, 1.00] -D[5, null, null]" {
		t.Fatalf("got %v", got)
	}
	if _, err := c.Decode(nil, row.Message{}); err == nil {
		t.Fatal("tombstone without key accepted")
	}
}

func TestPlainJSONRefusesRetractions(t *testing.T) {
	c, _ := row.NewCodec(row.FormatJSON, orders)
	_, _, err := c.Encode(row.Row{Kind: row.Delete, Values: []row.Value{row.Int64Value(1), row.StringValue("x"), row.NullValue()}})
	if err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("got %v", err)
	}
	noKey := row.MustSchema(orders.Columns(), nil, 1)
	if _, err := row.NewCodec(row.FormatUpsertKafka, noKey); err == nil {
		t.Fatal("upsert-kafka without a key accepted")
	}
	if _, err := row.ParseFormat("avro"); err == nil || !strings.Contains(err.Error(), "debezium-json") {
		t.Fatalf("ParseFormat: %v", err)
	}
}

func FuzzCodecDecode(f *testing.F) {
	f.Add("debezium-json", []byte(nil), []byte(`{"before":null,"after":{"id":1,"city":"a","amount":"1.00"},"op":"c"}`))
	f.Add("canal-json", []byte(nil), []byte(`{"data":[{"id":"1","city":"a"}],"old":[{"city":"b"}],"type":"UPDATE"}`))
	f.Add("changelog-json", []byte(nil), []byte(`{"data":{"id":1,"city":"a"},"op":"-U"}`))
	f.Add("upsert-kafka", []byte(`{"id":1}`), []byte(nil))
	f.Add("json", []byte(nil), []byte(`{"id":1,"city":"a"}`))
	f.Fuzz(func(t *testing.T, format string, key, value []byte) {
		fm, err := row.ParseFormat(format)
		if err != nil {
			return
		}
		c, err := row.NewCodec(fm, orders)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := c.Decode(nil, row.Message{Key: key, Value: value})
		if err != nil {
			return
		}
		for _, r := range rows {
			if len(r.Values) != orders.Len() || !r.Kind.Valid() {
				t.Fatalf("decoded a malformed row %v", r)
			}
		}
	})
}
