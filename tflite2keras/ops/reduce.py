"""Reductions, arg-reductions, CUMSUM, TOPK_V2 and PACK over constant axes; never over the batch axis.

The reductions, the arg-reductions and PACK also fold (``OpSpec.fold``): they evaluate in numpy as
TFLite does, for shape arithmetic. Gathers are in :mod:`tflite2keras.ops.index`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..errors import InvalidModelError, UnsupportedOpError
from ..tflite.model import Operator
from ..tflite.quant import keras_dtype
from .contract import ConvertContext
from .prepare import count_of
from .registry import OpSpec, register_op
from .shape import non_batch_axis

if TYPE_CHECKING:
    from keras import KerasTensor

REDUCE_OPS = {"REDUCE_MAX": "max", "REDUCE_MIN": "min", "SUM": "sum", "REDUCE_PROD": "prod"}
#: Every reduction over constant axes: opcode -> :class:`~tflite2keras.layers.Reduce` function.
ALL_REDUCE_OPS = {**REDUCE_OPS, "MEAN": "mean", "REDUCE_ANY": "any", "REDUCE_ALL": "all"}
#: (opcode, input rank, axes) -> the standard Keras layer that reduces floats exactly so.
GLOBAL_POOLING = {("REDUCE_MAX", 3, (1,)): "GlobalMaxPooling1D", ("REDUCE_MAX", 4, (1, 2)): "GlobalMaxPooling2D",
                  ("MEAN", 3, (1,)): "GlobalAveragePooling1D", ("MEAN", 4, (1, 2)): "GlobalAveragePooling2D"}
ARG_OPS = {"ARG_MAX": "argmax", "ARG_MIN": "argmin"}


def constant_axis(ctx: ConvertContext, op: Operator, slot: int = 1) -> int:
    """The op's one constant axis (input ``slot``), as a non-batch axis of input 0."""
    if not ctx.is_constant(op, slot):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has a non-constant axis")
    raw = np.asarray(ctx.constant(op, slot)).reshape(-1).tolist()
    if len(raw) != 1:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) axis {raw}: expected one axis")
    return non_batch_axis(op, int(raw[0]), len(ctx.tfl.tensor(op.inputs[0]).shape), "axis")


