"""Parse a ``.tflite`` flatbuffer into a :class:`~tflite2keras.model.TFLiteModel`.

Everything is read eagerly and validated here, so later code never touches the raw
flatbuffer: a corrupt file fails in :func:`read` with :class:`InvalidModelError`
instead of an ``IndexError`` or ``struct.error`` somewhere deep inside.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tflite

from . import options as _options
from .errors import InvalidModelError, Tflite2KerasError
from .model import Operator, Quantization, SubgraphInfo, Tensor, TFLiteModel
from .sparse import sparsity_from_flatbuffer

_IDENTIFIER = b"TFL3"
_TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_OPCODE_NAMES: dict[int, str] = dict(tflite.BUILTIN_OPCODE2NAME)


def read(source: str | os.PathLike[str] | bytes | bytearray | memoryview | TFLiteModel) -> TFLiteModel:
    """Read a TFLite model from a path or from its bytes.

    Args:
        source: a path to a ``.tflite`` file, the file's bytes, or an already read model.

    Returns:
        The parsed model. Constants are decoded on demand with ``model.constant(...)``.

    Raises:
        InvalidModelError: the data are not a valid TFLite flatbuffer.
        FileNotFoundError: the path does not exist.

    Example:
        >>> import tflite2keras as t2k
        >>> model = t2k.read("palm_detection_lite.tflite")   # doctest: +SKIP
        >>> print(model)                                       # doctest: +SKIP
    """
    if isinstance(source, TFLiteModel):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "<bytes>"
    else:
        path = os.fspath(source)
        with open(path, "rb") as handle:
            data = handle.read()
        name = os.path.basename(path)
    if len(data) < 8 or data[4:8] != _IDENTIFIER:
        raise InvalidModelError(
            f"{name} is not a TFLite model: expected the file identifier {_IDENTIFIER!r} at bytes 4..8, "
            f"received {data[4:8]!r} in {len(data)} bytes"
        )
    try:
        return _parse(data, name)
    except Tflite2KerasError:
        raise
    except Exception as err:  # the flatbuffer runtime raises many types on corrupt data
        raise InvalidModelError(f"{name} is a corrupt TFLite flatbuffer ({type(err).__name__}: {err})") from err


def _count(length: int, data: bytes, what: str, item_bytes: int = 4) -> int:
    """Guard a vector length read from the file against absurd values (that would hang)."""
    if not 0 <= length <= len(data) // item_bytes:
        raise InvalidModelError(f"{what} claims {length} entries, more than a {len(data)}-byte file can hold")
    return length


def _ints(obj: Any, field: str, data: bytes, what: str) -> tuple[int, ...]:
    if getattr(obj, f"{field}IsNone")():
        return ()
    n = _count(getattr(obj, f"{field}Length")(), data, what)
    return tuple(int(v) for v in getattr(obj, f"{field}AsNumpy")()[:n])


def _parse(data: bytes, name: str) -> TFLiteModel:
    root = tflite.Model.GetRootAs(data, 0)
    if _count(root.SubgraphsLength(), data, "the subgraph list") == 0:
        raise InvalidModelError(f"{name} has no subgraphs")
    graph = root.Subgraphs(0)
    buffers = _buffers(root, data)
    opcodes = [_opcode(root.OperatorCodes(i)) for i in range(_count(root.OperatorCodesLength(), data, "opcodes"))]
    tensors = [_tensor(graph.Tensors(i), i, len(buffers), data)
               for i in range(_count(graph.TensorsLength(), data, "the tensor list"))]
    operators = [_operator(graph.Operators(i), i, opcodes, len(tensors), data)
                 for i in range(_count(graph.OperatorsLength(), data, "the operator list"))]
    _check_order(operators)
    inputs = _indices(_ints(graph, "Inputs", data, "graph inputs"), len(tensors), "graph input")
    outputs = _indices(_ints(graph, "Outputs", data, "graph outputs"), len(tensors), "graph output")
    return TFLiteModel(
        data, tensors=tensors, operators=operators, inputs=inputs, outputs=outputs, buffers=buffers,
        signature_defs=_signatures(root, data), metadata=_metadata(root, data),
        subgraphs=tuple(_subgraph(root.Subgraphs(i), i) for i in range(1, root.SubgraphsLength())),
        version=int(root.Version()), description=(root.Description() or b"").decode("utf-8", "replace"),
        source=name,
    )


def _buffers(root: Any, data: bytes) -> list[tuple[int, int]]:
    """(start, length) of every buffer's bytes within ``data``; offset buffers are supported."""
    spans = []
    for i in range(_count(root.BuffersLength(), data, "the buffer list")):
        buf = root.Buffers(i)
        offset, size = int(buf.Offset()), int(buf.Size())
        if offset > 1:  # large models keep data after the flatbuffer, addressed by offset
            start, length = offset, size
        elif buf.DataIsNone():
            start, length = 0, 0
        else:
            slot = buf._tab.Offset(4)
            start, length = buf._tab.Vector(slot), buf._tab.VectorLen(slot)
        if length and (start < 0 or start + length > len(data)):
            raise InvalidModelError(
                f"buffer {i} spans bytes {start}..{start + length}, past the end of the {len(data)}-byte file"
            )
        spans.append((start, length))
    return spans


