package diag

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// PartitionLagRule looks at the source side: when only some partitions of
// a topic lag, the cause is a stuck partition (its offset does not move) or
// producer skew (it receives far more messages than the others), not the
// job as a whole.
type PartitionLagRule struct{ Config RuleConfig }

// Name returns "partition-lag".
func (r *PartitionLagRule) Name() string { return "partition-lag" }

// Check implements Rule.
func (r *PartitionLagRule) Check(_ context.Context, ev *Evidence) []Finding {
	cfg := r.Config.WithDefaults()
	var out []Finding
	// The newest evaluation of each group in the window, and the oldest for
	// produce rates.
	first := make(map[string]GroupStatus)
	last := make(map[string]GroupStatus)
	for _, gs := range ev.Lag {
		if !ev.Window.Contains(gs.Time) {
			continue
		}
		if _, ok := first[gs.Group]; !ok {
			first[gs.Group] = gs
		}
		last[gs.Group] = gs
	}
	groups := make([]string, 0, len(last))
	for g := range last {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		gs, gs0 := last[g], first[g]
		span := gs.Time.Sub(gs0.Time)
		start := make(map[string]int64)
		for _, p := range gs0.Partitions {
			start[fmt.Sprintf("%s/%d", p.Topic, p.Partition)] = p.End
		}
		byTopic := make(map[string][]PartitionStatus)
		var topics []string
		for _, p := range gs.Partitions {
			if _, ok := byTopic[p.Topic]; !ok {
				topics = append(topics, p.Topic)
			}
			byTopic[p.Topic] = append(byTopic[p.Topic], p)
		}
		for _, topic := range topics {
			ps := byTopic[topic]
			if len(ps) < 2 {
				continue
			}
			var lagging []PartitionStatus
			for _, p := range ps {
				if p.Status != StatusOK {
					lagging = append(lagging, p)
				}
			}
			if len(lagging) == 0 || float64(len(lagging)) > cfg.PartitionLagShare*float64(len(ps)) {
				continue
			}
			rates := make(map[int32]float64)
			var all []float64
			for _, p := range ps {
				rate := -1.0
				if e0, ok := start[fmt.Sprintf("%s/%d", p.Topic, p.Partition)]; ok && span > 0 && p.End >= e0 {
					rate = float64(p.End-e0) / span.Seconds()
					all = append(all, rate)
				}
				rates[p.Partition] = rate
			}
			med := median(all)
			var stuck, skewed, slow []string
			for _, p := range lagging {
				desc := fmt.Sprintf("%d (%s, lag %d, %s behind)", p.Partition, p.Status, p.Lag, time.Duration(p.TimeLag).Round(time.Second))
				switch {
				case p.Status == StatusStall || p.Status == StatusStop:
					stuck = append(stuck, desc)
				case rates[p.Partition] >= 0 && med > 0 && rates[p.Partition] >= cfg.ProducerSkewRatio*med:
					skewed = append(skewed, fmt.Sprintf("%s, %.1f msg/s vs median %.1f", desc, rates[p.Partition], med))
				default:
					slow = append(slow, desc)
				}
			}
			base := fmt.Sprintf("group %s, topic %s: %d of %d partitions lag", g, topic, len(lagging), len(ps))
			if len(stuck) > 0 {
				out = append(out, Finding{
					Rule: r.Name() + "/stuck", Severity: SeverityError, Time: gs.Time,
					Cause:   fmt.Sprintf("Stuck partition(s) of %s: the offset does not move while the other partitions are consumed", topic),
					Details: []string{base, "stuck: " + strings.Join(stuck, "; ")},
					Suggestion: "Look at the source subtask that reads these partitions (a poison record it retries, a blocked thread, a watermark/idleness problem) " +
						"and at the partitions' leaders and ISR in Kafka; with Flink, check that the source has no idle split and that 'scan.watermark.idle-timeout' is set.",
				})
			}
			if len(skewed) > 0 {
				out = append(out, Finding{
					Rule: r.Name() + "/producer-skew", Severity: SeverityWarning, Time: gs.Time,
					Cause:   fmt.Sprintf("Producer skew on %s: the lagging partitions receive far more messages than the others", topic),
					Details: []string{base, "skewed: " + strings.Join(skewed, "; ")},
					Suggestion: "The producer's message key is skewed (a few keys dominate) or it uses a custom partitioner. Fix the key or partitioner; " +
						"on the consumer side the subtask reading the hot partition is the limit, so more parallelism than partitions does not help.",
				})
			}
			if len(slow) > 0 && len(stuck) == 0 && len(skewed) == 0 {
				out = append(out, Finding{
					Rule: r.Name() + "/some-partitions", Severity: SeverityWarning, Time: gs.Time,
					Cause:      fmt.Sprintf("Only some partitions of %s lag", topic),
					Details:    []string{base, "lagging: " + strings.Join(slow, "; ")},
					Suggestion: "The source subtask that reads these partitions is slower than the others (an overloaded TaskManager, or skew right after the source); compare its load with the other subtasks.",
				})
			}
		}
	}
	return out
}
