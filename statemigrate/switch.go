package statemigrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/state"
)

// ExitReporter is implemented by Jobs that can tell whether a job they
// started has exited (CommandJobs does). Stage 7 then fails as soon as the
// switched job dies, instead of at SwitchTimeout.
type ExitReporter interface {
	// Exited reports whether the job of role has exited, with why (its
	// exit status and the end of its log) when it has.
	Exited(ctx context.Context, role Role) (bool, error)
}

// SwitchCheck is what stage 7 saw of the switched job.
type SwitchCheck struct {
	// Members is the number of members of the online group.
	Members int `json:"members"`
	// LagAtStart and Lag are the online group's total lag when the switched
	// job started and when it was found running.
	LagAtStart int64 `json:"lag_at_start"`
	Lag        int64 `json:"lag"`
}

// retractFile keeps, from the first attempt of stage 7, the last record of
// every key live in the online output at the switch: what retraction and
// a rollback work from.
func (b *Bypass) retractFile() string { return filepath.Join(b.cfg.WorkDir, "switch-snapshot.json") }

// keyRecord is the last record of a live key of an output topic.
type keyRecord struct {
	Key       []byte `json:"key"`
	Value     []byte `json:"value"`
	Partition int32  `json:"partition"`
}

// liveKeys reads an output topic from its start to its current end and
// returns, per message key, the last record of each key whose latest row
// is live (not retracted), and the end offsets read up to.
func liveKeys(ctx context.Context, brokers []string, o Output) (map[string]keyRecord, map[int32]int64, error) {
	f := o.Format
	if f == "" {
		f = row.FormatChangelogJSON
	}
	codec, err := row.NewCodec(f, o.Schema)
	if err != nil {
		return nil, nil, err
	}
	ends, err := topicEnds(ctx, brokers, o.Topic)
	if err != nil {
		return nil, nil, err
	}
	live := map[string]keyRecord{}
	var rows []row.Row
	err = readRecords(ctx, brokers, o.Topic, nil, ends, func(rec *kgo.Record) error {
		if rec.Key == nil {
			return fmt.Errorf("%s partition %d offset %d has no key: only keyed (upsert) outputs can be retracted", o.Topic, rec.Partition, rec.Offset)
		}
		if rec.Value == nil {
			delete(live, string(rec.Key))
			return nil
		}
		rows, err = codec.Decode(rows[:0], row.Message{Key: rec.Key, Value: rec.Value})
		if err != nil {
			return fmt.Errorf("%s partition %d offset %d: %w", o.Topic, rec.Partition, rec.Offset, err)
		}
		for _, r := range rows {
			if r.Kind.IsAccumulate() {
				live[string(rec.Key)] = keyRecord{Key: rec.Key, Value: rec.Value, Partition: rec.Partition}
			} else {
				delete(live, string(rec.Key))
			}
		}
		return nil
	})
	return live, ends, err
}

func topicEnds(ctx context.Context, brokers []string, topic string) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(lo kadm.ListedOffset) { out[lo.Partition] = lo.Offset })
	return out, nil
}