def convert_reduce(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """A reduction over constant non-batch axes: a global pooling layer where one is exact, else Reduce."""
    import keras

    from ..layers import Reduce

    if not ctx.is_constant(op, 1):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has non-constant axes")
    tensor = ctx.tfl.tensor(op.inputs[0])  # a quantized tensor is computed in float (tflite2keras.conversion.quantized)
    rank = len(tensor.shape)
    raw = np.asarray(ctx.constant(op, 1)).reshape(-1).tolist()
    axes = tuple(sorted({non_batch_axis(op, int(a), rank, f"axes {raw}: axis") for a in raw}))
    keepdims = bool(op.options.get("keep_dims", False))
    x = ctx.input(op, 0)
    pooling = GLOBAL_POOLING.get((op.opcode, rank, axes)) if keras_dtype(tensor) == "float32" else None
    if pooling is not None:
        return [getattr(keras.layers, pooling)(keepdims=keepdims, name=ctx.name(op))(x)]
    return [Reduce(ALL_REDUCE_OPS[op.opcode], axes=list(axes), keepdims=keepdims, name=ctx.name(op))(x)]


def convert_arg(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """ARG_MAX / ARG_MIN along one constant non-batch axis, in the output tensor's index dtype."""
    from ..layers import ArgReduce

    dtype = ctx.dtype(op.outputs[0])
    layer = ArgReduce(ARG_OPS[op.opcode], constant_axis(ctx, op), index_dtype=dtype, name=ctx.name(op))
    return [layer(ctx.input(op, 0))]


def convert_cumsum(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """CUMSUM along one constant non-batch axis, with its exclusive and reverse options."""
    from ..layers import CumSum

    layer = CumSum(constant_axis(ctx, op), exclusive=bool(op.options.get("exclusive", False)),
                   reverse=bool(op.options.get("reverse", False)), name=ctx.name(op))
    return [layer(ctx.input(op, 0))]


def convert_topk(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """TOPK_V2 with a constant k along the last (non-batch) axis: values and indices."""
    from ..layers import TopK

    shape = ctx.tfl.tensor(op.inputs[0]).shape
    if not ctx.is_constant(op, 1):
        raise UnsupportedOpError(f"op {op.index} (TOPK_V2) has a non-constant k")
    k = int(np.asarray(ctx.constant(op, 1)).reshape(-1)[0])
    if len(shape) < 2:
        raise UnsupportedOpError(f"op {op.index} (TOPK_V2) of a rank-{len(shape)} input works on the batch axis")
    if not 0 <= k <= shape[-1]:
        raise UnsupportedOpError(f"op {op.index} (TOPK_V2) k {k} is out of range for a last axis of {shape[-1]}")
    dtype = ctx.dtype(op.outputs[1])
    return list(TopK(k, index_dtype=dtype, name=ctx.name(op))(ctx.input(op, 0)))


def convert_pack(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """PACK of tensors along a non-batch axis of the output. A constant input (all inputs constant
    or shape arithmetic fold instead) must be one value throughout, of the tensor inputs' shape
    (``stack([x, y, ones])``): a Fill of the batch of the first tensor input."""
    from ..layers import Fill, Pack

    rank = len(ctx.tfl.tensor(op.outputs[0]).shape)
    axis = non_batch_axis(op, int(op.options.get("axis", 0)), rank, "axis")
    slots = range(len(op.inputs))
    constants = [s for s in slots if ctx.is_constant(op, s)]
    tensors = [s for s in slots if s not in constants]
    if not tensors:
        raise UnsupportedOpError(f"op {op.index} (PACK) has only constant inputs and a non-integer or large "
                                 "output: its value is a constant, which no layer computes")
    shape = tuple(ctx.tfl.tensor(op.inputs[tensors[0]]).shape)
    name = ctx.name(op)
    inputs = {s: ctx.input(op, s) for s in tensors}
    for s in constants:
        value = np.asarray(ctx.constant(op, s))
        received = tuple(ctx.tfl.tensor(op.inputs[s]).shape)
        if received != shape or not value.size or np.unique(value.reshape(-1)).size != 1:
            raise UnsupportedOpError(f"op {op.index} (PACK) constant input {s} of shape {list(received)}: expected "
                                     f"one value throughout, of the tensor inputs' shape {list(shape)}; received "
                                     f"{np.unique(value.reshape(-1)).size} distinct values")
        fill = Fill(value.reshape(-1)[0].item(), ctx.dtype(op.outputs[0]), shape=list(shape[1:]),
                    name=ctx.suffixed(name, f"constant_{s}"))
        inputs[s] = fill(inputs[tensors[0]])
    return [Pack(axis, name=name)([inputs[s] for s in slots])]


def folding(fn: Callable[[Any, list[Any]], list[np.ndarray]]) -> Callable[[Any, list[Any]], list[np.ndarray]]:
    """Wrap a fold so that numpy's complaints about malformed inputs come out as InvalidModelError."""
    @functools.wraps(fn)
    def fold(op: Operator, values: list[Any]) -> list[np.ndarray]:
        try:
            return fn(op, values)
        except (ValueError, IndexError, TypeError, ZeroDivisionError) as err:
            raise InvalidModelError(f"op {op.index} ({op.opcode}) cannot be evaluated on inputs of shapes "
                                    f"{[np.shape(v) for v in values]}: {err}") from None
    return fold


def _fold_axes(op: Operator, x: np.ndarray, raw: Any) -> tuple[int, ...]:
    axes = np.asarray(raw).reshape(-1).tolist()
    if any(not -x.ndim <= int(a) < x.ndim for a in axes):
        raise IndexError(f"axes {axes} out of range for rank {x.ndim}")
    return tuple(sorted({int(a) % x.ndim for a in axes}))


@folding
def fold_reduce(op: Operator, values: list[Any]) -> list[np.ndarray]:
    """A reduction in numpy as TFLite computes it: in the input's dtype (integers wrap), max/min
    starting from the dtype's lowest/highest value, and an integer mean truncated toward zero."""
    x = np.asarray(values[0])
    axes = _fold_axes(op, x, values[1])
    keep = bool(op.options.get("keep_dims", False))
    fn = ALL_REDUCE_OPS[op.opcode]
    if fn in ("max", "min"):
        limits = np.finfo(x.dtype) if x.dtype.kind == "f" else np.iinfo(x.dtype)
        reduce = np.max if fn == "max" else np.min
        out = reduce(x, axis=axes, keepdims=keep, initial=limits.min if fn == "max" else limits.max)
    elif fn in ("sum", "prod"):
        out = (np.sum if fn == "sum" else np.prod)(x, axis=axes, keepdims=keep, dtype=x.dtype)
    elif fn == "mean":
        count = int(np.prod([x.shape[a] for a in axes]))
        if x.dtype.kind == "f":
            out = np.sum(x, axis=axes, keepdims=keep, dtype=x.dtype) / x.dtype.type(count)
        else:
            total = np.sum(x, axis=axes, keepdims=keep, dtype=np.int64)
            out = np.sign(total) * (np.abs(total) // count)
    else:
        out = (np.any if fn == "any" else np.all)(x, axis=axes, keepdims=keep)
    return [np.asarray(out, x.dtype)]


@folding
def fold_arg(op: Operator, values: list[Any]) -> list[np.ndarray]:
    """ARG_MAX / ARG_MIN in numpy: the first index of the extreme value, in ``output_type``."""
    x = np.asarray(values[0])
    (axis,) = _fold_axes(op, x, values[1])
    found = (np.argmax if op.opcode == "ARG_MAX" else np.argmin)(x, axis=axis)
    return [np.asarray(found, str(op.options.get("output_type", "INT64")).lower())]


@folding
def fold_pack(op: Operator, values: list[Any]) -> list[np.ndarray]:
    """PACK in numpy: ``stack`` along ``axis`` (negative counts from the end of the output)."""
    return [np.stack([np.asarray(v) for v in values], axis=int(op.options.get("axis", 0)))]


for _opcode in ALL_REDUCE_OPS:
    _pooling = tuple(layer for (opcode, _, _), layer in GLOBAL_POOLING.items() if opcode == _opcode)
    register_op(OpSpec(_opcode, layers=("Reduce", *_pooling), converter=convert_reduce, fold=fold_reduce))
for _opcode in ARG_OPS:
    register_op(OpSpec(_opcode, layers=("ArgReduce",), converter=convert_arg, fold=fold_arg))
register_op(OpSpec("CUMSUM", layers=("CumSum",), converter=convert_cumsum))
register_op(OpSpec("TOPK_V2", layers=("TopK",), converter=convert_topk))
register_op(OpSpec("PACK", layers=("Pack",), converter=convert_pack, fold=fold_pack,
                   prepare=(count_of("values_count", "inputs"),)))
