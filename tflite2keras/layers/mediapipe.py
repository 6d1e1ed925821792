"""MediaPipe's custom TFLite ops as Keras layers, with the semantics of MediaPipe's CPU kernels.

MediaPipe's kernels (``mediapipe/util/tflite/operations``) only look at batch 0 and
read the transformation matrix as a flat buffer: its first 8 floats are two rows of 4,
``x' = m0*x + m1*y + m2*z + m3`` and ``y' = m4*x + m5*y + m6*z + m7``, with ``z = 0``.
These layers do the same for every batch entry, batch entry ``i`` with matrix ``i``.
Everything is ``keras.ops``, so the layers are differentiable and trace in
``tf.function``. ``Convolution2DTransposeBias`` maps onto ``keras.layers.Conv2DTranspose``
through :func:`tflite2keras.ops.mediapipe.conv2d_transpose_arguments`.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers.mediapipe import TransformLandmarks
    >>> shift = np.eye(4, dtype="float32")[None]
    >>> shift[0, 0, 3] = 5.0
    >>> np.asarray(TransformLandmarks()([np.zeros((1, 2, 2), "float32"), shift]))[0, 0]
    array([5., 0.], dtype=float32)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
from keras import ops

from ..errors import InvalidArgumentError
from .export_form import exporting
from .padding import PACKAGE

Shape = tuple[int | None, ...]


def _two_rows(matrix: Any) -> tuple[Any, ...]:
    """The matrix buffer's first 8 floats per batch entry, as eight (batch,) tensors."""
    sizes = tuple(matrix.shape[1:])
    flat = ops.reshape(matrix, (-1, math.prod(sizes)) if None not in sizes else (ops.shape(matrix)[0], -1))
    return tuple(flat[:, i] for i in range(8))