// readRecords calls fn with every record of topic from from (nil: the
// start) up to ends.
func readRecords(ctx context.Context, brokers []string, topic string, from, ends map[int32]int64, fn func(*kgo.Record) error) error {
	parts := map[int32]kgo.Offset{}
	remaining := map[int32]int64{}
	for p, end := range ends {
		start, ok := from[p]
		if ok && start >= end {
			continue
		}
		remaining[p] = end
		if ok {
			parts[p] = kgo.NewOffset().At(start)
		} else {
			parts[p] = kgo.NewOffset().AtStart()
		}
	}
	if len(parts) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	if err != nil {
		return err
	}
	defer cl.Close()
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("read %s: %w", topic, ferr)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			end, ok := remaining[rec.Partition]
			if ferr != nil || !ok || rec.Offset >= end {
				return
			}
			if rec.Offset+1 >= end {
				delete(remaining, rec.Partition)
			}
			ferr = fn(rec)
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// switchSnapshot is the retraction's plan, persisted before anything is
// produced: the live keys of the online output at the switch, the keys the
// new logic no longer produces, and the end offsets of the online output
// read up to.
type switchSnapshot struct {
	Online  map[string]keyRecord `json:"online"`
	Retract []string             `json:"retract"`
	Ends    map[int32]int64      `json:"ends"`
}

// retract produces, to the online output, a retraction (upsert-kafka: a
// tombstone; changelog formats: a delete of the last row) of every key the
// old logic produced and the new logic does not (live in the online
// output, absent from the side output up to the same input offsets). The
// plan is persisted first, so that a resumed stage 7 retracts the same
// keys.
func (b *Bypass) retract(ctx context.Context, st *Status) error {
	snap, err := b.readSnapshot()
	if err != nil {
		return err
	}
	if snap == nil {
		online, ends, err := liveKeys(ctx, b.cfg.Brokers, b.cfg.OnlineOutput)
		if err != nil {
			return fmt.Errorf("read the online output: %w", err)
		}
		side, _, err := liveKeys(ctx, b.cfg.Brokers, b.cfg.SideOutput)
		if err != nil {
			return fmt.Errorf("read the side output: %w", err)
		}
		snap = &switchSnapshot{Online: online, Ends: ends}
		for k := range online {
			if _, ok := side[k]; !ok {
				snap.Retract = append(snap.Retract, k)
			}
		}
		slices.Sort(snap.Retract)
		data, err := json.Marshal(snap)
		if err != nil {
			return err
		}
		if err := state.WriteFileAtomic(b.retractFile(), data); err != nil {
			return err
		}
	}
	codec, err := b.onlineCodec()
	if err != nil {
		return err
	}
	var recs []*kgo.Record
	for _, k := range snap.Retract {
		kr := snap.Online[k]
		r, err := retraction(codec, kr)
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	if err := b.produce(ctx, recs); err != nil {
		return fmt.Errorf("retract the old logic's keys: %w", err)
	}
	st.Retracted = len(snap.Retract)
	b.log.Info("bypass: retracted the keys the new logic no longer produces", "keys", len(snap.Retract), "output", b.cfg.OnlineOutput.Topic)
	return nil
}

func (b *Bypass) onlineCodec() (*row.Codec, error) {
	f := b.cfg.OnlineOutput.Format
	if f == "" {
		f = row.FormatChangelogJSON
	}
	return row.NewCodec(f, b.cfg.OnlineOutput.Schema)
}

// retraction is the record that deletes the key of kr downstream.
func retraction(codec *row.Codec, kr keyRecord) (*kgo.Record, error) {
	rec := &kgo.Record{Topic: "", Key: kr.Key, Partition: kr.Partition}
	if codec.Format() == row.FormatUpsertKafka {
		return rec, nil // a tombstone
	}
	rows, err := codec.Decode(nil, row.Message{Key: kr.Key, Value: kr.Value})
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("decode the last row of key %s: %v", kr.Key, err)
	}
	last := rows[len(rows)-1]
	last.Kind = row.Delete
	m, ok, err := codec.Encode(last)
	if err != nil || !ok {
		return nil, fmt.Errorf("encode the retraction of key %s: %v", kr.Key, err)
	}
	rec.Value = m.Value
	return rec, nil
}

func (b *Bypass) readSnapshot() (*switchSnapshot, error) {
	data, err := os.ReadFile(b.retractFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s switchSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s is corrupt: %w", b.retractFile(), err)
	}
	return &s, nil
}

// produce writes recs to the online output, to the partitions they name.
func (b *Bypass) produce(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.cfg.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DefaultProduceTopic(b.cfg.OnlineOutput.Topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	for _, r := range recs {
		r.Topic = b.cfg.OnlineOutput.Topic
	}
	return cl.ProduceSync(ctx, recs...).FirstErr()
}

// verifySwitch waits until the switched online job runs: it has not
// exited (ExitReporter), it is a member of the online group, and the
// group's lag has fallen since it started, or is at most CaughtUpLag; and
// it still runs a poll interval later. It fails once the job exits or
// after SwitchTimeout.
func (b *Bypass) verifySwitch(ctx context.Context, st *Status) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.cfg.Brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	lag0, err := groupLag(ctx, adm, b.cfg.OnlineGroup, b.cfg.InputTopics)
	if err != nil {
		return err
	}
	chk := &SwitchCheck{LagAtStart: lag0, Lag: lag0}
	st.Switch = chk
	deadline := time.Now().Add(b.cfg.SwitchTimeout)
	seen := false // running at the previous poll
	for {
		if er, ok := b.cfg.Jobs.(ExitReporter); ok {
			exited, why := er.Exited(ctx, Online)
			if exited {
				if why == nil {
					why = errors.New("it exited with status 0")
				}
				return &switchFailed{fmt.Errorf("the switched job exited: %w", why)}
			}
		}
		members, err := groupMembers(ctx, adm, b.cfg.OnlineGroup)
		if err != nil {
			return err
		}
		lag, err := groupLag(ctx, adm, b.cfg.OnlineGroup, b.cfg.InputTopics)
		if err != nil {
			return err
		}
		chk.Members, chk.Lag = members, lag
		running := members > 0 && (lag <= b.cfg.CaughtUpLag || lag < lag0)
		b.log.Info("bypass: switched job", "group_members", members, "lag", lag, "lag_at_start", lag0, "running", running)
		if running && seen {
			return nil
		}
		seen = running
		if time.Now().After(deadline) {
			return &switchFailed{fmt.Errorf("within %s (--switch-timeout) the switched job did not show that it runs: group %s has %d members, lag %d (%d when it started, caught up at %d)",
				b.cfg.SwitchTimeout, b.cfg.OnlineGroup, members, lag, lag0, b.cfg.CaughtUpLag)}
		}
		if err := sleepCtx(ctx, b.cfg.PollInterval); err != nil {
			return err
		}
	}
}

// switchFailed is a failed check of the switched job: the workflow rolls
// back.
type switchFailed struct{ err error }

func (e *switchFailed) Error() string { return e.err.Error() }
func (e *switchFailed) Unwrap() error { return e.err }

func groupMembers(ctx context.Context, adm *kadm.Client, group string) (int, error) {
	gs, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return 0, fmt.Errorf("describe group %s: %w", group, err)
	}
	g, ok := gs[group]
	if !ok || g.Err != nil {
		return 0, nil
	}
	return len(g.Members), nil
}

