package agg_test

import (
	"fmt"
	"os"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// Sum refunds per city over a changelog: every input row updates its
// group's aggregates and emits the group's retraction (-U) and new value
// (+U); a retracted input row (-D) takes its amount back out.
func Example() {
	dir, err := os.MkdirTemp("", "agg-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	db, err := state.Open(dir, state.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()

	refunds := row.MustSchema([]row.Column{
		{Name: "city", Type: row.String},
		{Name: "amount", Type: row.Int64},
	}, nil, 1)
	op, err := agg.New(db, agg.Config{
		ID: "refunds_by_city", Input: refunds, InputName: "refunds", OutputName: "refunds_by_city",
		GroupBy: []string{"city"},
		Aggregates: []agg.Aggregate{
			{Name: "refunds", Func: agg.Count},
			{Name: "total", Func: agg.Sum, Arg: "amount"},
		},
	})
	if err != nil {
		panic(err)
	}
	in := func(k row.Kind, city string, amount int64) row.Row {
		r := row.New(row.StringValue(city), row.Int64Value(amount))
		r.Kind = k
		return r
	}
	for _, r := range []row.Row{
		in(row.Insert, "berlin", 10),
		in(row.Insert, "berlin", 5),
		in(row.Insert, "paris", 7),
		in(row.Delete, "berlin", 10),
	} {
		out, err := op.Process(nil, r)
		if err != nil {
			panic(err)
		}
		for _, o := range out {
			fmt.Println(o.Format(op.OutputSchema()))
		}
	}
	if err := db.Commit(); err != nil {
		panic(err)
	}
	// Output:
	// +I[berlin, 1, 10]
	// -U[berlin, 1, 10]
	// +U[berlin, 2, 15]
	// +I[paris, 1, 7]
	// -U[berlin, 2, 15]
	// +U[berlin, 1, 5]
}

// The aggregate functions, in the order the documentation lists them.
func ExampleFuncs() {
	fmt.Println(agg.Funcs())
	// Output:
	// [count sum min max avg first_value last_value]
}
