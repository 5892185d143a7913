// Package adminpb holds the Go code generated from
// proto/hotcold/admin/v1/admin.proto: the messages and the gRPC client and
// server stubs of the hotcold.admin.v1.AdminService, which loads, lists and
// rolls back versions of the cold store a running sidecar holds open.
//
// Do not edit the *.pb.go files; change the proto and run
//
//	go generate ./sidecar/adminpb
//
// which runs buf with the protoc-gen-go and protoc-gen-go-grpc versions
// pinned as tool directives in go.mod (no network, no protoc install).
// Most Go callers want the higher-level sidecar.AdminClient instead.
package adminpb

//go:generate go tool buf generate --template ../../buf.gen.yaml --output ../.. --path ../../proto/hotcold/admin ../..
