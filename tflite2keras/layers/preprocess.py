"""Image pre-processing in the model: uint8 images of any size to a model's input tensor.

:class:`ImagePreprocess` resizes a uint8 NHWC batch to the model's input size, either
keeping the aspect ratio with a centred black border (``"letterbox"``, as MediaPipe's
``ImageToTensorCalculator`` with ``keep_aspect_ratio``) or stretching it, and normalizes
it to ``[-1, 1]`` or ``[0, 1]`` (then optionally ``(x - mean) / std``). It also returns the
transform ``(y_offset, x_offset, y_scale, x_scale)`` that :class:`ProjectToImage` inverts
to map the model's normalized boxes and keypoints back onto the original image:
``y = (y_model - y_offset) / y_scale`` and ``x = (x_model - x_offset) / x_scale``.

Letterboxing pads the original image with whole rows (or columns) to the target aspect
ratio, split evenly (an odd pixel goes to the bottom/right), then resizes bilinearly with
half-pixel centres and no antialiasing. Both steps are ``keras.ops``, so the layer works
with a dynamic input size under ``tf.function`` (``keras.Input((None, None, 3), dtype="uint8")``)
and with fixed sizes under JAX.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import ImagePreprocess
    >>> image, transform = ImagePreprocess((4, 4))(np.full((1, 2, 4, 3), 255, np.uint8))
    >>> np.asarray(image)[0, :, 0, 0].tolist()
    [-1.0, 1.0, 1.0, -1.0]
    >>> np.asarray(transform).tolist()
    [[0.25, 0.0, 0.5, 1.0]]
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import keras
from keras import ops

from ..errors import InvalidArgumentError
from .padding import PACKAGE

Shape = tuple[int | None, ...]
MODES = ("letterbox", "stretch")
SCALES = {"[-1,1]": (1.0 / 127.5, -1.0), "[0,1]": (1.0 / 255.0, 0.0)}


def _channels(value: Any, name: str) -> list[float] | None:
    """``None``, or 3 per-channel floats from a number or a length-3 sequence."""
    if value is None:
        return None
    values = [value] * 3 if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        out = []
    if len(out) != 3:
        raise InvalidArgumentError(f"ImagePreprocess expected {name} as a number or 3 numbers (RGB). "
                                   f"Received: {name}={value!r}")
    return out


def _nonneg(value: Any) -> Any:
    return max(value, 0) if isinstance(value, int) else ops.maximum(value, 0)


def _ratio(numerator: Any, denominator: Any) -> Any:
    if isinstance(numerator, int) and isinstance(denominator, int):
        return numerator / denominator
    return ops.cast(numerator, "float32") / ops.cast(denominator, "float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class ImagePreprocess(keras.layers.Layer):
    """Resize and normalize uint8 images for a model; also return the inverse transform.

    Args:
        size: the output ``(height, width)``.
        mode: ``"letterbox"`` (keep the aspect ratio, centred black border) or ``"stretch"``.
        scale: ``"[-1,1]"`` (``x / 127.5 - 1``) or ``"[0,1]"`` (``x / 255``).
        mean / std: optional per-channel normalization after ``scale``: ``(x - mean) / std``;
            a number or 3 numbers each.

    Call args:
        inputs: uint8 images ``(batch, height, width, 3)`` of any height and width.

    Returns:
        ``[image, transform]``: float32 ``(batch, size[0], size[1], 3)`` and float32
        ``(batch, 4)`` holding ``(y_offset, x_offset, y_scale, x_scale)``.

    Example:
        >>> import numpy as np
        >>> layer = ImagePreprocess((2, 2), mode="stretch", scale="[0,1]", mean=0.5, std=0.5)
        >>> image, transform = layer(np.zeros((1, 5, 3, 3), np.uint8))
        >>> np.asarray(image)[0, 0, 0].tolist(), np.asarray(transform).tolist()
        ([-1.0, -1.0, -1.0], [[0.0, 0.0, 1.0, 1.0]])
    """

    def __init__(self, size: Sequence[int], mode: str = "letterbox", scale: str = "[-1,1]",
                 mean: float | Sequence[float] | None = None, std: float | Sequence[float] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            dims = () if isinstance(size, (str, bytes)) else tuple(size)
        except TypeError:
            dims = ()
        if len(dims) != 2 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                                     for s in dims):
            raise InvalidArgumentError("ImagePreprocess expected size as 2 positive ints (height, width). "
                                       f"Received: size={size!r}")
        if mode not in MODES:
            raise InvalidArgumentError(f"ImagePreprocess expected mode in {MODES}. Received: mode={mode!r}")
        if scale not in SCALES:
            raise InvalidArgumentError(f"ImagePreprocess expected scale in {tuple(SCALES)}. "
                                       f"Received: scale={scale!r}")
        self.size = (int(dims[0]), int(dims[1]))
        self.mode, self.scale = mode, scale
        self.mean, self.std = _channels(mean, "mean"), _channels(std, "std")
        if self.std is not None and 0.0 in self.std:
            raise InvalidArgumentError(f"ImagePreprocess expected a non-zero std. Received: std={std!r}")

    def _affine(self) -> tuple[list[float], list[float]]:
        """Per-channel ``(a, b)`` with normalized = ``a * pixel + b``."""
        factor, shift = SCALES[self.scale]
        mean, std = self.mean or [0.0] * 3, self.std or [1.0] * 3
        return [factor / s for s in std], [(shift - m) / s for m, s in zip(mean, std)]

    def _check(self, inputs: Any) -> list[Shape]:
        dtype = keras.backend.standardize_dtype(getattr(inputs, "dtype", type(inputs)))
        if dtype != "uint8":
            raise InvalidArgumentError(f"ImagePreprocess expected uint8 images. Received: dtype={dtype}")
        return self.compute_output_shape(tuple(inputs.shape))

    def call(self, inputs: Any) -> list[Any]:
        self._check(inputs)
        batch, height, width = ops.shape(inputs)[:3]
        out_h, out_w = self.size
        x = ops.cast(inputs, "float32")
        if self.mode == "letterbox":
            # Rows (or columns) that bring the image to the target aspect ratio, rounded to the nearest
            # whole pixel in integer arithmetic: round(w * out_h / out_w) - h, and likewise for columns.
            pad_h = _nonneg((2 * width * out_h + out_w) // (2 * out_w) - height)
            pad_w = _nonneg((2 * height * out_w + out_h) // (2 * out_h) - width)
            top, left = pad_h // 2, pad_w // 2
            x = ops.pad(x, [[0, 0], [top, pad_h - top], [left, pad_w - left], [0, 0]])
            padded_h, padded_w = height + pad_h, width + pad_w
            parts = [_ratio(top, padded_h), _ratio(left, padded_w), _ratio(height, padded_h), _ratio(width, padded_w)]
        else:
            parts = [0.0, 0.0, 1.0, 1.0]
        x = ops.image.resize(x, (out_h, out_w), interpolation="bilinear", antialias=False,
                             data_format="channels_last")
        factor, shift = self._affine()
        x = x * ops.convert_to_tensor(factor, "float32") + ops.convert_to_tensor(shift, "float32")
        row = ops.stack([ops.cast(p, "float32") for p in parts])[None, :]
        transform = ops.broadcast_to(row, (batch, 4))
        return [ops.cast(x, self.compute_dtype), transform]

    def build(self, input_shape: Shape) -> None:
        self.compute_output_shape(input_shape)

    def compute_output_spec(self, inputs: Any) -> list[Any]:
        image_shape, transform_shape = self._check(inputs)
        return [keras.KerasTensor(image_shape, dtype=self.compute_dtype), keras.KerasTensor(transform_shape, "float32")]

    def compute_output_shape(self, input_shape: Shape) -> list[Shape]:
        shape = tuple(input_shape)
        if len(shape) != 4 or shape[3] != 3:
            raise InvalidArgumentError("ImagePreprocess expected images (batch, height, width, 3). "
                                       f"Received: shape={shape}")
        return [(shape[0], *self.size, 3), (shape[0], 4)]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": list(self.size), "mode": self.mode, "scale": self.scale,
                "mean": self.mean, "std": self.std}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ProjectToImage(keras.layers.Layer):
    """Map normalized model coordinates to the original image with :class:`ImagePreprocess`'s transform.

    ``y = (y_model - y_offset) / y_scale`` and ``x = (x_model - x_offset) / x_scale``.

    Call args:
        inputs: ``[boxes, keypoints, transform]``: boxes ``(B, M, 4)`` as ``(ymin, xmin, ymax, xmax)``,
            keypoints ``(B, M, K, C)`` as ``(x, y, ...)`` (channels after the second are copied
            unchanged) and transform ``(B, 4)``. ``[boxes, transform]`` or
            ``[keypoints, transform]`` (told apart by rank) are accepted too.

    Returns:
        The boxes and keypoints (as many as were given, in order), in original coordinates.

    Example:
        >>> import numpy as np
        >>> transform = np.array([[0.25, 0.0, 0.5, 1.0]], "float32")
        >>> boxes = np.array([[[0.25, 0.0, 0.75, 1.0]]], "float32")
        >>> keypoints = np.array([[[[0.5, 0.5]]]], "float32")
        >>> [np.asarray(t).tolist() for t in ProjectToImage()([boxes, keypoints, transform])]
        [[[[0.0, 0.0, 1.0, 1.0]]], [[[[0.5, 0.5]]]]]
    """

    def call(self, inputs: Sequence[Any]) -> Any:
        *points, transform = inputs
        transform = ops.cast(transform, self.compute_dtype)
        outputs = []
        for value in points:
            value = ops.cast(value, self.compute_dtype)
            if len(value.shape) == 3:  # boxes: (ymin, xmin, ymax, xmax)
                order = [0, 1, 0, 1]
                offset, scale = ops.take(transform, order, axis=1), ops.take(transform, [i + 2 for i in order], axis=1)
                outputs.append((value - offset[:, None, :]) / scale[:, None, :])
            else:  # keypoints: (x, y, ...)
                offset, scale = ops.take(transform, [1, 0], axis=1), ops.take(transform, [3, 2], axis=1)
                xy = (value[..., :2] - offset[:, None, None, :]) / scale[:, None, None, :]
                outputs.append(ops.concatenate([xy, value[..., 2:]], axis=-1) if value.shape[-1] != 2 else xy)
        return outputs if len(outputs) > 1 else outputs[0]

    def build(self, input_shape: Sequence[Shape]) -> None:
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Any:
        shapes = [tuple(s) for s in input_shape]
        *points, transform = shapes
        if len(transform) != 2 or transform[1] not in (4, None):
            raise InvalidArgumentError(f"ProjectToImage expected a transform (batch, 4). Received: shape={transform}")
        ranks = [len(s) for s in points]
        if ranks not in ([3, 4], [3], [4]):
            raise InvalidArgumentError("ProjectToImage expected [boxes (B, M, 4), keypoints (B, M, K, 2), "
                                       f"transform (B, 4)]. Received: shapes={shapes}")
        for shape in points:
            if (len(shape) == 3 and shape[2] not in (4, None)) or (len(shape) == 4 and shape[3] is not None
                                                                    and shape[3] < 2):
                raise InvalidArgumentError("ProjectToImage expected boxes (B, M, 4) and keypoints (B, M, K, >=2). "
                                           f"Received: shape={shape}")
        return points if len(points) > 1 else points[0]


__all__ = ["ImagePreprocess", "ProjectToImage"]
