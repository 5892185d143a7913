package coldstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/hotcold/hotcold/coldstore"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRedisPoolLogsGoToTheLogger: go-redis's pool lines (a failed dial)
// reach the store's slog Logger, at Debug, not stderr.
func TestRedisPoolLogsGoToTheLogger(t *testing.T) {
	var buf lockedBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, err := coldstore.OpenRedis(context.Background(), &coldstore.RedisOptions{Addrs: []string{"127.0.0.1:1"}, Logger: logger})
	if err == nil {
		t.Fatal("OpenRedis of a closed port succeeded")
	}
	out := buf.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "go-redis: connection pool: failed to dial") {
		t.Fatalf("logger got:\n%s\nwant go-redis's dial failure at DEBUG", out)
	}
}
