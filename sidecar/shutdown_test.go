package sidecar_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
	"github.com/hotcold/hotcold/sidecar"
	"github.com/hotcold/hotcold/sidecar/lookuppb"
)

func TestGracefulShutdownDrainsInFlightCalls(t *testing.T) {
	hooks := &hookStore{Store: newMemory(t)}
	release := make(chan struct{})
	hooks.before = func(ctx context.Context, table string, keys [][]row.Value) error {
		if keys[0][0].Int64() == 55 {
			<-release
		}
		return nil
	}
	sc := startSidecar(t, hooks, sidecar.Options{DrainTimeout: 30 * time.Second})
	c := dial(t, sc.tcp)

	// A unary call and a stream request are in the store when shutdown starts.
	unary := make(chan error, 1)
	go func() {
		res, err := c.Get(context.Background(), "orders", key(55))
		if err == nil && !res.Found {
			err = status.Error(codes.Internal, "key 55 not found")
		}
		unary <- err
	}()
	rpc := lookuppb.NewLookupServiceClient(rawConn(t, sc.unix))
	stream, err := rpc.StreamLookup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&lookuppb.StreamLookupRequest{Id: 1, Table: "orders", Keys: []*lookuppb.KeyRef{{Key: pkey(i64(55))}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both calls to reach the store", func() bool {
		return metricValue(t, sc, "hotcold_sidecar_coalesced_keys_total") == 1 && hooks.multiGets.Load() == 1
	})

	stopped := make(chan error, 1)
	go func() { stopped <- sc.err() }()

	// New connections are refused while the old calls drain.
	eventually(t, "new calls to be refused", func() bool {
		fresh, err := sidecar.Dial(sc.tcp, sidecar.WithRetries(0, time.Millisecond), sidecar.WithCallTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		_, err = fresh.Get(context.Background(), "orders", key(1))
		return status.Code(err) == codes.Unavailable
	})
	select {
	case err := <-stopped:
		t.Fatalf("Run returned before in-flight calls finished: %v", err)
	case err := <-unary:
		t.Fatalf("in-flight call ended before the store answered: %v", err)
	default:
	}

	close(release)
	if err := <-unary; err != nil {
		t.Fatalf("in-flight unary call: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil || resp.Id != 1 || resp.Error != nil || !resp.Results[0].Found {
		t.Fatalf("in-flight stream request: %v %v", resp, err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("stream after drain: %v, want Unavailable (shutting down)", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := os.Stat(strings.TrimPrefix(sc.unix, "unix://")); !os.IsNotExist(err) {
		t.Fatalf("unix socket file left behind: %v", err)
	}
}

func TestRunRefusesASocketInUseAndReplacesAStaleOne(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	sock := strings.TrimPrefix(sc.unix, "unix://")
	srv, err := sidecar.NewServer(coldstore.NewMemory(), sidecar.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Run(context.Background(), sidecar.Listeners{Unix: sock})
	if err == nil || !strings.Contains(err.Error(), "served by another process") {
		t.Fatalf("second sidecar on a live socket: %v", err)
	}

	// A regular file is not taken for a socket.
	file := filepath.Join(t.TempDir(), "file.sock")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err = srv.Run(context.Background(), sidecar.Listeners{Unix: file})
	if err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Fatalf("regular file at the socket path: %v", err)
	}

	// A socket file without a server (a crashed sidecar) is replaced.
	stale := filepath.Join(t.TempDir(), "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- srv.Run(ctx, sidecar.Listeners{Unix: stale, Ready: func(sidecar.Addrs) { cancel() }})
	}()
	if err := <-done; err != nil {
		t.Fatalf("stale socket: %v", err)
	}
}

func TestRunNeedsAListenerAndReportsBusyPorts(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{})
	srv, err := sidecar.NewServer(coldstore.NewMemory(), sidecar.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(context.Background(), sidecar.Listeners{}); err == nil || !strings.Contains(err.Error(), "--listen") {
		t.Fatalf("no listeners: %v", err)
	}
	if err := srv.Run(context.Background(), sidecar.Listeners{TCP: sc.tcp}); err == nil || !strings.Contains(err.Error(), sc.tcp) {
		t.Fatalf("busy port: %v", err)
	}
}

func TestNewServerReportsEveryBadOption(t *testing.T) {
	_, err := sidecar.NewServer(coldstore.NewMemory(), sidecar.Options{
		MaxBatch: -1,
		Jobs: []sidecar.Job{
			{Name: "a", Token: "t", Tables: []string{"x"}},
			{Name: "a", Token: "t"},
			{Token: "u", Tables: []string{"x"}, RateLimit: -5},
		},
	})
	if err == nil {
		t.Fatal("NewServer accepted bad options")
	}
	for _, want := range []string{"MaxBatch -1", `Jobs[1] ("a"): Name is also used by Jobs[0]`, "Token is also used", "Jobs[1] (\"a\"): Tables", "Jobs[2]: Name must be set", "RateLimit -5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
