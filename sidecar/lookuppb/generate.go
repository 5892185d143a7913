// Package lookuppb holds the Go code generated from
// proto/hotcold/lookup/v1/lookup.proto: the messages and the gRPC client
// and server stubs of the hotcold.lookup.v1.LookupService.
//
// Do not edit the *.pb.go files; change the proto and run
//
//	go generate ./sidecar/lookuppb
//
// which runs buf with the protoc-gen-go and protoc-gen-go-grpc versions
// pinned as tool directives in go.mod (no network, no protoc install).
// Most Go callers want the higher-level sidecar.Client instead.
package lookuppb

//go:generate go tool buf generate --template ../../buf.gen.yaml --output ../.. ../..
