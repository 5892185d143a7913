// Package kafkatest starts a real single-node Apache Kafka broker (KRaft,
// from the kafka_2.13 jars on Maven Central) for a Go test: the one of
// flink/kafka-testkit, run as its own JVM on free loopback ports.
//
//	func TestOnRealKafka(t *testing.T) {
//		b := kafkatest.Start(t) // stopped by t.Cleanup
//		cl, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
//		...
//	}
//
// The first Start in a checkout builds the test kit with Maven
// (mvn -f flink/kafka-testkit compile, which fetches Kafka's jars into
// ~/.m2 once) and caches it in flink/kafka-testkit/target; later starts, and
// other test binaries, reuse it while pom.xml and the sources are older than
// the build. Builds in concurrent test binaries are serialised by a file
// lock.
//
// Without java or mvn on PATH the test is skipped, unless
// HOTCOLD_REQUIRE_JAVA=1 (CI sets it), when it fails. The broker takes a few
// seconds to start: keep it to one per test binary, on a real broker only
// the tests that need one (the fast suite stays on kfake).
//
// The broker dies with the test binary: its stdin is a pipe from this
// process (end of stdin stops it) and, on Linux, it gets SIGTERM when the
// test binary dies.
package kafkatest
