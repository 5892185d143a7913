package sample_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/sample"
	"github.com/hotcold/hotcold/row"
)

func TestOrdersHoldEveryIDOnceOnTheirDayAndAreReproducible(t *testing.T) {
	day := time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)
	o := sample.Orders{Rows: 1000, First: 100, Day: day, Seed: 7}
	var a, b bytes.Buffer
	if err := sample.WriteOrders(context.Background(), &a, o); err != nil {
		t.Fatal(err)
	}
	if err := sample.WriteOrders(context.Background(), &b, o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same Orders wrote different files")
	}
	p := filepath.Join(t.TempDir(), "orders.parquet")
	if err := os.WriteFile(p, a.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := coldstore.OpenParquet(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if !src.Schema().Equal(sample.OrdersSchema) {
		t.Fatalf("schema %v", src.Schema())
	}
	seen := map[int64]bool{}
	start, end := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).UnixMilli(), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).UnixMilli()
	shuffled := false
	for i := int64(0); ; i++ {
		var r row.Row
		err := src.Next(context.Background(), &r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		id := r.Values[0].Int64()
		if id < 100 || id >= 1100 || seen[id] {
			t.Fatalf("order_id %d out of range or repeated", id)
		}
		seen[id] = true
		shuffled = shuffled || id != 100+i
		if ts := r.Values[4].Int64(); ts < start || ts >= end {
			t.Fatalf("created_at %d not on 2026-11-22", ts)
		}
	}
	if len(seen) != 1000 || !shuffled {
		t.Fatalf("%d ids, shuffled %v", len(seen), shuffled)
	}
}

func TestOrdersRefuseARowCountOutOfRange(t *testing.T) {
	err := sample.WriteOrders(context.Background(), &bytes.Buffer{}, sample.Orders{Rows: -1})
	if err == nil || !strings.Contains(err.Error(), "want 0 to 2147483648") {
		t.Fatalf("err %v", err)
	}
}
