"""Gathers and index encodings: GATHER, GATHER_ND, EMBEDDING_LOOKUP, ONE_HOT, BUCKETIZE.

A constant table looked up by tensor indices is a weight (``embeddings``, trainable when float),
filled by the transplant. Constant indices stay fixed in the layer's config. The batch axis of
the output must be the batch axis of an input: a gather along the batch axis does not convert.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ShapeMismatchError, UnsupportedOpError
from ..tflite.model import Operator
from .contract import ConvertContext
from .layout import RESHAPE
from .reduce import folding
from .registry import OpSpec, WeightSlot, register_op
from .shape import non_batch_axis

if TYPE_CHECKING:
    from keras import KerasTensor


def _shape(ctx: ConvertContext, op: Operator, slot: int) -> tuple[int, ...]:
    return tuple(ctx.tfl.tensor(op.inputs[slot]).shape)


def table_lookup(ctx: ConvertContext, op: Operator, table: int, ids: int, embedding: bool = False) -> list[Any]:
    """A constant table (input ``table``) looked up at axis 0 by the tensor indices of input ``ids``.

    With ``embedding``, a float table of rank 2 becomes ``keras.layers.Embedding``; any other table a
    :class:`~tflite2keras.layers.Gather` holding it as its ``embeddings`` variable.
    """
    import keras

    from ..layers import Gather

    if not ctx.tfl.is_constant(op.inputs[table]):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) looks up a table that is shape arithmetic, not a "
                                 "stored constant")
    dtype = ctx.dtype(op.outputs[0])
    stored = np.asarray(ctx.constant(op, table)).dtype
    if stored != np.dtype(dtype):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) with a {stored} table and a {dtype} output")
    shape = _shape(ctx, op, table)
    name = ctx.name(op, weights=True)
    if embedding and len(shape) == 2 and dtype == "float32":
        layer = keras.layers.Embedding(shape[0], shape[1], name=name)
    else:
        layer = Gather(table_shape=shape, table_dtype=dtype, name=name)
    return [ctx.takes_weights(layer, op)(ctx.input(op, ids))]


def convert_gather(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """Tensor params with constant indices on a non-batch axis; a constant table looked up at axis 0 by
    tensor indices; or, with ``batch_dims`` >= 1, tensor params and tensor indices."""
    from ..layers import BatchGather, Gather

    params, indices = (ctx.is_constant(op, s) for s in (0, 1))
    rank, index_rank = len(_shape(ctx, op, 0)), len(_shape(ctx, op, 1))
    axis, batch_dims = int(op.options.get("axis", 0)), int(op.options.get("batch_dims", 0))
    axis, batch_dims = axis + rank if axis < 0 else axis, batch_dims + index_rank if batch_dims < 0 else batch_dims
    if batch_dims:
        if params or indices or not 1 <= batch_dims <= min(axis, index_rank) or axis >= rank:
            raise UnsupportedOpError(
                f"op {op.index} (GATHER) with batch_dims {batch_dims} and axis {axis}: needs tensor params and "
                f"indices (constant: {params}, {indices}) and batch_dims <= axis < rank {rank}")
        return [BatchGather(axis, batch_dims, name=ctx.name(op))([ctx.input(op, 0), ctx.input(op, 1)])]
    if params and not indices:
        if axis:
            raise UnsupportedOpError(f"op {op.index} (GATHER) of a constant table with axis {axis}: only 0")
        return table_lookup(ctx, op, table=0, ids=1)
    if params or not indices:
        raise UnsupportedOpError(f"op {op.index} (GATHER) needs constant indices or a constant table "
                                 f"(params constant: {params}, indices constant: {indices})")
    axis = non_batch_axis(op, axis, rank, "axis")
    values, shape = np.asarray(ctx.constant(op, 1)), _shape(ctx, op, 1)
    if values.size != int(np.prod(shape)):
        raise ShapeMismatchError(f"op {op.index} (GATHER) indices: tensor {op.inputs[1]} has shape {tuple(shape)}, "
                                 f"but its value has {values.size} elements")
    return [Gather(values.reshape(shape).tolist(), axis=axis, name=ctx.name(op))(ctx.input(op, 0))]


def convert_embedding_lookup(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """Rank-1 tensor ids (the batch axis) into a constant table."""
    if ctx.is_constant(op, 0) or not ctx.is_constant(op, 1) or len(_shape(ctx, op, 0)) != 1:
        raise UnsupportedOpError(f"op {op.index} (EMBEDDING_LOOKUP) needs rank-1 tensor ids and a constant table")
    return table_lookup(ctx, op, table=1, ids=0, embedding=True)


def convert_gather_nd(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """A constant table indexed by tensor indices (whose batch axis is the output's)."""
    from ..layers import GatherND

    if ctx.is_constant(op, 1) or not ctx.is_constant(op, 0):
        raise UnsupportedOpError(f"op {op.index} (GATHER_ND) needs a constant table and tensor indices: indices "
                                 "into tensor params address the batch axis")
    if not ctx.tfl.is_constant(op.inputs[0]) or len(_shape(ctx, op, 1)) < 2:
        raise UnsupportedOpError(f"op {op.index} (GATHER_ND) needs a stored constant table and indices of rank >= 2")
    dtype = ctx.dtype(op.outputs[0])
    if np.asarray(ctx.constant(op, 0)).dtype != np.dtype(dtype):
        raise UnsupportedOpError(f"op {op.index} (GATHER_ND) with a table that is not of its {dtype} output")
    layer = GatherND(_shape(ctx, op, 0), table_dtype=dtype, name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(ctx.input(op, 1))]


def convert_one_hot(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """ONE_HOT of tensor indices with constant depth, on and off values, along a non-batch axis."""
    from ..layers import OneHot

    if not all(ctx.is_constant(op, s) for s in (1, 2, 3)) or ctx.is_constant(op, 0):
        raise UnsupportedOpError(f"op {op.index} (ONE_HOT) needs tensor indices and constant depth, on and off values")
    rank = len(_shape(ctx, op, 0)) + 1
    axis = int(op.options.get("axis", -1))
    axis = non_batch_axis(op, axis + rank if axis < 0 else axis, rank, "axis")
    depth, on, off = (np.asarray(ctx.constant(op, s)).reshape(-1) for s in (1, 2, 3))
    if len(depth) != 1 or len(on) != 1 or len(off) != 1:
        raise UnsupportedOpError(f"op {op.index} (ONE_HOT) depth, on and off values must be scalars")
    dtype = ctx.dtype(op.outputs[0])
    layer = OneHot(int(depth[0]), on[0].item(), off[0].item(), axis=axis, value_dtype=dtype, name=ctx.name(op))
    return [layer(ctx.input(op, 0))]


def convert_bucketize(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """BUCKETIZE with its sorted float boundaries."""
    from ..layers import Bucketize

    bounds = [float(b) for b in op.options.get("boundaries", ())]
    if any(a > b for a, b in zip(bounds, bounds[1:])):
        raise UnsupportedOpError(f"op {op.index} (BUCKETIZE) boundaries {bounds} are not sorted")
    return [Bucketize(bounds, name=ctx.name(op))(ctx.input(op, 0))]


def _take(params: np.ndarray, indices: np.ndarray, axis: int, batch_dims: int) -> np.ndarray:
    if batch_dims == 0:
        if indices.size and (indices.min() < 0 or indices.max() >= params.shape[axis]):
            raise IndexError(f"indices {indices.min()}..{indices.max()} out of range for {params.shape[axis]}")
        return np.take(params, indices, axis=axis)
    if params.shape[0] != indices.shape[0]:
        raise ValueError(f"batch_dims extents {params.shape[0]} and {indices.shape[0]} differ")
    return np.stack([_take(p, i, axis - 1, batch_dims - 1) for p, i in zip(params, indices)])


@folding
def fold_gather(op: Operator, values: list[Any]) -> list[np.ndarray]:
    """GATHER in numpy: ``take`` along ``axis`` with ``batch_dims``; an index out of range is an error."""
    params, indices = np.asarray(values[0]), np.asarray(values[1])
    axis, batch_dims = int(op.options.get("axis", 0)), int(op.options.get("batch_dims", 0))
    axis += params.ndim if axis < 0 else 0
    batch_dims += indices.ndim if batch_dims < 0 else 0
    if not 0 <= batch_dims <= min(axis, indices.ndim) or axis >= params.ndim:
        raise IndexError(f"axis {axis} and batch_dims {batch_dims} do not fit params of rank {params.ndim}")
    return [_take(params, indices.astype(np.int64), axis, batch_dims)]


@folding
def fold_gather_nd(op: Operator, values: list[Any]) -> list[np.ndarray]:
    """GATHER_ND in numpy: the last axis of ``indices`` addresses the leading axes of ``params``;
    an index out of range is an error (TFLite's kernel fails)."""
    params, indices = np.asarray(values[0]), np.asarray(values[1]).astype(np.int64)
    depth = indices.shape[-1] if indices.ndim else -1
    if indices.ndim < 1 or depth > params.ndim:
        raise IndexError(f"indices of shape {indices.shape} do not fit params of rank {params.ndim}")
    flat = indices.reshape(-1, depth)
    limits = np.asarray(params.shape[:depth], np.int64)
    if flat.size and ((flat < 0).any() or (flat >= limits).any()):
        raise IndexError(f"indices {flat.min()}..{flat.max()} out of range for {params.shape[:depth]}")
    picked = np.stack([params[tuple(row)] for row in flat]) if len(flat) else \
        np.zeros((0, *params.shape[depth:]), params.dtype)
    return [picked.reshape(*indices.shape[:-1], *params.shape[depth:])]


_TABLE = (WeightSlot(0, "embeddings", RESHAPE, integer=True),)
register_op(OpSpec("GATHER", layers=("Gather", "BatchGather"), weights=_TABLE, converter=convert_gather,
                   fold=fold_gather))
register_op(OpSpec("EMBEDDING_LOOKUP", layers=("Embedding", "Gather"), converter=convert_embedding_lookup,
                   weights=(WeightSlot(1, "embeddings", RESHAPE, integer=True),)))
register_op(OpSpec("GATHER_ND", layers=("GatherND",), weights=_TABLE, converter=convert_gather_nd,
                   fold=fold_gather_nd))
register_op(OpSpec("ONE_HOT", layers=("OneHot",), converter=convert_one_hot))
register_op(OpSpec("BUCKETIZE", layers=("Bucketize",), converter=convert_bucketize))
