"""RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR: Keras's own layers where exact, else ``Resize``.

Keras resizes with half-pixel centres. That is exact for ops with ``half_pixel_centers``,
and for nearest-neighbour ops whose source rows happen to be the same under both
conventions (many integer upscales, but not all: in float32, ``y * (1/41)`` falls short of
an integer where ``y // 41`` does not). Everything else, ``align_corners`` and the legacy
convention of older TensorFlow graphs, becomes :class:`tflite2keras.layers.Resize`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..tflite.model import Operator, TFLiteModel
from .contract import ConvertContext
from .prepare import input_shape
from .prepare_shapes import IMAGE
from .registry import Mismatch, OpSpec, register_op

if TYPE_CHECKING:
    from keras import KerasTensor


def sizes(op: Operator, model: TFLiteModel) -> tuple[tuple[int, int], tuple[int, int]]:
    """The op's input and output (height, width)."""
    return (tuple(model.tensor(op.inputs[0]).shape[1:3]),  # type: ignore[return-value]
            tuple(model.tensor(op.outputs[0]).shape[1:3]))


def interpolation_of(op: Operator) -> str:
    """``"bilinear"`` or ``"nearest"``."""
    return "bilinear" if op.opcode == "RESIZE_BILINEAR" else "nearest"


def keras_is_exact(op: Operator, model: TFLiteModel) -> bool:
    """True when Keras's half-pixel-centre resizing reads the same rows, with the same weights."""
    align = bool(op.options.get("align_corners"))
    half = bool(op.options.get("half_pixel_centers"))
    return keras_is_exact_for(interpolation_of(op), align, half, *sizes(op, model))


def keras_is_exact_for(interpolation: str, align_corners: bool, half_pixel_centers: bool,
                       in_hw: tuple[int, int], out_hw: tuple[int, int]) -> bool:
    """:func:`keras_is_exact` for explicit options and sizes.

    Example:
        >>> [keras_is_exact_for("nearest", False, False, (5, 5), (5 * k, 5 * k)) for k in (2, 41)]
        [True, False]
    """
    from ..layers.resize import (
        source_rows,  # the kernel's rows live with the layer; imports Keras
    )

    if align_corners or (interpolation == "bilinear" and not half_pixel_centers):
        return False
    if half_pixel_centers:
        return True
    return all(np.array_equal(source_rows(n, out, "nearest", False, False)[0],
                              source_rows(n, out, "nearest", False, True)[0]) for n, out in zip(in_hw, out_hw))


def check(op: Operator, layer: Any, model: TFLiteModel) -> Iterator[Mismatch]:
    """Interpolation, pixel-centre convention and output size of a resize layer."""
    interpolation = interpolation_of(op)
    keras = getattr(layer, "interpolation", "nearest")
    if keras != interpolation:
        yield "interpolation", keras, interpolation
    tfl = (bool(op.options.get("align_corners")), bool(op.options.get("half_pixel_centers")))
    ours = (bool(getattr(layer, "align_corners", False)), bool(getattr(layer, "half_pixel_centers", True)))
    if ours != tfl and not (ours == (False, True) and keras_is_exact(op, model)):
        which = 0 if ours[0] != tfl[0] else 1
        yield ("align_corners", "half_pixel_centers")[which], ours[which], tfl[which]
    size = sizes(op, model)[1]
    keras_size = tuple(layer.output.shape[1:3])
    if None not in keras_size and keras_size != size:
        yield "output size", keras_size, size


def _resize(interpolation: str) -> Any:
    def convert(ctx: ConvertContext, op: Operator) -> list[KerasTensor]:
        import keras

        from ..layers import Resize

        (in_h, in_w), (height, width) = sizes(op, ctx.tfl)
        name = ctx.name(op)
        if not keras_is_exact(op, ctx.tfl):
            layer = Resize(height, width, interpolation, align_corners=bool(op.options.get("align_corners")),
                           half_pixel_centers=bool(op.options.get("half_pixel_centers")), name=name)
        elif height % in_h == 0 and width % in_w == 0:
            layer = keras.layers.UpSampling2D((height // in_h, width // in_w), interpolation=interpolation,
                                              name=name)
        else:
            layer = keras.layers.Resizing(height, width, interpolation=interpolation, name=name)
        return [layer(ctx.input(op, 0))]
    return convert


register_op(OpSpec("RESIZE_BILINEAR", layers=("UpSampling2D", "Resizing", "Resize"), checks=(check,),
                   converter=_resize("bilinear"), prepare=(*IMAGE, input_shape(1, (2,)))))
register_op(OpSpec("RESIZE_NEAREST_NEIGHBOR", layers=("UpSampling2D", "Resizing", "Resize"),
                   checks=(check,), converter=_resize("nearest"), prepare=(*IMAGE, input_shape(1, (2,)))))
