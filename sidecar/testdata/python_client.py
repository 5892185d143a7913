"""A Python grpcio client of the hotcold lookup sidecar, used by
TestPythonGrpcioClient. It generates stubs from the proto with grpc_tools,
calls every RPC and prints one JSON object with what it saw.

usage: python_client.py PROTO_DIR OUT_DIR TOKEN ADDR...
"""
import json
import os
import sys

from grpc_tools import protoc
import grpc


def main():
    proto_dir, out_dir, token, addrs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main([
        "grpc_tools.protoc", "-I" + proto_dir, "-I" + include,
        "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
        os.path.join(proto_dir, "hotcold/lookup/v1/lookup.proto"),
    ])
    if rc != 0:
        raise SystemExit("protoc failed: %d" % rc)
    sys.path.insert(0, out_dir)
    from hotcold.lookup.v1 import lookup_pb2 as pb
    from hotcold.lookup.v1 import lookup_pb2_grpc as pbg

    md = [("authorization", "Bearer " + token)]
    out = {}
    for addr in addrs:
        seen = {}
        with grpc.insecure_channel(addr) as ch:
            stub = pbg.LookupServiceStub(ch)
            key = lambda n: pb.Key(values=[pb.Value(int64_value=n)])

            r = stub.Lookup(pb.LookupRequest(table="orders", key=key(2)), metadata=md, timeout=10)
            seen["lookup"] = {
                "found": r.found, "version": r.version,
                "customer": r.row.values[1].string_value,
                "amount": r.row.values[2].decimal_value,
                "created": r.row.values[3].timestamp_millis,
                "note": r.row.values[4].string_value,
                "covers_until": r.covers_until.ToJsonString(),
            }
            r = stub.Lookup(pb.LookupRequest(table="orders", key=key(3)), metadata=md, timeout=10)
            seen["null_note"] = r.row.values[4].WhichOneof("kind")

            b = stub.BatchLookup(pb.BatchLookupRequest(table="orders", keys=[
                pb.KeyRef(key=key(7)), pb.KeyRef(key=key(12345)), pb.KeyRef(key=key(8))]), metadata=md, timeout=10)
            seen["batch"] = [[x.found, x.row.values[0].int64_value if x.found else None] for x in b.results]

            reqs = [pb.StreamLookupRequest(id=i, table="orders", keys=[pb.KeyRef(key=key(i))]) for i in range(1, 6)]
            resps = stub.StreamLookup(iter(reqs), metadata=md, timeout=10)
            seen["stream"] = sorted([x.id, x.results[0].row.values[0].int64_value] for x in resps)

            d = stub.DescribeTable(pb.DescribeTableRequest(table="orders"), metadata=md, timeout=10)
            seen["describe"] = {"version": d.table.version, "rows": d.table.row_count,
                                "key": list(d.table.schema.key),
                                "types": [c.type for c in d.table.schema.columns]}
            seen["tables"] = [t.name for t in stub.ListTables(pb.ListTablesRequest(), metadata=md, timeout=10).tables]

            try:
                stub.Lookup(pb.LookupRequest(table="refunds", key=key(1)), metadata=md, timeout=10)
                seen["denied"] = "OK"
            except grpc.RpcError as e:
                seen["denied"] = e.code().name
            try:
                stub.Lookup(pb.LookupRequest(table="orders", key=pb.Key(values=[pb.Value(string_value="x")])), metadata=md, timeout=10)
                seen["bad_key"] = "OK"
            except grpc.RpcError as e:
                seen["bad_key"] = e.code().name + ": " + e.details()
        out[addr] = seen
    print(json.dumps(out))


if __name__ == "__main__":
    main()
