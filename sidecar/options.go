package sidecar

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Server. The zero value is a usable configuration:
// no authentication, defaults for every limit.
type Options struct {
	// Logger receives structured logs (one line per failed call at Warn,
	// per successful call at Debug; start and shutdown at Info). Nil
	// discards logs.
	Logger *slog.Logger

	// Registerer receives the server's Prometheus metrics (gRPC call
	// counters and latency histograms from go-grpc-middleware's provider,
	// plus cache and store metrics). Nil registers nothing.
	Registerer prometheus.Registerer

	// Jobs are the callers allowed to read, each with its bearer token, the
	// tables it may read and its rate limit. Empty disables authentication:
	// every caller may read every table (log a warning in production).
	Jobs []Job

	// MaxBatch is the largest number of keys accepted in one BatchLookup or
	// StreamLookup request; larger requests fail with InvalidArgument.
	// Zero means 1024.
	MaxBatch int

	// MaxAnswerBytes is the largest answer (one Lookup or BatchLookup
	// response, one StreamLookup message) the server sends; a larger one
	// fails with ResourceExhausted naming the limit. Keep it at or below
	// the clients' receive limit. Zero means 64 MiB, the default receive
	// limit of the Go, Python and Java clients.
	MaxAnswerBytes int

	// CallTimeout bounds every call: a call without a deadline, or with a
	// later one, gets this deadline. On StreamLookup it bounds each request
	// of the stream rather than the stream. Zero means 5s.
	CallTimeout time.Duration

	// CacheBytes bounds the read cache (rows of hot cold keys and negative
	// answers, keyed by table version). Zero means 64 MiB; negative
	// disables the cache.
	CacheBytes int64

	// NoNegativeCache disables caching of missing keys. Zero value
	// (false): missing keys are cached per version, like rows.
	NoNegativeCache bool

	// VersionCheckInterval is how long the server trusts the live version
	// of a table it last learned from the store before asking again
	// (Store.Describe). Zero checks on every call, so a lookup that starts
	// after a new version is published always answers from it; a positive
	// interval saves a Describe per call on remote stores at the cost of
	// answering from the previous version for up to that long after a
	// publish. Either way a call never mixes versions and, once a call has
	// answered from a new version, no later call answers from an older one.
	// Zero means check every call.
	VersionCheckInterval time.Duration

	// StreamConcurrency is how many requests of one StreamLookup stream
	// are served at the same time. Zero means 16.
	StreamConcurrency int

	// DrainTimeout is how long Run waits for in-flight calls to finish on
	// shutdown before cutting them off. An admin Load still running then is
	// cancelled and publishes nothing. Zero means 10s.
	DrainTimeout time.Duration

	// AdminToken turns on the admin service (hotcold.admin.v1.AdminService:
	// Load, ListVersions, Rollback), so that `hotcold load --sidecar` can
	// load the store this server holds open. Callers send it as
	// "authorization: Bearer <AdminToken>"; a job's token is refused with
	// PermissionDenied. It must differ from every job's token. The service
	// also needs a store that implements coldstore.Backend (Pebble, Redis);
	// over any other store it stays off and NewServer logs why. Admin calls
	// are not bounded by CallTimeout. Empty: no admin service (calls fail
	// with Unimplemented).
	AdminToken string

	// AdminInputRoots are the directories an admin Load may read Parquet
	// files under (symbolic links are resolved, both of the roots and of
	// the files, and must stay inside). A file outside is refused with
	// InvalidArgument before anything is read, with the same answer
	// whether it exists or not. Each must be an existing absolute
	// directory. Empty: admin Load refuses every call with
	// FailedPrecondition (ListVersions and Rollback still work).
	AdminInputRoots []string

	// ReadinessInterval is how often the server recomputes its readiness
	// (the gRPC health statuses) and freshness gauges from the store, see
	// TableHealthService. It is computed once in NewServer, then every
	// interval while serving. Zero means DefaultReadinessInterval (5s).
	ReadinessInterval time.Duration

	// AdminProgressInterval is the time between the progress events of an
	// admin Load stream (LoadSpec.ProgressInterval). Zero means 1s.
	AdminProgressInterval time.Duration
}

// DefaultMaxMessageBytes is the default answer limit of the server and
// receive limit of the clients: 64 MiB.
const DefaultMaxMessageBytes = 64 << 20

