package sidecar

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// invalidArg returns an InvalidArgument status whose message starts with
// the offending field ("keys[3].key.values: ...") and which carries a
// google.rpc.BadRequest detail naming the field for programmatic clients.
func invalidArg(field, format string, args ...any) error {
	desc := fmt.Sprintf(format, args...)
	st := status.New(codes.InvalidArgument, field+": "+desc)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}}); err == nil {
		st = d
	}
	return st.Err()
}

// fieldError is a request problem found before the table's schema is
// known: the go-grpc-middleware validator turns it into InvalidArgument
// with the message "field: what is wrong".
type fieldError struct{ field, desc string }

func (e *fieldError) Error() string { return e.field + ": " + e.desc }

// status is the InvalidArgument status of e with its BadRequest detail.
func (e *fieldError) status() error { return invalidArg(e.field, "%s", e.desc) }

// Validate implements the go-grpc-middleware validator's interface: the
// schema-independent checks of a Lookup (key arity and types need the
// table's schema and are checked when the key is converted).
func (r *lookupRequest) Validate() error {
	if err := validateLookup(r); err != nil {
		return err
	}
	return nil
}

// Validate implements the go-grpc-middleware validator's interface (see
// lookupRequest.Validate).
func (r *batchRequest) Validate() error {
	if err := validateBatch(r.table, r.refs, r.maxBatch); err != nil {
		return err
	}
	return nil
}

// validateLookup checks a Lookup request.
func validateLookup(r *lookupRequest) *fieldError {
	switch {
	case r.table == "":
		return &fieldError{"table", "must not be empty"}
	case r.n == 0:
		return &fieldError{"key.values", "must not be empty: give the key column values in key order"}
	}
	return nil
}

// validateBatch checks a BatchLookup or StreamLookup request.
func validateBatch(table string, keys []keyRef, maxBatch int) *fieldError {
	if len(keys) > maxBatch {
		return &fieldError{"keys", fmt.Sprintf("%d keys is over the maximum batch size of %d: split the batch", len(keys), maxBatch)}
	}
	for i, k := range keys {
		if k.table == "" && table == "" {
			return &fieldError{fmt.Sprintf("keys[%d].table", i), "must not be empty when the request has no default table"}
		}
		if k.n == 0 {
			return &fieldError{fmt.Sprintf("keys[%d].key.values", i), "must not be empty: give the key column values in key order"}
		}
	}
	return nil
}

// deadlineUnary gives every unary call a deadline of at most CallTimeout.
func (s *Server) deadlineUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > s.opts.CallTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.opts.CallTimeout)
		defer cancel()
	}
	return handler(ctx, req)
}

func slogLevel(l logging.Level) slog.Level { return slog.Level(l) }
