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

// Changes are compared key by key: in order within a key, in any order
// across keys. A job that forgets the -U before its +U diverges there.
func ExampleCompareChangelog() {
	s := row.MustSchema([]row.Column{
		{Name: "user_id", Type: row.Int64},
		{Name: "total", Type: row.Int64, Nullable: true},
	}, []string{"user_id"}, 1)
	change := func(k row.Kind, user, total int64) row.Row {
		return row.Row{Kind: k, Values: []row.Value{row.Int64Value(user), row.Int64Value(total)}}
	}
	expected := []row.Row{
		change(row.Insert, 7, 10), change(row.UpdateBefore, 7, 10), change(row.UpdateAfter, 7, 15),
		change(row.Insert, 8, 3),
	}
	actual := []row.Row{
		change(row.Insert, 8, 3), // another key first: fine
		change(row.Insert, 7, 10), change(row.UpdateAfter, 7, 15),
	}
	fmt.Print(mock.CompareChangelog(s, expected, actual, mock.CompareOptions{}))
	// Output:
	// changelog: expected 4 changes of 2 keys, got 3 changes of 2 keys: 1 diverged, 0 missing, 0 unexpected
	// diverged (first difference per key):
	//   ~ user_id=7 at change 2 (3 expected, 2 received):
	//       expected -U {"user_id":7,"total":10}
	//       got      +U {"user_id":7,"total":15}
}
