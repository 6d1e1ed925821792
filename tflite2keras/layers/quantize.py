"""Quantization layers: :class:`FakeQuant` for quantization-aware models, :class:`Saturate` for the
saturation a float model of an integer file keeps, and the integer edges (:class:`Quantize`,
:class:`Dequantize`) that :func:`tflite2keras.quantized_io` puts around a model.

TFLite's affine quantization: ``real = scale * (q - zero_point)``, ``q`` in ``[qmin, qmax]`` of
the integer type; quantizing rounds half away from zero, as TFLite's ``QUANTIZE`` kernel does.

Example:
    >>> import numpy as np
    >>> from tflite2keras.layers import FakeQuant
    >>> layer = FakeQuant(scale=[0.5], zero_point=[0], dtype_name="int8")
    >>> np.asarray(layer(np.array([[0.2, 0.26, -0.75, 100.0]], "float32"))).tolist()
    [[0.0, 0.5, -1.0, 63.5]]
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np

from ..errors import InvalidArgumentError
from .padding import PACKAGE

#: Integer type -> (qmin, qmax).
RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "int32": (-2 ** 31, 2 ** 31 - 1)}


def _params(layer: str, scale: Sequence[float], zero_point: Sequence[int], dtype_name: str,
            axis: int) -> tuple[np.ndarray, np.ndarray]:
    if dtype_name not in RANGES:
        raise InvalidArgumentError(f"{layer}: dtype_name {dtype_name!r} is not one of {sorted(RANGES)}")
    scales = np.asarray(scale, np.float32).reshape(-1)
    points = np.asarray(zero_point, np.int64).reshape(-1)
    lo, hi = RANGES[dtype_name]
    if not scales.size or not np.all(scales > 0) or not np.all(np.isfinite(scales)):
        raise InvalidArgumentError(f"{layer}: scales must be positive and finite, received {scales[:4].tolist()}")
    if points.size not in (1, scales.size) or np.any(points < lo) or np.any(points > hi):
        raise InvalidArgumentError(f"{layer}: zero points {points[:4].tolist()} do not fit {dtype_name} "
                                   f"[{lo}, {hi}] or the {scales.size} scales")
    if scales.size > 1 and axis == 0:
        raise InvalidArgumentError(f"{layer}: per-channel scales along axis 0 (the batch) are not supported")
    return scales, np.broadcast_to(points, scales.shape).copy()


def _broadcast(values: np.ndarray, axis: int, rank: int) -> np.ndarray:
    if values.size == 1:
        return values.reshape(())
    shape = [1] * rank
    shape[axis] = -1
    return values.reshape(shape)


def _round_half_away(x: Any) -> Any:
    return keras.ops.sign(x) * keras.ops.floor(keras.ops.abs(x) + 0.5)


class _Affine(keras.layers.Layer):
    """Shared parameters: per-tensor or per-channel (along ``axis``) scales and zero points."""

    def __init__(self, scale: Sequence[float], zero_point: Sequence[int], dtype_name: str = "int8",
                 axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.dtype_name = dtype_name
        self._scales, self._points = _params(type(self).__name__, scale, zero_point, dtype_name, self.axis)
        self.qmin, self.qmax = RANGES[dtype_name]

    def _constants(self, rank: int, dtype: str = "float32") -> tuple[Any, Any]:
        scale = keras.ops.convert_to_tensor(_broadcast(self._scales, self.axis, rank), dtype)
        point = keras.ops.convert_to_tensor(_broadcast(self._points.astype(np.float32), self.axis, rank), dtype)
        return scale, point

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self._scales.tolist(), "zero_point": self._points.tolist(),
                "dtype_name": self.dtype_name, "axis": self.axis}


@keras.saving.register_keras_serializable(package=PACKAGE)
class FakeQuant(_Affine):
    """Quantize and dequantize in the forward pass, with a straight-through gradient.

    ``y = scale * (clip(round(x / scale) + zero_point, qmin, qmax) - zero_point)``; the gradient
    passes unchanged inside the representable range and is zero outside it. With
    ``trainable_scale=True`` the scale is a trainable variable (its gradient as in LSQ).
    """

    def __init__(self, scale: Sequence[float], zero_point: Sequence[int], dtype_name: str = "int8",
                 axis: int = -1, trainable_scale: bool = False, **kwargs: Any) -> None:
        super().__init__(scale, zero_point, dtype_name, axis, **kwargs)
        self.trainable_scale = bool(trainable_scale)

    def build(self, input_shape: Any) -> None:
        self.log_scale = None
        if self.trainable_scale:
            self.log_scale = self.add_weight(name="log_scale", shape=self._scales.shape,
                                             initializer=keras.initializers.Constant(np.log(self._scales)))

    def call(self, inputs: Any) -> Any:
        rank = len(inputs.shape)
        scale, point = self._constants(rank)
        if self.log_scale is not None:
            scale = keras.ops.exp(self.log_scale)
            scale = keras.ops.reshape(scale, _broadcast(self._scales, self.axis, rank).shape)
        q = keras.ops.clip(_round_half_away(inputs / scale) + point, self.qmin, self.qmax)
        quantized = (q - point) * scale
        inside = keras.ops.logical_and(inputs >= (self.qmin - point) * scale, inputs <= (self.qmax - point) * scale)
        passed = keras.ops.where(inside, inputs, keras.ops.stop_gradient(inputs))
        if self.log_scale is not None:  # the rounding error's gradient flows to the scale (LSQ)
            return passed + (quantized - keras.ops.stop_gradient(passed))
        return passed + keras.ops.stop_gradient(quantized - passed)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "trainable_scale": self.trainable_scale}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Quantize(_Affine):
    """Float to the integer type: ``clip(round(x / scale) + zero_point)``, as TFLite's QUANTIZE."""

    def call(self, inputs: Any) -> Any:
        scale, point = self._constants(len(inputs.shape))
        q = keras.ops.clip(_round_half_away(inputs / scale) + point, self.qmin, self.qmax)
        return keras.ops.cast(q, self.dtype_name)

    def compute_output_spec(self, inputs: Any) -> Any:
        return keras.KerasTensor(inputs.shape, dtype=self.dtype_name)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Dequantize(_Affine):
    """The integer type to float32: ``scale * (q - zero_point)``, as TFLite's DEQUANTIZE."""

    def call(self, inputs: Any) -> Any:
        scale, point = self._constants(len(inputs.shape))
        return (keras.ops.cast(inputs, "float32") - point) * scale

    def compute_output_spec(self, inputs: Any) -> Any:
        return keras.KerasTensor(inputs.shape, dtype="float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class Saturate(keras.layers.Layer):
    """Clamp to ``[low, high]``: what an integer kernel's saturation does to a quantized tensor.

    ``convert(quantized="float")`` puts one after an op whose float result can leave the range
    its output tensor represents (see :mod:`tflite2keras.conversion.quantized`); the gradient is zero
    outside the range, as for ``relu6``.

    Example:
        >>> import numpy as np
        >>> np.asarray(Saturate(low=-1.0, high=2.5)(np.array([[-3.0, 0.5, 9.0]], "float32"))).tolist()
        [[-1.0, 0.5, 2.5]]
    """

    def __init__(self, low: float, high: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.low, self.high = float(low), float(high)
        if not np.isfinite(self.low) or not np.isfinite(self.high) or self.low > self.high:
            raise InvalidArgumentError(f"Saturate: expected finite low <= high, received low={low}, high={high}")

    def call(self, inputs: Any) -> Any:
        return keras.ops.clip(inputs, self.low, self.high)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "low": self.low, "high": self.high}


__all__ = ["Dequantize", "FakeQuant", "Quantize", "Saturate"]
