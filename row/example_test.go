package row_test

import (
	"fmt"

	"github.com/hotcold/hotcold/row"
)

func Example() {
	s := row.MustSchema([]row.Column{
		{Name: "order_id", Type: row.Int64},
		{Name: "city", Type: row.String, Nullable: true},
	}, []string{"order_id"}, 1)

	r := row.New(row.Int64Value(42), row.StringValue("Lisbon"))
	key, _ := s.AppendKey(nil, r)
	val, _ := s.AppendValue(nil, r)

	// A newer schema appends a column with a default; old bytes still decode.
	s2 := row.MustSchema(append(s.Columns(), row.Column{Name: "refunds", Type: row.Int64, Default: row.Int64Value(0)}), []string{"order_id"}, 2)
	var got row.Row
	if err := s2.DecodeValue(val, &got); err != nil {
		panic(err)
	}
	fmt.Printf("key %x\n", key)
	fmt.Println(got.Format(s2))
	fmt.Println(string(s2.AppendJSON(nil, got)))
	// Output:
	// key 01800000000000002a
	// +I[42, Lisbon, 0]
	// {"order_id":42,"city":"Lisbon","refunds":0}
}

func ExampleCodec() {
	s := row.MustSchema([]row.Column{
		{Name: "id", Type: row.Int64},
		{Name: "name", Type: row.String, Nullable: true},
	}, []string{"id"}, 1)
	c, _ := row.NewCodec(row.FormatDebeziumJSON, s)
	rows, err := c.Decode(nil, row.Message{Value: []byte(`{"before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"},"op":"u"}`)})
	if err != nil {
		panic(err)
	}
	for _, r := range rows {
		fmt.Println(r.Format(s))
	}
	// Output:
	// -U[1, a]
	// +U[1, b]
}
