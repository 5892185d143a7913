package main

import (
	"crypto/tls"

	"github.com/spf13/pflag"

	"github.com/hotcold/hotcold/sidecar"
)

// clientTLSFlags are the TLS flags of the commands that call a sidecar
// (lookup, load --sidecar).
type clientTLSFlags struct {
	ca, cert, key, serverName string
}

func (f *clientTLSFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.ca, "tls-ca", "", "reach the sidecar over TLS, trusting the CAs of this PEM file (the sidecar's --tls-cert is signed by one)")
	fs.StringVar(&f.cert, "tls-cert", "", "client certificate (PEM) for a sidecar that requires mutual TLS (--tls-client-ca); implies TLS")
	fs.StringVar(&f.key, "tls-key", "", "private key (PEM) of --tls-cert")
	fs.StringVar(&f.serverName, "tls-server-name", "", "name to check the sidecar's certificate against (default: the host of the address); implies TLS")
}

// config returns the client TLS configuration, or nil (plaintext) when no
// TLS flag is set.
func (f *clientTLSFlags) config() (*tls.Config, error) {
	if f.ca == "" && f.cert == "" && f.key == "" && f.serverName == "" {
		return nil, nil
	}
	return sidecar.ClientTLS(sidecar.ClientTLSFiles{CAFile: f.ca, CertFile: f.cert, KeyFile: f.key, ServerName: f.serverName})
}
