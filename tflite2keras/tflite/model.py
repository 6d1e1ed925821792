"""The parsed form of a ``.tflite`` file: tensors, operators and decoded constants.

A :class:`TFLiteModel` is made by :func:`tflite2keras.read`. It holds plain Python
objects (no live flatbuffer accessors), plus the file's bytes, over which every
constant is a zero-copy ``np.frombuffer`` view until it has to be converted.

Example:
    >>> import tflite2keras as t2k
    >>> from tflite2keras.testdata import tiny
    >>> model = t2k.read(tiny.tflite())          # or a path: t2k.read("palm_detection_lite.tflite")
    >>> [op.opcode for op in model.operators]
    ['CONV_2D', 'MAX_POOL_2D', 'CONV_2D']
    >>> model.operators[0].options["padding"], model.operators[0].options["fused_activation_function"]
    ('SAME', 'RELU')
    >>> model.constant(model.operators[0].inputs[1]).shape   # the kernel, OHWI
    (4, 3, 3, 3)
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np

from .. import _render
from ..errors import InvalidModelError
from .listing import tables
from .quant import Quantization, dequantize
from .sparse import Sparsity, densify


@dataclass(frozen=True)
class Tensor:
    """One tensor of subgraph 0."""

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: str
    buffer: int
    quantization: Quantization | None = None
    sparsity: Sparsity | None = None
    is_variable: bool = False

    @property
    def is_sparse(self) -> bool:
        """True when the stored data are the non-zeros of a sparse encoding."""
        return self.sparsity is not None


@dataclass(frozen=True)
class Operator:
    """One operator of subgraph 0; ``opcode`` is the builtin name or the custom code."""

    index: int
    opcode: str
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    custom_options: bytes | None = None

    def has_input(self, slot: int) -> bool:
        """True when input ``slot`` exists and is not TFLite's "absent" marker (-1)."""
        return slot < len(self.inputs) and self.inputs[slot] >= 0

    @property
    def is_custom(self) -> bool:
        """True for custom ops such as ``Convolution2DTransposeBias``."""
        return self.custom_options is not None or not self.opcode.isupper()


@dataclass(frozen=True)
class SubgraphInfo:
    """A summary of a subgraph other than the main one."""

    index: int
    name: str
    num_tensors: int
    num_operators: int


#: TFLite tensor types as numpy dtypes (those that can hold constants we decode).
NUMPY_DTYPES: dict[str, np.dtype] = {
    "FLOAT32": np.dtype("<f4"), "FLOAT16": np.dtype("<f2"), "FLOAT64": np.dtype("<f8"),
    "INT8": np.dtype("i1"), "UINT8": np.dtype("u1"), "INT16": np.dtype("<i2"),
    "UINT16": np.dtype("<u2"), "INT32": np.dtype("<i4"), "UINT32": np.dtype("<u4"),
    "INT64": np.dtype("<i8"), "UINT64": np.dtype("<u8"), "BOOL": np.dtype("?"),
}
#: Ops that only re-encode the constant they are given: a weight stored as int8 or float16 and
#: DEQUANTIZEd, or stored sparse and DENSIFYed, is that constant's value, decoded here.
DECODING_OPS = frozenset({"DEQUANTIZE", "DENSIFY"})
#: Most decoding hops (:data:`DECODING_OPS`) followed from a tensor back to its stored bytes.
MAX_PASS_THROUGH = 8
#: A sparse tensor may expand to at most this many dense elements per byte of the file
#: (at least ``_MIN_SPARSE_LIMIT``): a corrupt shape must not allocate gigabytes.
_SPARSE_EXPANSION = 64
_MIN_SPARSE_LIMIT = 2**24


