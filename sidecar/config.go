package sidecar

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hotcold/hotcold/internal/bytesize"
	"github.com/hotcold/hotcold/internal/yamlerr"
)

// Config is the sidecar's configuration file (YAML), as read by
// `hotcold serve --config`. Flags given on the command line override it.
// See sidecar/testdata/sidecar.yaml for a commented example.
type Config struct {
	// Listen is the host:port of the gRPC API over TCP, e.g. ":7070".
	Listen string `yaml:"listen"`
	// Unix is the path of a unix-domain socket for the gRPC API.
	Unix string `yaml:"unix"`
	// UnixMode is the octal file mode of the socket, e.g. "0660"; empty
	// leaves the umask's.
	UnixMode string `yaml:"unix_mode"`
	// MetricsListen is the host:port of the HTTP /metrics endpoint.
	MetricsListen string `yaml:"metrics_listen"`
	// Store is the cold store URL, e.g. "pebble:/var/lib/hotcold/cold" or
	// "redis://localhost:6379/0".
	Store string `yaml:"store"`
	// MaxBatch is the largest batch accepted (Options.MaxBatch).
	MaxBatch int `yaml:"max_batch"`
	// MaxAnswerBytes is the largest answer sent (Options.MaxAnswerBytes),
	// e.g. "64MiB".
	MaxAnswerBytes ByteSize `yaml:"max_answer_bytes"`
	// CallTimeout bounds every call (Options.CallTimeout), e.g. "5s".
	CallTimeout time.Duration `yaml:"call_timeout"`
	// DrainTimeout bounds the graceful shutdown (Options.DrainTimeout).
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// ReadinessInterval is how often readiness (the gRPC health status)
	// and the freshness gauges are recomputed (Options.ReadinessInterval),
	// e.g. "5s".
	ReadinessInterval time.Duration `yaml:"readiness_interval"`
	// StreamConcurrency is Options.StreamConcurrency.
	StreamConcurrency int `yaml:"stream_concurrency"`
	// Cache configures the read cache.
	Cache CacheConfig `yaml:"cache"`
	// Jobs are the callers and what they may read. Empty: no
	// authentication.
	Jobs []JobConfig `yaml:"jobs"`
	// Admin turns on the admin service (Options.AdminToken), through which
	// `hotcold load --sidecar` loads, lists and rolls back versions of the
	// store while the sidecar serves it. Absent: no admin service.
	Admin *AdminConfig `yaml:"admin"`
	// TLS turns on TLS for the TCP listener (the unix socket stays
	// plaintext). Absent: plaintext, with a warning when listen is not a
	// loopback address.
	TLS *TLSConfig `yaml:"tls"`

	file string
	root *yaml.Node
}

// CacheConfig configures the read cache.
type CacheConfig struct {
	// Size bounds the cache: bytes, or with a unit ("64MiB", "1GB").
	Size ByteSize `yaml:"size"`
	// Disabled turns the cache off.
	Disabled bool `yaml:"disabled"`
	// NoNegative turns off caching of missing keys.
	NoNegative bool `yaml:"no_negative"`
	// VersionCheckInterval is Options.VersionCheckInterval, e.g. "1s".
	VersionCheckInterval time.Duration `yaml:"version_check_interval"`
}

// JobConfig is one job of the config file. Give the token in exactly one
// of token, token_env (the name of an environment variable holding it) or
// token_file (a file holding it; surrounding whitespace is ignored).
type JobConfig struct {
	Name      string   `yaml:"name"`
	Token     string   `yaml:"token"`
	TokenEnv  string   `yaml:"token_env"`
	TokenFile string   `yaml:"token_file"`
	Tables    []string `yaml:"tables"`
	// RateLimit is in requests per second; 0 is unlimited.
	RateLimit float64 `yaml:"rate_limit"`
	Burst     int     `yaml:"burst"`
}

