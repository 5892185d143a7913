package mock_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotcold/hotcold/mock"
)

func TestExecJobGivesTheJobItsTopicsAndStopsIt(t *testing.T) {
	c := loadCase(t, "testdata/cases/refund-before-order")
	out := filepath.Join(t.TempDir(), "env")
	start := mock.ExecJob(`echo "$HOTCOLD_RUN_ID $HOTCOLD_SOURCE_ORDERS $HOTCOLD_SOURCE_REFUNDS $HOTCOLD_SINK_TOPIC $HOTCOLD_TOPIC_ORDER_REFUNDS $HOTCOLD_BROKERS" > `+out+`.tmp && mv `+out+`.tmp `+out+`; exec sleep 30`,
		"k1:9092", 5*time.Second, nil, nil)
	run := mock.RunInfo{RunID: "r1", Case: c, Topics: map[string]string{"orders": "r1.orders", "refunds": "r1.refunds", "order_refunds": "r1.order_refunds"}}
	stop, err := start(ctxFor(t), run)
	if err != nil {
		t.Fatal(err)
	}
	var env []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		if env, err = os.ReadFile(out); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got, want := strings.TrimSpace(string(env)), "r1 r1.orders r1.refunds r1.order_refunds r1.order_refunds k1:9092"; got != want {
		t.Errorf("job environment %q, want %q", got, want)
	}
	if err := stop(); err != nil {
		t.Fatalf("stopping a job by interrupt is not an error: %v", err)
	}
}

func TestExecJobReportsAJobThatFailedByItself(t *testing.T) {
	c := loadCase(t, "testdata/cases/refund-before-order")
	marker := filepath.Join(t.TempDir(), "started")
	// the job ignores interrupts once started, so it surely ends by itself
	stop, err := mock.ExecJob(`trap "" INT; touch `+marker+`; sleep 0.2; exit 3`, "k", 10*time.Second, nil, nil)(ctxFor(t), mock.RunInfo{RunID: "r", Case: c, Topics: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, err := os.Stat(marker); err != nil && time.Now().Before(deadline); _, err = os.Stat(marker) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := stop(); err == nil || !strings.Contains(err.Error(), "exited with status 3") {
		t.Fatalf("got %v", err)
	}
}
