"""Regenerate the Python stubs of protos/ into `bucketd/v1` (`make protos`).

grpcio-tools' protoc writes the modules; mypy-protobuf's plugins write the .pyi files of both
the messages and the gRPC stubs/servicers, so that mypy --strict checks their callers.

The googleapis protos (google/api/*.proto, google/rpc/code.proto) come from the installed
googleapis-common-protos package: they are copied into build/googleapis so that protoc and buf
read the same files offline, without a registry.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import google.api
import google.rpc
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
GOOGLEAPIS = ROOT / "build" / "googleapis"
OUT = ROOT / "bucketd" / "v1"  # protos/bucketd/v1/*.proto; nothing else under bucketd/ is generated
GOOGLE_API_FILES = ("annotations.proto", "http.proto", "field_behavior.proto")
GOOGLE_RPC_FILES = ("code.proto",)  # google.rpc.Code: the ErrorReason values' (grpc_code)
PACKAGE_DOC = '"""Generated from protos/ by `make protos`: do not edit."""\n'


def copy_googleapis() -> None:
    """Lay the googleapis protos we import where buf and protoc both find them."""
    for package, names in ((google.api, GOOGLE_API_FILES), (google.rpc, GOOGLE_RPC_FILES)):
        source = Path(next(iter(package.__path__)))
        target = GOOGLEAPIS / "google" / package.__name__.split(".")[-1]
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(source / name, target / name)


def _plugin(name: str) -> str:
    """A protoc plugin installed beside this interpreter (the venv's bin/)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        sys.exit(f"{name} not found next to {sys.executable}: install the dev extra")
    return str(path)


def generate() -> None:
    """Run protoc (python, pyi, grpc) over every file under protos/."""
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    well_known = Path(protoc.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{GOOGLEAPIS}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={ROOT}",
        f"--mypy_out={ROOT}",
        f"--grpc_python_out={ROOT}",
        f"--mypy_grpc_out=generate_concrete_servicer_stubs:{ROOT}",
        *sources,
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    (OUT / "__init__.py").write_text(PACKAGE_DOC)
    (OUT / "py.typed").write_text("")
    write_comments(args[:4] + sources)


def _comments_of(file: descriptor_pb2.FileDescriptorProto) -> dict[str, str]:
    """Element full name -> its leading comment (messages, fields, services, methods)."""
    comments: dict[str, str] = {}
    by_path = {
        tuple(location.path): location.leading_comments.strip()
        for location in file.source_code_info.location
        if location.leading_comments.strip()
    }

    def message(proto: descriptor_pb2.DescriptorProto, prefix: str, path: tuple[int, ...]) -> None:
        name = f"{prefix}.{proto.name}"
        if path in by_path:
            comments[name] = by_path[path]
        for index, field in enumerate(proto.field):
            if (text := by_path.get((*path, 2, index))) is not None:
                comments[f"{name}.{field.name}"] = text
        for index, nested in enumerate(proto.nested_type):
            message(nested, name, (*path, 3, index))

    for index, proto in enumerate(file.message_type):
        message(proto, file.package, (4, index))
    for index, service in enumerate(file.service):
        name = f"{file.package}.{service.name}"
        if (text := by_path.get((6, index))) is not None:
            comments[name] = text
        for method_index, method in enumerate(service.method):
            if (text := by_path.get((6, index, 2, method_index))) is not None:
                comments[f"{name}.{method.name}"] = text
    return comments


def write_comments(include_args: list[str]) -> None:
    """bucketd/v1/comments.py: the protos' comments, for the OpenAPI document's descriptions
    (the generated modules carry no source information)."""
    with tempfile.TemporaryDirectory() as scratch:
        descriptor_set = Path(scratch) / "set.binpb"
        args = [*include_args, "--include_source_info", f"--descriptor_set_out={descriptor_set}"]
        if protoc.main(args) != 0:
            sys.exit("protoc failed")
        files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    comments: dict[str, str] = {}
    for file in files.file:
        comments.update(_comments_of(file))
    lines = [f"    {name!r}: {text!r}," for name, text in sorted(comments.items())]
    (OUT / "comments.py").write_text(
        PACKAGE_DOC
        + "\n# Element full name -> the comment above it in protos/ (the OpenAPI descriptions).\n"
        + "COMMENTS: dict[str, str] = {\n"
        + "\n".join(lines)
        + "\n}\n"
    )


if __name__ == "__main__":
    copy_googleapis()
    if "--googleapis-only" not in sys.argv[1:]:
        generate()