// AdminConfig is the admin section of the config file. Give the admin
// token in exactly one of token, token_env (the name of an environment
// variable holding it) or token_file (a file holding it; surrounding
// whitespace is ignored). It must differ from every job's token.
type AdminConfig struct {
	Token     string `yaml:"token"`
	TokenEnv  string `yaml:"token_env"`
	TokenFile string `yaml:"token_file"`
	// InputRoots are the directories admin Load may read files under
	// (Options.AdminInputRoots). Empty: admin Load refuses every file.
	InputRoots []string `yaml:"input_roots"`
}

// TLSConfig is the tls section of the config file (see TLSFiles).
type TLSConfig struct {
	// CertFile and KeyFile are the server's PEM certificate chain and key,
	// read again when they change. Both required.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, when set, requires clients to present a certificate
	// signed by one of its CAs (mutual TLS).
	ClientCAFile string `yaml:"client_ca_file"`
}

// ServerTLS returns the TLS configuration of the TCP listener (nil when
// the config has no tls section), reading the files; errors name the
// config line of the file that fails.
func (c *Config) ServerTLS() (*tls.Config, error) {
	if c.TLS == nil {
		return nil, nil
	}
	cfg, err := ServerTLS(TLSFiles{CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile, ClientCAFile: c.TLS.ClientCAFile})
	if err != nil {
		return nil, c.errorAt([]any{"tls"}, strings.TrimPrefix(err.Error(), "tls: "))
	}
	return cfg, nil
}

// LoadConfig reads and parses a config file (see ParseConfig).
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("sidecar config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig parses a YAML config; name (the file name) prefixes errors.
// Unknown fields and values of the wrong type are errors naming the line.
// It does not check the config as a whole: call Validate once flags have
// been applied.
func ParseConfig(data []byte, name string) (Config, error) {
	var c Config
	root, err := yamlerr.Parse(name, data)
	if err != nil {
		return Config{}, fmt.Errorf("invalid sidecar config:\n%w", err)
	}
	if n := root; n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		es := &yamlerr.Errors{}
		yamlerr.DecodeNode(name, n.Content[0], "", &c, es)
		if err := es.Err(); err != nil {
			return Config{}, fmt.Errorf("invalid sidecar config:\n%w", err)
		}
	}
	c.file, c.root = name, root
	return c, nil
}

// Validate reports every problem of the config in one error, each naming
// the file, line (when known) and field.
func (c *Config) Validate() error {
	var errs []error
	add := func(path []any, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", c.where(path), fmt.Sprintf(format, args...)))
	}
	if c.Listen == "" && c.Unix == "" {
		add(nil, "set listen (host:port) or unix (a socket path), in the file or with --listen / --unix")
	}
	if c.Store == "" {
		add(nil, "set store (e.g. pebble:/var/lib/hotcold/cold), in the file or with --store")
	}
	if c.UnixMode != "" {
		if _, err := c.SocketMode(); err != nil {
			add([]any{"unix_mode"}, "%v", err)
		}
	}
	if c.MaxBatch < 0 {
		add([]any{"max_batch"}, "must be positive")
	}
	if c.CallTimeout < 0 {
		add([]any{"call_timeout"}, "must be positive")
	}
	if c.MaxAnswerBytes < 0 || c.MaxAnswerBytes > math.MaxInt32 {
		add([]any{"max_answer_bytes"}, "must be a size from 1B to 2GiB")
	}
	if c.DrainTimeout < 0 {
		add([]any{"drain_timeout"}, "must be positive")
	}
	if c.ReadinessInterval < 0 {
		add([]any{"readiness_interval"}, "must be positive")
	}
	if c.StreamConcurrency < 0 {
		add([]any{"stream_concurrency"}, "must be positive")
	}
	if c.Cache.Size < 0 {
		add([]any{"cache", "size"}, "must be positive (use disabled: true to turn the cache off)")
	}
	if c.Cache.VersionCheckInterval < 0 {
		add([]any{"cache", "version_check_interval"}, "must not be negative")
	}
	names := map[string]int{}
	for i, j := range c.Jobs {
		p := func(f string) []any { return []any{"jobs", i, f} }
		if j.Name == "" {
			add(p("name"), "must be set")
		} else if prev, dup := names[j.Name]; dup {
			add(p("name"), "%q is also the name of jobs[%d]", j.Name, prev)
		} else {
			names[j.Name] = i
		}
		n := 0
		for _, s := range []string{j.Token, j.TokenEnv, j.TokenFile} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			add([]any{"jobs", i}, "job %q: give the token in exactly one of token, token_env or token_file", j.Name)
		}
		if len(j.Tables) == 0 {
			add(p("tables"), "job %q: list the tables it may read, or \"*\" for all", j.Name)
		}
		for k, t := range j.Tables {
			if t == "" {
				add([]any{"jobs", i, "tables", k}, "empty table name")
			}
		}
		if j.RateLimit < 0 || math.IsNaN(j.RateLimit) || math.IsInf(j.RateLimit, 0) {
			add(p("rate_limit"), "must be a positive number of requests per second (0 for unlimited)")
		}
		if j.Burst < 0 {
			add(p("burst"), "must not be negative")
		}
	}
	if a := c.Admin; a != nil {
		n := 0
		for _, s := range []string{a.Token, a.TokenEnv, a.TokenFile} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			add([]any{"admin"}, "give the admin token in exactly one of token, token_env or token_file (or --admin-token-file)")
		}
		for i, r := range a.InputRoots {
			if !filepath.IsAbs(r) {
				add([]any{"admin", "input_roots", i}, "%q: give an absolute directory", r)
			} else if fi, err := os.Stat(r); err != nil || !fi.IsDir() {
				add([]any{"admin", "input_roots", i}, "%q is not an existing directory", r)
			}
		}
	}
	if t := c.TLS; t != nil {
		if t.CertFile == "" {
			add([]any{"tls"}, "set cert_file (the server certificate, PEM), or --tls-cert")
		}
		if t.KeyFile == "" {
			add([]any{"tls"}, "set key_file (the server private key, PEM), or --tls-key")
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid sidecar config:\n%w", errors.Join(errs...))
	}
	return nil
}

