package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fullstorydev/grpcurl"
	"github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hotcold/hotcold/coldstore"
	"github.com/hotcold/hotcold/row"
)

// The "done when": `hotcold serve` over a store loaded with
// `hotcold load` answers `hotcold lookup`, grpcurl and a Python client.
func TestLoadServeLookupEndToEnd(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cold := "pebble:" + filepath.Join(dir, "cold")
	parquet := filepath.Join(dir, "orders.parquet")
	rows := make([]row.Row, 100)
	for i := range rows {
		rows[i] = row.New(row.Int64Value(int64(i+1)), row.StringValue("alice"), row.Float64Value(float64(i)+0.5))
	}
	if err := coldstore.WriteParquet(ctx, parquet, ordersSchema, rows, nil); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "load", "--store", cold, "--table", "orders", "--version", "dt=2026-11-22", "--key", "order_id",
		"--covers-until", "2026-11-22T00:00:00Z", "--progress", "never", parquet); err != nil {
		t.Fatalf("hotcold load: %v\n%s", err, out)
	}

	sock := filepath.Join(dir, "hotcold.sock")
	srv := startServe(t, "--store", cold, "--unix", sock, "--listen", "127.0.0.1:0")

	// hotcold lookup, over both transports.
	for _, addr := range []string{"unix://" + sock, srv.tcp} {
		lines := jsonLines(t, "lookup", "--addr", addr, "--table", "orders", "42", "1000")
		r, _ := lines[0]["row"].(map[string]any)
		if lines[0]["found"] != true || lines[0]["version"] != "dt=2026-11-22" || r["order_id"] != float64(42) || r["amount"] != 41.5 {
			t.Errorf("%s: line 1 %v", addr, lines[0])
		}
		if lines[1]["found"] != false {
			t.Errorf("%s: line 2 %v", addr, lines[1])
		}
	}

	// grpcurl, through server reflection.
	cc, err := grpc.NewClient(srv.tcp, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ref := grpcreflect.NewClientAuto(ctx, cc)
	defer ref.Reset()
	source := grpcurl.DescriptorSourceFromServer(ctx, ref)
	parser, formatter, err := grpcurl.RequestParserAndFormatter(grpcurl.FormatJSON, source,
		strings.NewReader(`{"table": "orders", "key": {"values": [{"int64Value": "7"}]}}`), grpcurl.FormatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	h := &grpcurl.DefaultEventHandler{Out: &out, Formatter: formatter}
	if err := grpcurl.InvokeRPC(ctx, source, cc, "hotcold.lookup.v1.LookupService/Lookup", nil, h, parser.Next); err != nil || h.Status.Err() != nil {
		t.Fatalf("grpcurl: %v %v", err, h.Status.Err())
	}
	var resp struct {
		Found       bool   `json:"found"`
		Version     string `json:"version"`
		CoversUntil string `json:"coversUntil"`
	}
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil || !resp.Found || resp.Version != "dt=2026-11-22" || resp.CoversUntil != "2026-11-22T00:00:00Z" {
		t.Errorf("grpcurl printed %s (%v)", out.String(), err)
	}

	// A Python grpcio client with stubs generated from the proto.
	t.Run("python", func(t *testing.T) {
		py := os.Getenv("HOTCOLD_PYTHON")
		if py == "" {
			py = "/usr/bin/python3"
		}
		if msg, err := exec.Command(py, "-c", "import grpc, grpc_tools.protoc").CombinedOutput(); err != nil {
			if os.Getenv("HOTCOLD_REQUIRE_PYTHON_GRPC") != "" {
				t.Fatalf("python with grpcio and grpc_tools: %v %s", err, msg)
			}
			t.Skipf("python with grpcio and grpc_tools not available (%s); install python3-grpcio and python3-grpc-tools", bytes.TrimSpace(msg))
		}
		protoDir, err := filepath.Abs("../../proto")
		if err != nil {
			t.Fatal(err)
		}
		script := `
import os, sys
from grpc_tools import protoc
import grpc
proto, out, addr = sys.argv[1:4]
inc = os.path.join(os.path.dirname(protoc.__file__), "_proto")
assert protoc.main(["protoc", "-I" + proto, "-I" + inc, "--python_out=" + out, "--grpc_python_out=" + out, os.path.join(proto, "hotcold/lookup/v1/lookup.proto")]) == 0
sys.path.insert(0, out)
from hotcold.lookup.v1 import lookup_pb2 as pb, lookup_pb2_grpc as pbg
with grpc.insecure_channel(addr) as ch:
    r = pbg.LookupServiceStub(ch).Lookup(pb.LookupRequest(table="orders", key=pb.Key(values=[pb.Value(int64_value=9)])), timeout=10)
    print(r.found, r.version, r.row.values[0].int64_value, r.row.values[2].double_value)
`
		got, err := exec.Command(py, "-c", script, protoDir, t.TempDir(), "unix://"+sock).CombinedOutput()
		if err != nil || strings.TrimSpace(string(got)) != "True dt=2026-11-22 9 8.5" {
			t.Fatalf("python client: %v\n%s", err, got)
		}
	})

	if err := srv.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
}
