package diag

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
)

// PartitionSample is a Sample of one group's partition.
type PartitionSample struct {
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Sample
}

// GroupStatus is the evaluation of every partition of one consumer group at
// one point in time.
type GroupStatus struct {
	Group string    `json:"group"`
	Time  time.Time `json:"time"`
	// Status is the worst partition status.
	Status Status `json:"status"`
	// TotalLag sums the partitions' lag.
	TotalLag int64 `json:"total_lag"`
	// MaxTimeLag is the largest partition time lag.
	MaxTimeLag Duration `json:"max_time_lag"`
	// Partitions holds every partition, sorted by topic and partition.
	Partitions []PartitionStatus `json:"partitions"`
}

// Unhealthy returns the partitions whose status is not OK.
func (g GroupStatus) Unhealthy() []PartitionStatus {
	var out []PartitionStatus
	for _, p := range g.Partitions {
		if p.Status != StatusOK {
			out = append(out, p)
		}
	}
	return out
}

// EventKind says whether an anomaly starts, changes or ends.
type EventKind uint8

const (
	// EventStart: a group went from OK to another status.
	EventStart EventKind = iota + 1
	// EventUpdate: an anomaly changed its worst status or the set of
	// unhealthy partitions.
	EventUpdate
	// EventEnd: the group is OK again.
	EventEnd
)

var eventKindNames = [...]string{"", "start", "update", "end"}

// String returns start, update or end.
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && k > 0 {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// MarshalText encodes the kind as its name.
func (k EventKind) MarshalText() ([]byte, error) {
	if k == 0 || int(k) >= len(eventKindNames) {
		return nil, fmt.Errorf("diag: invalid event kind %d", k)
	}
	return []byte(eventKindNames[k]), nil
}

// UnmarshalText parses start, update or end.
func (k *EventKind) UnmarshalText(b []byte) error {
	for i, n := range eventKindNames {
		if i > 0 && n == strings.ToLower(string(b)) {
			*k = EventKind(i)
			return nil
		}
	}
	return fmt.Errorf("diag: unknown event kind %q (want start, update or end)", b)
}

// Event reports the start, change or end of a consumer group anomaly.
type Event struct {
	Kind  EventKind `json:"kind"`
	Group string    `json:"group"`
	// Time is the evaluation time that produced the event.
	Time time.Time `json:"time"`
	// Since is when the anomaly started.
	Since time.Time `json:"since"`
	// Status is the group's worst status now (OK for EventEnd).
	Status     Status   `json:"status"`
	TotalLag   int64    `json:"total_lag"`
	MaxTimeLag Duration `json:"max_time_lag"`
	// Partitions holds the unhealthy partitions (none for EventEnd).
	Partitions []PartitionStatus `json:"partitions,omitempty"`
}

// Tracker keeps a sliding window of samples per group partition, evaluates
// them and turns status changes into anomaly events. It does no I/O: the
// Monitor feeds it from Kafka, and `hotcold diag run` from a JSON-lines file.
//
// A Tracker is not safe for concurrent use.
type Tracker struct {
	cfg    LagConfig
	groups map[string]*trackedGroup
}

type trackedGroup struct {
	parts map[topicPartition]*[]Sample
	keys  []topicPartition // sorted; rebuilt when partitions come or go
	dirty bool

	inAnomaly bool
	since     time.Time
	worst     Status
	signature uint64
}

type topicPartition struct {
	topic     string
	partition int32
}

// NewTracker returns a Tracker evaluating with cfg.
func NewTracker(cfg LagConfig) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Tracker{cfg: cfg.WithDefaults(), groups: make(map[string]*trackedGroup)}, nil
}

