"""TFLite's RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR, with every pixel-centre convention.

Keras resizes with half-pixel centres only. TFLite also has ``align_corners`` and the legacy
convention (neither flag), which older TensorFlow graphs use. :class:`Resize` reproduces the
reference kernels, whose source rows and weights (:func:`source_rows`)
depend only on the sizes: they are computed once, and the layer is two gathers and a lerp
per axis, differentiable and free of backend-specific ops. For export
(:mod:`~tflite2keras.layers.export_form`) it emits the TFLite resize op with its flags.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import Resize
    >>> x = np.array([0.0, 1.0, 2.0], np.float32).reshape(1, 1, 3, 1)
    >>> np.asarray(Resize(1, 5, align_corners=True)(x)).reshape(-1).tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0]
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .export_form import exporting
from .padding import PACKAGE

INTERPOLATIONS = ("bilinear", "nearest")


def source_rows(in_size: int, out_size: int, interpolation: str, align_corners: bool,
                half_pixel_centers: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For one axis: the two source indices and the weight of the second, per output index.

    As TFLite's reference kernels, in float32: ``v = (y + 0.5) * scale - 0.5`` (half-pixel
    centres) or ``v = y * scale``, with ``scale = (in - 1) / (out - 1)`` under
    ``align_corners``, else ``in / out``. Bilinear reads rows ``max(floor(v), 0)`` and
    ``min(ceil(v), in - 1)``, the second weighted by ``v - max(floor(v), 0)``. Nearest reads
    row ``floor(v')`` (``round`` under ``align_corners``) clamped to the input, where ``v'``
    adds 0.5 for half-pixel centres instead of subtracting it.

    Nearest gives the same index twice and weight 0. Where both indices are clamped to one
    row the weight can fall outside [0, 1]; it then multiplies a zero difference.

    Example:
        >>> [a.tolist() for a in source_rows(2, 4, "bilinear", False, True)]
        [[0, 0, 0, 1], [0, 1, 1, 1], [-0.25, 0.25, 0.75, 0.25]]
    """
    f32 = np.float32
    scale = f32(in_size - 1) / f32(out_size - 1) if align_corners and out_size > 1 else f32(in_size) / f32(out_size)
    out = np.arange(out_size, dtype=f32)
    if interpolation == "nearest":
        v = (out + f32(0.5)) * scale if half_pixel_centers else out * scale
        # TfLiteRound rounds the float32 v half away from zero; v >= 0 here, so floor(v + 0.5),
        # added in float64: in float32, 0.49999997 + 0.5 would round up to 1.
        index = np.floor(v.astype(np.float64) + 0.5) if align_corners else np.floor(v)
        index = np.clip(index, 0, in_size - 1).astype(np.int32)
        return index, index, np.zeros(out_size, f32)
    v = (out + f32(0.5)) * scale - f32(0.5) if half_pixel_centers else out * scale
    low = np.maximum(np.floor(v), 0).astype(np.int32)
    high = np.minimum(np.ceil(v), in_size - 1).astype(np.int32)
    return low, high, (v - low.astype(f32)).astype(f32)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Resize(keras.layers.Layer):
    """Resize NHWC images to ``(height, width)`` exactly as TFLite's resize ops do.

    Args:
        height / width: the output size.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        align_corners / half_pixel_centers: TFLite's options of the same names.
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear", align_corners: bool = False,
                 half_pixel_centers: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if interpolation not in INTERPOLATIONS:
            raise InvalidArgumentError(f"Resize interpolation must be one of {INTERPOLATIONS}. "
                                       f"Received: interpolation={interpolation!r}")
        if align_corners and half_pixel_centers:
            raise InvalidArgumentError("Resize: align_corners and half_pixel_centers cannot both be true")
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.align_corners, self.half_pixel_centers = bool(align_corners), bool(half_pixel_centers)
        self._rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if len(input_shape) != 4 or None in input_shape[1:3]:
            raise InvalidArgumentError(f"Resize needs NHWC input with a known height and width. "
                                       f"Received: shape={input_shape}")
        self._rows = [source_rows(n, out, self.interpolation, self.align_corners, self.half_pixel_centers)
                      for n, out in zip(input_shape[1:3], (self.height, self.width))]

    def call(self, inputs: Any) -> Any:
        if exporting():
            return self._export_form(inputs)
        x = inputs
        for axis, (low, high, weight) in zip((1, 2), self._rows):
            first = keras.ops.take(x, low, axis=axis)
            if self.interpolation == "nearest":
                x = first
                continue
            shape = (1, -1, 1, 1) if axis == 1 else (1, 1, -1, 1)
            w = keras.ops.reshape(keras.ops.convert_to_tensor(weight, dtype=x.dtype), shape)
            x = first + (keras.ops.take(x, high, axis=axis) - first) * w
        return x

    def _export_form(self, inputs: Any) -> Any:
        """One ``RESIZE_BILINEAR`` / ``RESIZE_NEAREST_NEIGHBOR`` op with this layer's flags.

        The gathers and lerps of :meth:`call` would stay gathers in TFLite; TensorFlow's
        ``ResizeBilinear`` / ``ResizeNearestNeighbor`` (what ``tf.compat.v1.image.resize_*``
        call, without their deprecation warning) carry ``align_corners`` and
        ``half_pixel_centers`` and are what the converter lowers to the TFLite op. Export
        always traces under TensorFlow.
        """
        import tensorflow as tf

        resize = tf.raw_ops.ResizeBilinear if self.interpolation == "bilinear" else tf.raw_ops.ResizeNearestNeighbor
        out = resize(images=inputs, size=(self.height, self.width), align_corners=self.align_corners,
                     half_pixel_centers=self.half_pixel_centers)
        return out if out.dtype == inputs.dtype else tf.cast(out, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], self.height, self.width, input_shape[3])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "align_corners": self.align_corners,
                "half_pixel_centers": self.half_pixel_centers}


__all__ = ["INTERPOLATIONS", "Resize", "source_rows"]
