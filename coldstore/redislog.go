package coldstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// go-redis logs through one process-wide logger (redis.SetLogger), by
// default straight to stderr, where its pool lines ("connection pool:
// failed to dial after 5 attempts") came before hotcold's own error. The
// first OpenRedis with a Logger installs redisLogger, which sends them to
// the Logger of the most recently opened store: dial and pool lines at
// Debug (the store's error says the same, naming what to do), others at
// Warn.
type redisLogger struct{ l atomic.Pointer[slog.Logger] }

var (
	redisLog     redisLogger
	redisLogOnce sync.Once
)

// routeRedisLogs sends go-redis's logs to l (nil: keep the current one).
func routeRedisLogs(l *slog.Logger) {
	if l == nil {
		return
	}
	redisLog.l.Store(l)
	redisLogOnce.Do(func() { redis.SetLogger(&redisLog) })
}

// Printf implements go-redis's internal.Logging.
func (r *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l := r.l.Load()
	if l == nil {
		return
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	level := slog.LevelWarn
	if strings.Contains(msg, "connection pool") || strings.Contains(msg, "dial") {
		level = slog.LevelDebug
	}
	l.Log(ctx, level, "go-redis: "+strings.TrimPrefix(msg, "redis: "))
}