// Observe adds a sample. Samples of one partition must come in time order;
// an older sample than the newest kept is dropped.
func (t *Tracker) Observe(s PartitionSample) {
	g := t.groups[s.Group]
	if g == nil {
		g = &trackedGroup{parts: make(map[topicPartition]*[]Sample)}
		t.groups[s.Group] = g
	}
	k := topicPartition{s.Topic, s.Partition}
	w := g.parts[k]
	if w == nil {
		buf := make([]Sample, 0, 16)
		w = &buf
		g.parts[k] = w
		g.keys = append(g.keys, k)
		g.dirty = true
	}
	if n := len(*w); n > 0 && s.Time.Before((*w)[n-1].Time) {
		return
	}
	if len(*w) >= t.cfg.MaxSamples {
		drop := len(*w) - t.cfg.MaxSamples + 1
		*w = append((*w)[:0], (*w)[drop:]...)
	}
	*w = append(*w, s.Sample)
}

// Groups returns the tracked group names, sorted.
func (t *Tracker) Groups() []string {
	out := make([]string, 0, len(t.groups))
	for g := range t.groups {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// Evaluate drops samples older than now minus the window (and partitions
// left without samples), evaluates every group and returns the statuses,
// sorted by group, and the anomaly events they cause.
func (t *Tracker) Evaluate(now time.Time) ([]GroupStatus, []Event) {
	cut := now.Add(-t.cfg.Window)
	var statuses []GroupStatus
	var events []Event
	for _, name := range t.Groups() {
		g := t.groups[name]
		gs := GroupStatus{Group: name, Time: now}
		kept := g.keys[:0]
		for _, k := range g.keys {
			w := g.parts[k]
			drop := 0
			for drop < len(*w) && (*w)[drop].Time.Before(cut) {
				drop++
			}
			if drop > 0 {
				*w = append((*w)[:0], (*w)[drop:]...)
			}
			if len(*w) == 0 {
				delete(g.parts, k)
				continue
			}
			kept = append(kept, k)
		}
		g.keys = kept
		if g.dirty {
			slices.SortFunc(g.keys, func(a, b topicPartition) int {
				return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
			})
			g.dirty = false
		}
		gs.Partitions = make([]PartitionStatus, 0, len(g.keys))
		for _, k := range g.keys {
			ps := Evaluate(*g.parts[k], t.cfg)
			ps.Topic, ps.Partition = k.topic, k.partition
			gs.TotalLag += ps.Lag
			gs.MaxTimeLag = max(gs.MaxTimeLag, ps.TimeLag)
			gs.Status = max(gs.Status, ps.Status)
			gs.Partitions = append(gs.Partitions, ps)
		}
		if len(g.keys) == 0 {
			delete(t.groups, name)
		}
		statuses = append(statuses, gs)
		if ev, ok := g.transition(gs); ok {
			events = append(events, ev)
		}
	}
	return statuses, events
}

// transition updates the group's anomaly state from gs and returns the event
// it causes, if any.
func (g *trackedGroup) transition(gs GroupStatus) (Event, bool) {
	ev := Event{Group: gs.Group, Time: gs.Time, Status: gs.Status, TotalLag: gs.TotalLag, MaxTimeLag: gs.MaxTimeLag}
	if gs.Status == StatusOK {
		if !g.inAnomaly {
			return Event{}, false
		}
		g.inAnomaly = false
		ev.Kind, ev.Since = EventEnd, g.since
		return ev, true
	}
	bad := gs.Unhealthy()
	sig := signature(bad)
	ev.Partitions = bad
	if !g.inAnomaly {
		g.inAnomaly, g.since, g.worst, g.signature = true, gs.Time, gs.Status, sig
		ev.Kind, ev.Since = EventStart, gs.Time
		return ev, true
	}
	ev.Since = g.since
	if gs.Status == g.worst && sig == g.signature {
		return Event{}, false
	}
	g.worst, g.signature = gs.Status, sig
	ev.Kind = EventUpdate
	return ev, true
}

func signature(ps []PartitionStatus) uint64 {
	h := fnv.New64a()
	var b [5]byte
	for _, p := range ps {
		h.Write([]byte(p.Topic))
		b[0], b[1], b[2], b[3], b[4] = byte(p.Partition>>24), byte(p.Partition>>16), byte(p.Partition>>8), byte(p.Partition), byte(p.Status)
		h.Write(b[:])
	}
	return h.Sum64()
}
