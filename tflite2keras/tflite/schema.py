"""The schema's object API, for every writer: unpack a file into a ``ModelT`` tree, edit, pack.

TFLite's generated object API (``ai_edge_litert.schema_py_generated``) turns a file into plain
Python objects and back. The writers (export, rewrite, truncation, JSON, hybrid and signature
files) share these helpers: unpacking, packing with the file identifier, 16-byte aligned
buffers, and the operator-code table.

Example:
    >>> from tflite2keras.testdata import tiny
    >>> model = unpack(tiny.tflite())
    >>> sorted(code_name(c) for c in model.operatorCodes), len(pack(model)) > 0
    (['17', '3'], True)
"""

from __future__ import annotations

import functools
from typing import Any

import flatbuffers

#: ``BuiltinOperator.CUSTOM``.
CUSTOM = 32
#: Buffer data alignment, as the TFLite converter writes it.
ALIGNMENT = 16
_IDENTIFIER = b"TFL3"


def module() -> Any:
    """``ai_edge_litert.schema_py_generated``, the schema's generated object API."""
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def unpack(data: bytes) -> Any:
    """The object-API ``ModelT`` tree of a file's bytes."""
    return module().ModelT.InitFromPackedBuf(data, 0)


def pack(model: Any) -> bytes:
    """The file's bytes of a schema object-API ``ModelT`` tree."""
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=_IDENTIFIER)
    return bytes(builder.Output())


@functools.lru_cache(maxsize=None)
def aligned_buffer() -> type:
    """A ``BufferT`` that packs its data 16-byte aligned, as the TFLite converter does."""
    class AlignedBufferT(module().BufferT):  # type: ignore[misc, name-defined]
        def Pack(self, builder: Any) -> int:  # noqa: N802 - the object API's name
            if self.data is not None and len(self.data):
                builder.Prep(ALIGNMENT, len(self.data))
            return super().Pack(builder)

    return AlignedBufferT


def as_bytes(data: Any) -> bytes:
    return b"" if data is None else bytes(bytearray(int(b) & 0xFF for b in data))


def name_of(tensor: Any) -> str:
    name = tensor.name
    return name.decode() if isinstance(name, bytes) else str(name or "")


def builtin_code(code: Any) -> int:
    return max(int(code.builtinCode), int(code.deprecatedBuiltinCode))


def code_name(code: Any) -> str:
    if builtin_code(code) == CUSTOM:
        custom = code.customCode
        return custom.decode() if isinstance(custom, bytes) else str(custom)
    return str(builtin_code(code))


def opcode_index(schema: Any, model: Any, builtin: int, version: int) -> int:
    """The index of (builtin, version) in the operator-code table, appended when absent."""
    for i, code in enumerate(model.operatorCodes):
        if builtin_code(code) == builtin and code.version == version:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode = builtin, min(builtin, 127)
    code.version = version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def drop_unused_codes(model: Any) -> None:
    """Remove custom operator codes no operator uses any more, renumbering the others."""
    used = {op.opcodeIndex for graph in model.subgraphs for op in graph.operators or []}
    keep = [i for i, code in enumerate(model.operatorCodes) if i in used or builtin_code(code) != CUSTOM]
    renumber = {old: new for new, old in enumerate(keep)}
    model.operatorCodes = [model.operatorCodes[i] for i in keep]
    for graph in model.subgraphs:
        for op in graph.operators or []:
            op.opcodeIndex = renumber[op.opcodeIndex]
