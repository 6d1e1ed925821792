"""Quantization, as the file states it and as TFLite applies it: the one model of it.

:class:`Quantization` is what a tensor stores (scales, zero points, axis); :func:`affine`
validates it for an int8/uint8/int16 tensor into an :class:`Affine`, which quantizes and
dequantizes as TFLite's kernels do; :func:`dequantize` decodes stored weights of any integer
type, per tensor or per channel.

Example:
    >>> import numpy as np
    >>> Affine("int8", np.array([0.5]), np.array([-3]), -1).quantize(np.array([1.0, 100.0])).tolist()
    [-1, 127]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidModelError

if TYPE_CHECKING:
    from .model import Tensor


@dataclass(frozen=True)
class Quantization:
    """Affine quantization: ``real = scale * (q - zero_point)`` along ``quantized_dimension``."""

    scales: np.ndarray
    zero_points: np.ndarray
    quantized_dimension: int


#: TFLite integer types that carry quantized activations -> (qmin, qmax). INT32 ones are rare: TFLite
#: Micro's QUANTIZE of an int16 tensor to a scaled int32 output (a keyword spotter's last op).
RANGES = {"INT8": (-128, 127), "UINT8": (0, 255), "INT16": (-32768, 32767), "INT32": (-2**31, 2**31 - 1)}


@dataclass(frozen=True)
class Affine:
    """One tensor's quantization: ``real = scale * (q - zero_point)``, per tensor or along ``axis``."""

    dtype: str
    scales: np.ndarray
    zero_points: np.ndarray
    axis: int

    @property
    def step(self) -> float:
        """The largest scale: one quantization step of the tensor."""
        return float(np.max(self.scales))

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Round half away from zero and clamp, as TFLite's QUANTIZE (per tensor)."""
        lo, hi = RANGES[self.dtype.upper()]
        q = np.sign(x / self.scales[0]) * np.floor(np.abs(x / self.scales[0]) + 0.5) + self.zero_points[0]
        return np.clip(q, lo, hi).astype(self.dtype.lower())

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """``scale * (q - zero_point)`` in float32 (per tensor)."""
        return (self.scales[0] * (q.astype(np.float64) - self.zero_points[0])).astype(np.float32)

    def range(self) -> tuple[float, float]:
        """The real values the tensor can represent (per tensor)."""
        lo, hi = RANGES[self.dtype.upper()]
        return float(self.dequantize(np.array(lo))), float(self.dequantize(np.array(hi)))

    def layer_args(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~tflite2keras.layers.FakeQuant` and its siblings."""
        return {"scale": self.scales.tolist(), "zero_point": self.zero_points.tolist(),
                "dtype_name": self.dtype.lower(), "axis": self.axis}


def affine(tensor: Tensor) -> Affine | None:
    """The quantization of an int8/uint8/int16 tensor with scales, or None.

    Raises:
        InvalidModelError: a scale is zero, negative or not finite, or a zero point lies outside
            the type's range; the message names the tensor.
    """
    quant = tensor.quantization
    if tensor.dtype not in RANGES or quant is None or not quant.scales.size:
        return None
    scales, points, axis = _checked(tensor, tuple(tensor.shape), (*RANGES[tensor.dtype], tensor.dtype))
    return Affine(tensor.dtype, scales.astype(np.float32), np.broadcast_to(points, scales.shape).copy(), axis)


def _checked(tensor: Tensor, shape: tuple[int, ...],
             bounds: tuple[int, int, str] | None) -> tuple[np.ndarray, np.ndarray, int]:
    """The tensor's scales (float64), zero points (int64) and axis, checked as TFLite's kernels
    assume them: positive finite scales, zero points in ``bounds`` (the stored type's range and name), one
    zero point or one per scale, per-channel scales that fit ``shape`` along the axis.

    Raises:
        InvalidModelError: one of them does not hold; the message names the tensor.
    """
    quant = tensor.quantization
    where = f"tensor {tensor.index} {tensor.name!r}"
    if quant is None:
        raise InvalidModelError(f"{where} is not quantized")
    scales = np.asarray(quant.scales, np.float64).reshape(-1)
    points = np.asarray(quant.zero_points, np.int64).reshape(-1) if quant.zero_points.size else np.zeros(1, np.int64)
    if not scales.size or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise InvalidModelError(f"{where}: quantization scales {scales[:4].astype(np.float32).tolist()} "
                                "must be positive and finite")
    if bounds is not None and (np.any(points < bounds[0]) or np.any(points > bounds[1])):
        raise InvalidModelError(f"{where}: zero points {points[:4].tolist()} lie outside {bounds[2]} "
                                f"[{bounds[0]}, {bounds[1]}]")
    if points.size not in (1, scales.size):
        raise InvalidModelError(f"{where}: {points.size} zero points for {scales.size} scales")
    axis = int(quant.quantized_dimension)
    if scales.size > 1 and not 0 <= axis < len(shape):
        raise InvalidModelError(f"{where}: per-channel axis {axis} does not exist in shape {tuple(shape)}")
    if scales.size > 1 and shape[axis] != scales.size:
        raise InvalidModelError(f"{where}: {scales.size} per-channel scales along axis {axis} do not fit "
                                f"shape {tuple(shape)}")
    return scales, points, axis


def keras_dtype(tensor: Tensor) -> str:
    """The dtype a converted model computes the tensor in: float32 for a quantized activation."""
    return "float32" if affine(tensor) is not None else tensor.dtype.lower()


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
    bounds = None
    if q.dtype.kind in "iu" and q.dtype.itemsize < 4:
        info = np.iinfo(q.dtype)
        bounds = (int(info.min), int(info.max), str(q.dtype))
    scales, zero_points, axis = _checked(tensor, tuple(q.shape), bounds)
    # As TFLite's reference kernels: (q - zero_point) in integers; per tensor, times the scale
    # in double and rounded to float32 once; per channel, converted to float32 and multiplied
    # in float32. The order only matters for int32 values beyond 2**24.
    with np.errstate(over="ignore", invalid="ignore"):  # checked below, with the tensor's name
        if scales.size == 1:
            value = (scales[0] * (q.astype(np.int64) - zero_points[0])).astype(np.float32)
        else:
            value = _per_channel(q, axis, scales, zero_points)
    if not np.isfinite(value).all():
        raise InvalidModelError(
            f"tensor {tensor.index} {tensor.name!r}: scales {scales[:4].astype(np.float32)} and zero points "
            f"{zero_points[:4]} dequantize to values beyond float32"
        )
    return value


def _per_channel(q: np.ndarray, axis: int, scales: np.ndarray, zero_points: np.ndarray) -> np.ndarray:
    shape = [1] * q.ndim
    shape[axis] = -1
    zp = zero_points if zero_points.size == scales.size else np.repeat(zero_points, scales.size)
    return (q.astype(np.int64) - zp.reshape(shape)).astype(np.float32) * scales.astype(np.float32).reshape(shape)
