"""Parse a ``.tflite`` flatbuffer into a :class:`~tflite2keras.tflite.model.TFLiteModel`.

Everything is read eagerly and validated here, so later code never touches the raw
flatbuffer: a corrupt file fails in :func:`read` with :class:`InvalidModelError`
instead of an ``IndexError`` or ``struct.error`` somewhere deep inside.
"""

from __future__ import annotations

import os
from typing import Any

import flatbuffers
import numpy as np
import tflite

from ..errors import InvalidArgumentError, InvalidModelError, Tflite2KerasError
from . import options as _options
from .flatbuf import I8, I32, U8, U32, U64, Table
from .model import Operator, Quantization, Source, SubgraphInfo, Tensor, TFLiteModel
from .sparse import sparsity_from_flatbuffer

_IDENTIFIER = b"TFL3"
TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_OPCODE_NAMES: dict[int, str] = dict(tflite.BUILTIN_OPCODE2NAME)


def read(source: Source, *, subgraph: int = 0) -> TFLiteModel:
    """Read a TFLite model from a path or from its bytes.

    Args:
        source: a path to a ``.tflite`` file, the file's bytes (a ``bytearray`` or
            ``memoryview`` works too), or an already read model.
        subgraph: which subgraph to read as the model's graph: 0, the main one (the others
            are summarised in ``model.subgraphs``), or an init or control-flow subgraph.

    Returns:
        The parsed model. Constants are decoded on demand with ``model.constant(...)``,
        and each op's options on first access (a corrupt options table raises
        :class:`InvalidModelError` then).

    Raises:
        InvalidModelError: the data are not a valid TFLite flatbuffer.
        InvalidArgumentError: ``source`` is a folder, or neither a path nor bytes (``None``), or
            the file has no subgraph ``subgraph``.
        FileNotFoundError: the path does not exist.

    Example:
        >>> import tflite2keras as t2k
        >>> from tflite2keras.testdata import tiny
        >>> model = t2k.read(tiny.tflite())       # bytes here; usually a path to a .tflite file
        >>> model.tensor(model.inputs[0]).shape, len(model.operators)
        ((1, 8, 8, 3), 3)
        >>> print(model)                         # doctest: +ELLIPSIS
        <bytes>: 3 ops, 8 tensors; weights {'FLOAT32': 4}; ...
    """
    if isinstance(source, TFLiteModel):
        if subgraph == 0:
            return source
        source = source.data
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "<bytes>"
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            raise InvalidArgumentError(f"source {path} is a folder; expected a .tflite file")
        with open(path, "rb") as handle:
            data = handle.read()
        name = os.path.basename(path)
    else:
        raise InvalidArgumentError(
            "source must be a path to a .tflite file, its bytes or a TFLiteModel, "
            f"received {type(source).__name__} {_shorten(repr(source))}"
        )
    if len(data) < 8 or data[4:8] != _IDENTIFIER:
        raise InvalidModelError(
            f"{name} is not a TFLite model: expected the file identifier {_IDENTIFIER!r} at bytes 4..8, "
            f"received {data[4:8]!r} in {len(data)} bytes"
        )
    try:
        return _parse(data, name, subgraph)
    except InvalidModelError as err:
        raise InvalidModelError(f"{name} is a corrupt TFLite flatbuffer: {err}") from err
    except Tflite2KerasError:
        raise
    except Exception as err:  # the flatbuffer runtime raises many types on corrupt data
        raise InvalidModelError(f"{name} is a corrupt TFLite flatbuffer ({type(err).__name__}: {err})") from err


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _count(length: int, data: bytes, what: str, item_bytes: int = 4) -> int:
    """Guard a vector length read from the file against absurd values (that would hang)."""
    if not 0 <= length <= len(data) // item_bytes:
        raise InvalidModelError(f"{what} claims {length} entries, more than a {len(data)}-byte file can hold")
    return length


def _parse(data: bytes, name: str, subgraph: int = 0) -> TFLiteModel:
    root = tflite.Model.GetRootAs(data, 0)
    model = Table.root(data)
    graphs = model.tables(_MODEL_SUBGRAPHS)
    if not graphs:
        raise InvalidModelError(f"{name} has no subgraphs")
    if not 0 <= subgraph < len(graphs):
        raise InvalidArgumentError(f"read: subgraph {subgraph} does not exist; {name} has {len(graphs)} subgraphs")
    graph = graphs[subgraph]
    name = name if subgraph == 0 else f"{name} subgraph {subgraph}"
    buffers = _buffers(model.tables(_MODEL_BUFFERS), data)
    opcodes = [_opcode(root.OperatorCodes(i)) for i in range(_count(root.OperatorCodesLength(), data, "opcodes"))]
    tensors = [_tensor(t, i, len(buffers)) for i, t in enumerate(graph.tables(_GRAPH_TENSORS))]
    operators = [_operator(op, i, opcodes, len(tensors)) for i, op in enumerate(graph.tables(_GRAPH_OPERATORS))]
    _check_order(operators)
    inputs = _indices(graph.ints(_GRAPH_INPUTS), len(tensors), "graph input")
    outputs = _indices(graph.ints(_GRAPH_OUTPUTS), len(tensors), "graph output")
    return TFLiteModel(
        data, tensors=tensors, operators=operators, inputs=inputs, outputs=outputs, buffers=buffers,
        signature_defs=_signatures(root, data), metadata=_metadata(root, data),
        subgraphs=tuple(_subgraph(g, i) for i, g in enumerate(graphs) if i != subgraph),
        version=int(root.Version()), description=(root.Description() or b"").decode("utf-8", "replace"),
        source=name,
    )


