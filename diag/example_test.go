package diag_test

import (
	"fmt"
	"time"

	"github.com/hotcold/hotcold/diag"
)

// A Flink job checkpoints every minute, so its committed offset moves only
// once a minute. Sampled every 20 seconds, the lag rises between
// checkpoints; with the commit interval configured that is no alarm.
func ExampleEvaluate() {
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var window []diag.Sample
	for i := 0; i <= 9; i++ {
		end := int64(10150 + i*200)
		committed := int64(10000 + (i/3)*600) // a commit every third sample
		window = append(window, diag.Sample{Time: start.Add(time.Duration(i) * 20 * time.Second), Committed: committed, End: end})
	}
	st := diag.Evaluate(window, diag.LagConfig{CommitInterval: time.Minute})
	fmt.Println(st.Status, st.Lag, time.Duration(st.TimeLag).Round(time.Second), st.Reason)
	// Output: OK 150 15s the offset moves and the lag after commits is level (150 -> 150), not rising
}
