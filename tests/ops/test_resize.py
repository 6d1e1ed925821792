"""ops/resize.py: RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR under every pixel-centre convention, against the
interpreter."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case, model_case, tflite_of

import tflite2keras as t2k
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.layers import Resize
from tflite2keras.layers.resize import source_rows
from tflite2keras.ops.resize import keras_is_exact_for

F32 = np.float32


def _reference_rows(n: int, out: int, interpolation: str, align: bool, half: bool) -> list[tuple[int, int, float]]:
    """One output index at a time, as the reference kernels' loops do."""
    scale = F32(n - 1) / F32(out - 1) if align and out > 1 else F32(n) / F32(out)
    rows = []
    for y in range(out):
        if interpolation == "nearest":
            v = (F32(y) + F32(0.5 if half else 0.0)) * scale
            i = min(round_half_away(float(v)) if align else int(math.floor(v)), n - 1)
            rows.append((max(i, 0) if half else i, max(i, 0) if half else i, 0.0))
        else:
            v = (F32(y) + F32(0.5)) * scale - F32(0.5) if half else F32(y) * scale
            low, high = max(math.floor(v), 0), min(math.ceil(v), n - 1)
            rows.append((low, high, float(F32(v - F32(low)))))
    return rows


def round_half_away(v: float) -> int:
    """C's round() on a float32 value (held exactly in a Python float)."""
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


CONVENTIONS = [(False, False), (True, False), (False, True)]


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("align, half", CONVENTIONS)
def test_source_rows_match_the_kernel_loops(interpolation: str, align: bool, half: bool) -> None:
    for n, out in [(1, 4), (5, 9), (7, 3), (13, 13), (2, 82), (2, 83), (11, 1)]:
        low, high, weight = source_rows(n, out, interpolation, align, half)
        assert list(zip(low.tolist(), high.tolist(), weight.tolist())) == _reference_rows(n, out, interpolation, align, half)


def test_keras_is_exact_only_where_the_rows_agree() -> None:
    assert keras_is_exact_for("bilinear", False, True, (5, 7), (9, 13))
    assert not keras_is_exact_for("bilinear", False, False, (6, 6), (12, 12))
    assert not keras_is_exact_for("nearest", True, False, (6, 6), (12, 12))
    assert keras_is_exact_for("nearest", False, False, (6, 6), (12, 18))  # integer upscales by 2 and 3
    assert not keras_is_exact_for("nearest", False, False, (5, 7), (9, 13))
    assert not keras_is_exact_for("nearest", False, False, (3, 2), (123, 82))  # by 41: float32 falls short


def _resize(size: tuple[int, int], interpolation: str, align: bool, half: bool,
            affine: bool = True) -> Callable[[Any], Any]:
    """A TF function with the resize op, after a scalar MUL and ADD unless ``affine`` is False."""
    op = tf.raw_ops.ResizeBilinear if interpolation == "bilinear" else tf.raw_ops.ResizeNearestNeighbor

    def resize(x: Any) -> Any:
        return op(images=x * 2.0 + 1.0 if affine else x, size=size, align_corners=align, half_pixel_centers=half)

    return resize


CONVENTIONS = [  # (input HWC, output HW, interpolation, align_corners, half_pixel_centers, standard Keras layer)
    ((5, 7, 3), (9, 13), "bilinear", True, False, False),
    ((11, 13, 3), (4, 6), "bilinear", True, False, False),
    ((5, 7, 3), (9, 13), "bilinear", False, False, False),
    ((11, 13, 3), (4, 6), "bilinear", False, False, False),
    ((5, 7, 3), (9, 13), "bilinear", False, True, True),
    ((5, 7, 3), (9, 13), "nearest", True, False, False),
    ((2, 3, 3), (83, 5), "nearest", True, False, False),  # row 41: v = 0.49999997 rounds to 0
    ((5, 7, 3), (9, 13), "nearest", False, False, False),
    ((3, 2, 5), (123, 82), "nearest", False, False, False),
    ((5, 7, 3), (10, 21), "nearest", False, False, True),
    ((11, 13, 3), (7, 5), "nearest", False, True, True),
]


