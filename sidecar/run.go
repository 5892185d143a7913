package sidecar

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Listeners says where Run listens. At least one of TCP and Unix is
// required.
type Listeners struct {
	// TCP is the host:port of the gRPC API, e.g. ":7070" or
	// "127.0.0.1:0". Empty: no TCP listener.
	TCP string
	// TLS, when set, is the TLS configuration of the TCP listener (see
	// ServerTLS: certificate reloading, mutual TLS). The unix socket stays
	// plaintext. Nil: plaintext TCP, and Run logs a warning when TCP is not
	// a loopback address, since tokens would cross the network in clear.
	TLS *tls.Config
	// Unix is the path of a unix-domain socket for the gRPC API; a sidecar
	// next to a Flink TaskManager should use it. A stale socket file left
	// by a crashed sidecar is replaced; a socket another process still
	// serves is an error. The file is removed on shutdown. Empty: none.
	Unix string
	// UnixMode, when set, is applied to the socket file (e.g. 0o660 so that
	// a TaskManager running as another user of the group can connect).
	// Zero leaves the mode the process's umask gives.
	UnixMode os.FileMode
	// Metrics is the host:port of an HTTP server with the Prometheus
	// /metrics endpoint. Empty: none.
	Metrics string
	// Gatherer is what /metrics serves; required when Metrics is set
	// (usually the *prometheus.Registry given as Options.Registerer).
	Gatherer prometheus.Gatherer
	// Ready, if set, is called once every listener is open, with the bound
	// addresses (useful with port 0).
	Ready func(Addrs)
}

// Addrs are the addresses Run is listening on; empty when not listening.
type Addrs struct {
	// TCP is the bound host:port of the gRPC API.
	TCP string
	// Unix is the socket path of the gRPC API.
	Unix string
	// Metrics is the bound host:port of the /metrics endpoint.
	Metrics string
}

// Run listens as l says and serves until ctx ends, then shuts down
// gracefully: in-flight calls get up to Options.DrainTimeout to finish.
// It returns nil after a clean shutdown and an error naming the address
// when a listener cannot be opened.
func (s *Server) Run(ctx context.Context, l Listeners) error {
	if l.TCP == "" && l.Unix == "" {
		return errors.New("sidecar: nothing to listen on: set a TCP address (--listen) or a unix socket (--unix)")
	}
	if l.Metrics != "" && l.Gatherer == nil {
		return errors.New("sidecar: Listeners.Metrics is set but Listeners.Gatherer is nil")
	}
	var (
		lis   []net.Listener
		addrs Addrs
		mlis  net.Listener
	)
	closeAll := func() {
		for _, x := range lis {
			x.Close()
		}
		if mlis != nil {
			mlis.Close()
		}
	}
	if l.TCP != "" {
		x, err := net.Listen("tcp", l.TCP)
		if err != nil {
			return fmt.Errorf("sidecar: listen on %s: %w (is another sidecar running? choose another --listen)", l.TCP, err)
		}
		addrs.TCP = x.Addr().String()
		if l.TLS != nil {
			x = tls.NewListener(x, l.TLS)
		} else if !isLoopback(l.TCP) {
			s.opts.Logger.Warn("sidecar: the TCP listener is not loopback and has no TLS: job and admin tokens and the rows cross the network in clear; set --tls-cert and --tls-key (tls: in the config), or listen on 127.0.0.1 or a unix socket", "tcp", addrs.TCP)
		}
		lis = append(lis, x)
	}
	if l.Unix != "" {
		x, err := listenUnix(l.Unix)
		if err != nil {
			closeAll()
			return err
		}
		if l.UnixMode != 0 {
			if err := os.Chmod(l.Unix, l.UnixMode); err != nil {
				x.Close()
				closeAll()
				return fmt.Errorf("sidecar: chmod %o %s: %w", l.UnixMode, l.Unix, err)
			}
		}
		lis = append(lis, x)
		addrs.Unix = l.Unix
	}
	var hsrv *http.Server
	if l.Metrics != "" {
		x, err := net.Listen("tcp", l.Metrics)
		if err != nil {
			closeAll()
			return fmt.Errorf("sidecar: listen for metrics on %s: %w (choose another --metrics-listen)", l.Metrics, err)
		}
		mlis = x
		addrs.Metrics = x.Addr().String()
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(l.Gatherer, promhttp.HandlerOpts{}))
		hsrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}

	errc := make(chan error, len(lis)+1)
	var wg sync.WaitGroup
	for _, x := range lis {
		wg.Add(1)
		go func() { // owned by Run: ends when Shutdown stops the server
			defer wg.Done()
			if err := s.Serve(x); err != nil {
				errc <- fmt.Errorf("sidecar: serving %s: %w", x.Addr(), err)
			}
		}()
	}
	if hsrv != nil {
		wg.Add(1)
		go func() { // owned by Run: ends at hsrv.Shutdown
			defer wg.Done()
			if err := hsrv.Serve(mlis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("sidecar: serving metrics on %s: %w", mlis.Addr(), err)
			}
		}()
	}
	s.opts.Logger.Info("sidecar serving", "tcp", addrs.TCP, "tls", l.TLS != nil, "mtls", l.TLS != nil && l.TLS.ClientAuth == tls.RequireAndVerifyClientCert, "unix", addrs.Unix, "metrics", addrs.Metrics)
	if l.Ready != nil {
		l.Ready(addrs)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.opts.Logger.Info("sidecar shutting down, draining in-flight calls", "timeout", s.opts.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.DrainTimeout)
	defer cancel()
	if err := s.Shutdown(dctx); err != nil {
		s.opts.Logger.Warn("sidecar drain timed out; cut off the remaining calls", "timeout", s.opts.DrainTimeout)
	}
	if hsrv != nil {
		hsrv.Shutdown(dctx)
	}
	wg.Wait()
	s.opts.Logger.Info("sidecar stopped")
	return runErr
}

// listenUnix listens on a unix socket at path, replacing a stale socket
// file but refusing to take over a live one.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("sidecar: unix socket path %s exists and is not a socket; remove it or choose another --unix", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("sidecar: unix socket %s is served by another process (another sidecar?); stop it or choose another --unix", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("sidecar: removing stale unix socket %s: %w", path, err)
		}
	}
	x, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("sidecar: listen on unix socket %s: %w (does the directory exist and is it writable?)", path, err)
	}
	return x, nil
}
