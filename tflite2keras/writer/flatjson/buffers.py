"""Helpers of :mod:`tflite2keras.writer.flatjson.document`: buffers as JSON, and packing with external data.

Example:
    >>> encode_buffer(bytes(8), b"", {(0, (2,), False)})   # two float32 zeros, read as FLOAT32 [2]
    {'dtype': 'FLOAT32', 'data': [0.0, 0.0]}
    >>> decode_buffer({"dtype": "INT8", "data": [1, -1]}, "buffers[3]")
    (b'\\x01\\xff', False)
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from ...errors import InvalidModelError
from ...tflite.schema import pack as pack_model
from .fields import (
    SMALL,
    Field,
    check_keys,
    decode_bytes,
    enum_names,
    fail,
    number,
    schema,
)

#: TensorType name -> (numpy dtype, number type) of the buffers written as numbers.
NUMPY: dict[str, tuple[str, str]] = {
    "FLOAT32": ("<f4", "Float32"), "FLOAT16": ("<f2", "Float32"), "FLOAT64": ("<f8", "Float64"),
    "INT8": ("i1", "Int8"), "UINT8": ("u1", "Uint8"), "INT16": ("<i2", "Int16"), "UINT16": ("<u2", "Uint16"),
    "INT32": ("<i4", "Int32"), "UINT32": ("<u4", "Uint32"), "INT64": ("<i8", "Int64"), "UINT64": ("<u8", "Uint64"),
    "BOOL": ("?", "Bool"),
}
_ALIGN = 16


def buffer_uses(model: Any) -> dict[int, set[tuple[int, tuple[int, ...] | None, bool]]]:
    """Buffer index -> the (TensorType, shape, is sparse) of the tensors of every subgraph that read it."""
    uses: dict[int, set[tuple[int, tuple[int, ...] | None, bool]]] = {}
    for graph in model.subgraphs or []:
        for t in graph.tensors or []:
            shape = None if t.shape is None else tuple(int(d) for d in t.shape)
            uses.setdefault(t.buffer, set()).add((t.type, shape, t.sparsity is not None))
    return uses


def encode_buffer(buffer: Any, data: bytes, uses: set[tuple[int, tuple[int, ...] | None, bool]]) -> dict[str, Any]:
    """JSON of a buffer (a ``BufferT``, or its bytes) read by tensors ``uses``; ``data`` is the file."""
    if isinstance(buffer, bytes):
        buffer, data = schema.BufferT(), buffer
        buffer.data = np.frombuffer(data, np.uint8)
    external = buffer.offset > 1
    if external:
        raw: bytes | None = data[buffer.offset:buffer.offset + buffer.size]
    else:
        raw = None if buffer.data is None else bytes(bytearray(buffer.data))
    out: dict[str, Any] = {}
    names = {enum_names(schema.TensorType).get(kind) for kind, _, _ in uses}
    if raw is not None and len(names) == 1 and (name := names.pop()) in NUMPY and len(raw) % np.dtype(NUMPY[name][0]).itemsize == 0:
        values = np.frombuffer(raw, NUMPY[name][0])
        shapes = {shape for _, shape, sparse in uses if not sparse}
        if values.size <= SMALL and np.array(values.tolist(), values.dtype).tobytes() == raw:
            out = {"dtype": name, "data": values.tolist()}
        elif values.size > SMALL:
            out = {"dtype": name}
            if len(shapes) == 1 and (shape := shapes.pop()) is not None and math.prod(shape) == values.size:
                out["shape"] = list(shape)
            out["base64"] = base64.b64encode(raw).decode("ascii")
    if raw is not None and not out:
        out = {"data": list(raw)} if len(raw) <= SMALL else {"base64": base64.b64encode(raw).decode("ascii")}
    return {**out, "external": True} if external else out


def decode_buffer(value: Any, path: str) -> tuple[bytes | None, bool]:
    """Inverse of :func:`encode_buffer`: the bytes (None: no data) and whether they go after the flatbuffer."""
    value = check_keys(value, {"dtype", "shape", "data", "base64", "external"}, path, "Buffer")
    dtype, kind = "u1", "Uint8"
    if "dtype" in value:
        if value["dtype"] not in NUMPY:
            raise fail(f"{path}.dtype", f"a dtype name ({', '.join(NUMPY)})", value["dtype"])
        dtype, kind = NUMPY[value["dtype"]]
    external = value.get("external", False)
    if not isinstance(external, bool):
        raise fail(f"{path}.external", "true or false", external)
    if "data" in value and "base64" in value:
        raise InvalidModelError(f"invalid TFLite JSON at {path}: expected one of data and base64, received both")
    if "data" in value:
        items = value["data"]
        if not isinstance(items, list):
            raise fail(f"{path}.data", "a list of numbers", items)
        element = Field("", "", "scalar", kind)
        numbers = [number(v, element, f"{path}.data[{i}]") for i, v in enumerate(items)]
        return np.array(numbers, dtype).tobytes(), external
    if "base64" not in value:
        return None, external
    raw = bytes(decode_bytes({"base64": value["base64"]}, path))
    if "shape" in value:
        shape = value["shape"]
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise fail(f"{path}.shape", "a list of non-negative integers", shape)
        expected = math.prod(shape) * np.dtype(dtype).itemsize
        if expected != len(raw):
            raise InvalidModelError(f"invalid TFLite JSON at {path}.base64: expected {expected} bytes for "
                                    f"{value.get('dtype', 'UINT8')} {shape}, received {len(raw)}")
    return raw, external


def pack(model: Any, blobs: list[tuple[Any, str, str, bytes]]) -> bytes:
    """Pack ``model``; ``blobs`` (object, offset attr, size attr, bytes) go after the flatbuffer, 16-aligned."""
    for obj, offset, size, raw in blobs:
        setattr(obj, offset, 1)  # a placeholder of the same width, as TFLite's own writer does
        setattr(obj, size, len(raw))
    data = pack_model(model)
    if not blobs:
        return data
    position, placed = len(data), []
    for obj, offset, _, raw in blobs:
        position += -position % _ALIGN
        setattr(obj, offset, position)
        placed.append((position, raw))
        position += len(raw)
    data = pack_model(model)
    out = bytearray(data)
    for position, raw in placed:
        out += bytes(position - len(out)) + raw
    return bytes(out)


__all__ = ["NUMPY", "buffer_uses", "decode_buffer", "encode_buffer", "pack"]
