package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotcold/hotcold/internal/tlstest"
)

func TestServeOverMutualTLSWithLookupAndLoadSidecar(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	serverCA, clientCA := tlstest.NewCA(t, "server"), tlstest.NewCA(t, "clients")
	serverCA.Issue(t, "sidecar", true, p("s.pem"), p("s.key"))
	clientCA.Issue(t, "ops", false, p("c.pem"), p("c.key"))
	cold := "pebble:" + p("cold")
	loadOrders(t, cold, "v1", 5)
	tokenFile := writeAdminToken(t, dir, "tok-admin")
	srv := startServe(t, "--store", cold, "--listen", "127.0.0.1:0", "--admin-token-file", tokenFile,
		"--tls-cert", p("s.pem"), "--tls-key", p("s.key"), "--tls-client-ca", clientCA.PEM)
	if !strings.Contains(srv.out.String(), "(mTLS)") {
		t.Errorf("the start line does not say the listener has mutual TLS: %s", srv.out.String())
	}
	tlsArgs := []string{"--tls-ca", serverCA.PEM, "--tls-cert", p("c.pem"), "--tls-key", p("c.key")}

	lines := jsonLines(t, append([]string{"lookup", "--addr", srv.tcp, "--table", "orders", "3"}, tlsArgs...)...)
	if lines[0]["found"] != true {
		t.Fatalf("lookup over mTLS: %v", lines)
	}
	if out, err := run(t, "lookup", "--addr", srv.tcp, "--table", "orders", "3", "--tls-ca", serverCA.PEM); err == nil {
		t.Fatalf("lookup without a client certificate succeeded: %s", out)
	}
	if out, err := run(t, "lookup", "--addr", srv.tcp, "--table", "orders", "3"); err == nil {
		t.Fatalf("plaintext lookup against a TLS listener succeeded: %s", out)
	}
	out, _, err := runLoad(t, append([]string{"load", "list", "--sidecar", srv.tcp, "--admin-token-file", tokenFile, "--table", "orders"}, tlsArgs...)...)
	if err != nil || !strings.Contains(out, "v1") {
		t.Fatalf("load list --sidecar over mTLS: %v\n%s", err, out)
	}
}