// SocketMode parses UnixMode (0 when empty).
func (c *Config) SocketMode() (os.FileMode, error) {
	if c.UnixMode == "" {
		return 0, nil
	}
	m, err := strconv.ParseUint(strings.TrimPrefix(c.UnixMode, "0o"), 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("%q is not an octal file mode such as 0660", c.UnixMode)
	}
	return os.FileMode(m), nil
}

// ServerOptions converts the config to server Options, reading tokens
// from the environment or files. Logger and Registerer are left for the
// caller to set.
func (c *Config) ServerOptions() (Options, error) {
	o := Options{
		MaxBatch:             c.MaxBatch,
		MaxAnswerBytes:       int(c.MaxAnswerBytes),
		CallTimeout:          c.CallTimeout,
		DrainTimeout:         c.DrainTimeout,
		ReadinessInterval:    c.ReadinessInterval,
		StreamConcurrency:    c.StreamConcurrency,
		CacheBytes:           int64(c.Cache.Size),
		NoNegativeCache:      c.Cache.NoNegative,
		VersionCheckInterval: c.Cache.VersionCheckInterval,
	}
	if c.Cache.Disabled {
		o.CacheBytes = -1
	}
	var errs []error
	for i, j := range c.Jobs {
		tok, err := c.readToken([]any{"jobs", i}, fmt.Sprintf("job %q", j.Name), j.Token, j.TokenEnv, j.TokenFile)
		if err != nil {
			errs = append(errs, err)
		}
		o.Jobs = append(o.Jobs, Job{Name: j.Name, Token: tok, Tables: j.Tables, RateLimit: j.RateLimit, Burst: j.Burst})
	}
	if a := c.Admin; a != nil {
		tok, err := c.readToken([]any{"admin"}, "admin", a.Token, a.TokenEnv, a.TokenFile)
		if err != nil {
			errs = append(errs, err)
		}
		o.AdminToken = tok
		o.AdminInputRoots = a.InputRoots
	}
	// Shared tokens are found once the tokens are read (they may come from
	// files or the environment); the errors never show a token.
	seen := map[string]int{}
	for i, j := range c.Jobs {
		tok := o.Jobs[i].Token
		if tok == "" {
			continue
		}
		field := "token"
		switch {
		case j.TokenEnv != "":
			field = "token_env"
		case j.TokenFile != "":
			field = "token_file"
		}
		at := []any{"jobs", i, field}
		if o.AdminToken != "" && tok == o.AdminToken {
			errs = append(errs, c.errorAt(at, fmt.Sprintf("job %q: its token is also the admin token; give the admin its own token", j.Name)))
		} else if p, dup := seen[tok]; dup {
			errs = append(errs, c.errorAt(at, fmt.Sprintf("job %q: its token is also the token of jobs[%d] (%q); give every job its own token", j.Name, p, c.Jobs[p].Name)))
		} else {
			seen[tok] = i
		}
	}
	if len(errs) > 0 {
		return Options{}, fmt.Errorf("sidecar config: %w", errors.Join(errs...))
	}
	return o, nil
}

