"""SHAPE and RESHAPE, the two ends of the shape arithmetic that :mod:`tflite2keras.ops.fold` folds.

RESHAPE's target is a constant, the ``new_shape`` option, or folded shape arithmetic. With the
batch as its first element (fixed 1 in a batch-1 file, -1, or the batch itself when folded) it
becomes ``keras.layers.Reshape`` of the rest. A target whose one batch-dependent element sits
elsewhere (``[-1, 4]`` from ``(batch, 6, 4)``) becomes :class:`~tflite2keras.layers.BatchReshape`.
Any other target cannot keep the batch free (:class:`~tflite2keras.errors.BatchAxisError`); with fixed
shapes (axis 0 is data: a waveform framed into ``[195, 80]``) it is a full-tensor
:class:`~tflite2keras.layers.FixedReshape` to the output's shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import BatchAxisError, UnsupportedOpError
from ..tflite.model import Operator
from .contract import ConvertContext
from .prepare_shapes import reshape_size
from .registry import OpSpec, register_op

if TYPE_CHECKING:
    from keras import KerasTensor


def _target(ctx: ConvertContext, op: Operator) -> tuple[np.ndarray, np.ndarray]:
    """The target at each folding batch (equal when fixed); the output's shape when the file has none."""
    folded = ctx.folded_value(op, 1) if len(op.inputs) > 1 else None
    if folded is not None:
        return folded
    if len(op.inputs) > 1 and ctx.is_constant(op, 1):
        value = np.asarray(ctx.constant(op, 1)).reshape(-1)
    elif op.options.get("new_shape"):
        value = np.asarray(op.options["new_shape"]).reshape(-1)
    else:
        value = np.asarray(ctx.tfl.tensor(op.outputs[0]).shape)
    return value, value


def convert_reshape(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    from ..layers import BatchReshape
    from .fold import batch_axes, is_batch

    if ctx.fixed_batch is not None:
        from .rearrange import fixed_reshape

        return [fixed_reshape(ctx, op)]
    x = ctx.input(op, 0)
    target = _target(ctx, op)
    moving = batch_axes(target)
    first = [int(d) for d in target[0].reshape(-1)]
    if moving == [0] and is_batch(target, 0) or not moving and (first[:1] == [1] or _rest_is_exact(x, first)):
        if _keeps_size(x, first[1:]):
            return [keras.layers.Reshape(tuple(first[1:]), name=ctx.name(op))(x)]  # axis 0 stays the batch
        if -1 not in first[1:] and all(d > 0 for d in first[1:]):
            # x's axis 0 is the batch times some axes an earlier RESHAPE folded into it (a Dense on a
            # rank-3 tensor): reshaping back over all axes restores the batch.
            return [BatchReshape([-1, *first[1:]], name=ctx.name(op))(x)]
    if len(moving) == 1 and -1 not in first:
        return [BatchReshape([-1 if i in moving else d for i, d in enumerate(first)], name=ctx.name(op))(x)]
    if not moving and first.count(-1) == 1:
        return [BatchReshape(first, name=ctx.name(op))(x)]
    raise BatchAxisError(f"op {op.index} (RESHAPE) to {first} at batch 2 ({[int(d) for d in target[1]]} "
                         f"at batch 3) from {tuple(x.shape)}: the batch axis cannot be kept free")


def _keeps_size(x: Any, rest: list[int]) -> bool:
    """True unless ``x``'s known non-batch extents hold a different number of elements than ``rest``."""
    if None in x.shape[1:] or -1 in rest:
        return True
    return int(np.prod(x.shape[1:])) == int(np.prod(rest))


def _rest_is_exact(x: Any, target: list[int]) -> bool:
    """True for a target ``[-1, *rest]`` whose rest holds exactly the non-batch elements of ``x``."""
    rest = x.shape[1:]
    if target[:1] != [-1] or -1 in target[1:] or None in rest:
        return False
    return int(np.prod(rest)) == int(np.prod(target[1:]))


def convert_shape(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    tensor = ctx.tfl.tensor(op.inputs[0])
    raise UnsupportedOpError(
        f"op {op.index} (SHAPE) of tensor {tensor.name!r} with shape signature "
        f"{list(tensor.shape_signature or tensor.shape)} does not fold: a dimension other than the batch "
        "is dynamic, or its value feeds an op that cannot fold it")


def fold_shape(op: Operator, values: list[Any]) -> list[Any]:
    return [np.asarray(np.shape(values[0]), "int64" if op.options.get("out_type") == "INT64" else "int32")]


def fold_reshape(op: Operator, values: list[Any]) -> list[Any]:
    target = values[1] if len(values) > 1 and values[1] is not None else op.options.get("new_shape")
    return [np.reshape(values[0], np.asarray(target, "int64").reshape(-1))]


register_op(OpSpec("RESHAPE", layers=("Reshape", "Flatten", "BatchReshape", "FixedReshape"), converter=convert_reshape,
                   fold=fold_reshape, prepare=(reshape_size,)))
register_op(OpSpec("SHAPE", converter=convert_shape, fold=fold_shape, reads_shape=True))
