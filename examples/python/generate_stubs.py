#!/usr/bin/env python3
"""Generates the Python gRPC stubs of cloudgate from the repository's proto/.

Usage: python generate_stubs.py [OUT_DIR]     (default: gen/ beside this file)

Runs protoc from grpcio-tools (no system protoc needed) on every .proto under
proto/, writing *_pb2.py, *_pb2.pyi and *_pb2_grpc.py into OUT_DIR, which is
emptied first so the stubs always match proto/. The generated code is not
committed (gen/ is gitignored): run this again after proto/ changes.
"""

import pathlib
import shutil
import sys

import grpc_tools
from grpc_tools import protoc

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"


def main() -> int:
    out = pathlib.Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE / "gen"
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    if not protos:
        print(f"generate_stubs.py: no .proto files under {PROTO_ROOT}", file=sys.stderr)
        return 2
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    # grpcio-tools ships google/protobuf/*.proto (options.proto imports descriptor.proto).
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *protos,
    ]
    status = protoc.main(args)
    if status != 0:
        print(f"generate_stubs.py: protoc failed with status {status}", file=sys.stderr)
        return status

    # Make every generated directory a regular package. As namespace packages
    # they would lose to installed packages of the same name (the Tencent Cloud
    # SDK installs a `tencentcloud` package, with its own `dlc/v20210125`).
    for directory in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        if directory != out:
            (directory / "__init__.py").touch()

    print(f"generated stubs for {len(protos)} proto files in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