#: id -> a one-op case (oneop.Case): Keras layers whose files resize.
CASES: dict[str, Case] = {
    "resize_bilinear_upsampling_layer": model_case("RESIZE_BILINEAR",
                                                   lambda: keras.layers.UpSampling2D(interpolation="bilinear")),
    "resize_nearest_resizing_layer": model_case("RESIZE_NEAREST_NEIGHBOR",
                                                lambda: keras.layers.Resizing(17, 19, interpolation="nearest")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Path) -> None:
    check_case(CASES[name], tflite_of(CASES[name], function_to_tflite), tmp_path)


@pytest.mark.parametrize("shape, size, interpolation, align, half, standard", CONVENTIONS,
                         ids=[f"{c[2]}-{c[0][0]}x{c[0][1]}to{c[1][0]}x{c[1][1]}-align{c[3]:d}-half{c[4]:d}"
                              for c in CONVENTIONS])
def test_convert_matches_interpreter(shape: tuple[int, int, int], size: tuple[int, int], interpolation: str,
                                     align: bool, half: bool, standard: bool, tmp_path: Path,
                                     function_to_tflite: Any) -> None:
    data = function_to_tflite(_resize(size, interpolation, align, half), shape)
    opcode = f"RESIZE_{'BILINEAR' if interpolation == 'bilinear' else 'NEAREST_NEIGHBOR'}"
    op = next(op for op in t2k.read(data).operators if op.opcode == opcode)
    assert (bool(op.options.get("align_corners")), bool(op.options.get("half_pixel_centers"))) == (align, half)
    model = t2k.convert(data)
    resize = [la for la in model.layers if isinstance(la, (Resize, keras.layers.UpSampling2D, keras.layers.Resizing))]
    assert len(resize) == 1 and isinstance(resize[0], Resize) != standard
    report = t2k.verify(model, data, samples=2, per_layer=True)
    assert report.ok, str(report)
    assert not t2k.lint(model, data)
    model.save(tmp_path / "m.keras")
    reloaded = t2k.load(tmp_path / "m.keras")
    x = np.random.default_rng(5).normal(size=(3, *shape)).astype(F32)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(model(x)))


def test_lint_flags_keras_half_pixel_resizing_against_a_legacy_op(function_to_tflite: Any) -> None:
    data = function_to_tflite(_resize((9, 13), "nearest", False, False, affine=False), (5, 7, 3))
    inputs = keras.Input((5, 7, 3))
    model = keras.Model(inputs, keras.layers.Resizing(9, 13, interpolation="nearest")(inputs))
    findings = t2k.lint(model, data)
    assert [(f.field, f.keras, f.tflite) for f in findings] == [("half_pixel_centers", True, False)]
    aligned = function_to_tflite(_resize((9, 13), "nearest", True, False, affine=False), (5, 7, 3))
    assert [(f.field, f.keras, f.tflite) for f in t2k.lint(model, aligned)] == [("align_corners", False, True)]
    exact = function_to_tflite(_resize((10, 21), "nearest", False, False, affine=False), (5, 7, 3))  # by 2, 3
    upsample = keras.Model(inputs, keras.layers.UpSampling2D((2, 3))(inputs))
    assert not t2k.lint(upsample, exact)


def test_resize_gradients_reach_the_input() -> None:
    x = tf.constant(np.random.default_rng(6).normal(size=(2, 5, 7, 3)).astype(F32))
    for interpolation in ("bilinear", "nearest"):
        layer = Resize(9, 13, interpolation, align_corners=True)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x))
        grad = tape.gradient(loss, x).numpy()
        assert grad.shape == x.shape and grad.sum() == pytest.approx(2 * 9 * 13 * 3, rel=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"interpolation": "cubic"}, "interpolation must be one of"),
    ({"align_corners": True, "half_pixel_centers": True}, "cannot both be true"),
])
def test_resize_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        Resize(4, 4, **kwargs)


def test_resize_needs_a_known_input_size() -> None:
    with pytest.raises(InvalidArgumentError, match="known height and width"):
        Resize(4, 4)(keras.Input((None, 7, 3)))