# Field ids (vtable slots) from TFLite's schema.fbs.
_MODEL_SUBGRAPHS, _MODEL_BUFFERS = 2, 4
_GRAPH_TENSORS, _GRAPH_INPUTS, _GRAPH_OUTPUTS, _GRAPH_OPERATORS, _GRAPH_NAME = 0, 1, 2, 3, 4
_TENSOR_SHAPE, _TENSOR_TYPE, _TENSOR_BUFFER, _TENSOR_NAME, _TENSOR_QUANT = 0, 1, 2, 3, 4
_TENSOR_VARIABLE, _TENSOR_SPARSITY, _TENSOR_SIGNATURE = 5, 6, 7
_QUANT_SCALE, _QUANT_ZERO_POINT, _QUANT_DIMENSION = 2, 3, 6
_OP_CODE, _OP_INPUTS, _OP_OUTPUTS, _OP_OPTIONS_TYPE, _OP_OPTIONS, _OP_CUSTOM = 0, 1, 2, 3, 4, 5
_OP_OPTIONS2_TYPE, _OP_OPTIONS2 = 11, 12
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2


def _buffers(tables: list[Table], data: bytes) -> list[tuple[int, int]]:
    """(start, length) of every buffer's bytes within ``data``; offset buffers are supported."""
    spans = []
    for i, buf in enumerate(tables):
        offset, size = int(buf.scalar(_BUFFER_OFFSET, U64, 0)), int(buf.scalar(_BUFFER_SIZE, U64, 0))
        if offset > 1:  # large models keep data after the flatbuffer, addressed by offset
            start, length = offset, size
        else:
            start, length = buf.vector(_BUFFER_DATA, 1) or (0, 0)
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


def _tensor(t: Table, index: int, num_buffers: int) -> Tensor:
    name = t.string(_TENSOR_NAME)
    what = f"tensor {index} {name!r}"
    kind = int(t.scalar(_TENSOR_TYPE, I8, 0))
    buffer = int(t.scalar(_TENSOR_BUFFER, U32, 0))
    if not 0 <= buffer < max(num_buffers, 1):
        raise InvalidModelError(f"{what} uses buffer {buffer}, but the model has {num_buffers} buffers")
    shape = t.ints(_TENSOR_SHAPE)
    if any(d < 0 for d in shape):
        raise InvalidModelError(f"{what} has a negative dimension in shape {shape}")
    quant = None
    q = t.table(_TENSOR_QUANT)
    scales = q.array(_QUANT_SCALE, "<f4") if q is not None else None
    if q is not None and scales is not None and scales.size:
        if not np.isfinite(scales).all():
            raise InvalidModelError(f"{what} has non-finite quantization scales {scales[~np.isfinite(scales)][:4]}")
        zero_points = q.array(_QUANT_ZERO_POINT, "<i8")
        quant = Quantization(scales.astype(np.float32), np.zeros(0, np.int64) if zero_points is None
                             else zero_points.astype(np.int64), int(q.scalar(_QUANT_DIMENSION, I32, 0)))
    sparsity = t.table(_TENSOR_SPARSITY)
    if sparsity is not None:
        params = tflite.SparsityParameters()
        params.Init(t.data, sparsity.pos)
    return Tensor(
        index=index, name=name, shape=shape, shape_signature=t.ints(_TENSOR_SIGNATURE) or shape,
        dtype=TYPE_NAMES.get(kind, f"TYPE_{kind}"), buffer=buffer, quantization=quant,
        sparsity=sparsity_from_flatbuffer(params, name) if sparsity is not None else None,
        is_variable=bool(t.scalar(_TENSOR_VARIABLE, U8, 0)),
    )


def _operator(op: Table, index: int, opcodes: list[tuple[str, int]], num_tensors: int) -> Operator:
    code_index = int(op.scalar(_OP_CODE, U32, 0))
    if not 0 <= code_index < len(opcodes):
        raise InvalidModelError(f"op {index} uses opcode {code_index}, but the model has {len(opcodes)} opcodes")
    opcode, version = opcodes[code_index]
    what = f"op {index} ({opcode})"
    inputs = _indices(op.ints(_OP_INPUTS), num_tensors, f"{what} input", optional=True)
    outputs = _indices(op.ints(_OP_OUTPUTS), num_tensors, f"{what} output")
    unions = [(int(op.scalar(type_slot, U8, 0)), op.table(table_slot), union)
              for type_slot, table_slot, union in ((_OP_OPTIONS_TYPE, _OP_OPTIONS, tflite.BuiltinOptions),
                                                   (_OP_OPTIONS2_TYPE, _OP_OPTIONS2, tflite.BuiltinOptions2))]

    def decode() -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for kind, table, union in unions:
            if kind and table is not None:
                fields.update(_options.decode(kind, flatbuffers.table.Table(op.data, table.pos), union)[1])
        return fields

    raw = op.array(_OP_CUSTOM, "u1")
    custom = bytes(raw) if raw is not None else (b"" if not opcode.isupper() or opcode == "CUSTOM" else None)
    kinds = tuple(_options.kind_name(kind, union) for kind, table, union in unions if kind and table is not None)
    return Operator(index, opcode, version, inputs, outputs, _options.LazyOptions(decode, what, kinds), custom)


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


def _subgraph(graph: Table, index: int) -> SubgraphInfo:
    tensors, operators = (graph.vector(slot, 4) or (0, 0) for slot in (_GRAPH_TENSORS, _GRAPH_OPERATORS))
    return SubgraphInfo(index, graph.string(_GRAPH_NAME), tensors[1], operators[1])

