"""Dequantizing stored integer weights: per tensor and per channel, as TFLite defines it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .errors import InvalidModelError

if TYPE_CHECKING:
    from .model import Tensor


def dequantize(q: np.ndarray, tensor: Tensor) -> np.ndarray:
    """``scale * (q - zero_point)`` in float32, per tensor or per channel.

    Raises:
        InvalidModelError: the scales do not fit the tensor, or the values overflow float32.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> quant = NS(scales=np.array([0.5, 2.0]), zero_points=np.array([1, 0]), quantized_dimension=0)
        >>> t = NS(index=3, name="w", shape=(2, 2), quantization=quant)
        >>> dequantize(np.array([[1, 3], [1, 3]], np.int8), t).tolist()
        [[0.0, 1.0], [2.0, 6.0]]
    """
    quant = tensor.quantization
    assert quant is not None
    scales = quant.scales.astype(np.float64)
    zero_points = quant.zero_points.astype(np.int64) if quant.zero_points.size else np.zeros(1, np.int64)
    if not scales.size or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise InvalidModelError(f"tensor {tensor.index} {tensor.name!r}: quantization scales "
                                f"{scales[:4].astype(np.float32).tolist()} must be positive and finite")
    if q.dtype.kind in "iu" and q.dtype.itemsize < 4:
        info = np.iinfo(q.dtype)
        if np.any(zero_points < info.min) or np.any(zero_points > info.max):
            raise InvalidModelError(f"tensor {tensor.index} {tensor.name!r}: zero points {zero_points[:4].tolist()} "
                                    f"lie outside {q.dtype} [{info.min}, {info.max}]")
    # As TFLite's reference kernels: (q - zero_point) in integers; per tensor, times the scale
    # in double and rounded to float32 once; per channel, converted to float32 and multiplied
    # in float32. The order only matters for int32 values beyond 2**24.
    with np.errstate(over="ignore", invalid="ignore"):  # checked below, with the tensor's name
        if scales.size == 1:
            value = (scales[0] * (q.astype(np.int64) - zero_points.reshape(-1)[0])).astype(np.float32)
        else:
            value = _per_channel(q, tensor, quant.quantized_dimension, scales, zero_points)
    if not np.isfinite(value).all():
        raise InvalidModelError(
            f"tensor {tensor.index} {tensor.name!r}: scales {scales[:4].astype(np.float32)} and zero points {zero_points[:4]} "
            "dequantize to values beyond float32"
        )
    return value


def _per_channel(q: np.ndarray, tensor: Tensor, axis: int, scales: np.ndarray,
                 zero_points: np.ndarray) -> np.ndarray:
    if not 0 <= axis < q.ndim or q.shape[axis] != scales.size or zero_points.size not in (1, scales.size):
        raise InvalidModelError(
            f"tensor {tensor.index} {tensor.name!r}: {scales.size} per-channel scales along axis {axis} "
            f"do not fit shape {tensor.shape}"
        )
    shape = [1] * q.ndim
    shape[axis] = -1
    zp = zero_points.reshape(-1) if zero_points.size == scales.size else np.repeat(zero_points, scales.size)
    return (q.astype(np.int64) - zp.reshape(shape)).astype(np.float32) * scales.astype(np.float32).reshape(shape)
