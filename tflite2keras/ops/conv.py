"""Convolutions and fully connected layers: the ops that carry kernels; and SPACE_TO_BATCH_ND /
BATCH_TO_SPACE_ND, with which TF lowers a dilated convolution (TFLite usually fuses them back)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UnsupportedOpError
from ..tflite.model import Operator, TFLiteModel
from . import checks, prepare
from .contract import ConvertContext
from .layout import DEPTHWISE, OHWI_TO_HWIO, OHWI_TO_HWOI, OI_TO_IO
from .prepare_shapes import (
    conv_shapes,
    depthwise_shapes,
    fully_connected_shapes,
    ranks,
    transpose_conv_shapes,
)
from .registry import Mismatch, OpSpec, WeightSlot, register_op
from .transpose_geometry import transpose_padding

if TYPE_CHECKING:
    from keras import KerasTensor

_CONV_CHECKS = (checks.kernel_size, checks.strides, checks.dilation, checks.padding,
                checks.use_bias)


def fold_pad(ctx: ConvertContext, op: Operator) -> tuple[Any, str]:
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


def check_geometry(op: Operator) -> None:
    """Raise for what a Keras convolution cannot do: strides and dilation both above 1.

    Raises:
        UnsupportedOpError: names the op and both options.
    """
    strides, dilation = checks.op_strides(op), checks.op_dilation(op)
    if max(strides) > 1 and max(dilation) > 1:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has strides {strides} and dilation {dilation}: "
                                 "Keras convolutions take strides > 1 or dilation > 1, not both")


def conv_layer(ctx: ConvertContext, op: Operator, x: Any, padding: str, *, dilation: tuple[int, ...] | None = None,
               use_bias: bool | None = None, name: str | None = None) -> Any:
    """The Keras ``Conv2D`` (``CONV_2D``) or ``DepthwiseConv2D`` (``DEPTHWISE_CONV_2D``) computing ``op`` on ``x``.

    The op's converter and the dilated-convolution pattern (:mod:`tflite2keras.ops.patterns.build`)
    both build the layer here; neither calls it on ``x`` (they record its weights first).

    Args:
        ctx: the conversion context.
        op: the ``CONV_2D`` or ``DEPTHWISE_CONV_2D`` op (OHWI or 1HWC kernel in input 1).
        x: the Keras tensor the layer will read (its channels set groups or the depth multiplier).
        padding: Keras ``padding``.
        dilation: ``dilation_rate``; None for the op's own.
        use_bias: None for "the op has a bias input".
        name: the layer's name; None for ``ctx.name(op, weights=True)``.

    Example:
        >>> from tflite2keras.testdata import tiny
        >>> import tflite2keras as t2k
        >>> type(t2k.convert(tiny.tflite()).layers[1]).__name__  # a CONV_2D, built here
        'Conv2D'
    """
    import keras

    kernel = ctx.tfl.tensor(op.inputs[1]).shape
    common: dict[str, Any] = {
        "strides": checks.op_strides(op), "padding": padding,
        "dilation_rate": checks.op_dilation(op) if dilation is None else dilation, "activation": ctx.activation(op),
        "use_bias": op.has_input(2) if use_bias is None else use_bias,
        "name": ctx.name(op, weights=True) if name is None else name}
    if op.opcode == "CONV_2D":
        out_c, kh, kw, in_c = kernel
        groups = int(x.shape[-1]) // in_c if x.shape[-1] else 1
        return keras.layers.Conv2D(out_c, (kh, kw), groups=groups, **common)
    _, kh, kw, channels = kernel
    return keras.layers.DepthwiseConv2D((kh, kw), depth_multiplier=channels // int(x.shape[-1]), **common)


def convert_conv(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """Converter of ``CONV_2D`` and ``DEPTHWISE_CONV_2D``: a preceding PAD folds in where exact."""
    check_geometry(op)
    x, padding = fold_pad(ctx, op)
    return [ctx.takes_weights(conv_layer(ctx, op, x, padding), op)(x)]


def dense_layer(ctx: ConvertContext, op: Operator) -> Any:
    """The Keras ``Dense`` computing ``FULLY_CONNECTED`` ``op`` over the last axis (converter and pattern).

    Example:
        >>> from tflite2keras.ops.conv import dense_layer  # used as dense_layer(ctx, op)(x)
    """
    import keras

    return keras.layers.Dense(ctx.tfl.tensor(op.inputs[1]).shape[0], activation=ctx.activation(op),
                              use_bias=op.has_input(2), name=ctx.name(op, weights=True))


def transpose_conv_layer(ctx: ConvertContext, op: Operator, arguments: dict[str, Any], bias_slot: int,
                         activation: str | None = None) -> Any:
    """The Keras ``Conv2DTranspose`` of a transposed convolution op with OHWI weights in input 1
    (``TRANSPOSE_CONV``, MediaPipe's ``Convolution2DTransposeBias``), not yet called.

    Args:
        ctx: the conversion context.
        op: the op.
        arguments: ``strides``, ``padding`` and ``output_padding`` (from
            :func:`~tflite2keras.ops.transpose_geometry.transpose_padding`).
        bias_slot: the op input that holds the bias, if any.
        activation: Keras ``activation``.

    Example:
        >>> from tflite2keras.ops.conv import transpose_conv_layer  # transpose_conv_layer(ctx, op, ...)(x)
    """
    import keras

    out_c, kh, kw, _ = ctx.tfl.tensor(op.inputs[1]).shape
    return keras.layers.Conv2DTranspose(out_c, (kh, kw), **arguments, activation=activation,
                                        use_bias=op.has_input(bias_slot), name=ctx.name(op, weights=True))


def convert_transpose_conv(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """Converter of ``TRANSPOSE_CONV``: padding that reproduces the op's stored output size."""
    x, strides, activation = ctx.input(op, 2), checks.op_strides(op), ctx.activation(op)
    kernel = tuple(ctx.tfl.tensor(op.inputs[1]).shape[1:3])
    out = ctx.tfl.tensor(op.outputs[0]).shape[1:3]
    padding = transpose_padding(op, tuple(x.shape[1:3]), out, kernel, strides, op.options.get("padding", "VALID"))
    layer = transpose_conv_layer(ctx, op, {"strides": strides, **padding}, 3, activation)
    return [ctx.takes_weights(layer, op)(x)]


def _blocks(block: Any, pairs: Any) -> tuple[list[int], list[list[int]]]:
    """Block shape and (M, 2) paddings or crops of SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND as lists."""
    return [int(b) for b in np.asarray(block).reshape(-1)], np.asarray(pairs).reshape(-1, 2).astype(int).tolist()


def _block_args(ctx: ConvertContext, op: Operator, what: str) -> tuple[list[int], list[list[int]]]:
    """The op's constant block shape and paddings (or crops), checked."""
    if not (ctx.is_constant(op, 1) and ctx.is_constant(op, 2)):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) has a non-constant block_shape or {what}")
    block, pairs = _blocks(ctx.constant(op, 1), ctx.constant(op, 2))
    rank = len(ctx.tfl.tensor(op.inputs[0]).shape)
    if len(pairs) != len(block) or len(block) > rank - 2 or min(block, default=1) < 1 or \
            min((v for pair in pairs for v in pair), default=0) < 0:
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}) with block_shape {block} and {what} {pairs} "
                                 f"on a rank-{rank} input")
    return block, pairs


