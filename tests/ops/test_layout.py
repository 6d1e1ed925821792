"""Tests for :mod:`tflite2keras.ops.layout`: letter-string layouts move every element right.

Every axis has a different extent, and the arrays hold distinct values (``arange``),
so a wrong permutation or a wrong split of a grouped axis changes values, not just
shapes.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from tflite2keras.errors import ShapeMismatchError, Tflite2KerasError
from tflite2keras.ops.layout import (
    DEPTHWISE,
    OHWI_TO_HWIO,
    OHWI_TO_HWOI,
    OI_TO_IO,
    RESHAPE,
    VECTOR,
    Layout,
    contiguous,
)

O, H, W, I, C, M = 7, 3, 5, 2, 4, 3


def _distinct(*shape: int) -> np.ndarray:
    return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)


def test_ohwi_to_hwio() -> None:
    source = _distinct(O, H, W, I)
    out = OHWI_TO_HWIO.apply(source, (H, W, I, O))
    assert out.shape == (H, W, I, O) and np.shares_memory(out, source)  # a view: one copy, where the value goes
    for o, h, w, i in itertools.product(range(O), range(H), range(W), range(I)):
        assert out[h, w, i, o] == source[o, h, w, i]
    assert OHWI_TO_HWIO.permutation == (1, 2, 3, 0)
    np.testing.assert_array_equal(out, source.transpose(1, 2, 3, 0))


def test_ohwi_to_hwoi() -> None:
    source = _distinct(O, H, W, I)
    out = OHWI_TO_HWOI.apply(source, (H, W, O, I))
    assert out.shape == (H, W, O, I)
    for o, h, w, i in itertools.product(range(O), range(H), range(W), range(I)):
        assert out[h, w, o, i] == source[o, h, w, i]
    assert OHWI_TO_HWOI.permutation == (1, 2, 0, 3)


def test_oi_to_io() -> None:
    source = _distinct(O, I)
    out = OI_TO_IO.apply(source, (I, O))
    np.testing.assert_array_equal(out, source.T)
    assert out[1, 6] == source[6, 1] == 6 * I + 1


def test_depthwise_splits_channels_and_multipliers() -> None:
    """TFLite's depthwise output channel ``c * M + m`` is Keras ``kernel[h, w, c, m]``."""
    source = _distinct(1, H, W, C * M)
    out = DEPTHWISE.apply(source, (H, W, C, M))
    assert out.shape == (H, W, C, M)
    for h, w, c, m in itertools.product(range(H), range(W), range(C), range(M)):
        assert out[h, w, c, m] == source[0, h, w, c * M + m]
    # The other split (m * C + c) would put different values in place.
    assert not np.array_equal(out, source.reshape(H, W, M, C).transpose(0, 1, 3, 2))
    assert DEPTHWISE.permutation == (0, 1, 2, 3)


def test_depthwise_with_multiplier_one() -> None:
    source = _distinct(1, H, W, C)
    out = DEPTHWISE.apply(source, (H, W, C, 1))
    np.testing.assert_array_equal(out[..., 0], source[0])


def test_vector_is_identity() -> None:
    source = _distinct(O)
    np.testing.assert_array_equal(VECTOR.apply(source, (O,)), source)


