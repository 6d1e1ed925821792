"""SPLIT, SPLIT_V and UNPACK (one Keras tensor per output), and DYNAMIC_UPDATE_SLICE; never on the batch axis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UnsupportedOpError
from ..tflite.model import Operator
from .contract import ConvertContext
from .prepare import count_of
from .registry import OpSpec, register_op
from .shape import fixed, folding, known, non_batch_axis, static_batch

if TYPE_CHECKING:
    from keras import KerasTensor


def convert_split(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import Split

    value_slot, axis_slot = (0, 2) if op.opcode == "SPLIT_V" else (1, 0)
    x = ctx.input(op, value_slot)
    axis = non_batch_axis(op, fixed(ctx, op, axis_slot, "axis"), len(x.shape))
    dim = x.shape[axis]
    if op.opcode == "SPLIT_V":
        sizes = [int(s) for s in fixed(ctx, op, 1, "size_splits").reshape(-1)]
        if sizes.count(-1) == 1 and dim is not None:
            sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
    else:
        count = int(op.options.get("num_splits", len(op.outputs)))
        sizes = [dim // count] * count if dim is not None and count and dim % count == 0 else [-1]
    if dim is None or min(sizes) < 0 or sum(sizes) != dim or len(sizes) != len(op.outputs):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) cannot split axis {axis} of size {dim} into "
                                 f"{len(op.outputs)} pieces {sizes}")
    return list(Split(axis, sizes, name=ctx.name(op))(x))


def convert_unpack(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import Unstack

    x = ctx.input(op, 0)
    axis = non_batch_axis(op, op.options.get("axis", 0), len(x.shape))
    if x.shape[axis] != len(op.outputs):
        raise UnsupportedOpError(f"op {op.index} (UNPACK) of axis {axis} of size {x.shape[axis]} into "
                                 f"{len(op.outputs)} outputs")
    return list(Unstack(axis, len(op.outputs), name=ctx.name(op))(x))


@folding
def fold_split(op: Operator, values: list[Any]) -> list[Any]:
    """SPLIT / SPLIT_V in numpy: equal pieces, or ``size_splits`` with at most one -1 (the rest)."""
    x, raw_axis = (values[1], values[0]) if op.opcode == "SPLIT" else (values[0], values[2])
    x = np.asarray(x)
    axis = int(np.asarray(raw_axis).reshape(-1)[0])
    if not -x.ndim <= axis < x.ndim:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) axis {axis} is out of range for rank {x.ndim}")
    dim = x.shape[axis % x.ndim]
    if op.opcode == "SPLIT":
        count = int(op.options.get("num_splits", len(op.outputs)))
        if count < 1 or dim % count:
            raise UnsupportedOpError(f"op {op.index} (SPLIT) of an axis of size {dim} into {count} equal pieces")
        sizes = [dim // count] * count
    else:
        sizes = [int(s) for s in np.asarray(values[1]).reshape(-1)]
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
    if min(sizes, default=-1) < 0 or sum(sizes) != dim:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) of an axis of size {dim} into pieces {sizes}")
    return [np.array(p) for p in np.split(x, np.cumsum(sizes)[:-1], axis=axis % x.ndim)]


@folding
def fold_unpack(op: Operator, values: list[Any]) -> list[Any]:
    x = np.asarray(values[0])
    axis = int(op.options.get("axis", 0)) % x.ndim
    return [np.array(np.take(x, i, axis=axis)) for i in range(x.shape[axis])]


def convert_dynamic_update_slice(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import SliceUpdate

    if known(ctx, op, 1) is not None:
        raise UnsupportedOpError(f"op {op.index} (DYNAMIC_UPDATE_SLICE) update (input 1) is a constant: only a "
                                 "tensor update, which spans the operand's batch")
    x, update = ctx.input(op, 0), ctx.input(op, 1)
    start = [int(s) for s in fixed(ctx, op, 2, "start_indices").reshape(-1)]
    batches = static_batch(ctx, op.inputs[0]), static_batch(ctx, op.inputs[1])
    if len(update.shape) != len(x.shape) or batches[0] != batches[1]:
        raise UnsupportedOpError(f"op {op.index} (DYNAMIC_UPDATE_SLICE) update of shape {tuple(update.shape)} "
                                 f"into {tuple(x.shape)}: the update must span the operand's batch")
    if None in x.shape[1:] + update.shape[1:]:
        raise UnsupportedOpError(f"op {op.index} (DYNAMIC_UPDATE_SLICE) with dynamic sizes {tuple(x.shape)}")
    clamped = [min(max(s, 0), d - u) for s, d, u in zip(start[1:], x.shape[1:], update.shape[1:])]
    return [SliceUpdate(clamped, name=ctx.name(op))([x, update])]


register_op(OpSpec("SPLIT", layers=("Split",), converter=convert_split, fold=fold_split,
                   prepare=(count_of("num_splits", "outputs"),)))
register_op(OpSpec("SPLIT_V", layers=("Split",), converter=convert_split, fold=fold_split,
                   prepare=(count_of("num_splits", "outputs"),)))
register_op(OpSpec("UNPACK", layers=("Unstack",), converter=convert_unpack, fold=fold_unpack,
                   prepare=(count_of("num", "outputs"),)))
register_op(OpSpec("DYNAMIC_UPDATE_SLICE", layers=("SliceUpdate",), converter=convert_dynamic_update_slice))
