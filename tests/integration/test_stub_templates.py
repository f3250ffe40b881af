"""buf.gen.python.yaml generates the very stubs that `make protos` commits.

buf's images carry every field's JSON name where protoc's Python generator keeps only the
declared ones, so the embedded descriptors are compared as descriptors (and the offsets into
them are left out), the rest as text.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from google.protobuf import descriptor_pb2

from bucketd.codec import default_json_name

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"
COMMITTED = ROOT / "bucketd" / "v1"
SERIALIZED = re.compile(r"AddSerializedFile\((b'.*?')\)\n", re.DOTALL)
OFFSETS = re.compile(r"_serialized_(start|end)=\d+")  # positions in that descriptor


def _descriptor(module_text: str) -> descriptor_pb2.FileDescriptorProto:
    literal = SERIALIZED.search(module_text)
    assert literal, "no serialized descriptor in the module"
    file = descriptor_pb2.FileDescriptorProto.FromString(ast.literal_eval(literal[1]))
    fields, messages = list(file.extension), list(file.message_type)
    while messages:
        message = messages.pop()
        messages.extend(message.nested_type)
        fields.extend([*message.field, *message.extension])
    for field in fields:
        if field.json_name == default_json_name(field.name):
            field.ClearField("json_name")
    return file


def test_python_template_generates_the_committed_stubs(tmp_path: Path) -> None:
    subprocess.run(
        [BUF, "generate", "--template", "buf.gen.python.yaml", "-o", tmp_path],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    generated = tmp_path / "gen" / "python" / "bucketd" / "v1"
    names = sorted(p.name for p in generated.iterdir())
    committed = sorted(p.name for p in COMMITTED.glob("*_pb2*"))
    assert names == committed
    for name in names:
        ours, theirs = (generated / name).read_text(), (COMMITTED / name).read_text()
        if name.endswith("_pb2.py"):
            assert _descriptor(ours) == _descriptor(theirs), name
            ours, theirs = (OFFSETS.sub("", SERIALIZED.sub("", text)) for text in (ours, theirs))
        assert ours == theirs, f"{name} differs from the committed stub"
