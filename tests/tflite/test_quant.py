"""Dequantizing stored integer weights, per tensor and per channel."""

from __future__ import annotations

import numpy as np
import pytest

from tflite2keras.errors import InvalidModelError
from tflite2keras.tflite.model import Quantization, Tensor
from tflite2keras.tflite.quant import dequantize


def _tensor(shape: tuple[int, ...], scales: list[float], zero_points: list[int], axis: int = 0) -> Tensor:
    quant = Quantization(np.array(scales, np.float32), np.array(zero_points, np.int64), axis)
    return Tensor(7, "conv/w", shape, shape, "INT8", 1, quantization=quant)


def test_per_tensor() -> None:
    q = np.array([[-128, 0, 127]], np.int8)
    out = dequantize(q, _tensor((1, 3), [0.5], [3]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, 0.5 * (q.astype(np.float32) - 3))


def test_per_channel_along_a_middle_axis() -> None:
    q = np.random.default_rng(0).integers(-128, 128, size=(3, 5, 2)).astype(np.int8)
    scales, zps = [0.1, 0.2, 0.3, 0.4, 0.5], [0, 1, -1, 2, -2]
    out = dequantize(q, _tensor((3, 5, 2), scales, zps, axis=1))
    expected = np.float32(scales)[None, :, None] * (q.astype(np.float32) - np.float32(zps)[None, :, None])
    np.testing.assert_array_equal(out, expected)


def test_one_zero_point_shared_by_every_channel() -> None:
    q = np.ones((2, 3), np.int8)
    np.testing.assert_array_equal(dequantize(q, _tensor((2, 3), [1.0, 2.0], [1], axis=0)), np.zeros((2, 3)))


def test_scales_that_do_not_fit_the_axis_name_the_tensor() -> None:
    with pytest.raises(InvalidModelError, match=r"tensor 7 'conv/w': 4 per-channel scales along axis 1"):
        dequantize(np.zeros((2, 3), np.int8), _tensor((2, 3), [1, 1, 1, 1], [0], axis=1))


def test_overflow_beyond_float32_is_an_error() -> None:
    with pytest.raises(InvalidModelError, match="beyond float32"):
        dequantize(np.full((1, 2), 127, np.int8), _tensor((1, 2), [3e38], [0]))


def test_int32_per_tensor_rounds_once_as_the_reference_kernel() -> None:
    # (q - zp) = 2**24 + 3 is not a float32; subtracting in float32 first would round twice.
    q = np.array([2**24 + 1, -(2**30) - 7], np.int32)
    tensor = Tensor(1, "bias", (2,), (2,), "INT32", 1,
                    quantization=Quantization(np.array([0.3], np.float32), np.array([-2], np.int64), 0))
    expected = (np.float64(np.float32(0.3)) * (q.astype(np.int64) + 2)).astype(np.float32)
    np.testing.assert_array_equal(dequantize(q, tensor), expected)


def test_int32_per_channel_converts_then_multiplies_in_float32() -> None:
    # For q - zp = 1829207718 the two roundings give a different float32 than one would.
    q = np.array([[1829207716], [1829207716]], np.int32)
    tensor = Tensor(1, "bias", (2, 1), (2, 1), "INT32", 1,
                    quantization=Quantization(np.array([0.3, 0.7], np.float32), np.array([-2, 0], np.int64), 0))
    expected = (q.astype(np.int64) - [[-2], [0]]).astype(np.float32) * np.float32([[0.3], [0.7]])
    once = (np.float64(np.float32(0.3)) * 1829207718).astype(np.float32)
    assert expected[0, 0] != once
    np.testing.assert_array_equal(dequantize(q, tensor), expected)


@pytest.mark.parametrize("scales, zero_points, match", [
    ([0.0], [0], r"tensor 7 'conv/w': quantization scales \[0.0\] must be positive"),
    ([float("nan")], [0], "must be positive and finite"),
    ([0.5], [300], r"zero points \[300\] lie outside int8"),
])
def test_bad_weight_quantization_names_the_tensor(scales: list[float], zero_points: list[int], match: str) -> None:
    with pytest.raises(InvalidModelError, match=match):
        dequantize(np.zeros((1, 2), np.int8), _tensor((1, 2), scales, zero_points))


@pytest.mark.parametrize("scales, zero_points, axis, match", [
    ([0.0], [0], 0, "must be positive and finite"),
    ([0.5], [-200], 0, r"zero points \[-200\] lie outside INT8"),
    ([0.5, 0.25], [0, 0], 1, "2 per-channel scales along axis 1 do not fit shape"),
    ([0.5, 0.25], [0, 0], 5, "per-channel axis 5 does not exist"),
])
def test_bad_activation_quantization_names_the_tensor(scales: list[float], zero_points: list[int], axis: int,
                                                      match: str) -> None:
    from tflite2keras.tflite.quant import affine

    with pytest.raises(InvalidModelError, match=rf"tensor 7 'conv/w': .*{match}"):
        affine(_tensor((2, 3), scales, zero_points, axis))