// Job is one caller identity: a Flink job or Go service with its token.
type Job struct {
	// Name identifies the job in logs and metrics. Required, unique.
	Name string
	// Token is the bearer token the job sends as
	// "authorization: Bearer <token>". Required, unique.
	Token string
	// Tables lists the tables the job may read; "*" grants every table.
	// Required (an empty list would grant nothing).
	Tables []string
	// RateLimit is the most requests per second the job may make (a
	// BatchLookup and each StreamLookup request count as one). Past it
	// calls fail with ResourceExhausted. Zero means unlimited.
	RateLimit float64
	// Burst is how many requests may exceed RateLimit momentarily. Zero
	// means max(1, RateLimit/10).
	Burst int
}

func (o *Options) withDefaults() Options {
	c := *o
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 1024
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 5 * time.Second
	}
	if c.MaxAnswerBytes == 0 {
		c.MaxAnswerBytes = DefaultMaxMessageBytes
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 64 << 20
	}
	if c.StreamConcurrency == 0 {
		c.StreamConcurrency = 16
	}
	if c.ReadinessInterval == 0 {
		c.ReadinessInterval = DefaultReadinessInterval
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 10 * time.Second
	}
	return c
}

// validate reports every problem of o in one error naming the fields.
func (o *Options) validate() error {
	var errs []error
	if o.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("MaxBatch %d: must be positive (or 0 for the default)", o.MaxBatch))
	}
	if o.MaxAnswerBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxAnswerBytes %d: must be positive (or 0 for the default)", o.MaxAnswerBytes))
	}
	if o.CallTimeout < 0 {
		errs = append(errs, fmt.Errorf("CallTimeout %v: must be positive (or 0 for the default)", o.CallTimeout))
	}
	if o.VersionCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("VersionCheckInterval %v: must not be negative", o.VersionCheckInterval))
	}
	if o.StreamConcurrency < 0 {
		errs = append(errs, fmt.Errorf("StreamConcurrency %d: must be positive (or 0 for the default)", o.StreamConcurrency))
	}
	if o.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("DrainTimeout %v: must be positive (or 0 for the default)", o.DrainTimeout))
	}
	if _, err := newInputRoots(o.AdminInputRoots); err != nil {
		errs = append(errs, err)
	}
	if o.ReadinessInterval < 0 {
		errs = append(errs, fmt.Errorf("ReadinessInterval %v: must be positive (or 0 for the default)", o.ReadinessInterval))
	}
	if o.AdminProgressInterval < 0 {
		errs = append(errs, fmt.Errorf("AdminProgressInterval %v: must be positive (or 0 for the default)", o.AdminProgressInterval))
	}
	names := map[string]int{}
	tokens := map[string]int{}
	for i, j := range o.Jobs {
		where := fmt.Sprintf("Jobs[%d]", i)
		if j.Name != "" {
			where = fmt.Sprintf("Jobs[%d] (%q)", i, j.Name)
		}
		if j.Name == "" {
			errs = append(errs, fmt.Errorf("%s: Name must be set", where))
		} else if p, dup := names[j.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: Name is also used by Jobs[%d]", where, p))
		} else {
			names[j.Name] = i
		}
		if j.Token == "" {
			errs = append(errs, fmt.Errorf("%s: Token must be set", where))
		} else if o.AdminToken != "" && subtle.ConstantTimeCompare([]byte(j.Token), []byte(o.AdminToken)) == 1 {
			errs = append(errs, fmt.Errorf("%s: Token is also the AdminToken; give the admin its own token", where))
		} else if p, dup := tokens[j.Token]; dup {
			errs = append(errs, fmt.Errorf("%s: Token is also used by Jobs[%d]; give every job its own token", where, p))
		} else {
			tokens[j.Token] = i
		}
		if len(j.Tables) == 0 {
			errs = append(errs, fmt.Errorf("%s: Tables must list the tables the job may read, or \"*\"", where))
		}
		for k, t := range j.Tables {
			if t == "" {
				errs = append(errs, fmt.Errorf("%s: Tables[%d] is empty", where, k))
			}
		}
		if j.RateLimit < 0 || math.IsNaN(j.RateLimit) || math.IsInf(j.RateLimit, 0) {
			errs = append(errs, fmt.Errorf("%s: RateLimit %v: must be a positive number of requests per second (or 0 for unlimited)", where, j.RateLimit))
		}
		if j.Burst < 0 {
			errs = append(errs, fmt.Errorf("%s: Burst %d: must not be negative", where, j.Burst))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sidecar: invalid options: %w", errors.Join(errs...))
	}
	return nil
}
