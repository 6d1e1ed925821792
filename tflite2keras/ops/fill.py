"""Ops that write constant values: PAD, PADV2, MIRROR_PAD; ZEROS_LIKE, FILL, RANGE and BROADCAST_ARGS
(the last three mostly shape arithmetic, folded by :mod:`tflite2keras.ops.fold`). TFLite has no
ONES_LIKE: its converter writes ``tf.ones_like`` as BROADCAST_TO of a constant 1 (ops/layout.py).

PAD keeps its standard Keras layers where they are exact (``ZeroPadding1D/2D/3D`` on the spatial
axes, :class:`~tflite2keras.layers.ChannelPadding` on the last); any other padding of non-batch
axes is a :class:`~tflite2keras.layers.Pad`. A FILL or RANGE that is not folded has a size that
follows the batch: its layer reads the batch of the tensor the SHAPE arithmetic came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UnsupportedOpError
from ..tflite.model import Operator
from .contract import ConvertContext
from .fold import BATCHES, is_fixed
from .prepare_shapes import paddings
from .rearrange import small
from .registry import OpSpec, register_op
from .shape import batch_source, fixed, folding, known

if TYPE_CHECKING:
    from keras import KerasTensor

#: MIRROR_PAD's ``mode`` option (schema enum MirrorPadMode) -> the Pad layer's mode.
MIRROR_MODES = {0: "reflect", 1: "symmetric", "REFLECT": "reflect", "SYMMETRIC": "symmetric"}
#: Input rank -> the standard zero-padding layer of its spatial axes (channels last).
ZERO_PADDING = {3: "ZeroPadding1D", 4: "ZeroPadding2D", 5: "ZeroPadding3D"}


def _pad_mode(op: Operator, ctx: ConvertContext) -> tuple[str, Any]:
    """(Pad mode, constant value) of a PAD, PADV2 or MIRROR_PAD op."""
    if op.opcode == "MIRROR_PAD":
        mode = op.options.get("mode", 0)
        if mode not in MIRROR_MODES:
            raise UnsupportedOpError(f"op {op.index} (MIRROR_PAD) with mode {mode!r}: only REFLECT and SYMMETRIC")
        return MIRROR_MODES[mode], 0
    if op.opcode == "PADV2" and op.has_input(2):
        value = np.asarray(fixed(ctx, op, 2, "constant_values")).reshape(-1)
        if value.size != 1:
            raise UnsupportedOpError(f"op {op.index} (PADV2) constant_values of {value.size} elements: only one")
        return "constant", value[0].item()
    return "constant", 0


def convert_pad(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    from ..layers import ChannelPadding, Pad

    x = ctx.input(op, 0)
    rank = len(x.shape)
    pads = [tuple(int(v) for v in p) for p in np.asarray(fixed(ctx, op, 1, "paddings")).reshape(-1, 2)]
    mode, value = _pad_mode(op, ctx)
    if len(pads) != rank or any(p < 0 for pair in pads for p in pair):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) paddings {pads} do not fit rank {rank}")
    if any(pads[0]):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) with paddings {pads} pads the batch axis")
    if mode != "constant":
        most = 1 if mode == "reflect" else 0
        if any(d is None or max(p) > d - most for d, p in zip(x.shape[1:], pads[1:])):
            raise UnsupportedOpError(f"op {op.index} (MIRROR_PAD) {mode} paddings {pads} exceed {tuple(x.shape)}")
    name = ctx.name(op)
    spatial, channel = pads[1:-1], pads[-1]
    standard = mode == "constant" and value == 0 and x.dtype in ("float32", "float16") and rank in ZERO_PADDING
    if not standard:
        return [Pad(pads[1:], mode=mode, constant_value=value, name=name)(x)]
    if any(sum(spatial, ())):
        layer = getattr(keras.layers, ZERO_PADDING[rank])
        x = layer(spatial[0] if rank == 3 else tuple(spatial), name=name if not any(channel) else
                  ctx.suffixed(name, "spatial"))(x)
    if any(channel):
        x = ChannelPadding(pad_before=channel[0], pad_after=channel[1], name=name)(x)
    if not any(sum(pads, ())):
        x = keras.layers.Identity(name=name)(x)
    return [x]


def convert_zeros_like(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import Fill

    dtype = ctx.dtype(op.outputs[0])
    return [Fill(0, dtype, name=ctx.name(op))(ctx.input(op, 0))]


@folding
def fold_zeros_like(op: Operator, values: list[Any]) -> list[Any]:
    return [np.zeros_like(np.asarray(values[0]))]


def _only_constants(op: Operator) -> UnsupportedOpError:
    return UnsupportedOpError(f"op {op.index} ({op.opcode}) has only constant inputs and a non-integer or large "
                              "output: its value is a constant, which no layer computes")


def convert_fill(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import Fill

    dims = known(ctx, op, 0)
    if dims is None or known(ctx, op, 1) is None:
        raise UnsupportedOpError(f"op {op.index} (FILL) with a tensor {'dims' if dims is None else 'value'}: only "
                                 "constant values of a shape that follows the batch")
    value = np.asarray(fixed(ctx, op, 1, "value")).reshape(-1)[0].item()
    if is_fixed(dims):
        raise _only_constants(op)
    rest = (dims[0].reshape(-1)[1:], dims[1].reshape(-1)[1:])
    if not is_fixed(rest) or tuple(int(v.reshape(-1)[0]) for v in dims) != BATCHES:
        raise UnsupportedOpError(f"op {op.index} (FILL) dims {dims[0].tolist()} at batch {BATCHES[0]} "
                                 f"({dims[1].tolist()} at batch {BATCHES[1]}): only the first may follow the batch")
    dtype = ctx.dtype(op.outputs[0])
    return [Fill(value, dtype, shape=rest[0].tolist(), name=ctx.name(op))(batch_source(ctx, op, 0))]


@folding
def fold_fill(op: Operator, values: list[Any]) -> list[Any]:
    value = np.asarray(values[1])
    if value.ndim:
        raise UnsupportedOpError(f"op {op.index} (FILL) value of shape {value.shape}: only a scalar")
    return [np.full(small(op, values[0]), value, dtype=value.dtype)]


def range_size(op: Operator, start: Any, limit: Any, delta: Any) -> int:
    """The length of TFLite's RANGE: the count of ``start + k * delta`` short of ``limit``."""
    start, limit, delta = (np.asarray(v).reshape(()) for v in (start, limit, delta))
    if delta == 0 or not ((start >= limit and delta < 0) or (start <= limit and delta > 0)):
        raise UnsupportedOpError(f"op {op.index} (RANGE) from {start} to {limit} by {delta} is invalid")
    if start.dtype.kind in "iu":
        return int((abs(int(limit) - int(start)) + abs(int(delta)) - 1) // abs(int(delta)))
    return int(np.ceil(np.abs((limit - start) / delta)))


def convert_range(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import Range

    values = [known(ctx, op, s) for s in range(3)]
    if any(v is None for v in values):
        raise UnsupportedOpError(f"op {op.index} (RANGE) with a tensor start, limit or delta: only shape arithmetic")
    if all(is_fixed(v) for v in values):
        raise _only_constants(op)
    sizes = tuple(range_size(op, *(v[k] for v in values)) for k in range(2))
    if not (is_fixed(values[0]) and is_fixed(values[2])) or sizes != BATCHES:
        raise UnsupportedOpError(f"op {op.index} (RANGE) of lengths {sizes} at batches {BATCHES}: only a start and "
                                 "delta that are fixed and a length that is the batch")
    dtype = ctx.dtype(op.outputs[0])
    start, delta = (np.asarray(values[s][0]).item() for s in (0, 2))
    return [Range(start, delta, dtype, name=ctx.name(op))(batch_source(ctx, op, 1))]


@folding
def fold_range(op: Operator, values: list[Any]) -> list[Any]:
    start, limit, delta = (np.asarray(v).reshape(()) for v in values)
    (size,) = small(op, [range_size(op, start, limit, delta)])
    out = np.empty(size, start.dtype)
    value = start.copy()
    for i in range(size):  # a running sum, as TFLite computes it (float results differ from start + i * delta)
        out[i] = value
        value = (value + delta).astype(start.dtype)
    return [out]


def convert_broadcast_args(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    raise UnsupportedOpError(f"op {op.index} (BROADCAST_ARGS) does not fold: its shapes are not constants or "
                             "shape arithmetic, and no layer computes shapes")


@folding
def fold_broadcast_args(op: Operator, values: list[Any]) -> list[Any]:
    a, b = (np.asarray(v).reshape(-1) for v in values)
    shape = np.broadcast_shapes(tuple(int(d) for d in a), tuple(int(d) for d in b))
    return [np.asarray(shape, a.dtype)]


for _opcode in ("PAD", "PADV2"):
    register_op(OpSpec(_opcode, layers=("ChannelPadding", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Pad",
                                        "Identity"), transparent=_opcode == "PAD", converter=convert_pad,
                       prepare=(paddings,)))
register_op(OpSpec("MIRROR_PAD", layers=("Pad",), converter=convert_pad, prepare=(paddings,)))
register_op(OpSpec("ZEROS_LIKE", layers=("Fill",), converter=convert_zeros_like, fold=fold_zeros_like))
register_op(OpSpec("FILL", layers=("Fill",), converter=convert_fill, fold=fold_fill))
register_op(OpSpec("RANGE", layers=("Range",), converter=convert_range, fold=fold_range))
register_op(OpSpec("BROADCAST_ARGS", converter=convert_broadcast_args, fold=fold_broadcast_args))
