"""Generates the Python gRPC stubs of the hotcold lookup API with grpc_tools.

    python3 clients/python/gen_stubs.py OUT_DIR [PROTO_ROOT]

writes OUT_DIR/hotcold/lookup/v1/lookup_pb2.py and lookup_pb2_grpc.py from
PROTO_ROOT/hotcold/lookup/v1/lookup.proto (default: the repository's proto/
directory). Put OUT_DIR on sys.path next to this directory to import
hotcold_client from a checkout; `pip install clients/python` runs this
during the build. The stubs are generated, never committed, so they always
match the proto.
"""

import os
import sys

PROTO = "hotcold/lookup/v1/lookup.proto"
DEFAULT_PROTO_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")


def generate(out_dir, proto_root=None):
    """Generates the stubs into out_dir; raises RuntimeError on failure."""
    try:
        from grpc_tools import protoc
    except ImportError as e:
        raise RuntimeError(
            "grpc_tools is missing: apt-get install python3-grpc-tools, or pip install grpcio-tools"
        ) from e
    proto_root = os.path.abspath(proto_root or os.environ.get("HOTCOLD_PROTO_ROOT") or DEFAULT_PROTO_ROOT)
    if not os.path.isfile(os.path.join(proto_root, PROTO)):
        raise RuntimeError(
            f"{os.path.join(proto_root, PROTO)} not found: build from a hotcold checkout "
            "or set HOTCOLD_PROTO_ROOT to the directory holding hotcold/lookup/v1/lookup.proto"
        )
    os.makedirs(out_dir, exist_ok=True)
    args = ["grpc_tools.protoc", "-I" + proto_root]
    # grpcio-tools from pip bundles the well-known protos (struct.proto,
    # timestamp.proto); Debian's protoc finds them in /usr/include.
    bundled = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    if os.path.isdir(bundled):
        args.append("-I" + bundled)
    args += ["--python_out=" + out_dir, "--grpc_python_out=" + out_dir, os.path.join(proto_root, PROTO)]
    if protoc.main(args) != 0:
        raise RuntimeError(f"grpc_tools.protoc failed on {PROTO} (see its message above)")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    try:
        generate(*sys.argv[1:])
    except RuntimeError as e:
        sys.exit(f"gen_stubs: {e}")