def check_blocks(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    """Lint: block_shape and paddings (or crops) of a SpaceToBatch / BatchToSpace layer."""
    if not all(op.has_input(s) and model.is_constant(op.inputs[s]) for s in (1, 2)):
        return
    tfl, tfl_pairs = _blocks(model.constant(op.inputs[1]), model.constant(op.inputs[2]))
    if list(getattr(layer, "block_shape", [])) != tfl:
        yield "block_shape", getattr(layer, "block_shape", None), tfl
    if list(getattr(layer, "pairs", [])) != tfl_pairs:
        yield getattr(layer, "PAIRS", "paddings"), getattr(layer, "pairs", None), tfl_pairs


def convert_space_to_batch(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import SpaceToBatch

    block, paddings = _block_args(ctx, op, "paddings")
    return [SpaceToBatch(block, paddings, name=ctx.name(op))(ctx.input(op, 0))]


def convert_batch_to_space(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import BatchToSpace

    block, crops = _block_args(ctx, op, "crops")
    return [BatchToSpace(block, crops, name=ctx.name(op))(ctx.input(op, 0))]


def convert_fully_connected(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    in_features = ctx.tfl.tensor(op.inputs[1]).shape[1]
    x = ctx.input(op, 0)
    if len(x.shape) != 2 and not op.options.get("keep_num_dims"):
        flatten = ctx.suffixed(ctx.name(op), "flatten")
        if None not in x.shape[1:] and int(np.prod(x.shape[1:])) == in_features:
            x = keras.layers.Reshape((in_features,), name=flatten)(x)
        else:  # the interpreter takes rows of in_features across the batch: (1, 4, 6) -> (3, 8)
            from ..layers import BatchReshape

            x = BatchReshape([-1, in_features], name=flatten)(x)
    return [ctx.takes_weights(dense_layer(ctx, op), op)(x)]


register_op(OpSpec(
    "CONV_2D", layers=("Conv2D",), fused_activation=True, folds_batchnorm=True, checks=_CONV_CHECKS, converter=convert_conv,
    prepare=(ranks({0: 4, 1: 4}), conv_shapes, prepare.window_fits),
    weights=(WeightSlot(1, "kernel", OHWI_TO_HWIO, optional=False), WeightSlot(2, "bias")),
))
register_op(OpSpec(
    "DEPTHWISE_CONV_2D", layers=("DepthwiseConv2D",), fused_activation=True, folds_batchnorm=True, converter=convert_conv,
    checks=_CONV_CHECKS + (checks.depth_multiplier,),
    prepare=(ranks({0: 4, 1: 4}), depthwise_shapes, prepare.window_fits, prepare.depth_multiplier),
    weights=(WeightSlot(1, "kernel", DEPTHWISE, optional=False), WeightSlot(2, "bias")),
))
# TRANSPOSE_CONV inputs are (output_shape, weights, input, bias).
register_op(OpSpec(
    "TRANSPOSE_CONV", layers=("Conv2DTranspose",), fused_activation=True, folds_batchnorm=True, converter=convert_transpose_conv,
    checks=checks.transposed(lambda op: (op.options.get("padding", "VALID"), checks.op_strides(op)), input_slot=2),
    prepare=(ranks({0: 1, 1: 4, 2: 4}), transpose_conv_shapes),
    weights=(WeightSlot(1, "kernel", OHWI_TO_HWOI, optional=False), WeightSlot(3, "bias")),
))
register_op(OpSpec(
    "FULLY_CONNECTED", layers=("Dense",), fused_activation=True, folds_batchnorm=True, converter=convert_fully_connected,
    checks=(checks.use_bias,), prepare=(ranks({1: 2}), fully_connected_shapes),
    weights=(WeightSlot(1, "kernel", OI_TO_IO, optional=False), WeightSlot(2, "bias")),
))
register_op(OpSpec("SPACE_TO_BATCH_ND", layers=("SpaceToBatch",), checks=(check_blocks,),
                   converter=convert_space_to_batch))
register_op(OpSpec("BATCH_TO_SPACE_ND", layers=("BatchToSpace",), checks=(check_blocks,),
                   converter=convert_batch_to_space))
