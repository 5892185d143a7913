package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/internal/progress"
	"github.com/hotcold/hotcold/row"
)

// ColdLoad reports the warehouse export and the bulk load of the cold
// store.
type ColdLoad struct {
	// Days is the number of days exported (the days before the hot
	// window), Files the Parquet partitions written and FileBytes their
	// size.
	Days      int   `json:"days"`
	Files     int   `json:"files"`
	FileBytes int64 `json:"file_bytes"`
	// ExportSeconds is the time to write the Parquet files.
	ExportSeconds float64 `json:"export_seconds"`
	// Rows is the number of orders loaded; LoadSeconds the time of the
	// load (read, sort, write sstables, ingest, publish).
	Rows        int64   `json:"rows"`
	LoadSeconds float64 `json:"load_seconds"`
	// StoreBytes is the cold store's size on disk: one copy shared by
	// every job that reads it.
	StoreBytes int64 `json:"store_bytes"`
	// Version is the published version; CoversUntil its covers-until
	// watermark (the start of the hot window).
	Version     string    `json:"version"`
	CoversUntil time.Time `json:"covers_until"`
}

// exportOrders writes the orders of each day before coversUntil as a
// warehouse export would: dir/orders/dt=YYYY-MM-DD/part-0.parquet. It
// returns the file paths.
func exportOrders(ctx context.Context, dir string, w *Workload, coldDays int, report func(progress.Event)) ([]string, int64, error) {
	st := newStep(report, "export parquet", "files", int64(coldDays))
	var paths []string
	var size int64
	i := 0
	for d := 0; d < coldDays; d++ {
		end := w.DayStart(d + 1)
		var rows []row.Row
		for ; i < len(w.Orders) && w.Orders[i].At.Before(end); i++ {
			rows = append(rows, w.Orders[i].Row())
		}
		p := filepath.Join(dir, "orders", "dt="+w.DayStart(d).Format(time.DateOnly), "part-0.parquet")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, 0, err
		}
		if err := coldstore.WriteParquet(ctx, p, OrdersSchema, rows, nil); err != nil {
			return nil, 0, fmt.Errorf("export %s: %w", p, err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, 0, err
		}
		size += fi.Size()
		paths = append(paths, p)
		st.set(int64(d + 1))
	}
	st.finish(int64(coldDays))
	return paths, size, nil
}

// loadCold bulk-loads the exported files into the Pebble cold store as one
// version of table orders covering everything before coversUntil.
func loadCold(ctx context.Context, store *coldstore.Pebble, paths []string, version string, coversUntil time.Time, report func(progress.Event)) (coldstore.LoadResult, error) {
	src, err := coldstore.OpenParquet(ctx, paths...)
	if err != nil {
		return coldstore.LoadResult{}, err
	}
	defer src.Close()
	st := newStep(report, "load cold store", "rows", src.Rows())
	res, err := store.Load(ctx, coldstore.LoadSpec{
		Table:            "orders",
		Version:          version,
		Key:              []string{"order_id"},
		CoversUntil:      coversUntil,
		Source:           src,
		ProgressInterval: throttle,
		Progress:         func(p coldstore.LoadProgress) { st.set(p.Rows) },
	})
	if err != nil {
		return res, err
	}
	st.finish(res.Rows + res.Duplicates)
	return res, nil
}

// dirSize returns the total size of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
