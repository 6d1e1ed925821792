"""MediaPipe's custom ops: semantics in :mod:`tflite2keras.layers.mediapipe`, options in
:mod:`tflite2keras.tflite.custom_options`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from ..tflite import custom_options as decoders
from ..tflite.model import Operator
from . import checks
from .contract import ConvertContext
from .custom_options import parse
from .layout import OHWI_TO_HWOI
from .registry import OpSpec, WeightSlot, register_op

if TYPE_CHECKING:
    from keras import KerasTensor


def transpose_conv_bias_output_size(input_size: int, kernel_size: int, stride: int, padding: str) -> int:
    """The output extent MediaPipe's ``Convolution2DTransposeBias`` gives one spatial axis.

    SAME pads ``P = max(0, kernel - 1 - (input - 1) % stride)`` (``P // 2`` before);
    VALID pads nothing. The output is ``stride * (input - 1) + kernel - P``.

    Example:
        >>> transpose_conv_bias_output_size(128, 2, 2, "SAME"), transpose_conv_bias_output_size(5, 2, 2, "SAME")
        (256, 9)
    """
    pad = max(0, kernel_size - 1 - (input_size - 1) % stride) if padding.upper() == "SAME" else 0
    return stride * (input_size - 1) + kernel_size - pad


def conv2d_transpose_arguments(options: dict[str, Any], input_hw: Sequence[int],
                               kernel_hw: Sequence[int]) -> dict[str, Any]:
    """``keras.layers.Conv2DTranspose`` arguments that reproduce ``Convolution2DTransposeBias`` exactly.

    The weights are OHWI; Keras wants HWOI: ``kernel = weights.transpose(1, 2, 0, 3)``,
    ``bias`` as is. ``padding="same"`` with ``output_padding=None`` is exact when
    ``input * stride`` equals MediaPipe's size (always for the corpus: even inputs,
    kernel 2, stride 2); otherwise an ``output_padding`` (always ``< stride``) sets the size,
    and TF derives the same leading padding ``P // 2``. VALID maps to
    ``padding="valid", output_padding=0`` (the default ``None`` adds rows when kernel < stride).

    Args:
        options: ``parse("Convolution2DTransposeBias", ...)``.
        input_hw: the op input's (height, width).
        kernel_hw: the weights' (height, width), dims 1 and 2 of OHWI.

    Returns:
        ``strides``, ``padding`` and ``output_padding`` for ``Conv2DTranspose``.

    Example:
        >>> opts = {"padding": "SAME", "stride_width": 2, "stride_height": 2}
        >>> conv2d_transpose_arguments(opts, (128, 128), (2, 2))
        {'strides': (2, 2), 'padding': 'same', 'output_padding': None}
    """
    strides = (int(options["stride_height"]), int(options["stride_width"]))
    padding = str(options["padding"]).upper()
    if padding == "VALID":
        return {"strides": strides, "padding": "valid", "output_padding": (0, 0)}
    sizes = [transpose_conv_bias_output_size(i, k, s, padding) for i, k, s in zip(input_hw, kernel_hw, strides)]
    if all(n == i * s for n, i, s in zip(sizes, input_hw, strides)):
        return {"strides": strides, "padding": "same", "output_padding": None}
    extra = tuple(n - (i - 1) * s - k % 2 for n, i, k, s in zip(sizes, input_hw, kernel_hw, strides))
    return {"strides": strides, "padding": "same", "output_padding": extra}


def _options(op: Operator) -> dict[str, Any]:
    return parse(op.opcode, op.custom_options, index=op.index)


def _geometry(op: Operator) -> tuple[str, tuple[int, int]]:
    options = _options(op)
    return options["padding"], (options["stride_height"], options["stride_width"])


def convert_transpose_conv_bias(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    import keras

    out_c, kh, kw, _ = ctx.tfl.tensor(op.inputs[1]).shape
    x = ctx.input(op, 0)
    arguments = conv2d_transpose_arguments(_options(op), tuple(x.shape[1:3]), (kh, kw))
    layer = keras.layers.Conv2DTranspose(out_c, (kh, kw), use_bias=op.has_input(2),
                                         name=ctx.name(op, weights=True), **arguments)
    return [ctx.takes_weights(layer, op)(x)]


def convert_landmarks_to_matrix(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import Landmarks2TransformMatrix

    return [Landmarks2TransformMatrix(**_options(op), name=ctx.name(op))(ctx.input(op, 0))]


def convert_transform_tensor(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import TransformTensorBilinear

    _options(op)  # validates; the CPU kernel takes its size from the output tensor, as here
    height, width = ctx.tfl.tensor(op.outputs[0]).shape[1:3]
    layer = TransformTensorBilinear(height, width, name=ctx.name(op))
    return [layer([ctx.input(op, 0), ctx.input(op, 1)])]


def convert_transform_landmarks(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    from ..layers import TransformLandmarks

    _options(op)
    return [TransformLandmarks(name=ctx.name(op))([ctx.input(op, 0), ctx.input(op, 1)])]


# Inputs are (input, weights, bias).
register_op(OpSpec(
    "Convolution2DTransposeBias", layers=("Conv2DTranspose",), converter=convert_transpose_conv_bias,
    folds_batchnorm=True, checks=checks.transposed(_geometry, input_slot=0),
    parse_options=decoders.transpose_conv_bias,
    weights=(WeightSlot(1, "kernel", OHWI_TO_HWOI, optional=False), WeightSlot(2, "bias")),
))
register_op(OpSpec("Landmarks2TransformMatrix", layers=("Landmarks2TransformMatrix",),
                   converter=convert_landmarks_to_matrix, parse_options=decoders.landmarks_to_transform_matrix))
register_op(OpSpec("TransformTensorBilinear", layers=("TransformTensorBilinear",),
                   converter=convert_transform_tensor, parse_options=decoders.transform_tensor_bilinear))
register_op(OpSpec("TransformLandmarks", layers=("TransformLandmarks",), converter=convert_transform_landmarks,
                   parse_options=decoders.transform_landmarks))