class TFLiteModel:
    """A parsed TFLite model (subgraph 0 is the main graph).

    Attributes:
        tensors: every tensor of subgraph 0, by index.
        operators: every operator of subgraph 0, in execution order.
        inputs / outputs: tensor indices of the graph's inputs and outputs.
        signature_defs: signature key -> {"inputs": {name: index}, "outputs": {...}}.
        metadata: names of the metadata entries.
        subgraphs: summaries of the other subgraphs.
        version / description: the file's schema version and description string.
    """

    def __init__(self, data: bytes, *, tensors: list[Tensor], operators: list[Operator],
                 inputs: tuple[int, ...], outputs: tuple[int, ...], buffers: list[tuple[int, int]],
                 signature_defs: dict[str, dict[str, dict[str, int]]], metadata: tuple[str, ...],
                 subgraphs: tuple[SubgraphInfo, ...], version: int, description: str,
                 source: str = "<bytes>") -> None:
        self.data = data
        self.tensors = tensors
        self.operators = operators
        self.inputs = inputs
        self.outputs = outputs
        self.signature_defs = signature_defs
        self.metadata = metadata
        self.subgraphs = subgraphs
        self.version = version
        self.description = description
        self.source = source
        self._buffers = buffers  # (start, length) of each buffer's bytes in ``data``
        self._by_name = {t.name: t.index for t in reversed(tensors)}
        self._producer: dict[int, int] = {}
        self._consumers: dict[int, list[int]] = {}
        for op in operators:
            for t in op.outputs:
                self._producer.setdefault(t, op.index)
            for t in op.inputs:
                if t >= 0:
                    self._consumers.setdefault(t, []).append(op.index)
        self._cache: dict[int, np.ndarray] = {}

    # -- lookups -------------------------------------------------------------------
    def tensor(self, key: int | str) -> Tensor:
        """The tensor with this index or name.

        Raises:
            InvalidModelError: no such tensor.
        """
        if isinstance(key, (int, np.integer)):
            if 0 <= int(key) < len(self.tensors):
                return self.tensors[int(key)]
            raise InvalidModelError(f"tensor index {key} is out of range: the model has {len(self.tensors)} tensors")
        if key in self._by_name:
            return self.tensors[self._by_name[key]]
        raise InvalidModelError(f"no tensor named {key!r} in {self.source}")

    def producer(self, key: int | str) -> Operator | None:
        """The operator whose output is this tensor, or None for graph inputs and constants."""
        index = self._producer.get(self.tensor(key).index)
        return None if index is None else self.operators[index]

    def consumers(self, key: int | str) -> list[Operator]:
        """The operators that read this tensor, in execution order."""
        return [self.operators[i] for i in self._consumers.get(self.tensor(key).index, [])]

    def raw(self, key: int | str) -> np.ndarray:
        """The tensor's stored bytes as a numpy view of its own dtype (empty when it has none)."""
        tensor = self.tensor(key)
        start, length = self._buffers[tensor.buffer] if 0 <= tensor.buffer < len(self._buffers) else (0, 0)
        if length == 0:
            return np.empty(0, np.uint8)
        dtype = NUMPY_DTYPES.get(tensor.dtype)
        if dtype is None or length % dtype.itemsize:
            raise InvalidModelError(
                f"tensor {tensor.index} {tensor.name!r}: {length} stored bytes cannot hold {tensor.dtype} values"
            )
        return np.frombuffer(self.data, dtype=dtype, count=length // dtype.itemsize, offset=start)

    def is_constant(self, key: int | str) -> bool:
        """True when the tensor has stored data, or is DEQUANTIZE/DENSIFY of a constant."""
        return self._stores_data(self.source_of(key))

    def source_of(self, key: int | str) -> Tensor:
        """Follow pass-through ops (DEQUANTIZE, DENSIFY) back to the tensor that stores the weight's bytes.

        Stops at a tensor with data (or a sparse one), at any other producer, and after
        :data:`MAX_PASS_THROUGH` hops, so a crafted chain cannot run away.
        """
        tensor = self.tensor(key)
        for _ in range(MAX_PASS_THROUGH):
            if self._stores_data(tensor):
                break
            op = self.producer(tensor.index)
            if op is None or not _passes_through(op) or not op.inputs:
                break
            tensor = self.tensor(op.inputs[0])
        return tensor

    def _stores_data(self, tensor: Tensor) -> bool:
        """True when the file holds the tensor's bytes (a sparse tensor's may be empty)."""
        return bool(self.raw(tensor.index).size or tensor.is_sparse)

    # -- constants -----------------------------------------------------------------
    def constant(self, key: int | str) -> np.ndarray:
        """A constant tensor's value as the model means it: dense, dequantized, float32.

        float16 and quantized (int8/uint8/int16, per-tensor or per-channel) data are
        dequantized to float32, sparse data are densified, and a tensor produced by
        DEQUANTIZE or DENSIFY of a constant is decoded through that op. Integer tensors
        without quantization (shapes, paddings) keep their integer dtype. The result is
        cached and read-only.

        Raises:
            InvalidModelError: the tensor is not a constant, or its data are malformed.

        Example:
            >>> from tflite2keras import read
            >>> from tflite2keras.testdata import tiny
            >>> model = read(tiny.tflite())
            >>> bias = model.constant(model.operators[0].inputs[2])
            >>> bias.dtype, bias.shape, bias.flags.writeable
            (dtype('float32'), (4,), False)
        """
        tensor = self.tensor(key)
        if tensor.index not in self._cache:
            value = self._decode(tensor)
            value.setflags(write=False)
            self._cache[tensor.index] = value
        return self._cache[tensor.index]

    def _decode(self, tensor: Tensor) -> np.ndarray:
        stored = self.raw(tensor.index)
        if not stored.size and tensor.is_sparse and tensor.dtype in NUMPY_DTYPES:
            stored = np.empty(0, NUMPY_DTYPES[tensor.dtype])  # an all-zero sparse tensor stores nothing
        elif not stored.size:
            source = self.source_of(tensor.index)
            if source is tensor or not self._stores_data(source):
                op = self.producer(source.index)
                if source is tensor:
                    why = "it has no data"
                elif op is not None and _passes_through(op):
                    why = f"it is more than {MAX_PASS_THROUGH} DEQUANTIZE/DENSIFY ops away from stored data"
                else:
                    why = f"it comes from tensor {source.index}, which has no data"
                raise InvalidModelError(
                    f"tensor {tensor.index} {tensor.name!r} is not a constant: {why}"
                    + (f" and is computed by op {op.index} ({op.opcode})" if op else "")
                )
            value = self.constant(source.index)
            if value.shape != tensor.shape:
                op = self.producer(tensor.index)
                assert op is not None  # a tensor without data that has a source has a producer
                raise InvalidModelError(
                    f"tensor {tensor.index} {tensor.name!r} has shape {tensor.shape}, but op {op.index} "
                    f"({op.opcode}) computes it from tensor {source.index} of shape {value.shape}"
                )
            return np.array(value)
        elements = math.prod(tensor.shape)  # Python ints: np.prod can wrap around to a plausible size
        if tensor.is_sparse:
            limit = max(_MIN_SPARSE_LIMIT, _SPARSE_EXPANSION * len(self.data))
            if elements > limit:
                raise InvalidModelError(
                    f"sparse tensor {tensor.index} {tensor.name!r}: shape {tensor.shape} has {elements} "
                    f"elements, more than the {limit} a {len(self.data)}-byte file can plausibly encode"
                )
            stored = densify(stored, tensor.shape, tensor.sparsity, tensor.name)
        elif stored.size != elements:
            raise InvalidModelError(
                f"tensor {tensor.index} {tensor.name!r}: shape {tensor.shape} needs "
                f"{elements} values, the buffer holds {stored.size}"
            )
        stored = stored.reshape(tensor.shape)
        if tensor.quantization is not None and stored.dtype.kind in "iu":
            return dequantize(stored, tensor)
        if stored.dtype.kind == "f":
            return stored.astype(np.float32, copy=False)  # float32 data: a read-only view of the file
        return stored.copy()

    # -- display -------------------------------------------------------------------
    def op_rows(self) -> list[tuple[Any, ...]]:
        """One row per operator: index, opcode, input shapes, output shapes, main tensor name."""
        rows = []
        for op in self.operators:
            ins = [self.tensors[i] for i in op.inputs if i >= 0]
            outs = [self.tensors[i] for i in op.outputs]
            rows.append((op.index, op.opcode, " ".join(_shape(t.shape) for t in ins),
                         " ".join(_shape(t.shape) for t in outs), outs[0].name if outs else ""))
        return rows

    def summary(self) -> str:
        """One line: op counts, tensor count, weight dtypes, custom and sparse tensors."""
        counts = Counter(op.opcode for op in self.operators)
        weights = Counter(t.dtype for t in self.tensors if self.raw(t.index).size)
        sparse = sum(t.is_sparse for t in self.tensors)
        custom = sorted({op.opcode for op in self.operators if op.is_custom})
        return (f"{self.source}: {len(self.operators)} ops, {len(self.tensors)} tensors; "
                f"weights {dict(weights)}; sparse tensors {sparse}; custom ops {custom or 'none'}; "
                f"ops {dict(counts.most_common())}")

    def __repr__(self) -> str:
        return f"<TFLiteModel {self.source}: {len(self.operators)} ops, {len(self.tensors)} tensors>"

    def __str__(self) -> str:
        headers = ("#", "opcode", "inputs", "outputs", "output tensor")
        return self.summary() + "\n" + _render.text_table(headers, self.op_rows(), max_width=48)

    def _repr_html_(self) -> str:
        return tables(self)


#: What the public verbs (read, convert, transplant, lint, verify, truncate) accept as a model:
#: a path to a ``.tflite`` file, the file's bytes, or a model read already.
Source: TypeAlias = str | os.PathLike[str] | bytes | TFLiteModel


def _passes_through(op: Operator) -> bool:
    """True for an op that only re-encodes its input 0 (:data:`DECODING_OPS`)."""
    return op.opcode in DECODING_OPS


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape) or "scalar"
