package sidecar_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/internal/tlstest"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
)

// tlsSidecar runs a sidecar over the test tables whose TCP listener uses
// files, and returns its address.
func tlsSidecar(t *testing.T, files sidecar.TLSFiles, logs *syncLog) string {
	t.Helper()
	cfg, err := sidecar.ServerTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	opts := sidecar.Options{}
	if logs != nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	srv, err := sidecar.NewServer(newMemory(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return runSidecar(t, srv, sidecar.Listeners{TCP: "127.0.0.1:0", TLS: cfg})
}

// runSidecar runs srv with l until the test ends and returns the TCP
// address.
func runSidecar(t *testing.T, srv *sidecar.Server, l sidecar.Listeners) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	l.Ready = func(a sidecar.Addrs) { ready <- a.TCP }
	go func() { done <- srv.Run(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return addr
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	return ""
}

type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lookupOne looks order 7 up through a client dialled with opts.
func lookupOne(t *testing.T, addr string, opts ...sidecar.Option) error {
	t.Helper()
	c, err := sidecar.Dial(addr, append(opts, sidecar.WithRetries(0, time.Millisecond), sidecar.WithCallTimeout(5*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Get(context.Background(), "orders", []row.Value{row.Int64Value(7)})
	if err == nil && !res.Found {
		t.Fatalf("order 7 not found over TLS")
	}
	return err
}

func clientTLS(t *testing.T, files sidecar.ClientTLSFiles) sidecar.Option {
	t.Helper()
	cfg, err := sidecar.ClientTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	return sidecar.WithTLS(cfg)
}

func TestTLSListenerServesClientsThatTrustItsCA(t *testing.T) {
	ca := tlstest.NewCA(t, "server")
	cert, key := filepath.Join(ca.Dir, "s.pem"), filepath.Join(ca.Dir, "s.key")
	ca.Issue(t, "sidecar", true, cert, key)
	addr := tlsSidecar(t, sidecar.TLSFiles{CertFile: cert, KeyFile: key}, nil)

	if err := lookupOne(t, addr, clientTLS(t, sidecar.ClientTLSFiles{CAFile: ca.PEM})); err != nil {
		t.Fatalf("TLS client trusting the CA: %v", err)
	}
	if err := lookupOne(t, addr); status.Code(err) != codes.Unavailable {
		t.Fatalf("plaintext client against a TLS listener: %v, want Unavailable", err)
	}
	other := tlstest.NewCA(t, "other")
	if err := lookupOne(t, addr, clientTLS(t, sidecar.ClientTLSFiles{CAFile: other.PEM})); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("TLS client trusting another CA: %v, want Unavailable naming the certificate", err)
	}
}

func TestMutualTLSRefusesClientsWithoutACertificateOfTheClientCA(t *testing.T) {
	serverCA, clientCA, rogueCA := tlstest.NewCA(t, "server"), tlstest.NewCA(t, "clients"), tlstest.NewCA(t, "rogue")
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	serverCA.Issue(t, "sidecar", true, p("s.pem"), p("s.key"))
	clientCA.Issue(t, "flink-job", false, p("c.pem"), p("c.key"))
	rogueCA.Issue(t, "intruder", false, p("r.pem"), p("r.key"))
	addr := tlsSidecar(t, sidecar.TLSFiles{CertFile: p("s.pem"), KeyFile: p("s.key"), ClientCAFile: clientCA.PEM}, nil)

	if err := lookupOne(t, addr, clientTLS(t, sidecar.ClientTLSFiles{CAFile: serverCA.PEM, CertFile: p("c.pem"), KeyFile: p("c.key")})); err != nil {
		t.Fatalf("client with a certificate of the client CA: %v", err)
	}
	if err := lookupOne(t, addr, clientTLS(t, sidecar.ClientTLSFiles{CAFile: serverCA.PEM})); status.Code(err) != codes.Unavailable {
		t.Fatalf("client without a certificate: %v, want Unavailable", err)
	}
	if err := lookupOne(t, addr, clientTLS(t, sidecar.ClientTLSFiles{CAFile: serverCA.PEM, CertFile: p("r.pem"), KeyFile: p("r.key")})); status.Code(err) != codes.Unavailable {
		t.Fatalf("client with a certificate of another CA: %v, want Unavailable", err)
	}

	// The handshake itself, without gRPC in between: the server refuses a
	// client that presents no certificate.
	pool := x509.NewCertPool()
	pool.AddCert(serverCA.Cert)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
	if err == nil {
		// TLS 1.3: the client learns of the refusal on its first read.
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("handshake without a client certificate: %v, want the server's 'certificate required' alert", err)
	}
}

func TestTLSCertificateIsReloadedWhenTheFilesChange(t *testing.T) {
	ca := tlstest.NewCA(t, "server")
	cert, key := filepath.Join(ca.Dir, "s.pem"), filepath.Join(ca.Dir, "s.key")
	first := ca.Issue(t, "sidecar", true, cert, key)
	addr := tlsSidecar(t, sidecar.TLSFiles{CertFile: cert, KeyFile: key}, nil)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	served := func() *big.Int {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber
	}
	if got := served(); got.Cmp(first) != 0 {
		t.Fatalf("serial %v served, want %v", got, first)
	}
	renewed := ca.Issue(t, "sidecar", true, cert, key)
	later := time.Now().Add(time.Minute) // a modification time surely different from the first files'
	for _, f := range []string{cert, key} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if got := served(); got.Cmp(renewed) != 0 {
		t.Fatalf("after renewal serial %v served, want the renewed %v", got, renewed)
	}
	// A half-written renewal (garbage in the certificate file) keeps the
	// last good certificate in use.
	if err := os.WriteFile(cert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := served(); got.Cmp(renewed) != 0 {
		t.Fatalf("after a broken renewal serial %v served, want the previous %v", got, renewed)
	}
}

func TestServerTLSNamesTheFileThatFails(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	for files, want := range map[sidecar.TLSFiles]string{
		{}:                            "cert_file",
		{CertFile: bad, KeyFile: bad}: bad,
		{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: bad}: "nope.pem",
	} {
		if _, err := sidecar.ServerTLS(files); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ServerTLS(%+v) = %v, want an error naming %q", files, err, want)
		}
	}
	ca := tlstest.NewCA(t, "x")
	ca.Issue(t, "s", true, filepath.Join(dir, "s.pem"), filepath.Join(dir, "s.key"))
	if _, err := sidecar.ServerTLS(sidecar.TLSFiles{CertFile: filepath.Join(dir, "s.pem"), KeyFile: filepath.Join(dir, "s.key"), ClientCAFile: bad}); err == nil || !strings.Contains(err.Error(), "client CA") {
		t.Errorf("a bad client CA file: %v", err)
	}
	if _, err := sidecar.ClientTLS(sidecar.ClientTLSFiles{CertFile: filepath.Join(dir, "s.pem")}); err == nil || !strings.Contains(err.Error(), "--tls-key") {
		t.Errorf("a client certificate without its key: %v", err)
	}
}

func TestPlaintextTCPOnEveryInterfaceLogsAWarning(t *testing.T) {
	for addr, warn := range map[string]bool{"127.0.0.1:0": false, ":0": true} {
		logs := &syncLog{}
		srv, err := sidecar.NewServer(newMemory(t), sidecar.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- srv.Run(ctx, sidecar.Listeners{TCP: addr, Ready: func(sidecar.Addrs) { cancel() }})
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logs.String(), "not loopback and has no TLS"); got != warn {
			t.Errorf("listen %s: warning logged = %v, want %v; logs:\n%s", addr, got, warn, logs.String())
		}
	}
}

// TestClientCAIsReloadedWhenTheFileChanges: a client CA added to the
// client CA file is trusted from the next handshake on, without a
// restart; a broken file keeps the previous CAs.
func TestClientCAIsReloadedWhenTheFileChanges(t *testing.T) {
	serverCA, oldCA, newCA := tlstest.NewCA(t, "server"), tlstest.NewCA(t, "clients-2025"), tlstest.NewCA(t, "clients-2026")
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	serverCA.Issue(t, "sidecar", true, p("s.pem"), p("s.key"))
	oldCA.Issue(t, "job-old", false, p("o.pem"), p("o.key"))
	newCA.Issue(t, "job-new", false, p("n.pem"), p("n.key"))
	bundle := p("clients.pem")
	copyFile := func(dst string, srcs ...string) {
		t.Helper()
		var b []byte
		for _, s := range srcs {
			d, err := os.ReadFile(s)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, d...)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	touch := func(minutes int) {
		t.Helper()
		later := time.Now().Add(time.Duration(minutes) * time.Minute) // a modification time surely different
		if err := os.Chtimes(bundle, later, later); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(bundle, oldCA.PEM)
	addr := tlsSidecar(t, sidecar.TLSFiles{CertFile: p("s.pem"), KeyFile: p("s.key"), ClientCAFile: bundle}, nil)
	asOld := clientTLS(t, sidecar.ClientTLSFiles{CAFile: serverCA.PEM, CertFile: p("o.pem"), KeyFile: p("o.key")})
	asNew := clientTLS(t, sidecar.ClientTLSFiles{CAFile: serverCA.PEM, CertFile: p("n.pem"), KeyFile: p("n.key")})
	if err := lookupOne(t, addr, asOld); err != nil {
		t.Fatalf("client of the configured CA: %v", err)
	}
	if err := lookupOne(t, addr, asNew); status.Code(err) != codes.Unavailable {
		t.Fatalf("client of a CA not yet in the bundle: %v, want Unavailable", err)
	}

	copyFile(bundle, oldCA.PEM, newCA.PEM)
	touch(1)
	if err := lookupOne(t, addr, asNew); err != nil {
		t.Fatalf("client of the CA added to the bundle: %v", err)
	}
	if err := lookupOne(t, addr, asOld); err != nil {
		t.Fatalf("client of the CA kept in the bundle: %v", err)
	}

	copyFile(bundle, newCA.PEM)
	touch(2)
	if err := lookupOne(t, addr, asOld); status.Code(err) != codes.Unavailable {
		t.Fatalf("client of the CA removed from the bundle: %v, want Unavailable", err)
	}

	if err := os.WriteFile(bundle, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	touch(3)
	if err := lookupOne(t, addr, asNew); err != nil {
		t.Fatalf("after a broken bundle, client of the last good CAs: %v", err)
	}
}
