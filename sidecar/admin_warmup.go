package sidecar

import (
	"context"
	"log/slog"
	"time"

	"github.com/hotcold/hotcold/coldstore"
)

// WarmUp pins the live version of every table of store in memory
// ((*coldstore.Pebble).Pin), so that the first lookups of each table do
// not pay for building its pinned copy. Tables that do not fit in what is
// left of the store's pin memory stay read through Pebble.
//
// It is meant to run in the background while the server already serves:
// lookups work meanwhile (through Pebble). It logs one line with how many
// tables were pinned and returns that count and the number of tables. A
// table that fails to pin is logged and skipped; the error is only that
// of listing the tables, or ctx's when it ends first. logger nil discards
// the logs.
func WarmUp(ctx context.Context, store *coldstore.Pebble, logger *slog.Logger) (pinned, tables int, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	infos, err := store.Tables(ctx)
	if err != nil {
		logger.Warn("sidecar warm-up: cannot list the tables; they are pinned on first use instead", "error", err)
		return 0, 0, err
	}
	var unpinned []string
	for _, ti := range infos {
		ok, err := store.Pin(ctx, ti.Name)
		if err != nil {
			if ctx.Err() != nil {
				return pinned, len(infos), ctx.Err()
			}
			logger.Warn("sidecar warm-up: cannot pin a table; it is read through Pebble", "table", ti.Name, "error", err)
			unpinned = append(unpinned, ti.Name)
			continue
		}
		if ok {
			pinned++
		} else {
			unpinned = append(unpinned, ti.Name)
		}
	}
	attrs := []any{"pinned", pinned, "tables", len(infos), "seconds", time.Since(start).Seconds()}
	if len(unpinned) > 0 {
		attrs = append(attrs, "not_pinned", unpinned, "hint", "raise the pin memory (?pin= in the store URL) to pin them")
	}
	logger.Info("sidecar warm-up: pinned tables in memory", attrs...)
	return pinned, len(infos), nil
}
