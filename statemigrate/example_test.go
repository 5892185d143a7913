package statemigrate_test

import (
	"fmt"
	"os"

	"github.com/hotcold/hotcold/manifest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/statemigrate"
)

func ExampleNewPlan() {
	old, err := manifest.Parse("old.yaml", []byte(`
job: refunds
operators:
  - id: refunds_by_city
    kind: agg
    inputs: [refunds]
    output: refunds_by_city
    version: 1
    state:
      - namespace: refunds_by_city
        key: [city]
        columns:
          - {name: city, type: string}
          - {name: total, type: int64, nullable: true, agg: sum, arg: amount}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	// The new logic adds a metric.
	new := old.Clone()
	op := &new.Operators[0]
	op.Version = 2
	op.Tables[0].Columns = append(op.Tables[0].Columns, manifest.Column{Name: "refunds", Type: row.Int64, Agg: "count"})
	plan := statemigrate.NewPlan(old, new)
	fmt.Println(plan.Verdict, plan.Operators[0].Rewrite)
	plan.Format(os.Stdout)
	// Output:
	// migrate false
	// OPERATOR         KIND  VERDICT             ACTION    CHANGE
	// refunds_by_city  agg   migrate (metadata)  metadata  state refunds_by_city column refunds: aggregate count(*) added: it starts empty and counts from the migration point
	// refunds_by_city: hotcold migrate apply updates the manifest; the saved values are read as they are
	// overall: migrate: run hotcold migrate apply --state DIR --to NEW.yaml --out NEWDIR, then start the new job on NEWDIR
}
