package sidecar

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
)

// TLSFiles names the PEM files of the sidecar's TLS over TCP (the unix
// socket stays plaintext: only processes of the host reach it).
type TLSFiles struct {
	// CertFile and KeyFile are the server's certificate chain and private
	// key. Both are required. They are read again on the next handshake
	// after either file's modification time or size changes, so a renewed
	// certificate (cert-manager, certbot) is served without a restart; a
	// pair that does not load (say, the key written but not yet the
	// certificate) leaves the previous certificate in use until it does.
	CertFile, KeyFile string
	// ClientCAFile, when set, turns on mutual TLS: a client must present a
	// certificate signed by one of these CAs, else the handshake fails.
	// Like the certificate, it is read again on the next handshake after
	// it changes (a CA added or rotated without a restart); a file that
	// does not load keeps the previous CAs in use. Empty: clients are not
	// asked for a certificate.
	ClientCAFile string
}

// ServerTLS returns the tls.Config of a TCP listener serving files'
// certificate (reloaded when it changes, see TLSFiles) with ALPN h2 for
// gRPC and TLS 1.2 at least. Every file is read once here, so a missing
// or bad file is an error naming it before anything listens.
func ServerTLS(files TLSFiles) (*tls.Config, error) {
	var errs []error
	if files.CertFile == "" {
		errs = append(errs, errors.New("tls: the certificate file (cert_file, --tls-cert) is not set"))
	}
	if files.KeyFile == "" {
		errs = append(errs, errors.New("tls: the key file (key_file, --tls-key) is not set"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r := &certReloader{certFile: files.CertFile, keyFile: files.KeyFile}
	if _, err := r.get(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.get() },
	}
	if files.ClientCAFile != "" {
		cr := &caReloader{path: files.ClientCAFile}
		pool, err := cr.get()
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cr.base = cfg.Clone()
		cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return cr.config() }
	}
	return cfg, nil
}

// caReloader serves the client CAs of mutual TLS, reading the file again
// when it changes; config is the listener's tls.Config with them.
type caReloader struct {
	path string
	base *tls.Config // the config without GetConfigForClient

	mu struct {
		sync.Mutex
		stamp string
		pool  *x509.CertPool
		cfg   *tls.Config // base with pool, for the current stamp
	}
}

const clientCAWhat = "client CA file (client_ca_file, --tls-client-ca)"

// get returns the current CA pool: the cached one while the file did not
// change, else the file read again; a changed file that does not load
// keeps the previous pool (an error only when there is none).
func (r *caReloader) get() (*x509.CertPool, error) {
	st, serr := fileStamp(r.path)
	r.mu.Lock()
	defer r.mu.Unlock()
	if serr == nil && st == r.mu.stamp && r.mu.pool != nil {
		return r.mu.pool, nil
	}
	pool, err := readCAs(r.path, clientCAWhat)
	if err != nil {
		if r.mu.pool != nil {
			return r.mu.pool, nil // a half-written file: keep the old CAs
		}
		return nil, err
	}
	r.mu.pool, r.mu.stamp, r.mu.cfg = pool, st, nil
	return pool, nil
}

// config returns the handshake's tls.Config with the current CAs.
func (r *caReloader) config() (*tls.Config, error) {
	pool, err := r.get()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.cfg == nil || r.mu.cfg.ClientCAs != pool {
		c := r.base.Clone()
		c.ClientCAs = pool
		r.mu.cfg = c
	}
	return r.mu.cfg, nil
}

// certReloader serves a key pair, reading it again when a file changes.
type certReloader struct {
	certFile, keyFile string

	mu struct {
		sync.Mutex
		stamp string // modification times and sizes of both files
		cert  *tls.Certificate
	}
}

func fileStamp(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size()), nil
}

// get returns the current certificate: the cached one while neither file
// changed, else the files read again. A changed pair that does not load
// keeps the previous certificate (and returns an error only when there is
// none).
func (r *certReloader) get() (*tls.Certificate, error) {
	cs, cerr := fileStamp(r.certFile)
	ks, kerr := fileStamp(r.keyFile)
	r.mu.Lock()
	defer r.mu.Unlock()
	if cerr == nil && kerr == nil && cs+"|"+ks == r.mu.stamp && r.mu.cert != nil {
		return r.mu.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		err = fmt.Errorf("tls: load the certificate %s and key %s: %w", r.certFile, r.keyFile, err)
		if r.mu.cert != nil {
			return r.mu.cert, nil // a half-written renewal: keep serving the old pair
		}
		return nil, err
	}
	r.mu.cert, r.mu.stamp = &cert, cs+"|"+ks
	return r.mu.cert, nil
}

func readCAs(path, what string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: %s: %w", what, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: %s %s holds no PEM certificate", what, path)
	}
	return pool, nil
}

// ClientTLSFiles names the PEM files a client uses to reach a sidecar
// over TLS.
type ClientTLSFiles struct {
	// CAFile holds the CAs that sign the sidecar's certificate. Empty: the
	// system's roots.
	CAFile string
	// CertFile and KeyFile are the client's certificate and key, for a
	// sidecar that requires mutual TLS (client_ca_file). Both or neither.
	CertFile, KeyFile string
	// ServerName overrides the name checked against the sidecar's
	// certificate. Empty: the host of the address dialled.
	ServerName string
}

// ClientTLS returns the tls.Config of a client (WithTLS, and
// NewAdminClient through grpc.WithTransportCredentials). A missing or bad
// file is an error naming it.
func ClientTLS(files ClientTLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: files.ServerName}
	if files.CAFile != "" {
		pool, err := readCAs(files.CAFile, "CA file (--tls-ca)")
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (files.CertFile == "") != (files.KeyFile == "") {
		return nil, errors.New("tls: give both the client certificate (--tls-cert) and its key (--tls-key), or neither")
	}
	if files.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load the client certificate %s and key %s: %w", files.CertFile, files.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// isLoopback reports whether a listen address only accepts connections
// from this host ("127.0.0.1:7070", "[::1]:0", "localhost:7070").
// ":7070" and "0.0.0.0:7070" listen on every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
