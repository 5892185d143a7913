package row_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/hotcold/hotcold/row"
)

func TestArrowRecordRoundTrips(t *testing.T) {
	s := allTypesSchema(t)
	rng := rand.New(rand.NewPCG(11, 12))
	rows := make([]row.Row, 300)
	for i := range rows {
		rows[i] = randRow(rng, s)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec, err := s.RowsToRecord(mem, rows)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if err := s.CheckArrow(rec.Schema()); err != nil {
		t.Fatal(err)
	}
	got, err := s.RecordToRows(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if !got[i].Equal(rows[i]) {
			t.Fatalf("row %d: got %v want %v", i, got[i], rows[i])
		}
	}
	// a slice of the record reads the right rows
	sl := rec.NewSlice(100, 110)
	defer sl.Release()
	var r row.Row
	if err := s.RowFromRecord(sl, 3, &r); err != nil || !r.Equal(rows[103]) {
		t.Fatalf("slice row: %v %v", r, err)
	}
}

func TestCheckArrowNamesTheDifferingField(t *testing.T) {
	s := row.MustSchema([]row.Column{{Name: "id", Type: row.Int64}, {Name: "amount", Type: row.Float64, Nullable: true}}, nil, 1)
	as := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "amount", Type: arrow.BinaryTypes.String}}, nil)
	if err := s.CheckArrow(as); err == nil || !strings.Contains(err.Error(), `"amount"`) {
		t.Fatalf("got %v", err)
	}
}