// readToken returns a token given inline, by environment variable or by
// file; path is the config path of the section holding it and who names
// its owner in errors.
func (c *Config) readToken(path []any, who, inline, env, file string) (string, error) {
	at := func(f string) string { return c.where(append(append([]any(nil), path...), f)) }
	switch {
	case env != "":
		tok := os.Getenv(env)
		if tok == "" {
			return "", fmt.Errorf("%s: %s: environment variable %s is empty or not set", at("token_env"), who, env)
		}
		return tok, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", at("token_file"), who, err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("%s: %s: token file %s is empty", at("token_file"), who, file)
		}
		return tok, nil
	}
	return inline, nil
}

// where renders "file:line:col: path" for a field path of string keys and
// int indexes (the yamlerr.Error form); the position is the closest known
// one.
func (c *Config) where(path []any) string {
	return strings.TrimSuffix(c.errorAt(path, "").Error(), ": ")
}

// errorAt is a yamlerr.Error at a field path of string keys and int
// indexes, e.g. {"jobs", 1, "token"} is jobs[1].token.
func (c *Config) errorAt(path []any, msg string) *yamlerr.Error {
	file := c.file
	if file == "" {
		file = "config"
	}
	var b strings.Builder
	for i, p := range path {
		switch x := p.(type) {
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(x)
		case int:
			fmt.Fprintf(&b, "[%d]", x)
		}
	}
	line, col := posOf(c.root, path)
	return &yamlerr.Error{File: file, Line: line, Column: col, Path: b.String(), Msg: msg}
}

// posOf finds the line and column of the deepest node of path in a YAML
// document (of the key, for a mapping entry).
func posOf(root *yaml.Node, path []any) (line, col int) {
	if root == nil {
		return 0, 0
	}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, p := range path {
		var next *yaml.Node
		switch x := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == x {
						line, col = n.Content[i].Line, n.Content[i].Column
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && x < len(n.Content) {
				next = n.Content[x]
				line, col = next.Line, next.Column
			}
		}
		if next == nil {
			return line, col
		}
		n = next
	}
	return line, col
}

// ByteSize is a size in bytes that reads from YAML and flags as a number
// of bytes or with a unit: "64MiB", "512KB", "1.5GiB".
type ByteSize int64

// ParseByteSize reads a size: a non-negative number with an optional
// unit B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of
// 1024), case-insensitive.
func ParseByteSize(s string) (ByteSize, error) {
	n, err := bytesize.Parse(s)
	return ByteSize(n), err
}

// String renders the size with the largest binary unit that divides it;
// zero is "0" (so that a flag without a value set shows no default of its
// own in --help).
func (b ByteSize) String() string {
	if b == 0 {
		return "0"
	}
	return bytesize.Format(int64(b))
}

// UnmarshalText implements encoding.TextUnmarshaler (YAML and flags).
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalYAML implements yaml.Unmarshaler, naming the line of a bad size.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a size like 64MiB", n.Line)
	}
	if err := b.UnmarshalText([]byte(n.Value)); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// Set implements pflag.Value, so a ByteSize can be a command-line flag.
func (b *ByteSize) Set(s string) error { return b.UnmarshalText([]byte(s)) }

// Type implements pflag.Value.
func (b *ByteSize) Type() string { return "size" }
