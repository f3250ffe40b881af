"""protoc-gen-grpc_python: grpcio-tools' gRPC Python generator as a protoc plugin, for buf.

grpcio-tools builds that generator into its own protoc instead of shipping a plugin, and buf
runs only plugins or protoc's built-in languages. This plugin hands the request's files to
grpcio-tools' protoc (as a descriptor set) and answers what it writes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> None:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    with tempfile.TemporaryDirectory() as scratch:
        descriptors = Path(scratch) / "files.binpb"
        out = Path(scratch) / "out"
        out.mkdir()
        descriptors.write_bytes(
            descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString()
        )
        args = ["protoc", f"--descriptor_set_in={descriptors}", f"--grpc_python_out={out}"]
        if protoc.main([*args, *request.file_to_generate]) != 0:
            response.error = "grpcio-tools' protoc failed (see its message above)"
        for path in sorted(out.rglob("*.py")):
            response.file.add(name=str(path.relative_to(out)), content=path.read_text())
    sys.stdout.buffer.write(response.SerializeToString())


if __name__ == "__main__":
    main()
