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


def transpose_padding(op: Operator, size: tuple[int, ...], out: tuple[int, ...], kernel: tuple[int, ...],
                      strides: tuple[int, ...], mode: str) -> dict[str, Any]:
    """``padding`` and ``output_padding`` of a Keras transposed convolution that computes the op's
    output of size ``out`` from an input of size ``size``, under TFLite padding ``mode``.

    TFLite pads as the forward convolution from ``out`` to ``size`` would, and leaves zeros
    (the bias) after the full result where ``out`` is longer. Keras gives ``(n - 1) * s + k + p``
    under 'valid' and ``(n - 1) * s + k % 2 + p`` under 'same' with ``output_padding`` p (TF's rule
    then crops as TFLite does); without it ``n * s`` under 'same'.

    Raises:
        UnsupportedOpError: an ``output_padding`` would not be below the stride (Keras's limit).

    Example:
        >>> transpose_padding(None, (7, 9), (14, 18), (3, 3), (2, 2), "SAME")
        {'padding': 'same', 'output_padding': None}
        >>> transpose_padding(None, (7, 9), (15, 26), (3, 2), (2, 3), "VALID")
        {'padding': 'valid', 'output_padding': (0, 0)}
    """
    padding = "same" if mode == "SAME" else "valid"
    if padding == "same":
        if tuple(out) == tuple(n * s for n, s in zip(size, strides)):
            return {"padding": padding, "output_padding": None}
        extra = tuple(o - (n - 1) * s - k % 2 for o, n, k, s in zip(out, size, kernel, strides))
    else:
        extra = tuple(o - (n - 1) * s - k for o, n, k, s in zip(out, size, kernel, strides))
        if extra == tuple(max(k, s) - k for k, s in zip(kernel, strides)):
            return {"padding": padding, "output_padding": None}
    if not all(0 <= p < s for p, s in zip(extra, strides)):
        raise UnsupportedOpError(f"op {op.index} ({op.opcode}): output size {tuple(out)} from input {tuple(size)} "
                                 f"under {mode} padding needs output_padding {extra}, not below strides {strides}")
    return {"padding": padding, "output_padding": extra}


def convert_conv2d(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    check_geometry(op)
    out_c, kh, kw, in_c = ctx.tfl.tensor(op.inputs[1]).shape
    x, padding = fold_pad(ctx, op)
    groups = int(x.shape[-1]) // in_c if x.shape[-1] else 1
    layer = keras.layers.Conv2D(out_c, (kh, kw), strides=checks.op_strides(op), padding=padding, groups=groups,
                                dilation_rate=checks.op_dilation(op), activation=ctx.activation(op),
                                use_bias=op.has_input(2), name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(x)]


def convert_depthwise(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    check_geometry(op)
    _, kh, kw, channels = ctx.tfl.tensor(op.inputs[1]).shape
    x, padding = fold_pad(ctx, op)
    layer = keras.layers.DepthwiseConv2D((kh, kw), strides=checks.op_strides(op), padding=padding,
                                         depth_multiplier=channels // int(x.shape[-1]),
                                         dilation_rate=checks.op_dilation(op), activation=ctx.activation(op),
                                         use_bias=op.has_input(2), name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(x)]


def transpose_conv(ctx: ConvertContext, op: Operator, x: Any, strides: tuple[int, int], bias_slot: int,
                   activation: str | None = None) -> Any:
    """A Conv2DTranspose whose padding reproduces the op's output size."""
    import keras

    out_c, kh, kw, _ = ctx.tfl.tensor(op.inputs[1]).shape
    out = ctx.tfl.tensor(op.outputs[0]).shape[1:3]
    padding = transpose_padding(op, tuple(x.shape[1:3]), out, (kh, kw), strides, op.options.get("padding", "VALID"))
    layer = keras.layers.Conv2DTranspose(out_c, (kh, kw), strides=strides, **padding,
                                         activation=activation, use_bias=op.has_input(bias_slot),
                                         name=ctx.name(op, weights=True))
    return ctx.takes_weights(layer, op)(x)


def convert_transpose_conv(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    return [transpose_conv(ctx, op, ctx.input(op, 2), checks.op_strides(op), 3, ctx.activation(op))]


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

    units, in_features = ctx.tfl.tensor(op.inputs[1]).shape
    x = ctx.input(op, 0)
    if len(x.shape) != 2 and not op.options.get("keep_num_dims"):
        flatten = ctx.suffixed(ctx.name(op), "flatten")
        if None not in x.shape[1:] and int(np.prod(x.shape[1:])) == in_features:
            x = keras.layers.Reshape((in_features,), name=flatten)(x)
        else:  # the interpreter takes rows of in_features across the batch: (1, 4, 6) -> (3, 8)
            from ..layers import BatchReshape

            x = BatchReshape([-1, in_features], name=flatten)(x)
    layer = keras.layers.Dense(units, activation=ctx.activation(op), use_bias=op.has_input(2),
                               name=ctx.name(op, weights=True))
    return [ctx.takes_weights(layer, op)(x)]


register_op(OpSpec(
    "CONV_2D", layers=("Conv2D",), fused_activation=True, folds_batchnorm=True, checks=_CONV_CHECKS, converter=convert_conv2d,
    prepare=(ranks({0: 4, 1: 4}), conv_shapes, prepare.window_fits),
    weights=(WeightSlot(1, "kernel", OHWI_TO_HWIO, optional=False), WeightSlot(2, "bias")),
))
register_op(OpSpec(
    "DEPTHWISE_CONV_2D", layers=("DepthwiseConv2D",), fused_activation=True, folds_batchnorm=True, converter=convert_depthwise,
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
