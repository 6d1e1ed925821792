"""Decode keypoint heatmaps (PoseNet, MediaPipe pose/hand heatmaps) into coordinates.

:class:`HeatmapKeypoints` takes the argmax cell of every heatmap channel, optionally
adds PoseNet-style offsets read at that cell and/or a sub-pixel quadratic refinement,
and returns ``(y, x, score)`` per keypoint. It is plain ``keras.ops`` (max, compare,
select, sum), so it is vectorized over the batch, runs under any Keras backend,
differentiates with respect to the heatmap value and offsets at the peak, and converts
to TFLite builtin ops.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import HeatmapKeypoints
    >>> heat = np.zeros((1, 4, 5, 2), "float32")
    >>> heat[0, 1, 3, 0], heat[0, 2, 0, 1] = 0.9, 0.7
    >>> np.asarray(HeatmapKeypoints(stride=2.0)(heat)).astype(float).round(3).tolist()
    [[[2.0, 6.0, 0.9], [4.0, 0.0, 0.7]]]
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from ..errors import InvalidArgumentError
from .padding import PACKAGE

Shape = tuple[int | None, ...]
REFINEMENTS = (None, "subpixel")


@keras.saving.register_keras_serializable(package=PACKAGE)
class HeatmapKeypoints(keras.layers.Layer):
    """Keypoints ``(y, x, score)`` from the peak of each heatmap channel.

    For channel ``k`` of batch entry ``b`` the peak cell ``(row, col)`` is the first maximum
    in row-major order (as ``np.argmax`` over the flattened ``H * W``), and

    - ``y = (row + dy) * stride + offset_y``, ``x = (col + dx) * stride + offset_x``;
    - ``score`` = the heatmap value at the peak.

    ``offset_y`` / ``offset_x`` are the offsets at the peak cell (0 without offsets):
    channels ``k`` and ``K + k`` of the offsets input (y channels first, as in PoseNet).
    ``dy`` / ``dx`` are 0 unless ``refine="subpixel"``: then each is the vertex of the
    parabola through the peak and its two neighbours on that axis,
    ``(a - b) / (2 * (a + b))`` with ``a = h[peak] - h[peak - 1]`` and
    ``b = h[peak] - h[peak + 1]``. It lies in ``[-0.5, 0.5]``; it is 0 on the heatmap
    border (a neighbour is missing) and where ``a + b == 0`` (a flat neighbourhood).

    Args:
        stride: heatmap cell size in output units (e.g. PoseNet's output stride, or 1).
        offsets: whether the layer takes a second input ``(B, H, W, 2K)`` of offsets.
        refine: ``None`` or ``"subpixel"``.

    Call args:
        inputs: the heatmap ``(B, H, W, K)``, or ``[heatmap, offsets]`` with ``offsets=True``.

    Returns:
        ``(B, K, 3)`` float tensor of ``(y, x, score)``.

    Example:
        >>> import numpy as np
        >>> heat = np.zeros((1, 3, 3, 1), "float32")
        >>> heat[0, 1, :, 0] = [0.5, 1.0, 0.75]
        >>> np.asarray(HeatmapKeypoints(refine="subpixel")(heat))[0, 0].astype(float).round(4).tolist()
        [1.0, 1.1667, 1.0]
    """

    def __init__(self, stride: float = 1.0, offsets: bool = False, refine: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(stride, bool) or not isinstance(stride, (int, float)) or not stride > 0:
            raise InvalidArgumentError(f"HeatmapKeypoints expected a positive number for stride. "
                                       f"Received: stride={stride!r}")
        if refine not in REFINEMENTS:
            raise InvalidArgumentError(f"HeatmapKeypoints expected refine in {REFINEMENTS}. "
                                       f"Received: refine={refine!r}")
        self.stride = float(stride)
        self.offsets = bool(offsets)
        self.refine = refine

    def _split(self, inputs: Any) -> tuple[Any, Any]:
        if self.offsets:
            if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
                raise InvalidArgumentError("HeatmapKeypoints(offsets=True) expected inputs [heatmap, offsets]. "
                                           f"Received: {type(inputs).__name__}")
            return inputs[0], inputs[1]
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise InvalidArgumentError("HeatmapKeypoints(offsets=False) expected one heatmap input. "
                                           f"Received: {len(inputs)} inputs")
            return inputs[0], None
        return inputs, None

    def call(self, inputs: Any) -> Any:
        heat, offsets = self._split(inputs)
        heat = ops.cast(heat, self.compute_dtype)
        height, width = ops.shape(heat)[1], ops.shape(heat)[2]
        rows = ops.arange(height, dtype="int32")[None, :, None, None]  # (1, H, 1, 1)
        cols = ops.arange(width, dtype="int32")[None, None, :, None]  # (1, 1, W, 1)
        peak = ops.max(heat, axis=(1, 2), keepdims=True)
        # The first maximum in row-major order: the smallest flat index among the maxima.
        flat = ops.where(ops.equal(heat, peak), rows * width + cols, height * width)
        index = ops.min(flat, axis=(1, 2))  # (B, K)
        row, col = index // width, index % width

        def at(tensor: Any, dr: int = 0, dc: int = 0) -> Any:
            """``tensor[b, row + dr, col + dc, k]`` as (B, K); 0 outside the map."""
            hit = ops.logical_and(ops.equal(rows, (row + dr)[:, None, None, :]),
                                  ops.equal(cols, (col + dc)[:, None, None, :]))
            return ops.sum(ops.where(hit, tensor, ops.zeros_like(tensor)), axis=(1, 2))

        score = at(heat)
        y, x = ops.cast(row, heat.dtype), ops.cast(col, heat.dtype)
        if self.refine == "subpixel":
            y = y + _vertex(score, at(heat, -1, 0), at(heat, 1, 0), (row > 0) & (row < height - 1))
            x = x + _vertex(score, at(heat, 0, -1), at(heat, 0, 1), (col > 0) & (col < width - 1))
        y, x = y * self.stride, x * self.stride
        if offsets is not None:
            offsets = ops.cast(offsets, heat.dtype)
            k = ops.shape(heat)[3]
            y = y + at(offsets[..., :k])
            x = x + at(offsets[..., k:])
        return ops.stack([y, x, score], axis=-1)

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        if self.offsets:
            if not (isinstance(input_shape, (list, tuple)) and len(input_shape) == 2
                    and all(isinstance(s, (list, tuple)) for s in input_shape)):
                raise InvalidArgumentError("HeatmapKeypoints(offsets=True) expected inputs [heatmap, offsets]. "
                                           f"Received: shapes={input_shape}")
            heat_shape, offset_shape = (tuple(s) for s in input_shape)
        else:
            if input_shape and isinstance(input_shape[0], (list, tuple)):
                input_shape = input_shape[0]
            heat_shape, offset_shape = tuple(input_shape), None
        if len(heat_shape) != 4:
            raise InvalidArgumentError(f"HeatmapKeypoints expected a heatmap (batch, height, width, keypoints). "
                                       f"Received: shape={heat_shape}")
        if offset_shape is not None:
            k = heat_shape[3]
            expected = (heat_shape[0], heat_shape[1], heat_shape[2], None if k is None else 2 * k)
            if len(offset_shape) != 4 or any(e is not None and o is not None and e != o
                                             for e, o in zip(expected[1:], offset_shape[1:])):
                raise InvalidArgumentError(f"HeatmapKeypoints expected offsets of shape {expected} "
                                           f"(y channels, then x). Received: shape={offset_shape}")
        return (heat_shape[0], heat_shape[3], 3)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stride": self.stride, "offsets": self.offsets, "refine": self.refine}


def _vertex(center: Any, before: Any, after: Any, inside: Any) -> Any:
    """The parabola vertex ``(a - b) / (2 (a + b))`` relative to the peak, 0 where undefined."""
    a, b = center - before, center - after
    total = a + b
    usable = ops.logical_and(inside, total > 0)
    safe = ops.where(usable, total, ops.ones_like(total))
    return ops.where(usable, (a - b) / (2.0 * safe), ops.zeros_like(total))


__all__ = ["HeatmapKeypoints"]
