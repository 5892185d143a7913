package sidecar

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar/adminpb"
)

// FuzzValidateLoadRequest feeds arbitrary LoadRequest bytes to the admin
// service's request check: it must never panic, and a rejected request
// is InvalidArgument with one BadRequest violation per problem, each
// named in the message.
func FuzzValidateLoadRequest(f *testing.F) {
	for _, req := range []*adminpb.LoadRequest{
		{Table: "orders", Version: "dt=2026-11-22", Key: []string{"order_id"}, Files: []string{"/nonexistent/part-0.parquet"}},
		{},
		{Table: "a b", Version: "", Key: []string{""}, Files: []string{"rel.parquet", ""}, MemoryBudgetBytes: -1},
		{Table: strings.Repeat("t", 200), Version: "v\x00", Key: []string{"k"}, Files: []string{"/"}},
		{Table: "t", Version: "v", Key: []string{"k"}, Files: []string{"/tmp"}, CoversUntil: &timestamppb.Timestamp{Seconds: 1 << 62, Nanos: -1}},
		{Table: "t", Version: "v", Key: []string{"k"}, Files: []string{"/etc/hostname"}, CoversUntil: timestamppb.New(time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))},
	} {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &adminpb.LoadRequest{}
		if err := proto.Unmarshal(data, req); err != nil {
			return
		}
		err := validateLoadRequest(req, inputRoots{"/tmp"})
		if err == nil {
			if checkName(req.Table) != "" || checkName(req.Version) != "" || len(req.Key) == 0 || len(req.Files) == 0 || req.MemoryBudgetBytes < 0 {
				t.Fatalf("accepted %v", req)
			}
			return
		}
		st := status.Convert(err)
		if st.Code() != codes.InvalidArgument {
			t.Fatalf("code %v for %v", st.Code(), req)
		}
		var fields int
		for _, d := range st.Details() {
			br, ok := d.(*errdetails.BadRequest)
			if !ok {
				continue
			}
			for _, v := range br.GetFieldViolations() {
				fields++
				if !strings.Contains(st.Message(), v.GetField()+": ") {
					t.Fatalf("message %q does not name field %q", st.Message(), v.GetField())
				}
			}
		}
		if fields == 0 {
			t.Fatalf("no field violations in %v", st)
		}
	})
}

// FuzzLoadEventConversion checks that any LoadResult or LoadProgress a
// sidecar could send converts without a panic, and that what converts
// comes back the same.
func FuzzLoadEventConversion(f *testing.F) {
	for _, ev := range []*adminpb.LoadEvent{
		{Event: &adminpb.LoadEvent_Progress{Progress: &adminpb.LoadProgress{Phase: "read", Rows: 10, ElapsedSeconds: 1.5}}},
		{Event: &adminpb.LoadEvent_Progress{Progress: &adminpb.LoadProgress{ElapsedSeconds: 1e300}}},
		{Event: &adminpb.LoadEvent_Result{Result: loadResultToProto(coldstore.LoadResult{Table: "orders", Version: "v1", Rows: 3, Schema: nil, Dropped: []string{"v0"}})}},
		{Event: &adminpb.LoadEvent_Result{Result: &adminpb.LoadResult{Table: "t", Schema: schemaToProto(ordersSchemaForFuzz)}}},
	} {
		b, err := proto.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev := &adminpb.LoadEvent{}
		if err := proto.Unmarshal(data, ev); err != nil {
			return
		}
		if p := ev.GetProgress(); p != nil {
			lp := loadProgressFromProto(p)
			if lp.Phase != p.GetPhase() || lp.Rows != p.GetRows() {
				t.Fatalf("progress %v became %+v", p, lp)
			}
		}
		if r := ev.GetResult(); r != nil {
			res, err := loadResultFromProto(r)
			if err != nil {
				return
			}
			back := loadResultToProto(res)
			if back.GetTable() != r.GetTable() || back.GetRows() != r.GetRows() || (r.GetSchema() == nil) != (back.GetSchema() == nil) {
				t.Fatalf("result %v came back as %v", r, back)
			}
		}
	})
}

var ordersSchemaForFuzz = row.MustSchema([]row.Column{
	{Name: "order_id", Type: row.Int64},
	{Name: "amount", Type: row.Decimal(18, 2), Nullable: true},
}, []string{"order_id"}, 2)

// blockingStream is a Load stream whose Send blocks until released, like
// a client that stopped reading.
type blockingStream struct {
	grpc.ServerStream
	release chan struct{}
	sent    chan *adminpb.LoadEvent
}

func (s *blockingStream) Send(ev *adminpb.LoadEvent) error {
	<-s.release
	s.sent <- ev
	return nil
}

func TestProgressNeverWaitsForASlowClient(t *testing.T) {
	st := &blockingStream{release: make(chan struct{}), sent: make(chan *adminpb.LoadEvent, 100)}
	r := newProgressRelay(context.Background(), st)
	// The sender is stuck in Send with the first snapshot; the load keeps
	// reporting without waiting.
	for i := int64(1); i <= 10_000; i++ {
		r.offer(coldstore.LoadProgress{Phase: "read", Rows: i})
	}
	r.offer(coldstore.LoadProgress{Phase: "done", Rows: 10_000})
	close(st.release)
	r.close()
	close(st.sent)
	var got []*adminpb.LoadProgress
	for ev := range st.sent {
		got = append(got, ev.GetProgress())
	}
	if len(got) == 0 || len(got) > 3 {
		t.Fatalf("%d progress events sent, want the snapshots coalesced into at most 3", len(got))
	}
	if last := got[len(got)-1]; last.GetPhase() != "done" || last.GetRows() != 10_000 {
		t.Fatalf("last event %v, want the final snapshot", last)
	}
}
