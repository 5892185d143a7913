// Package clients holds the Java and Python clients of the hotcold lookup
// sidecar (hotcold.lookup.v1.LookupService, proto/hotcold/lookup/v1), for
// Flink UDFs, PyFlink UDFs and other JVM or Python callers, and the Go
// harness that tests them against a real sidecar.
//
// The clients live in clients/java (HotcoldLookupClient, built by Maven
// from Maven Central's grpc-java) and
// clients/python (the hotcold_client package). Both generate their gRPC
// stubs from the proto at build time, so they always match it; see
// clients/README.md for their APIs and Flink, PyFlink and SQL examples.
//
// # Tests
//
// This package has no Go code to import. Its tests (go test ./clients)
// build the hotcold binary, write Parquet files, load them with
// `hotcold load`, start `hotcold serve` on a loopback port and a unix
// socket with two jobs, then run each client's own test suite (JUnit for
// Java, unittest for Python) against it, passing the addresses and tokens
// in HOTCOLD_TEST_* environment variables. A suite asks the harness to
// stop, start, pause (SIGSTOP) or resume the sidecar through a small HTTP
// endpoint (HOTCOLD_TEST_CONTROL), which answers once the sidecar has
// exited or answers health checks again, so restarts need no sleeps.
//
// A suite is skipped when its toolchain is missing (mvn and javac, which
// run `mvn verify` in clients/java; /usr/bin/python3 with grpcio and
// grpc_tools), unless
// HOTCOLD_REQUIRE_JAVA=1 or HOTCOLD_REQUIRE_PYTHON_GRPC=1 is set, as CI
// does, in which case it fails.
package clients