def _opcode(code: Any) -> tuple[str, int]:
    builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
    if builtin == tflite.BuiltinOperator.CUSTOM:
        return (code.CustomCode() or b"CUSTOM").decode("utf-8", "replace"), int(code.Version())
    return _OPCODE_NAMES.get(builtin, f"BUILTIN_{builtin}"), int(code.Version())


def _indices(values: tuple[int, ...], limit: int, what: str, optional: bool = False) -> tuple[int, ...]:
    for v in values:
        if not (-1 if optional else 0) <= v < limit:
            raise InvalidModelError(f"{what} refers to tensor {v}, but the model has {limit} tensors")
    return values


def _tensor(t: Any, index: int, num_buffers: int, data: bytes) -> Tensor:
    name = (t.Name() or b"").decode("utf-8", "replace")
    what = f"tensor {index} {name!r}"
    type_name = _TYPE_NAMES.get(int(t.Type()), f"TYPE_{t.Type()}")
    buffer = int(t.Buffer())
    if not 0 <= buffer < max(num_buffers, 1):
        raise InvalidModelError(f"{what} uses buffer {buffer}, but the model has {num_buffers} buffers")
    shape = _ints(t, "Shape", data, f"{what} shape")
    if any(d < 0 for d in shape):
        raise InvalidModelError(f"{what} has a negative dimension in shape {shape}")
    quant = None
    q = t.Quantization()
    if q is not None and not q.ScaleIsNone() and _count(q.ScaleLength(), data, f"{what} scales"):
        scales = np.array(q.ScaleAsNumpy(), dtype=np.float32)
        if not np.isfinite(scales).all():
            raise InvalidModelError(f"{what} has non-finite quantization scales {scales[~np.isfinite(scales)][:4]}")
        zero_points = np.array(q.ZeroPointAsNumpy(), dtype=np.int64) if not q.ZeroPointIsNone() else np.zeros(0, np.int64)
        quant = Quantization(scales, zero_points, int(q.QuantizedDimension()))
    sparsity = t.Sparsity()
    return Tensor(
        index=index, name=name, shape=shape,
        shape_signature=_ints(t, "ShapeSignature", data, f"{what} shape signature") or shape,
        dtype=type_name, buffer=buffer, quantization=quant,
        sparsity=sparsity_from_flatbuffer(sparsity, name) if sparsity is not None else None,
        is_variable=bool(t.IsVariable()),
    )


def _operator(op: Any, index: int, opcodes: list[tuple[str, int]], num_tensors: int, data: bytes) -> Operator:
    code_index = int(op.OpcodeIndex())
    if not 0 <= code_index < len(opcodes):
        raise InvalidModelError(f"op {index} uses opcode {code_index}, but the model has {len(opcodes)} opcodes")
    opcode, version = opcodes[code_index]
    what = f"op {index} ({opcode})"
    inputs = _indices(_ints(op, "Inputs", data, f"{what} inputs"), num_tensors, f"{what} input", optional=True)
    outputs = _indices(_ints(op, "Outputs", data, f"{what} outputs"), num_tensors, f"{what} output")
    _, fields = _options.decode(int(op.BuiltinOptionsType()), op.BuiltinOptions())
    if not op.BuiltinOptions2Type() == 0:
        fields.update(_options.decode(int(op.BuiltinOptions2Type()), op.BuiltinOptions2(), tflite.BuiltinOptions2)[1])
    custom = None
    if not op.CustomOptionsIsNone():
        n = _count(op.CustomOptionsLength(), data, f"{what} custom options", 1)
        custom = bytes(op.CustomOptionsAsNumpy()[:n])
    elif not opcode.isupper() or opcode == "CUSTOM":
        custom = b""
    return Operator(index, opcode, version, inputs, outputs, fields, custom)


def _check_order(operators: list[Operator]) -> None:
    """Every input must be written by an earlier op: TFLite runs ops in file order, and
    a cycle would send ``constant()`` through DEQUANTIZE/DENSIFY forever."""
    first_writer: dict[int, int] = {}
    for op in operators:
        for t in op.outputs:
            first_writer.setdefault(t, op.index)
    for op in operators:
        for t in op.inputs:
            writer = first_writer.get(t)
            if writer is not None and writer >= op.index:
                raise InvalidModelError(
                    f"op {op.index} ({op.opcode}) reads tensor {t}, which op {writer} writes: "
                    "ops must come after the ops that compute their inputs"
                )


def _signatures(root: Any, data: bytes) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for i in range(_count(root.SignatureDefsLength(), data, "signature defs")):
        sig = root.SignatureDefs(i)
        maps = {}
        for kind in ("Inputs", "Outputs"):
            n = _count(getattr(sig, f"{kind}Length")(), data, f"signature {i} {kind.lower()}")
            entries = [getattr(sig, kind)(j) for j in range(n)]
            maps[kind.lower()] = {(e.Name() or b"").decode(): int(e.TensorIndex()) for e in entries}
        out[(sig.SignatureKey() or b"").decode() or f"signature_{i}"] = maps
    return out


def _metadata(root: Any, data: bytes) -> tuple[str, ...]:
    n = _count(root.MetadataLength(), data, "metadata")
    return tuple((root.Metadata(i).Name() or b"").decode("utf-8", "replace") for i in range(n))


def _subgraph(graph: Any, index: int) -> SubgraphInfo:
    name = (graph.Name() or b"").decode("utf-8", "replace")
    return SubgraphInfo(index, name, int(graph.TensorsLength()), int(graph.OperatorsLength()))