@pytest.mark.parametrize(
    ("source_shape", "target_shape"),
    [((1, 1, O), (O,)), ((O,), (1, 1, O)), ((1, 1, 1, O), (1, 1, O)), ((H, W, O), (H * W * O,))],
    ids=["squeeze", "unsqueeze", "prelu-4d-to-3d", "flatten"],
)
def test_reshape(source_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> None:
    source = _distinct(*source_shape)
    out = RESHAPE.apply(source, target_shape)
    assert out.shape == target_shape
    np.testing.assert_array_equal(out.reshape(-1), source.reshape(-1))  # same order, nothing moved


@pytest.mark.parametrize(
    ("source_shape", "target_shape"),
    [((1,), (H, W, O)), ((O,), (H, W, O)), ((1, 1, O), (H, W, O)), ((1, 1, 1, O), (H, W, O))],
    ids=["scalar", "channels", "prelu-shared-hw", "4d-channels"],
)
def test_broadcast(source_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> None:
    source = _distinct(*source_shape)
    out = RESHAPE.apply(source, target_shape)
    assert out.shape == target_shape and np.shares_memory(out, source)  # a broadcast view, copied where it goes
    channels = source.reshape(-1)
    for h, w in itertools.product(range(H), range(W)):
        np.testing.assert_array_equal(out[h, w], np.broadcast_to(channels, (O,)))


@pytest.mark.parametrize(
    ("layout", "shape", "target"),
    [
        (OHWI_TO_HWIO, (O, H, W, I), (H, W, I, O + 1)),
        (OHWI_TO_HWIO, (O, H, W, I), (W, H, I, O)),
        (OHWI_TO_HWIO, (O, H, W), (H, W, I, O)),
        (OHWI_TO_HWOI, (O, H, W, I), (H, W, I, O)),
        (OI_TO_IO, (O, I), (O, I)),
        (DEPTHWISE, (1, H, W, C * M), (H, W, C, M + 1)),
        (DEPTHWISE, (2, H, W, C * M), (H, W, C, M)),
        (DEPTHWISE, (H, W, C * M), (H, W, C, M)),
        (RESHAPE, (O,), (O + 1,)),
        (RESHAPE, (2, O), (H, O)),
    ],
    ids=["hwio-extent", "hwio-swapped", "hwio-rank", "hwoi-extent", "io-square-mismatch",
         "depthwise-multiplier", "depthwise-leading-1", "depthwise-rank", "reshape-size", "broadcast"],
)
def test_shape_mismatch(layout: Layout, shape: tuple[int, ...], target: tuple[int, ...]) -> None:
    with pytest.raises(ShapeMismatchError) as info:
        layout.apply(_distinct(*shape), target, what="conv.kernel")
    message = str(info.value)
    assert message.startswith("conv.kernel: ")
    assert str(shape) in message and str(target) in message, message
    assert isinstance(info.value, Tflite2KerasError) and isinstance(info.value, ValueError)


def test_mismatch_names_the_expected_source_shape() -> None:
    with pytest.raises(ShapeMismatchError, match=re.escape(f"expected 1HW(CM) shape 1x{H}x{W}x{C * (M + 1)}")):
        DEPTHWISE.apply(_distinct(1, H, W, C * M), (H, W, C, M + 1))


def test_letters_must_match() -> None:
    with pytest.raises(ValueError, match="'OHWI' cannot become 'HWIX'"):
        Layout("OHWI", "HWIX").permutation
    with pytest.raises(ValueError, match="the letters differ"):
        Layout("OO", "OO").permutation


def test_str() -> None:
    assert str(OHWI_TO_HWIO) == "OHWI→HWIO"
    assert str(DEPTHWISE) == "1HW(CM)→HWCM"
    assert str(VECTOR) == "O"


def test_scalar_stays_a_scalar() -> None:
    # A scalar MUL/ADD operand fills a scalar variable: no stray (1,) axis.
    for value in (np.array(2.5, np.float32), np.array([2.5], np.float32)):
        out = RESHAPE.apply(value, ())
        assert out.shape == () and float(out) == 2.5


@pytest.mark.parametrize("seed", range(6))
def test_contiguous_copies_any_view_exactly(seed: int) -> None:
    """Tiled copies of transposed, sliced and broadcast views equal numpy's own copy."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in rng.integers(1, 90, size=int(rng.integers(2, 5))))
    base = rng.standard_normal(shape).astype(np.float32)
    views = [base.transpose(rng.permutation(base.ndim)), base[..., ::-1].swapaxes(0, -1),
             np.broadcast_to(base[..., :1], shape).swapaxes(0, -1), base.T]
    for view in views:
        out = contiguous(view, tile=16)
        assert out.flags.c_contiguous and out.shape == view.shape
        np.testing.assert_array_equal(out, view)
    assert contiguous(base) is base