def _two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """Knuth's TwoSum: ``s = fl(a + b)`` and the exact error ``a + b - s``."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _compensated_sum(half_0: Any, half_1: Any, shift: Any) -> Any:
    """``fl32(shift + (half_0 + half_1 - 0.5))`` in float32 ops, errors carried (Ogita-Rump-Oishi Sum2)."""
    total, error = _two_sum(half_0, half_1)
    total, e = _two_sum(total, ops.full_like(total, -0.5))
    total, e2 = _two_sum(total, shift)
    return total + ((error + e) + e2)


def _check_matrix(shape: Shape, layer: str) -> None:
    sizes = shape[1:]
    if None not in sizes and (len(sizes) == 0 or math.prod(sizes) < 8):
        raise InvalidArgumentError(f"{layer} needs at least 8 matrix values per batch entry. Received: shape={shape}")


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformTensorBilinear(keras.layers.Layer):
    """Sample an NHWC tensor at transformed positions (MediaPipe ``TransformTensorBilinear`` v2).

    Output pixel ``(x, y)`` reads input position ``M @ (x + 0.5, y + 0.5) - 0.5`` (rows 0
    and 1 of the matrix, columns 0, 1, 3), bilinearly. A position with ``x < 0``,
    ``x > width - 1``, ``y < 0`` or ``y > height - 1`` gives 0 in every channel; there is no
    clamping to the border.

    Args:
        output_height: rows of the output.
        output_width: columns of the output.

    Call args:
        inputs: ``[image (batch, height, width, channels), matrix (batch, 4, 4)]``.

    Example:
        >>> import numpy as np
        >>> image = np.arange(12, dtype="float32").reshape(1, 3, 4, 1)
        >>> out = TransformTensorBilinear(2, 3)([image, np.eye(4, dtype="float32")[None]])
        >>> np.asarray(out)[0, :, :, 0]
        array([[0., 1., 2.],
               [4., 5., 6.]], dtype=float32)
    """

    def __init__(self, output_height: int, output_width: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.output_height = int(output_height)
        self.output_width = int(output_width)
        if min(self.output_height, self.output_width) < 1:
            raise InvalidArgumentError(f"output size must be positive. Received: {output_height}x{output_width}")

    def call(self, inputs: Sequence[Any]) -> Any:
        image, matrix = inputs
        height, width, channels = (ops.shape(image)[i] for i in (1, 2, 3))
        m0, m1, _, m3, m4, m5, _, m7 = _two_rows(ops.cast(matrix, image.dtype))
        # The half-pixel correction folded into the translation, in double as the kernel does it
        # (for TFLite export, which has no float64 arithmetic: an error-compensated float32 sum).
        if exporting() and image.dtype == "float32":
            m3, m7 = _compensated_sum(m0 * 0.5, m1 * 0.5, m3), _compensated_sum(m4 * 0.5, m5 * 0.5, m7)
        else:
            f64 = lambda v: ops.cast(v, "float64")  # noqa: E731
            m3 = ops.cast(f64(m3) + (f64(m0) * 0.5 + f64(m1) * 0.5 - 0.5), image.dtype)
            m7 = ops.cast(f64(m7) + (f64(m4) * 0.5 + f64(m5) * 0.5 - 0.5), image.dtype)
        xs = ops.cast(ops.arange(self.output_width), image.dtype)[None, None, :]
        ys = ops.cast(ops.arange(self.output_height), image.dtype)[None, :, None]
        col = lambda v: v[:, None, None]  # noqa: E731
        tx = (col(m0) * xs + col(m1) * ys) + col(m3)
        ty = (col(m4) * xs + col(m5) * ys) + col(m7)
        w_max, h_max = ops.cast(width - 1, image.dtype), ops.cast(height - 1, image.dtype)
        inside = (tx >= 0) & (tx <= w_max) & (ty >= 0) & (ty <= h_max)  # no blending with a border
        x0f, y0f = ops.floor(tx), ops.floor(ty)
        right, lower = tx - x0f, ty - y0f
        x0 = ops.clip(ops.cast(x0f, "int32"), 0, width - 1)
        y0 = ops.clip(ops.cast(y0f, "int32"), 0, height - 1)
        x1_ok, y1_ok = x0 + 1 <= width - 1, y0 + 1 <= height - 1
        x1, y1 = ops.minimum(x0 + 1, width - 1), ops.minimum(y0 + 1, height - 1)

        batch = ops.shape(image)[0]
        pixels = ops.reshape(image, (-1, channels))
        base = (ops.arange(batch, dtype="int32") * (height * width))[:, None, None]

        def read(y: Any, x: Any, ok: Any) -> Any:
            value = ops.take(pixels, ops.reshape(base + y * width + x, (-1,)), axis=0)
            value = ops.reshape(value, (batch, self.output_height, self.output_width, channels))
            return ops.where(ok[..., None], value, ops.zeros_like(value))

        # Corners past the last row/column read 0 (their weight is 0 there anyway).
        q11, q21 = read(y0, x0, inside), read(y0, x1, x1_ok)
        q12, q22 = read(y1, x0, y1_ok), read(y1, x1, x1_ok & y1_ok)
        right, lower = right[..., None], lower[..., None]
        upper_row = (1.0 - right) * q11 + right * q21
        lower_row = (1.0 - right) * q12 + right * q22
        result = lower * lower_row + (1.0 - lower) * upper_row
        return ops.where(inside[..., None], result, ops.zeros_like(result))

    def build(self, input_shape: Sequence[Shape]) -> None:
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        image_shape, matrix_shape = input_shape
        if len(image_shape) != 4:
            raise InvalidArgumentError(f"TransformTensorBilinear needs an NHWC tensor. Received: shape={image_shape}")
        _check_matrix(tuple(matrix_shape), "TransformTensorBilinear")
        return (image_shape[0], self.output_height, self.output_width, image_shape[3])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "output_height": self.output_height, "output_width": self.output_width}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Landmarks2TransformMatrix(keras.layers.Layer):
    """A crop's 4x4 matrix from face landmarks (MediaPipe ``Landmarks2TransformMatrix`` v2).

    The rotation is ``r = target_rotation_radians - atan2(yR - yL, xR - xL)`` from the
    landmarks ``left_rotation_idx`` and ``right_rotation_idx``. The ``subset_idxs`` landmarks
    are rotated by ``r``; their bounding box gives the crop size ``(w, h)`` and its centre,
    rotated back by ``-r``, the crop centre ``c``. The output maps a crop pixel to input
    coordinates: ``shift(c) @ rot(-r) @ scale(scale_x * w / output_width,
    scale_y * h / output_height) @ shift(-output_width / 2, -output_height / 2)``.

    Args:
        left_rotation_idx: landmark at the left end of the rotation axis.
        right_rotation_idx: landmark at the right end.
        subset_idxs: landmarks whose rotated bounding box sizes the crop.
        output_height / output_width: the crop's size in pixels.
        scale_x / scale_y: factors enlarging the crop around its centre.
        target_rotation_radians: the axis' angle after rotation.

    Call args:
        inputs: landmarks of shape ``(batch, num_landmarks, 3)`` (x, y, z; z is unused).

    Example:
        >>> import numpy as np
        >>> layer = Landmarks2TransformMatrix(0, 1, [0, 1, 2], 4, 4, 1.0, 1.0)
        >>> points = np.array([[[0, 0, 0], [8, 0, 0], [0, 4, 0]]], "float32")
        >>> np.asarray(layer(points))[0, :2] + 0.0  # + 0.0 turns -0.0 into 0.0
        array([[2., 0., 0., 0.],
               [0., 1., 0., 0.]], dtype=float32)
    """

    _FIELDS = ("left_rotation_idx", "right_rotation_idx", "subset_idxs", "output_height", "output_width",
               "scale_x", "scale_y", "target_rotation_radians")

    def __init__(self, left_rotation_idx: int, right_rotation_idx: int, subset_idxs: Sequence[int],
                 output_height: int, output_width: int, scale_x: float, scale_y: float,
                 target_rotation_radians: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.left_rotation_idx = int(left_rotation_idx)
        self.right_rotation_idx = int(right_rotation_idx)
        self.subset_idxs = [int(i) for i in subset_idxs]
        self.output_height = int(output_height)
        self.output_width = int(output_width)
        self.scale_x = float(scale_x)
        self.scale_y = float(scale_y)
        self.target_rotation_radians = float(target_rotation_radians)
        indices = [self.left_rotation_idx, self.right_rotation_idx, *self.subset_idxs]
        if not self.subset_idxs or min(indices) < 0 or min(self.output_height, self.output_width) < 1:
            raise InvalidArgumentError("Landmarks2TransformMatrix needs non-negative indices, a non-empty subset "
                                       f"and a positive output size. Received: {self._options()}")

    def _options(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._FIELDS}

    def call(self, inputs: Any) -> Any:
        left = inputs[:, self.left_rotation_idx]
        right = inputs[:, self.right_rotation_idx]
        rotation = self.target_rotation_radians - ops.arctan2(right[:, 1] - left[:, 1], right[:, 0] - left[:, 0])
        cos, sin = ops.cos(rotation)[:, None], ops.sin(rotation)[:, None]
        subset = ops.take(inputs, self.subset_idxs, axis=1)
        x, y = subset[..., 0], subset[..., 1]
        rot_x, rot_y = cos * x + -sin * y, sin * x + cos * y
        x_min, x_max = ops.min(rot_x, axis=1), ops.max(rot_x, axis=1)
        y_min, y_max = ops.min(rot_y, axis=1), ops.max(rot_y, axis=1)
        cos, sin = cos[:, 0], sin[:, 0]
        mid_x, mid_y = (x_min + x_max) / 2.0, (y_min + y_max) / 2.0
        center_x, center_y = cos * mid_x + sin * mid_y, -sin * mid_x + cos * mid_y
        scale_x = self.scale_x * (x_max - x_min) / float(self.output_width)
        scale_y = self.scale_y * (y_max - y_min) / float(self.output_height)
        shift_x, shift_y = -self.output_width / 2.0, -self.output_height / 2.0
        m00, m01 = cos * scale_x, sin * scale_y
        m10, m11 = -sin * scale_x, cos * scale_y
        m03 = (m00 * shift_x + m01 * shift_y) + center_x
        m13 = (m10 * shift_x + m11 * shift_y) + center_y
        zero, one = ops.zeros_like(m00), ops.ones_like(m00)
        rows = [m00, m01, zero, m03, m10, m11, zero, m13, zero, zero, one, zero, zero, zero, zero, one]
        return ops.reshape(ops.stack(rows, axis=1), (-1, 4, 4))

    def build(self, input_shape: Shape) -> None:
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3 or input_shape[2] != 3:
            raise InvalidArgumentError(f"Landmarks2TransformMatrix needs (batch, n, 3). Received: shape={input_shape}")
        largest = max(self.left_rotation_idx, self.right_rotation_idx, *self.subset_idxs)
        if input_shape[1] is not None and largest >= input_shape[1]:
            raise InvalidArgumentError(f"landmark index {largest} is out of range. Received: shape={input_shape}")
        return (input_shape[0], 4, 4)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._options()}


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformLandmarks(keras.layers.Layer):
    """Apply a matrix to 2D or 3D landmarks (MediaPipe ``TransformLandmarks`` v2).

    ``x' = m00*x + m01*y + m03`` and ``y' = m10*x + m11*y + m13``; a third coordinate (z)
    is copied unchanged. Version 2 has no options: the channel count (2 or 3) is the
    landmark dimension.

    Call args:
        inputs: ``[landmarks (batch, n, 2 or 3), matrix (batch, 4, 4)]``.

    Example:
        >>> import numpy as np
        >>> turn = np.array([[[0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]], "float32")
        >>> np.asarray(TransformLandmarks()([np.array([[[1, 0, 7]]], "float32"), turn]))
        array([[[0., 1., 7.]]], dtype=float32)
    """

    def call(self, inputs: Sequence[Any]) -> Any:
        landmarks, matrix = inputs
        m0, m1, _, m3, m4, m5, _, m7 = _two_rows(ops.cast(matrix, landmarks.dtype))
        col = lambda v: v[:, None]  # noqa: E731
        x, y = landmarks[..., 0], landmarks[..., 1]
        parts = [(col(m0) * x + col(m1) * y) + col(m3), (col(m4) * x + col(m5) * y) + col(m7)]
        parts = [p[..., None] for p in parts]
        if landmarks.shape[-1] == 3:
            parts.append(landmarks[..., 2:3])
        return ops.concatenate(parts, axis=-1)

    def build(self, input_shape: Sequence[Shape]) -> None:
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        landmarks_shape, matrix_shape = input_shape
        if len(landmarks_shape) != 3 or landmarks_shape[2] not in (2, 3):
            raise InvalidArgumentError(f"TransformLandmarks needs (batch, n, 2 or 3). Received: shape={landmarks_shape}")
        _check_matrix(tuple(matrix_shape), "TransformLandmarks")
        return tuple(landmarks_shape)


__all__ = [
    "Landmarks2TransformMatrix",
    "TransformLandmarks",
    "TransformTensorBilinear",
]
