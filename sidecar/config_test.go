package sidecar_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/sidecar"
)

func TestExampleConfigParsesAndConverts(t *testing.T) {
	c, err := sidecar.LoadConfig("testdata/sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7070" || c.Unix != "/run/hotcold/hotcold.sock" || c.Store != "pebble:/var/lib/hotcold/cold" ||
		c.CallTimeout != 5*time.Second || c.Cache.Size != 256<<20 || len(c.Jobs) != 2 {
		t.Fatalf("config %+v", c)
	}
	tokenFile := filepath.Join(t.TempDir(), "risk.token")
	if err := os.WriteFile(tokenFile, []byte("  tok-risk\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Jobs[1].TokenFile = tokenFile
	if c.Admin == nil || c.Admin.TokenFile != "/etc/hotcold/admin.token" {
		t.Fatalf("admin section %+v", c.Admin)
	}
	adminFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(adminFile, []byte("tok-admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Admin.TokenFile = adminFile
	t.Setenv("HOTCOLD_TOKEN_ORDERS_ENRICH", "tok-orders")
	o, err := c.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	if o.Jobs[0].Token != "tok-orders" || o.Jobs[1].Token != "tok-risk" || o.Jobs[0].RateLimit != 20000 || o.CacheBytes != 256<<20 || o.MaxBatch != 1024 || o.AdminToken != "tok-admin" || o.ReadinessInterval != 5*time.Second {
		t.Fatalf("options %+v", o)
	}
}

func TestConfigErrorsNameFileLineAndField(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		parse      bool // the error comes from ParseConfig, not Validate
		want       []string
	}{
		{name: "unknown field", parse: true, yaml: "listen: :7070\nstore: x\ncache:\n  sise: 1MiB\n", want: []string{"bad.yaml:4:3: cache.sise: unknown field; did you mean size?"}},
		{name: "wrong type", parse: true, yaml: "max_batch: lots\n", want: []string{`bad.yaml:1:12: max_batch: want a whole number, got "lots"`}},
		{name: "bad size", parse: true, yaml: "cache:\n  size: 12 parsecs\n", want: []string{`bad.yaml:2:9: cache.size: size "12 parsecs": unknown unit`}},
		{name: "bad duration", parse: true, yaml: "call_timeout: soon\n", want: []string{`bad.yaml:1:15: call_timeout: want a duration`}},
		{name: "nothing to listen on", yaml: "store: pebble:/x\n", want: []string{"bad.yaml: set listen"}},
		{name: "no store", yaml: "listen: :1\n", want: []string{"set store"}},
		{name: "negative readiness interval", yaml: "listen: :1\nstore: pebble:/x\nreadiness_interval: -1s\n", want: []string{"bad.yaml:3:1: readiness_interval: must be positive"}},
		{
			name: "every job problem at once",
			yaml: "listen: :1\nstore: x\njobs:\n  - name: a\n    token: t\n    tables: [x]\n  - name: a\n    token: t\n    token_env: T\n    tables: []\n    rate_limit: -1\n",
			want: []string{
				`bad.yaml:7:5: jobs[1].name: "a" is also the name of jobs[0]`,
				`bad.yaml:7:5: jobs[1]: job "a": give the token in exactly one of token, token_env or token_file`,
				`bad.yaml:10:5: jobs[1].tables: job "a": list the tables`,
				`bad.yaml:11:5: jobs[1].rate_limit: must be a positive number`,
			},
		},
		{name: "bad socket mode", yaml: "listen: :1\nstore: x\nunix_mode: rw-rw----\n", want: []string{`bad.yaml:3:1: unix_mode: "rw-rw----" is not an octal file mode`}},
		{name: "negative limits", yaml: "listen: :1\nstore: x\nmax_batch: -3\ncall_timeout: -1s\n", want: []string{"bad.yaml:3:1: max_batch", "bad.yaml:4:1: call_timeout"}},
		{name: "admin without a token", yaml: "listen: :1\nstore: x\nadmin: {}\n", want: []string{"bad.yaml:3:1: admin: give the admin token in exactly one of token, token_env or token_file"}},
		{name: "admin with two tokens", yaml: "listen: :1\nstore: x\nadmin:\n  token: a\n  token_file: /f\n", want: []string{"bad.yaml:3:1: admin: give the admin token in exactly one"}},
		{name: "tls without a key", yaml: "listen: :1\nstore: x\ntls:\n  cert_file: /s.pem\n", want: []string{"bad.yaml:3:1: tls: set key_file"}},
		{name: "tls unknown field", parse: true, yaml: "tls:\n  cert: /s.pem\n", want: []string{"bad.yaml:2:3: tls.cert: unknown field (known fields: cert_file"}},
		{name: "admin unknown field", parse: true, yaml: "admin:\n  tokn: a\n", want: []string{"bad.yaml:2:3: admin.tokn: unknown field; did you mean token?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := sidecar.ParseConfig([]byte(tc.yaml), "bad.yaml")
			if tc.parse {
				if err == nil {
					t.Fatal("ParseConfig accepted it")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				err = c.Validate()
				if err == nil {
					t.Fatal("Validate accepted it")
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestMissingTokenSourcesAreReported(t *testing.T) {
	c, err := sidecar.ParseConfig([]byte("listen: :1\nstore: x\njobs:\n  - name: a\n    token_env: HOTCOLD_TEST_UNSET_TOKEN\n    tables: ['*']\n  - name: b\n    token_file: /nonexistent/tok\n    tables: ['*']\n"), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err = c.ServerOptions()
	for _, w := range []string{"s.yaml:5:5: jobs[0].token_env: job \"a\": environment variable HOTCOLD_TEST_UNSET_TOKEN is empty", "s.yaml:8:5: jobs[1].token_file"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestAdminTokenSourcesAreReadAndChecked(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.token")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"admin:\n  token_env: HOTCOLD_TEST_UNSET_ADMIN_TOKEN\n", "s.yaml:2:3: admin.token_env: admin: environment variable HOTCOLD_TEST_UNSET_ADMIN_TOKEN is empty or not set"},
		{"admin:\n  token_file: /nonexistent/admin.token\n", "s.yaml:2:3: admin.token_file: admin: open /nonexistent/admin.token"},
		{"admin:\n  token_file: " + empty + "\n", "s.yaml:2:3: admin.token_file: admin: token file " + empty + " is empty"},
	} {
		c, err := sidecar.ParseConfig([]byte(tc.yaml), "s.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ServerOptions(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
	t.Setenv("HOTCOLD_TEST_ADMIN_TOKEN", "tok-admin")
	c, err := sidecar.ParseConfig([]byte("admin: {token_env: HOTCOLD_TEST_ADMIN_TOKEN}\n"), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if o, err := c.ServerOptions(); err != nil || o.AdminToken != "tok-admin" {
		t.Fatalf("AdminToken %q, %v", o.AdminToken, err)
	}
	if c, _ := sidecar.ParseConfig(nil, "s.yaml"); c.Admin != nil {
		t.Fatalf("no admin section parsed as %+v", c.Admin)
	}
}

func TestEmptyConfigIsAllDefaults(t *testing.T) {
	c, err := sidecar.ParseConfig(nil, "empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Listen, c.Store = ":7070", "pebble:x"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]sidecar.ByteSize{
		"0": 0, "1024": 1024, "64MiB": 64 << 20, "64mib": 64 << 20, "1.5GiB": 3 << 29, "10 MB": 10_000_000, "512KiB": 512 << 10, "7B": 7, "2k": 2000,
	} {
		got, err := sidecar.ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "1e9", "12 parsecs", "1..2", "99999999999TiB", "NaN"} {
		if _, err := sidecar.ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
	if s := sidecar.ByteSize(64 << 20).String(); s != "64MiB" {
		t.Errorf("String() = %q", s)
	}
}

func FuzzParseConfig(f *testing.F) {
	example, err := os.ReadFile("testdata/sidecar.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("listen: :1\nstore: x\njobs:\n  - name: a\n    token: t\n    tables: [x]\n"))
	f.Add([]byte("cache: {size: 1GiB, disabled: true}\n"))
	f.Add([]byte("jobs: [{name: [1]}]"))
	f.Add([]byte("- 1\n- 2\n"))
	f.Add([]byte("listen: :1\nstore: x\nadmin:\n  token_file: /etc/hotcold/admin.token\n"))
	f.Add([]byte("admin: {token: a, token_env: B}\n"))
	f.Add([]byte("admin: {}\n"))
	f.Add([]byte("admin: [1]\n"))
	f.Add([]byte("admin:\n  token: [x]\n"))
	f.Add([]byte("tls: {cert_file: a, key_file: b, client_ca_file: c}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := sidecar.ParseConfig(data, "fuzz.yaml")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("validation error does not name the file: %v", err)
		}
	})
}

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"64MiB", "1.5 GiB", "0", "10kb", "1e3", "-1", ".5k", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := sidecar.ParseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("ParseByteSize(%q) = %d < 0", s, b)
		}
		again, err := sidecar.ParseByteSize(b.String())
		if err != nil || again != b {
			t.Fatalf("ParseByteSize(%q) = %d, whose String %q reads back as %d, %v", s, b, b.String(), again, err)
		}
	})
}

func TestConfigTLSFileErrorsNameTheLine(t *testing.T) {
	c, err := sidecar.ParseConfig([]byte("listen: :1\nstore: x\ntls:\n  cert_file: /nonexistent/s.pem\n  key_file: /nonexistent/s.key\n"), "tls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ServerTLS(); err == nil || !strings.Contains(err.Error(), "tls.yaml:3:1: tls: load the certificate") || !strings.Contains(err.Error(), "/nonexistent/s.pem") {
		t.Fatalf("ServerTLS with missing files: %v", err)
	}
	var none sidecar.Config
	if cfg, err := none.ServerTLS(); cfg != nil || err != nil {
		t.Fatalf("no tls section: %v, %v; want plaintext", cfg, err)
	}
}

// TestSharedTokensAreConfigErrors: two jobs (or a job and the admin) with
// one token are reported at the job's token field in YAML terms, never
// as Go fields (Jobs[1], Token) and never showing the token.
func TestSharedTokensAreConfigErrors(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "tok")
	if err := os.WriteFile(tok, []byte("s3cret-shared\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := sidecar.ParseConfig([]byte("listen: :1\nstore: x\nadmin:\n  token: s3cret-admin\njobs:\n  - name: a\n    token: s3cret-shared\n    tables: ['*']\n  - name: b\n    token_file: "+tok+"\n    tables: ['*']\n  - name: c\n    token: s3cret-admin\n    tables: ['*']\n"), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err = c.ServerOptions()
	for _, w := range []string{
		`s.yaml:10:5: jobs[1].token_file: job "b": its token is also the token of jobs[0] ("a"); give every job its own token`,
		`s.yaml:13:5: jobs[2].token: job "c": its token is also the admin token`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "Jobs[")) {
		t.Errorf("error shows a token or Go names: %v", err)
	}
}
