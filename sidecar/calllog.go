package sidecar

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// logUnary logs each finished unary call as go-grpc-middleware's logging
// interceptor does (the same message and field names, OK at Debug, other
// codes at that interceptor's default server levels), but builds the
// fields only when the logger takes the call's level: at the default
// levels a successful Lookup costs one context value and no formatting.
// The job of an authenticated call is added by the auth function through
// the callLog it finds in the context.
func logUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		cl := &callLog{}
		resp, err := handler(context.WithValue(ctx, callLogKey{}, cl), req)
		code := status.Code(err)
		lvl := slog.LevelDebug
		if err != nil {
			lvl = slogLevel(logging.DefaultServerCodeToLevel(code))
		}
		if !log.Enabled(ctx, lvl) {
			return resp, err
		}
		service, method := splitMethod(info.FullMethod)
		fields := []any{
			"protocol", "grpc", "grpc.component", "server", "grpc.service", service, "grpc.method", method,
			"grpc.method_type", "unary", "grpc.start_time", start.Format(time.RFC3339),
		}
		if d, ok := ctx.Deadline(); ok {
			fields = append(fields, "grpc.request.deadline", d.Format(time.RFC3339))
		}
		if cl.job != "" {
			fields = append(fields, "job", cl.job)
		}
		fields = append(fields, "grpc.code", code.String())
		if err != nil {
			fields = append(fields, "grpc.error", err.Error())
		}
		fields = append(fields, "grpc.time_ms", float64(time.Since(start).Microseconds())/1000)
		log.Log(ctx, lvl, "finished call", fields...)
		return resp, err
	}
}

// callLog collects what inner interceptors add to a call's log line.
type callLog struct{ job string }

type callLogKey struct{}

// addJobToLog names the call's job in its log line (unary calls through
// logUnary, streams through the logging middleware).
func addJobToLog(ctx context.Context, job string) {
	if cl, ok := ctx.Value(callLogKey{}).(*callLog); ok {
		cl.job = job
		return
	}
	logging.AddFields(ctx, logging.Fields{"job", job})
}

func splitMethod(full string) (service, method string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", full
}
