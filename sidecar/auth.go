package sidecar

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// job is the runtime form of a Job.
type job struct {
	name    string
	all     bool
	tables  map[string]bool
	limiter *rate.Limiter // nil: unlimited
}

func (j *job) mayRead(table string) bool { return j.all || j.tables[table] }

// authority maps tokens to jobs. A nil authority authenticates nobody and
// allows everything (authentication disabled).
type authority struct {
	byToken map[[sha256.Size]byte]*job
}

func newAuthority(jobs []Job) *authority {
	if len(jobs) == 0 {
		return nil
	}
	a := &authority{byToken: make(map[[sha256.Size]byte]*job, len(jobs))}
	for _, j := range jobs {
		rj := &job{name: j.Name, tables: map[string]bool{}}
		for _, t := range j.Tables {
			if t == "*" {
				rj.all = true
			}
			rj.tables[t] = true
		}
		if j.RateLimit > 0 {
			burst := j.Burst
			if burst == 0 {
				burst = int(math.Max(1, j.RateLimit/10))
			}
			rj.limiter = rate.NewLimiter(rate.Limit(j.RateLimit), burst)
		}
		// Tokens are looked up by their hash so that the lookup time does
		// not depend on how much of a guessed token matches.
		a.byToken[sha256.Sum256([]byte(j.Token))] = rj
	}
	return a
}

type jobKey struct{}

// jobFrom returns the authenticated job of a call, or nil when
// authentication is disabled.
func jobFrom(ctx context.Context) *job {
	j, _ := ctx.Value(jobKey{}).(*job)
	return j
}

// authenticate is the auth middleware's AuthFunc: it resolves the bearer
// token to a job.
func (a *authority) authenticate(ctx context.Context) (context.Context, error) {
	if a == nil {
		return ctx, nil
	}
	tok, err := auth.AuthFromMD(ctx, "bearer")
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, "missing credentials: send the metadata \"authorization: Bearer <token>\" with the token of your job")
	}
	j, ok := a.byToken[sha256.Sum256([]byte(tok))]
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "unknown token: check the token of your job against the sidecar's jobs config")
	}
	return context.WithValue(ctx, jobKey{}, j), nil
}

// authorize checks that the caller may read table.
func authorize(ctx context.Context, table string) error {
	j := jobFrom(ctx)
	if j == nil || j.mayRead(table) {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "job %q may not read table %q: add it to the job's tables in the sidecar config", j.name, table)
}

// mayList reports whether the caller may see table in ListTables.
func mayList(ctx context.Context, table string) bool {
	j := jobFrom(ctx)
	return j == nil || j.mayRead(table)
}

// jobLimiter implements the ratelimit middleware's Limiter with one token
// bucket per job.
type jobLimiter struct{}

func (jobLimiter) Limit(ctx context.Context) error { return limit(ctx) }

func limit(ctx context.Context) error {
	j := jobFrom(ctx)
	if j == nil || j.limiter == nil {
		return nil
	}
	if !j.limiter.Allow() {
		return fmt.Errorf("job %q is over its rate limit of %g requests/s (burst %d); slow down or batch more keys per request", j.name, float64(j.limiter.Limit()), j.limiter.Burst())
	}
	return nil
}
