"""MediaPipe's custom ops: semantics in :mod:`tflite2keras.layers.mediapipe`, options in
:mod:`tflite2keras.tflite.custom_options`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import UnsupportedOpError
from ..tflite import custom_options as decoders
from ..tflite.model import Operator
from . import checks
from .contract import ConvertContext
from .conv import transpose_conv_layer
from .custom_options import parse
from .layout import OHWI_TO_HWOI
from .registry import OpSpec, WeightSlot, register_op
from .transpose_geometry import transpose_geometry, transpose_padding

if TYPE_CHECKING:
    from keras import KerasTensor


def transpose_conv_bias_output_size(input_size: int, kernel_size: int, stride: int, padding: str) -> int:
    """The output extent MediaPipe's ``Convolution2DTransposeBias`` gives one spatial axis
    (:func:`~tflite2keras.ops.transpose_geometry.transpose_geometry` without a stored size).

    Example:
        >>> transpose_conv_bias_output_size(128, 2, 2, "SAME"), transpose_conv_bias_output_size(5, 2, 2, "SAME")
        (256, 9)
    """
    return transpose_geometry(padding, (input_size,), (kernel_size,), (stride,)).out[0]


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
    out = transpose_geometry(padding, input_hw, kernel_hw, strides).out
    return {"strides": strides, **transpose_padding(None, tuple(input_hw), out, tuple(kernel_hw), strides, padding)}


def _options(op: Operator) -> dict[str, Any]:
    return parse(op.opcode, op.custom_options, index=op.index)


def _geometry(op: Operator) -> tuple[str, tuple[int, int]]:
    options = _options(op)
    return options["padding"], (options["stride_height"], options["stride_width"])


def convert_transpose_conv_bias(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    x = ctx.input(op, 0)
    arguments = conv2d_transpose_arguments(_options(op), tuple(x.shape[1:3]), ctx.tfl.tensor(op.inputs[1]).shape[1:3])
    return [ctx.takes_weights(transpose_conv_layer(ctx, op, arguments, 2), op)(x)]


def _landmarks_to_matrix_layer(options: dict[str, Any], output_shape: Sequence[int], name: str | None = None) -> Any:
    """The :class:`~tflite2keras.layers.Landmarks2TransformMatrix` of an op with these parsed options."""
    from ..layers import Landmarks2TransformMatrix

    return Landmarks2TransformMatrix(**options, name=name)


def _transform_tensor_layer(options: dict[str, Any], output_shape: Sequence[int], name: str | None = None) -> Any:
    """The :class:`~tflite2keras.layers.TransformTensorBilinear` of an op whose output has ``output_shape``
    (the CPU kernel takes its size from the output tensor, as here; the options only validate)."""
    from ..layers import TransformTensorBilinear

    return TransformTensorBilinear(int(output_shape[1]), int(output_shape[2]), name=name)


def _transform_landmarks_layer(options: dict[str, Any], output_shape: Sequence[int], name: str | None = None) -> Any:
    """The :class:`~tflite2keras.layers.TransformLandmarks` layer (it has no options)."""
    from ..layers import TransformLandmarks

    return TransformLandmarks(name=name)


#: Custom op -> ``build(options, output_shape, name)``: the Keras layer computing it, from its parsed
#: options and output shape; its converter and the builtin lowering (:mod:`tflite2keras.writer.attention`) use it.
ATTENTION_LAYERS: dict[str, Callable[..., Any]] = {
    "Landmarks2TransformMatrix": _landmarks_to_matrix_layer,
    "TransformTensorBilinear": _transform_tensor_layer,
    "TransformLandmarks": _transform_landmarks_layer,
}


def attention_layer(opcode: str, options: dict[str, Any], output_shape: Sequence[int], name: str | None = None) -> Any:
    """The Keras layer computing MediaPipe attention op ``opcode`` with parsed ``options``.

    Raises:
        UnsupportedOpError: ``opcode`` is none of :data:`ATTENTION_LAYERS`.

    Example:
        >>> type(attention_layer("TransformTensorBilinear", {}, (1, 16, 16, 3))).__name__
        'TransformTensorBilinear'
    """
    if opcode not in ATTENTION_LAYERS:
        raise UnsupportedOpError(f"no Keras layer for custom op {opcode}; known: {', '.join(ATTENTION_LAYERS)}")
    return ATTENTION_LAYERS[opcode](options, output_shape, name=name)


def _attention(ctx: ConvertContext, op: Operator) -> Any:
    """The op's layer from :func:`attention_layer` (the converters' part)."""
    return attention_layer(op.opcode, _options(op), ctx.tfl.tensor(op.outputs[0]).shape, name=ctx.name(op))


def convert_landmarks_to_matrix(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    return [_attention(ctx, op)(ctx.input(op, 0))]


def convert_transform(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
    """Converter of ``TransformTensorBilinear`` and ``TransformLandmarks``: (values, matrix) inputs."""
    return [_attention(ctx, op)([ctx.input(op, 0), ctx.input(op, 1)])]


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
                   converter=convert_transform, parse_options=decoders.transform_tensor_bilinear))
register_op(OpSpec("TransformLandmarks", layers=("TransformLandmarks",), converter=convert_transform,
                   parse_options=decoders.transform_landmarks))
