package state_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/prometheus/client_golang/prometheus"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/blob/s3blob"

	"github.com/hotcold/hotcold/state"

	_ "time/tzdata" // zones without a system database
)

func open(t *testing.T, dir string, opts state.Options) *state.DB {
	t.Helper()
	db, err := state.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func values(t *testing.T, ns *state.Namespace, key string) []string {
	t.Helper()
	var out []string
	err := ns.Lookup([]byte(key), func(e state.Entry) error {
		out = append(out, fmt.Sprintf("%s:%s", e.Day, e.Value))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func day(s string) state.Day {
	tm, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return state.DayOf(tm, nil)
}

func TestLookupSeesPendingAndCommittedRowsInDayOrder(t *testing.T) {
	db := open(t, t.TempDir(), state.Options{})
	ns, err := db.Namespace("j/left", state.Retention{})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, ns, day("2026-11-02"), "k1", "b")
	mustPut(t, ns, day("2026-11-01"), "k1", "a")
	mustPut(t, ns, day("2026-11-01"), "k10", "other key")
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, ns, day("2026-11-02"), "k1", "c")
	got := fmt.Sprint(values(t, ns, "k1"))
	if want := "[2026-11-01:a 2026-11-02:b 2026-11-02:c]"; got != want {
		t.Fatalf("lookup = %s, want %s", got, want)
	}
}

func mustPut(t *testing.T, ns *state.Namespace, d state.Day, k, v string) []byte {
	t.Helper()
	sk, err := ns.Put(d, []byte(k), []byte(v))
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func TestUncommittedStateAndOffsetsAreGoneAfterReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := db.Namespace("j/left", state.Retention{})
	mustPut(t, ns, day("2026-11-01"), "k", "committed")
	db.SetOffset("orders", 3, 100)
	if err := db.AppendOutbox([]byte("out1")); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, ns, day("2026-11-01"), "k", "lost")
	db.SetOffset("orders", 3, 200)
	db.AppendOutbox([]byte("out2"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, dir, state.Options{})
	if got := db.Offsets()[state.TopicPartition{Topic: "orders", Partition: 3}]; got != 100 {
		t.Fatalf("offset after reopen = %d, want 100", got)
	}
	ns, _ = db.Namespace("j/left", state.Retention{})
	if got := fmt.Sprint(values(t, ns, "k")); got != "[2026-11-01:committed]" {
		t.Fatalf("rows after reopen = %s", got)
	}
	var out []string
	db.Outbox(func(v []byte) error { out = append(out, string(v)); return nil })
	if fmt.Sprint(out) != "[out1]" {
		t.Fatalf("outbox after reopen = %v, want [out1]", out)
	}
	if err := db.ClearOutbox(); err != nil {
		t.Fatal(err)
	}
	db.AppendOutbox([]byte("out3"))
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	out = nil
	db.Outbox(func(v []byte) error { out = append(out, string(v)); return nil })
	if fmt.Sprint(out) != "[out3]" {
		t.Fatalf("outbox after clear = %v, want [out3]", out)
	}
}

func TestUpdateRewritesOneRowInPlace(t *testing.T) {
	db := open(t, t.TempDir(), state.Options{})
	ns, _ := db.Namespace("j/left", state.Retention{})
	sk := bytes.Clone(mustPut(t, ns, day("2026-11-01"), "k", "v1")) // valid until the next Put
	mustPut(t, ns, day("2026-11-01"), "k", "w1")
	if err := ns.Update(sk, []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(values(t, ns, "k")); got != "[2026-11-01:v2 2026-11-01:w1]" {
		t.Fatalf("rows = %s", got)
	}
}

func TestExpiryWithoutColdDropsBucketsOlderThanTheWindow(t *testing.T) {
	reg := prometheus.NewRegistry()
	db := open(t, t.TempDir(), state.Options{Registerer: reg})
	ns, _ := db.Namespace("j/right", state.Retention{Days: 2})
	for _, d := range []string{"2026-11-01", "2026-11-02", "2026-11-03"} {
		mustPut(t, ns, day(d), "k", d)
	}
	res, err := ns.Expire(day("2026-11-03"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Dropped) != "[2026-11-01]" {
		t.Fatalf("dropped %v", res.Dropped)
	}
	if got := fmt.Sprint(values(t, ns, "k")); got != "[2026-11-02:2026-11-02 2026-11-03:2026-11-03]" {
		t.Fatalf("rows = %s", got)
	}
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := metricSum(t, reg, "hotcold_state_buckets"); got != 2 {
		t.Fatalf("bucket gauge = %v, want 2", got)
	}
}

func TestColdBackedBucketIsDroppedOnlyOnceColdCoversIt(t *testing.T) {
	db := open(t, t.TempDir(), state.Options{})
	ns, _ := db.Namespace("j/left", state.Retention{Days: 2, ColdBacked: true, HardCapDays: 4})
	for _, d := range []string{"2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"} {
		mustPut(t, ns, day(d), "k", d)
	}
	// Cold covers nothing yet: 11-01 and 11-02 are past the window but kept.
	res, _ := ns.Expire(day("2026-11-04"), time.Time{})
	if len(res.Dropped) != 0 || fmt.Sprint(res.Lagging) != "[2026-11-01 2026-11-02]" {
		t.Fatalf("no coverage: %+v", res)
	}
	// Cold covers 11-01 until its end exactly: it goes, 11-02 stays.
	res, _ = ns.Expire(day("2026-11-04"), day("2026-11-02").Start(nil))
	if fmt.Sprint(res.Dropped) != "[2026-11-01]" || fmt.Sprint(res.Lagging) != "[2026-11-02]" {
		t.Fatalf("partial coverage: %+v", res)
	}
	if got := fmt.Sprint(ns.Buckets()); got != "[2026-11-02 2026-11-03 2026-11-04]" {
		t.Fatalf("buckets = %s", got)
	}
}

func TestHardCapPolicyKeepsOrDropsUncoveredBuckets(t *testing.T) {
	for _, policy := range []state.OverCapPolicy{state.KeepOverCap, state.DropOverCap} {
		t.Run(policy.String(), func(t *testing.T) {
			db := open(t, t.TempDir(), state.Options{})
			ns, _ := db.Namespace("j/left", state.Retention{Days: 1, ColdBacked: true, HardCapDays: 2, OverCap: policy})
			for _, d := range []string{"2026-11-01", "2026-11-02", "2026-11-03"} {
				mustPut(t, ns, day(d), "k", d)
			}
			res, _ := ns.Expire(day("2026-11-03"), time.Time{})
			if fmt.Sprint(res.Lagging) == "" {
				t.Fatal("no lagging report")
			}
			if policy == state.KeepOverCap {
				if len(res.DroppedUncovered) != 0 || len(ns.Buckets()) != 3 {
					t.Fatalf("keep: %+v buckets %v", res, ns.Buckets())
				}
				return
			}
			if fmt.Sprint(res.DroppedUncovered) != "[2026-11-01]" || fmt.Sprint(res.Lagging) != "[2026-11-02]" {
				t.Fatalf("drop: %+v", res)
			}
			if !ns.UncoveredUntil().Equal(day("2026-11-02").Start(nil)) {
				t.Fatalf("uncovered until %v", ns.UncoveredUntil())
			}
		})
	}
}

func TestDaysFollowTheConfiguredZone(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	tm := time.Date(2026, 11, 1, 20, 0, 0, 0, time.UTC) // 04:00 on 11-02 in Shanghai
	if got := state.DayOf(tm, sh).String(); got != "2026-11-02" {
		t.Fatalf("day in Shanghai = %s", got)
	}
	if got := state.DayOf(tm, nil).String(); got != "2026-11-01" {
		t.Fatalf("day in UTC = %s", got)
	}
	if got := state.DayOf(tm, sh).End(sh); !got.Equal(time.Date(2026, 11, 2, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("end of day in Shanghai = %v", got)
	}
}

func TestCheckpointRoundTripsThroughObjectStorage(t *testing.T) {
	ctx := context.Background()
	backends := map[string]func(t *testing.T) *blob.Bucket{
		"mem": func(t *testing.T) *blob.Bucket { return memblob.OpenBucket(nil) },
		"file": func(t *testing.T) *blob.Bucket {
			b, err := fileblob.OpenBucket(t.TempDir(), nil)
			must(t, err)
			return b
		},
		"s3": fakeS3Bucket,
	}
	for name, newBucket := range backends {
		t.Run(name, func(t *testing.T) {
			bucket := newBucket(t)
			defer bucket.Close()
			db := open(t, t.TempDir(), state.Options{})
			ns, _ := db.Namespace("j/left", state.Retention{})
			mustPut(t, ns, day("2026-11-01"), "k", "v")
			db.SetOffset("orders", 0, 42)
			must(t, db.Commit())
			ck := filepath.Join(t.TempDir(), "ck")
			must(t, db.Checkpoint(ctx, ck))
			var files int
			must(t, state.Upload(ctx, bucket, "job/p0", ck, func(string, int, int) { files++ }))
			if files == 0 {
				t.Fatal("no progress reported")
			}
			restored := filepath.Join(t.TempDir(), "restored")
			must(t, state.Download(ctx, bucket, "job/p0", restored, nil))
			db2 := open(t, restored, state.Options{})
			if got := db2.Offsets()[state.TopicPartition{Topic: "orders"}]; got != 42 {
				t.Fatalf("restored offset %d", got)
			}
			ns2, _ := db2.Namespace("j/left", state.Retention{})
			if got := fmt.Sprint(values(t, ns2, "k")); got != "[2026-11-01:v]" {
				t.Fatalf("restored rows %s", got)
			}
		})
	}
}

func TestDownloadRefusesAnIncompleteCheckpoint(t *testing.T) {
	ctx := context.Background()
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	must(t, bucket.WriteAll(ctx, "job/p0/MANIFEST-000001", []byte("x"), nil))
	err := state.Download(ctx, bucket, "job/p0", filepath.Join(t.TempDir(), "d"), nil)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("incomplete")) {
		t.Fatalf("err = %v", err)
	}
}

func fakeS3Bucket(t *testing.T) *blob.Bucket {
	t.Helper()
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	must(t, backend.CreateBucket("ck"))
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("k", "s", ""),
	})
	b, err := s3blob.OpenBucket(context.Background(), client, "ck", nil)
	must(t, err)
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func metricSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestLookupIsTheSameWithAndWithoutTheMirror runs the same rows through a
// mirrored namespace, one without a mirror, and one that outgrows its
// mirror halfway (pending rows must stay visible).
func TestLookupIsTheSameWithAndWithoutTheMirror(t *testing.T) {
	for name, mirror := range map[string]int64{"mirrored": 0, "pebble": -1, "outgrown": 4000} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db := open(t, dir, state.Options{MirrorBytes: mirror})
			ns, _ := db.Namespace("j/left", state.Retention{})
			var want []string
			for i := 0; i < 100; i++ {
				d := day("2026-11-01") + state.Day(i%3)
				mustPut(t, ns, d, fmt.Sprintf("k%d", i%7), fmt.Sprintf("v%d", i))
				if i%7 == 3 {
					want = append(want, fmt.Sprintf("%s:v%d", d, i))
				}
				if i == 50 {
					must(t, db.Commit())
				}
			}
			sortByDay := func(s []string) []string {
				out := append([]string(nil), s...)
				sort.SliceStable(out, func(i, j int) bool { return out[i][:10] < out[j][:10] })
				return out
			}
			if got := values(t, ns, "k3"); fmt.Sprint(got) != fmt.Sprint(sortByDay(want)) {
				t.Fatalf("pending+committed lookup\n got %v\nwant %v", got, sortByDay(want))
			}
			must(t, ns.DropBucket(day("2026-11-02")))
			var kept []string
			for _, w := range sortByDay(want) {
				if !strings.HasPrefix(w, "2026-11-02") {
					kept = append(kept, w)
				}
			}
			if got := values(t, ns, "k3"); fmt.Sprint(got) != fmt.Sprint(kept) {
				t.Fatalf("after drop\n got %v\nwant %v", got, kept)
			}
			must(t, db.Commit())
			must(t, db.Close())
			db = open(t, dir, state.Options{MirrorBytes: mirror})
			ns, _ = db.Namespace("j/left", state.Retention{})
			if got := values(t, ns, "k3"); fmt.Sprint(got) != fmt.Sprint(kept) {
				t.Fatalf("after reopen\n got %v\nwant %v", got, kept)
			}
			if got := values(t, ns, "absent"); len(got) != 0 {
				t.Fatalf("absent key: %v", got)
			}
		})
	}
}