// rollback stops the switched job, undoes the retraction and the switched
// job's output (with a snapshot), and restarts the old job on its
// untouched state.
func (b *Bypass) rollback(ctx context.Context, st *Status, why error) error {
	b.log.Error("bypass: the switch failed; restoring the old job", "why", why)
	if err := b.cfg.Jobs.Stop(ctx, Online); err != nil {
		return fmt.Errorf("%w; then stopping the switched job failed too: %v (stop it yourself, then run with --abort)", why, err)
	}
	restored := ""
	if snap, err := b.readSnapshot(); err != nil {
		return err
	} else if snap != nil {
		n, err := b.restoreOutput(ctx, snap)
		if err != nil {
			return fmt.Errorf("%w; then restoring the online output failed: %v (run with --abort to retry)", why, err)
		}
		restored = fmt.Sprintf("; %d keys of %s restored to the old job's rows", n, b.cfg.OnlineOutput.Topic)
	}
	if err := b.cfg.Jobs.Start(ctx, Online, b.onlineSpec(nil)); err != nil {
		return fmt.Errorf("%w; then restarting the old job failed: %v (start it on %s yourself)", why, err, b.cfg.OnlineStateDir)
	}
	st.Aborted = true
	st.AbortReason = why.Error()
	if err := b.save(st); err != nil {
		return err
	}
	return fmt.Errorf("%w: the old job was restarted with the old logic on its untouched state %s%s; the bypass is aborted (the rebuilt state stays in %s); fix the new logic, remove %s and start over",
		why, b.cfg.OnlineStateDir, restored, b.cfg.NewStateDir, b.cfg.WorkDir)
}

// restoreOutput re-produces the old job's last record of every key that
// was retracted or that the switched job wrote, and retracts the keys the
// switched job added.
func (b *Bypass) restoreOutput(ctx context.Context, snap *switchSnapshot) (int, error) {
	if b.cfg.OnlineOutput.Schema == nil || b.cfg.SideOutput.Schema == nil {
		return 0, fmt.Errorf("the output schemas are needed to restore the online output after a retraction (give --to and --online-state)")
	}
	ends, err := topicEnds(ctx, b.cfg.Brokers, b.cfg.OnlineOutput.Topic)
	if err != nil {
		return 0, err
	}
	touched := map[string]keyRecord{}
	for _, k := range snap.Retract {
		touched[k] = snap.Online[k]
	}
	f := b.cfg.SideOutput.Format
	if f == "" {
		f = row.FormatChangelogJSON
	}
	newCodec, err := row.NewCodec(f, b.cfg.SideOutput.Schema)
	if err != nil {
		return 0, err
	}
	err = readRecords(ctx, b.cfg.Brokers, b.cfg.OnlineOutput.Topic, snap.Ends, ends, func(rec *kgo.Record) error {
		if kr, ok := snap.Online[string(rec.Key)]; ok {
			touched[string(rec.Key)] = kr
			return nil
		}
		// A key the switched job added: retract it. Its last record is
		// the one to delete (a changelog delete needs the row).
		touched[string(rec.Key)] = keyRecord{Key: rec.Key, Value: rec.Value, Partition: rec.Partition}
		return nil
	})
	if err != nil {
		return 0, err
	}
	var recs []*kgo.Record
	for _, k := range slices.Sorted(maps.Keys(touched)) {
		kr := touched[k]
		if _, old := snap.Online[k]; old {
			recs = append(recs, &kgo.Record{Key: kr.Key, Value: kr.Value, Partition: kr.Partition})
			continue
		}
		if kr.Value == nil {
			continue // already deleted
		}
		r, err := retraction(newCodec, kr) // a row of the new logic
		if err != nil {
			return 0, err
		}
		recs = append(recs, r)
	}
	return len(recs), b.produce(ctx, recs)
}
