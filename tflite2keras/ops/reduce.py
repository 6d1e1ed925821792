"""Reductions over constant axes, GATHER with constant indices, and PACK; never over the batch axis."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UnsupportedOpError
from ..registry import OpSpec, register_op

REDUCE_OPS = {"REDUCE_MAX": "max", "REDUCE_MIN": "min", "SUM": "sum", "REDUCE_PROD": "prod"}
#: (opcode, input rank, axes) -> the standard Keras layer that reduces exactly so.
GLOBAL_POOLING = {("REDUCE_MAX", 3, (1,)): "GlobalMaxPooling1D", ("REDUCE_MAX", 4, (1, 2)): "GlobalMaxPooling2D"}


def _axis(op: Any, axis: int, rank: int, what: str) -> int:
    if not -rank <= axis < rank:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) {what} {axis} is out of range for rank {rank}")
    if axis % rank == 0:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) with {what} {axis} works on the batch axis")
    return axis % rank


def convert_reduce(ctx: Any, op: Any) -> list[Any]:
    import keras

    from ..layers import Reduce

    if not ctx.is_constant(op, 1):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has non-constant axes")
    rank = len(ctx.tfl.tensor(op.inputs[0]).shape)
    raw = np.asarray(ctx.constant(op, 1)).reshape(-1).tolist()
    axes = tuple(sorted({_axis(op, int(a), rank, f"axes {raw}: axis") for a in raw}))
    keepdims = bool(op.options.get("keep_dims", False))
    x = ctx.input(op, 0)
    pooling = GLOBAL_POOLING.get((op.opcode, rank, axes))
    if pooling is not None:
        return [getattr(keras.layers, pooling)(keepdims=keepdims, name=ctx.name(op))(x)]
    return [Reduce(REDUCE_OPS[op.opcode], axes=list(axes), keepdims=keepdims, name=ctx.name(op))(x)]


def convert_mean(ctx: Any, op: Any) -> list[Any]:
    import keras

    axes = sorted(int(a) % 4 for a in ctx.constant(op, 1).reshape(-1)) if ctx.is_constant(op, 1) else None
    if axes != [1, 2] or len(ctx.input(op, 0).shape) != 4:
        raise UnsupportedOpError(f"op {op.index} (MEAN) over axes {axes}: only the spatial mean of NHWC "
                                 "tensors has a converter")
    layer = keras.layers.GlobalAveragePooling2D(keepdims=bool(op.options.get("keep_dims")), name=ctx.name(op))
    return [layer(ctx.input(op, 0))]


def convert_gather(ctx: Any, op: Any) -> list[Any]:
    """Tensor params with constant indices on a non-batch axis; or a constant table looked up at axis 0
    by tensor indices (the output's batch axis is the indices')."""
    from ..layers import Gather

    if op.options.get("batch_dims", 0):
        raise UnsupportedOpError(f"op {op.index} (GATHER) with batch_dims {op.options['batch_dims']}: only 0")
    params, indices = (ctx.is_constant(op, s) for s in (0, 1))
    rank = len(ctx.tfl.tensor(op.inputs[0]).shape)
    axis = int(op.options.get("axis", 0))
    if params and not indices:
        if axis % rank:
            raise UnsupportedOpError(f"op {op.index} (GATHER) of a constant table with axis {axis}: only 0")
        table = np.asarray(ctx.constant(op, 0)).reshape(ctx.tfl.tensor(op.inputs[0]).shape)
        if table.dtype.kind == "f":
            table = table.astype(np.float32)
        layer = Gather(params={"value": table.tolist(), "dtype": str(table.dtype)}, axis=0, name=ctx.name(op))
        return [layer(ctx.input(op, 1))]
    if params or not indices:
        raise UnsupportedOpError(f"op {op.index} (GATHER) needs constant indices or a constant table "
                                 f"(params constant: {params}, indices constant: {indices})")
    axis = _axis(op, axis, rank, "axis")
    values = np.asarray(ctx.constant(op, 1)).reshape(ctx.tfl.tensor(op.inputs[1]).shape)
    return [Gather(values.tolist(), axis=axis, name=ctx.name(op))(ctx.input(op, 0))]


def convert_pack(ctx: Any, op: Any) -> list[Any]:
    from ..layers import Pack

    if any(ctx.is_constant(op, s) for s in range(len(op.inputs))):
        raise UnsupportedOpError(f"op {op.index} (PACK) with a constant input")
    rank = len(ctx.tfl.tensor(op.outputs[0]).shape)
    axis = _axis(op, int(op.options.get("axis", 0)), rank, "axis")
    return [Pack(axis, name=ctx.name(op))([ctx.input(op, s) for s in range(len(op.inputs))])]


for _opcode in REDUCE_OPS:
    _pooling = tuple(layer for (opcode, _, _), layer in GLOBAL_POOLING.items() if opcode == _opcode)
    register_op(OpSpec(_opcode, layers=("Reduce", *_pooling), converter=convert_reduce))
register_op(OpSpec("GATHER", layers=("Gather",), converter=convert_gather))
register_op(OpSpec("PACK", layers=("Pack",), converter=convert_pack))
register_op(OpSpec("MEAN", layers=("GlobalAveragePooling2D",), converter=convert_mean))
