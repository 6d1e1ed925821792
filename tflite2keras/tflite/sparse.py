"""Densify TFLite sparse tensors (schema ``SparsityParameters``) with numpy only.

The semantics follow TFLite's ``DENSIFY`` kernel (``FormatConverter::SparseToDense``):

* ``traversal_order`` has ``n + k`` entries for a rank-``n`` tensor with ``k`` block
  dimensions: first a permutation of ``0..n-1``, then one of ``n..n+k-1``.
* ``dim_metadata[i]`` describes traversal *level* ``i`` (the dimension
  ``traversal_order[i]``), not expanded dimension ``i`` as the schema comment says.
* Block dimension ``b`` splits original dimension ``block_map[b]``; its size is read,
  as TFLite does, from ``dim_metadata[traversal_order[n + b]].dense_size``.
* Values are the leaves of a depth-first walk: a DENSE level visits every coordinate,
  a SPARSE_CSR level ``indices[segments[p]:segments[p + 1]]`` below parent position ``p``.

Everything TFLite would silently misread is rejected with :class:`InvalidModelError`.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tflite2keras.errors import InvalidModelError

if TYPE_CHECKING:
    from tflite.SparsityParameters import SparsityParameters

_MAX_DENSE_ELEMENTS = 2**31
_FORMATS = {0: "DENSE", 1: "SPARSE_CSR"}


@dataclass(frozen=True)
class DimensionMetadata:
    """Metadata of one traversal level.

    Attributes:
        format: ``"DENSE"`` or ``"SPARSE_CSR"``.
        dense_size: Number of coordinates of a DENSE level.
        segments: For SPARSE_CSR, int64 CSR row pointers (one more than the parents).
        indices: For SPARSE_CSR, int64 coordinates of the stored children.
    """

    format: str
    dense_size: int
    segments: np.ndarray | None = None
    indices: np.ndarray | None = None


@dataclass(frozen=True)
class Sparsity:
    """Decoded ``SparsityParameters`` of one tensor.

    Attributes:
        traversal_order: Expanded dimension visited at each level.
        block_map: Original dimension split by each block dimension.
        dim_metadata: One entry per traversal level.
    """

    traversal_order: tuple[int, ...]
    block_map: tuple[int, ...]
    dim_metadata: tuple[DimensionMetadata, ...]


def _fail(tensor_name: str, message: str) -> InvalidModelError:
    return InvalidModelError(f"sparse tensor {tensor_name!r}: {message}")


def _union_vector(meta: Any, field: str, level: int, tensor_name: str) -> np.ndarray:
    """Read the ``array_segments``/``array_indices`` union of one level as int64."""
    from tflite.Int32Vector import Int32Vector  # lazy: the bindings are slow to import
    from tflite.Uint8Vector import Uint8Vector
    from tflite.Uint16Vector import Uint16Vector

    kind, where = getattr(meta, f"{field}Type")(), f"dim_metadata[{level}].{field}"
    if kind not in (1, 2, 3):
        raise _fail(tensor_name, f"{where} has union type {kind}, expected 1, 2 or 3 "
                    "(Int32Vector, Uint16Vector, Uint8Vector)")
    table = getattr(meta, field)()
    vector = {1: Int32Vector, 2: Uint16Vector, 3: Uint8Vector}[kind]()
    if table is not None:
        vector.Init(table.Bytes, table.Pos)
    if table is None or vector.ValuesIsNone():
        raise _fail(tensor_name, f"{where} or its values vector is missing")
    values = np.asarray(vector.ValuesAsNumpy(), dtype=np.int64)
    if values.size and values.min() < 0:
        raise _fail(tensor_name, f"{where} holds a negative value ({values.min()})")
    return values


def sparsity_from_flatbuffer(params: SparsityParameters, tensor_name: str) -> Sparsity:
    """Decode a ``tflite.SparsityParameters`` table (from ``tensor.Sparsity()``).

    Args:
        params: The flatbuffer table.
        tensor_name: Name used in error messages.

    Returns:
        The decoded :class:`Sparsity`; segments and indices become int64 arrays.

    Raises:
        InvalidModelError: Missing vectors, unknown formats or union types, or
            unreadable flatbuffer content.
    """
    try:
        if params.TraversalOrderIsNone() or params.DimMetadataIsNone():
            raise _fail(tensor_name, "traversal_order and dim_metadata are required")
        order = tuple(int(v) for v in params.TraversalOrderAsNumpy())
        block_map = () if params.BlockMapIsNone() else tuple(
            int(v) for v in params.BlockMapAsNumpy())
        if min(order + block_map, default=0) < 0:
            raise _fail(tensor_name, f"negative entry in traversal_order {order} or "
                        f"block_map {block_map}")
        levels = []
        for level in range(params.DimMetadataLength()):
            meta = params.DimMetadata(level)
            fmt = _FORMATS.get(meta.Format())
            if fmt is None or meta.DenseSize() < 0:
                raise _fail(tensor_name, f"dim_metadata[{level}] has format {meta.Format()} "
                            f"(expected 0 or 1) and dense_size {meta.DenseSize()}")
            if fmt == "DENSE":  # like TFLite, ignore any arrays stored with a dense level
                levels.append(DimensionMetadata(fmt, int(meta.DenseSize())))
            else:
                segments = _union_vector(meta, "ArraySegments", level, tensor_name)
                indices = _union_vector(meta, "ArrayIndices", level, tensor_name)
                levels.append(DimensionMetadata(fmt, int(meta.DenseSize()), segments, indices))
    except InvalidModelError:
        raise
    except Exception as err:  # corrupt offsets surface as IndexError, struct.error, ...
        raise _fail(tensor_name, f"unreadable sparsity parameters ({type(err).__name__}: "
                    f"{err})") from err
    return Sparsity(order, block_map, tuple(levels))


def _index_array(array: Any, what: str, tensor_name: str) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim != 1 or (arr.size and (arr.dtype.kind not in "iu" or arr.max() >= 2**62)):
        raise _fail(tensor_name, f"{what} must be a 1-D int64-range integer array, got "
                    f"{arr.dtype} of shape {arr.shape}")
    return arr.astype(np.int64, copy=False)


def _check_layout(shape: tuple[int, ...], order: tuple[int, ...], block_map: tuple[int, ...],
                  metas: tuple[DimensionMetadata, ...], tensor_name: str) -> list[tuple[int, int]]:
    """Validate the static layout; return ``(size, flat_stride)`` for each level."""
    n, k = len(shape), len(block_map)
    if any(d < 0 for d in shape) or math.prod(shape) > _MAX_DENSE_ELEMENTS:
        raise _fail(tensor_name, f"dense shape {shape} is negative or has more than "
                    f"{_MAX_DENSE_ELEMENTS} elements")
    if len(order) != n + k or len(metas) != n + k:
        raise _fail(tensor_name, f"traversal_order and dim_metadata have {len(order)} and "
                    f"{len(metas)} entries, expected rank {n} + {k} block dims = {n + k}")
    if sorted(order[:n]) != list(range(n)) or sorted(order[n:]) != list(range(n, n + k)):
        raise _fail(tensor_name, f"traversal_order {order} is not a permutation of "
                    f"0..{n - 1} followed by one of {n}..{n + k - 1}")
    if any(not 0 <= d < n for d in block_map) or list(block_map) != sorted(set(block_map)):
        raise _fail(tensor_name, f"block_map {block_map} must be strictly increasing dims "
                    f"of a rank-{n} shape")
    for level, meta in enumerate(metas):
        if meta.format not in ("DENSE", "SPARSE_CSR"):
            raise _fail(tensor_name, f"dim_metadata[{level}].format is {meta.format!r}")
        if meta.format == "SPARSE_CSR" and (meta.segments is None or meta.indices is None
                                            or order[level] >= n):
            raise _fail(tensor_name, f"dim_metadata[{level}] is SPARSE_CSR without arrays or "
                        "on a block dim (TFLite supports only DENSE block levels)")
    block_size = [int(metas[order[n + b]].dense_size) for b in range(k)]  # TFLite's lookup
    split = [1] * n
    for b, d in enumerate(block_map):
        if block_size[b] < 1 or shape[d] % block_size[b]:
            raise _fail(tensor_name, f"block size {block_size[b]} (dim_metadata[{order[n + b]}]"
                        f".dense_size, where TFLite reads block {b}) does not divide dim {d} "
                        f"of shape {shape}")
        split[d] = block_size[b]
    strides = [math.prod(shape[d + 1:]) for d in range(n)]
    layout = []
    for level, dim in enumerate(order):
        if dim < n:
            size, stride = shape[dim] // split[dim], strides[dim] * split[dim]
        else:
            size, stride = block_size[dim - n], strides[block_map[dim - n]]
        if metas[level].format == "DENSE" and metas[level].dense_size != size:
            raise _fail(tensor_name, f"dim_metadata[{level}].dense_size is "
                        f"{metas[level].dense_size}, expected {size}")
        layout.append((size, stride))
    return layout


def densify(values: np.ndarray, shape: tuple[int, ...], sparsity: Sparsity,
            tensor_name: str = "?") -> np.ndarray:
    """Expand the stored values of a sparse tensor into its dense array.

    Args:
        values: 1-D stored values, in the tensor's dtype (e.g. float16, float32, int8).
        shape: The dense shape (``tensor.Shape``).
        sparsity: The decoded sparsity parameters.
        tensor_name: Name used in error messages.

    Returns:
        The dense array of ``shape``, same dtype as ``values``, zeros elsewhere; equal
        bit for bit to what TFLite's DENSIFY produces.

    Raises:
        InvalidModelError: The parameters are inconsistent with each other, with the
            shape or with the number of values.
    """
    values = np.asarray(values)
    try:
        shape, order, block_map = (tuple(operator.index(v) for v in seq) for seq in
                                   (shape, sparsity.traversal_order, sparsity.block_map))
    except TypeError as err:
        raise _fail(tensor_name, f"shape {shape!r}, traversal_order and block_map must "
                    "hold integers") from err
    if values.ndim != 1:
        raise _fail(tensor_name, f"values must be 1-D, got shape {values.shape}")
    layout = _check_layout(shape, order, block_map, sparsity.dim_metadata, tensor_name)
    # Pass 1: validate and count; nothing is allocated from untrusted sizes yet.
    count, arrays = 1, []
    for level, ((size, _), meta) in enumerate(zip(layout, sparsity.dim_metadata)):
        if meta.format == "DENSE":
            count, pair = count * size, None
        else:
            where = f"dim_metadata[{level}]"
            segments = _index_array(meta.segments, f"{where}.segments", tensor_name)
            indices = _index_array(meta.indices, f"{where}.indices", tensor_name)
            if segments.size != count + 1:
                raise _fail(tensor_name, f"{where}.segments has {segments.size} entries, "
                            f"expected {count + 1} (one per parent position, plus one)")
            if segments[0] != 0 or segments[-1] != indices.size or np.any(np.diff(segments) < 0):
                raise _fail(tensor_name, f"{where}.segments must rise monotonically from 0 to "
                            f"{indices.size} (the number of indices), got {segments[0]} .. "
                            f"{segments[-1]}")
            if indices.size and (indices.min() < 0 or indices.max() >= size):
                raise _fail(tensor_name, f"{where}.indices must lie in [0, {size}), got "
                            f"[{indices.min()}, {indices.max()}]")
            count, pair = indices.size, (segments, indices)
        arrays.append(pair)
    if count != values.size:
        raise _fail(tensor_name, f"sparsity describes {count} stored values, but "
                    f"{values.size} were given")
    # Pass 2: flat dense offset of every stored value, one vectorized step per level.
    offsets = np.zeros(1, dtype=np.int64)
    for level, ((size, stride), pair) in enumerate(zip(layout, arrays)):
        if pair is None:
            offsets = (offsets[:, None] + np.arange(size, dtype=np.int64) * stride).reshape(-1)
            continue
        segments, indices = pair
        parent = np.repeat(np.arange(offsets.size), np.diff(segments))
        if np.any((np.diff(indices) <= 0) & (parent[1:] == parent[:-1])):  # unsorted segment
            keys = parent * size + indices
            if np.unique(keys).size != keys.size:
                raise _fail(tensor_name, f"dim_metadata[{level}].indices repeat within a segment")
        offsets = offsets[parent] + indices * stride
    dense = np.zeros(math.prod(shape), dtype=values.dtype)
    dense[offsets] = values
    return dense.reshape(shape)


__all__ = ["DimensionMetadata", "Sparsity", "densify", "sparsity_from_flatbuffer"]
