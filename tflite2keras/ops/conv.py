"""Convolutions and fully connected layers: the ops that carry kernels."""

from __future__ import annotations

from typing import Any

from ..errors import UnsupportedOpError
from ..layout import DEPTHWISE, OHWI_TO_HWIO, OHWI_TO_HWOI, OI_TO_IO
from ..registry import OpSpec, WeightSlot, register_op
from . import checks

_CONV_CHECKS = (checks.kernel_size, checks.strides, checks.dilation, checks.padding,
                checks.use_bias)


def fold_pad(ctx: Any, op: Any) -> tuple[Any, str]:
    """The conv's input and padding, folding a preceding spatial PAD into 'same' where exact."""
    x = ctx.input(op, 0)
    mode = op.options.get("padding", "VALID").lower()
    found = checks.pad_before(op, ctx.tfl)
    if mode != "valid" or found is None:
        return x, mode
    before, pads = found
    if pads[0].any() or pads[3].any() or before.inputs[0] not in ctx.tensors:
        return x, mode
    size = ctx.tfl.tensor(before.inputs[0]).shape[1:3]
    same = checks.implicit_pads("SAME", size, checks.window_of(op, ctx.tfl), checks.op_strides(op))
    if checks.spatial_pads(pads) == same:
        return ctx.tensors[before.inputs[0]], "same"
    return x, mode


def convert_conv2d(ctx: Any, op: Any) -> list[Any]:
    import keras

    out_c, kh, kw, in_c = ctx.tfl.tensor(op.inputs[1]).shape
    x, padding = fold_pad(ctx, op)
    groups = int(x.shape[-1]) // in_c if x.shape[-1] else 1
    layer = keras.layers.Conv2D(out_c, (kh, kw), strides=checks.op_strides(op), padding=padding, groups=groups,
                                dilation_rate=checks.op_dilation(op), activation=ctx.activation(op),
                                use_bias=op.has_input(2), name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(x)]


def convert_depthwise(ctx: Any, op: Any) -> list[Any]:
    import keras

    _, kh, kw, channels = ctx.tfl.tensor(op.inputs[1]).shape
    x, padding = fold_pad(ctx, op)
    layer = keras.layers.DepthwiseConv2D((kh, kw), strides=checks.op_strides(op), padding=padding,
                                         depth_multiplier=channels // int(x.shape[-1]),
                                         dilation_rate=checks.op_dilation(op), activation=ctx.activation(op),
                                         use_bias=op.has_input(2), name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(x)]


def transpose_conv(ctx: Any, op: Any, x: Any, strides: tuple[int, int], bias_slot: int,
                   activation: str | None = None) -> Any:
    """A Conv2DTranspose whose padding reproduces the op's output size."""
    import keras

    out_c, kh, kw, _ = ctx.tfl.tensor(op.inputs[1]).shape
    height, width = ctx.tfl.tensor(op.outputs[0]).shape[1:3]
    in_h, in_w = x.shape[1:3]
    if (height, width) == (in_h * strides[0], in_w * strides[1]):
        padding = "same"
    elif (height, width) == ((in_h - 1) * strides[0] + kh, (in_w - 1) * strides[1] + kw):
        padding = "valid"
    else:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}): output size {(height, width)} from input "
                                 f"{(in_h, in_w)} matches neither 'same' nor 'valid' padding")
    layer = keras.layers.Conv2DTranspose(out_c, (kh, kw), strides=strides, padding=padding,
                                         activation=activation, use_bias=op.has_input(bias_slot),
                                         name=ctx.name(op, weights=True))
    return ctx.takes_weights(layer, op)(x)


def convert_transpose_conv(ctx: Any, op: Any) -> list[Any]:
    return [transpose_conv(ctx, op, ctx.input(op, 2), checks.op_strides(op), 3, ctx.activation(op))]


def convert_fully_connected(ctx: Any, op: Any) -> list[Any]:
    import keras

    units, in_features = ctx.tfl.tensor(op.inputs[1]).shape
    x = ctx.input(op, 0)
    if len(x.shape) != 2 and not op.options.get("keep_num_dims"):
        x = keras.layers.Reshape((in_features,), name=ctx.suffixed(ctx.name(op), "flatten"))(x)
    layer = keras.layers.Dense(units, activation=ctx.activation(op), use_bias=op.has_input(2),
                               name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(x)]


register_op(OpSpec(
    "CONV_2D", layers=("Conv2D",), fused_activation=True, folds_batchnorm=True, checks=_CONV_CHECKS, converter=convert_conv2d,
    weights=(WeightSlot(1, "kernel", OHWI_TO_HWIO, optional=False), WeightSlot(2, "bias")),
))
register_op(OpSpec(
    "DEPTHWISE_CONV_2D", layers=("DepthwiseConv2D",), fused_activation=True, folds_batchnorm=True, converter=convert_depthwise,
    checks=_CONV_CHECKS + (checks.depth_multiplier,),
    weights=(WeightSlot(1, "kernel", DEPTHWISE, optional=False), WeightSlot(2, "bias")),
))
# TRANSPOSE_CONV inputs are (output_shape, weights, input, bias).
register_op(OpSpec(
    "TRANSPOSE_CONV", layers=("Conv2DTranspose",), fused_activation=True, folds_batchnorm=True, converter=convert_transpose_conv,
    checks=checks.transposed(lambda op: (op.options.get("padding", "VALID"), checks.op_strides(op)), input_slot=2),
    weights=(WeightSlot(1, "kernel", OHWI_TO_HWOI, optional=False), WeightSlot(3, "bias")),
))
register_op(OpSpec(
    "FULLY_CONNECTED", layers=("Dense",), fused_activation=True, folds_batchnorm=True, converter=convert_fully_connected,
    checks=(checks.use_bias,),
    weights=(WeightSlot(1, "kernel", OI_TO_IO, optional=False), WeightSlot(2, "bias")),
))
