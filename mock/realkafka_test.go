package mock_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/internal/kafkatest"
)

// TestJoinEndToEndOnRealKafka runs the end-to-end cases of TestJoinEndToEnd
// through mock.Run on a real Apache Kafka broker (the test kit's KRaft
// broker; kfake in the fast suite), with the join runner as the job under
// test: isolated topics, a real consumer group (waited for with the case's
// ready.group check before sending), read-committed sink reads.
func TestJoinEndToEndOnRealKafka(t *testing.T) {
	b := kafkatest.Start(t)
	runJoinE2EOnKafka(t, []kgo.Opt{kgo.SeedBrokers(b.Addr())}, []string{b.Addr()}, true)
}
