package agg_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hotcold/hotcold/agg"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// TestOperatorEqualsBruteForce feeds random changelogs (accumulations and
// retractions of earlier rows, nulls, restarts) and checks that the table
// merged from the output changelog equals the aggregates recomputed from
// the rows currently in each group.
func TestOperatorEqualsBruteForce(t *testing.T) {
	in := row.MustSchema([]row.Column{
		{Name: "g", Type: row.String},
		{Name: "v", Type: row.Int64, Nullable: true},
	}, nil, 1)
	cfg := agg.Config{ID: "p", Input: in, InputName: "in", OutputName: "out", GroupBy: []string{"g"},
		Aggregates: []agg.Aggregate{
			{Name: "n", Func: agg.Count}, {Name: "nv", Func: agg.Count, Arg: "v"}, {Name: "s", Func: agg.Sum, Arg: "v"},
			{Name: "lo", Func: agg.Min, Arg: "v"}, {Name: "hi", Func: agg.Max, Arg: "v"}, {Name: "a", Func: agg.Avg, Arg: "v"},
		}}
	for seed := uint64(0); seed < 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			dir := t.TempDir()
			db, err := state.Open(dir, state.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			op, err := agg.New(db, cfg)
			if err != nil {
				t.Fatal(err)
			}
			live := map[string][]row.Value{} // rows per group
			table := map[string]row.Row{}
			for i := 0; i < 400; i++ {
				g := fmt.Sprint("g", rng.IntN(4))
				var r row.Row
				if vs := live[g]; len(vs) > 0 && rng.IntN(3) == 0 {
					j := rng.IntN(len(vs))
					r = row.Row{Kind: []row.Kind{row.UpdateBefore, row.Delete}[rng.IntN(2)], Values: []row.Value{row.StringValue(g), vs[j]}}
					live[g] = slices.Delete(vs, j, j+1)
				} else {
					v := row.Int64Value(int64(rng.IntN(10)))
					if rng.IntN(5) == 0 {
						v = row.NullValue()
					}
					r = row.Row{Kind: []row.Kind{row.Insert, row.UpdateAfter}[rng.IntN(2)], Values: []row.Value{row.StringValue(g), v}}
					live[g] = append(live[g], v)
				}
				out, err := op.Process(nil, r)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range out {
					k := o.Values[0].Str()
					switch o.Kind {
					case row.Insert, row.UpdateAfter:
						if _, ok := table[k]; ok {
							t.Fatalf("%s for a group already in the table", o.Format(op.OutputSchema()))
						}
						table[k] = o
					default:
						if cur, ok := table[k]; !ok || !cur.Equal(o) {
							t.Fatalf("%s retracts %v", o.Format(op.OutputSchema()), cur)
						}
						delete(table, k)
					}
				}
				if rng.IntN(50) == 0 {
					// Commit and restart.
					if err := db.Commit(); err != nil {
						t.Fatal(err)
					}
					db.Close()
					if db, err = state.Open(dir, state.Options{NoSync: true}); err != nil {
						t.Fatal(err)
					}
					if op, err = agg.New(db, cfg); err != nil {
						t.Fatal(err)
					}
				}
			}
			db.Close()
			for g, vs := range live {
				got, ok := table[g]
				if len(vs) == 0 {
					if ok {
						t.Fatalf("empty group %s still in the table: %v", g, got)
					}
					continue
				}
				want := bruteForce(g, vs)
				if !ok || !got.Equal(want) {
					t.Fatalf("group %s: got %s, want %s", g, got.Format(op.OutputSchema()), want.Format(op.OutputSchema()))
				}
			}
		})
	}
}

func bruteForce(g string, vs []row.Value) row.Row {
	var nv, sum int64
	lo, hi := row.NullValue(), row.NullValue()
	for _, v := range vs {
		if v.IsNull() {
			continue
		}
		nv++
		sum += v.Int64()
		if lo.IsNull() || v.Int64() < lo.Int64() {
			lo = v
		}
		if hi.IsNull() || v.Int64() > hi.Int64() {
			hi = v
		}
	}
	s, a := row.NullValue(), row.NullValue()
	if nv > 0 {
		s, a = row.Int64Value(sum), row.Float64Value(float64(sum)/float64(nv))
	}
	return row.New(row.StringValue(g), row.Int64Value(int64(len(vs))), row.Int64Value(nv), s, lo, hi, a)
}
