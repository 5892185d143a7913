"""Runs the Python client against a `hotcold serve` with mutual TLS on its
TCP listener, started by the Go harness (TestPythonClientOverMutualTLS in
clients/clients_test.go), which passes HOTCOLD_TEST_TLS_* variables: the
address, the CA of the server certificate and a client certificate and key
signed by the sidecar's client CA. Without them (the plaintext suite) the
tests are skipped.
"""

import os
import unittest

from hotcold_client import HotcoldError, LookupClient

TLS = {k: os.environ.get("HOTCOLD_TEST_TLS_" + k.upper()) for k in ("tcp", "ca", "cert", "key", "token", "table")}


@unittest.skipUnless(all(TLS.values()), "HOTCOLD_TEST_TLS_* not set: run through go test ./clients -run TestPythonClientOverMutualTLS")
class MutualTLSTest(unittest.TestCase):
    def test_client_certificate_gets_answers(self):
        with LookupClient(TLS["tcp"], token=TLS["token"], tls_ca=TLS["ca"], tls_cert=TLS["cert"], tls_key=TLS["key"]) as c:
            row = c.lookup(TLS["table"], 7)
            self.assertIsNotNone(row)
            self.assertEqual(row["user_id"], 7)

    def test_without_a_client_certificate_the_sidecar_refuses(self):
        with LookupClient(TLS["tcp"], token=TLS["token"], tls_ca=TLS["ca"], deadline=3.0, max_retries=0) as c:
            with self.assertRaises(HotcoldError) as ctx:
                c.lookup(TLS["table"], 7)
            self.assertEqual(ctx.exception.code.name, "UNAVAILABLE")

    def test_plaintext_client_is_refused(self):
        with LookupClient(TLS["tcp"], token=TLS["token"], deadline=3.0, max_retries=0) as c:
            with self.assertRaises(HotcoldError):
                c.lookup(TLS["table"], 7)

    def test_a_missing_ca_file_is_named(self):
        with self.assertRaises(ValueError) as ctx:
            LookupClient(TLS["tcp"], tls_ca="/nonexistent/ca.pem")
        self.assertIn("/nonexistent/ca.pem", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
