package sidecar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/fullstorydev/grpcurl"
	"github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/grpc/codes"

	"github.com/hotcold/hotcold/sidecar"
)

// grpcurlCall runs one grpcurl invocation in-process against the server's
// reflection service, as `grpcurl -plaintext -H ... -d @ addr method`
// would, and returns its printed output and final status code.
func grpcurlCall(t *testing.T, addr, token, method, body string) (string, codes.Code) {
	t.Helper()
	ctx := context.Background()
	cc := rawConn(t, addr)
	refClient := grpcreflect.NewClientAuto(ctx, cc)
	defer refClient.Reset()
	source := grpcurl.DescriptorSourceFromServer(ctx, refClient)
	parser, formatter, err := grpcurl.RequestParserAndFormatter(grpcurl.FormatJSON, source, strings.NewReader(body), grpcurl.FormatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	h := &grpcurl.DefaultEventHandler{Out: &out, Formatter: formatter}
	var headers []string
	if token != "" {
		headers = []string{"authorization: Bearer " + token}
	}
	if err := grpcurl.InvokeRPC(ctx, source, cc, method, headers, h, parser.Next); err != nil {
		t.Fatalf("grpcurl %s: %v", method, err)
	}
	return out.String(), h.Status.Code()
}

func TestGrpcurlCallsTheSidecarThroughReflection(t *testing.T) {
	sc := startSidecar(t, newMemory(t), sidecar.Options{Jobs: []sidecar.Job{
		{Name: "cli", Token: "tok-cli", Tables: []string{"orders"}},
	}})

	t.Run("list services", func(t *testing.T) {
		cc := rawConn(t, sc.tcp)
		refClient := grpcreflect.NewClientAuto(context.Background(), cc)
		defer refClient.Reset()
		services, err := grpcurl.ListServices(grpcurl.DescriptorSourceFromServer(context.Background(), refClient))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{sidecar.ServiceName, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
			if !slices.Contains(services, want) {
				t.Errorf("services %v lack %s", services, want)
			}
		}
	})

	t.Run("lookup prints readable JSON", func(t *testing.T) {
		out, code := grpcurlCall(t, sc.tcp, "tok-cli", "hotcold.lookup.v1.LookupService/Lookup",
			`{"table": "orders", "key": {"values": [{"int64Value": "2"}]}}`)
		if code != codes.OK {
			t.Fatalf("code %v, output %s", code, out)
		}
		var resp struct {
			Found   bool   `json:"found"`
			Version string `json:"version"`
			Row     struct {
				Values []map[string]any `json:"values"`
			} `json:"row"`
			CoversUntil string `json:"coversUntil"`
		}
		if err := json.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		if !resp.Found || resp.Version != "v1" || resp.CoversUntil != "2026-11-22T00:00:00Z" || len(resp.Row.Values) != 5 {
			t.Fatalf("response %+v from\n%s", resp, out)
		}
		if resp.Row.Values[2]["decimalValue"] != "2.05" || resp.Row.Values[1]["stringValue"] != "c2@v1" {
			t.Fatalf("values %v", resp.Row.Values)
		}
	})

	t.Run("explicit null in JSON", func(t *testing.T) {
		out, code := grpcurlCall(t, sc.unix, "tok-cli", "hotcold.lookup.v1.LookupService/Lookup",
			`{"table": "orders", "key": {"values": [{"int64Value": "3"}]}}`)
		// grpcurl's dynamic messages print the NullValue enum by name;
		// protojson prints null. Both are explicit nulls.
		if code != codes.OK || !(strings.Contains(out, `"nullValue": null`) || strings.Contains(out, `"nullValue": "NULL_VALUE"`)) {
			t.Fatalf("code %v, output %s", code, out)
		}
	})

	t.Run("stream", func(t *testing.T) {
		out, code := grpcurlCall(t, sc.tcp, "tok-cli", "hotcold.lookup.v1.LookupService/StreamLookup",
			`{"id": "1", "table": "orders", "keys": [{"key": {"values": [{"int64Value": "5"}]}}]}
			 {"id": "2", "table": "orders", "keys": [{"key": {"values": [{"int64Value": "500"}]}}]}`)
		if code != codes.OK || strings.Count(out, `"id"`) != 2 || !strings.Contains(out, `"c5@v1"`) {
			t.Fatalf("code %v, output %s", code, out)
		}
	})

	t.Run("describe", func(t *testing.T) {
		out, code := grpcurlCall(t, sc.tcp, "tok-cli", "hotcold.lookup.v1.LookupService/DescribeTable", `{"table": "orders"}`)
		if code != codes.OK || !strings.Contains(out, `"type": "decimal128(18, 2)"`) || !strings.Contains(out, `"rowCount": "100"`) {
			t.Fatalf("code %v, output %s", code, out)
		}
	})

	t.Run("errors come back as statuses", func(t *testing.T) {
		if _, code := grpcurlCall(t, sc.tcp, "tok-cli", "hotcold.lookup.v1.LookupService/Lookup", `{"table": "refunds", "key": {"values": [{"int64Value": "1"}, {"int32Value": 1}]}}`); code != codes.PermissionDenied {
			t.Fatalf("code %v, want PermissionDenied", code)
		}
		if _, code := grpcurlCall(t, sc.tcp, "", "hotcold.lookup.v1.LookupService/Lookup", `{"table": "orders", "key": {"values": [{"int64Value": "1"}]}}`); code != codes.Unauthenticated {
			t.Fatalf("code %v, want Unauthenticated", code)
		}
	})
}
