"""Ops that move data without arithmetic: concatenation, padding, slicing (RESHAPE: ops/reshape.py)."""

from __future__ import annotations

from typing import Any

from ..errors import UnsupportedOpError
from ..registry import OpSpec, register_op


def convert_concatenation(ctx: Any, op: Any) -> list[Any]:
    import keras

    name = ctx.name(op)
    layer = keras.layers.Concatenate(axis=int(op.options.get("axis", -1)), name=name)
    return [ctx.activate(layer([ctx.input(op, i) for i in range(len(op.inputs))]), op, name)]


def convert_pad(ctx: Any, op: Any) -> list[Any]:
    import keras

    from ..layers import ChannelPadding

    pads = [tuple(int(v) for v in p) for p in ctx.constant(op, 1).reshape(-1, 2)]
    x = ctx.input(op, 0)
    if len(pads) != 4 or any(pads[0]):
        raise UnsupportedOpError(f"op {op.index} (PAD) with paddings {pads}: only NHWC spatial/channel padding")
    name = ctx.name(op)
    if any(pads[1] + pads[2]):
        x = keras.layers.ZeroPadding2D((pads[1], pads[2]), name=name if not any(pads[3]) else
                                       ctx.suffixed(name, "spatial"))(x)
    if any(pads[3]):
        x = ChannelPadding(pad_before=pads[3][0], pad_after=pads[3][1], name=name)(x)
    return [x]


def convert_depth_to_space(ctx: Any, op: Any) -> list[Any]:
    from ..layers import DepthToSpace

    return [DepthToSpace(op.options["block_size"], name=ctx.name(op))(ctx.input(op, 0))]


def convert_strided_slice(ctx: Any, op: Any) -> list[Any]:
    import keras

    from ..layers import StridedSlice

    begin, end, strides = (ctx.constant(op, s).reshape(-1).tolist() for s in (1, 2, 3))
    o = op.options
    if o.get("ellipsis_mask") or o.get("new_axis_mask") or o.get("offset"):
        raise UnsupportedOpError(f"op {op.index} (STRIDED_SLICE) with masks {dict(o)}: ellipsis_mask, "
                                 "new_axis_mask and offset are not supported")
    shrink = int(o.get("shrink_axis_mask", 0))
    if begin[0] != 0 or strides[0] != 1 or shrink & 1:
        raise UnsupportedOpError(f"op {op.index} (STRIDED_SLICE) slices the batch axis")
    # A masked bound is Python's None: from the start / to the end, reversed for negative strides.
    begin = [None if o.get("begin_mask", 0) >> i & 1 else b for i, b in enumerate(begin)]
    end = [None if o.get("end_mask", 0) >> i & 1 else e for i, e in enumerate(end)]
    for i in range(len(begin)):
        if shrink >> i & 1:  # one element, at begin (0 when begin is masked); end and stride ignored
            first = begin[i] or 0
            begin[i], end[i], strides[i] = first, (first + 1) or None, 1
    name = ctx.name(op)
    layer = StridedSlice(begin[1:], end[1:], strides[1:], name=name if not shrink else ctx.suffixed(name, "slice"))
    x = layer(ctx.input(op, 0))
    if shrink:  # drop the shrunk axes, as TFLite's output tensor has them dropped
        x = keras.layers.Reshape(tuple(ctx.tfl.tensor(op.outputs[0]).shape[1:]), name=name)(x)
    return [x]


register_op(OpSpec("CONCATENATION", layers=("Concatenate",), fused_activation=True,
                   converter=convert_concatenation))
register_op(OpSpec("PAD", layers=("ChannelPadding", "ZeroPadding2D"), transparent=True, converter=convert_pad))
register_op(OpSpec("DEPTH_TO_SPACE", layers=("DepthToSpace",), converter=convert_depth_to_space))
register_op(OpSpec("STRIDED_SLICE", layers=("StridedSlice",), converter=convert_strided_slice))
