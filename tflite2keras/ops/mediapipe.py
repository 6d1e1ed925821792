"""MediaPipe's custom ops: semantics in :mod:`tflite2keras.layers.mediapipe`, options in
:mod:`tflite2keras.custom_options`."""

from __future__ import annotations

from typing import Any

from .. import custom_options
from ..layout import OHWI_TO_HWOI
from ..registry import OpSpec, WeightSlot, register_op


def _options(op: Any) -> dict[str, Any]:
    return custom_options.parse(op.opcode, op.custom_options, index=op.index)


def convert_transpose_conv_bias(ctx: Any, op: Any) -> list[Any]:
    import keras

    from ..layers.mediapipe import conv2d_transpose_arguments

    out_c, kh, kw, _ = ctx.tfl.tensor(op.inputs[1]).shape
    x = ctx.input(op, 0)
    arguments = conv2d_transpose_arguments(_options(op), tuple(x.shape[1:3]), (kh, kw))
    layer = keras.layers.Conv2DTranspose(out_c, (kh, kw), use_bias=op.has_input(2),
                                         name=ctx.name(op, weights=True), **arguments)
    return [ctx.takes_weights(layer, op)(x)]


def convert_landmarks_to_matrix(ctx: Any, op: Any) -> list[Any]:
    from ..layers import Landmarks2TransformMatrix

    return [Landmarks2TransformMatrix(**_options(op), name=ctx.name(op))(ctx.input(op, 0))]


def convert_transform_tensor(ctx: Any, op: Any) -> list[Any]:
    from ..layers import TransformTensorBilinear

    _options(op)  # validates; the CPU kernel takes its size from the output tensor, as here
    height, width = ctx.tfl.tensor(op.outputs[0]).shape[1:3]
    layer = TransformTensorBilinear(height, width, name=ctx.name(op))
    return [layer([ctx.input(op, 0), ctx.input(op, 1)])]


def convert_transform_landmarks(ctx: Any, op: Any) -> list[Any]:
    from ..layers import TransformLandmarks

    _options(op)
    return [TransformLandmarks(name=ctx.name(op))([ctx.input(op, 0), ctx.input(op, 1)])]


# Inputs are (input, weights, bias).
register_op(OpSpec(
    "Convolution2DTransposeBias", layers=("Conv2DTranspose",), converter=convert_transpose_conv_bias,
    weights=(WeightSlot(1, "kernel", OHWI_TO_HWOI, optional=False), WeightSlot(2, "bias")),
))
register_op(OpSpec("Landmarks2TransformMatrix", layers=("Landmarks2TransformMatrix",),
                   converter=convert_landmarks_to_matrix))
register_op(OpSpec("TransformTensorBilinear", layers=("TransformTensorBilinear",),
                   converter=convert_transform_tensor))
register_op(OpSpec("TransformLandmarks", layers=("TransformLandmarks",), converter=convert_transform_landmarks))
