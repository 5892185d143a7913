package mock_test

import (
	"fmt"

	"github.com/hotcold/hotcold/mock"
	"github.com/hotcold/hotcold/row"
)

// A changelog merged with a primary key: +U upserts, -U is ignored, -D
// deletes by key even when it carries only the key.
func ExampleTable() {
	s := row.MustSchema([]row.Column{
		{Name: "id", Type: row.Int64},
		{Name: "name", Type: row.String, Nullable: true},
	}, []string{"id"}, 1)
	t := mock.NewTable(s)
	for _, r := range []row.Row{
		{Kind: row.Insert, Values: []row.Value{row.Int64Value(1), row.StringValue("a")}},
		{Kind: row.Insert, Values: []row.Value{row.Int64Value(2), row.StringValue("b")}},
		{Kind: row.UpdateBefore, Values: []row.Value{row.Int64Value(1), row.StringValue("a")}},
		{Kind: row.UpdateAfter, Values: []row.Value{row.Int64Value(1), row.StringValue("a2")}},
		{Kind: row.Delete, Values: []row.Value{row.Int64Value(2), row.NullValue()}},
	} {
		t.Apply(r)
	}
	for _, r := range t.Rows() {
		fmt.Println(r.Format(s))
	}
	// Output:
	// +I[1, a2]
}

// Comparing tables reports missing, unexpected and changed rows, column by
// column.
func ExampleCompare() {
	s := row.MustSchema([]row.Column{
		{Name: "id", Type: row.Int64},
		{Name: "amount", Type: row.Decimal(10, 2), Nullable: true},
	}, []string{"id"}, 1)
	parse := func(js string) row.Row {
		var r row.Row
		if err := s.RowFromJSON([]byte(js), &r); err != nil {
			panic(err)
		}
		return r.Clone()
	}
	expected := []row.Row{parse(`{"id":1,"amount":"10.00"}`), parse(`{"id":2,"amount":"5"}`)}
	actual := []row.Row{parse(`{"id":1,"amount":"9.99"}`), parse(`{"id":3,"amount":"1"}`)}
	fmt.Print(mock.Compare(s, expected, actual, mock.CompareOptions{}))
	// Output:
	// expected 2 rows, got 2: 1 missing, 1 unexpected, 1 changed
	// missing (expected, not produced):
	//   - {"id":2,"amount":5.00}
	// unexpected (produced, not expected):
	//   + {"id":3,"amount":1.00}
	// changed:
	//   ~ id=1
	//       amount: expected 10.00, got 9.99
}
