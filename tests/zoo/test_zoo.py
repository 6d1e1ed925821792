"""Zoo models: shapes, naming modes, wider heads, bad arguments, safe-mode reload."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.errors import InvalidArgumentError


@pytest.mark.parametrize("variant", ["lite", "full"])
@pytest.mark.parametrize("num_classes", [1, 7])
def test_blazepalm_shapes(variant: str, num_classes: int) -> None:
    model = t2k.zoo.blazepalm(variant, num_classes=num_classes)
    assert tuple(model.inputs[0].shape) == (None, 192, 192, 3)
    assert [tuple(o.shape) for o in model.outputs] == [(None, 2016, 18), (None, 2016, num_classes)]


def test_blazeface_shapes() -> None:
    model = t2k.zoo.blazeface()
    assert [tuple(o.shape) for o in model.outputs] == [(None, 896, 16), (None, 896, 1)]


@pytest.mark.parametrize("build", [lambda **k: t2k.zoo.blazepalm("lite", **k), lambda **k: t2k.zoo.blazeface(**k)],
                         ids=["palm", "face"])
def test_naming_modes_have_the_same_weights_in_the_same_order(build) -> None:  # type: ignore[no-untyped-def]
    readable, original = build(), build(names="keras")
    assert [tuple(v.shape) for v in readable.weights] == [tuple(v.shape) for v in original.weights]
    assert "conv2d" in {la.name for la in original.layers}
    assert "conv2d" not in {la.name for la in readable.layers}


@pytest.mark.parametrize("call", [
    lambda: t2k.zoo.blazepalm("huge"), lambda: t2k.zoo.blazepalm(num_classes=0),
    lambda: t2k.zoo.blazeface("long_range"), lambda: t2k.zoo.blazeface(names="tflite"),
], ids=["variant", "classes", "face_variant", "names"])
def test_bad_arguments(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgumentError):
        call()


def test_reloads_in_safe_mode_with_identical_outputs(tmp_path: Path) -> None:
    model = t2k.zoo.blazeface()
    path = tmp_path / "face.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 128, 128, 3)).astype(np.float32)
    for a, b in zip(model(x), loaded(x)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not any(type(la).__name__ == "Lambda" for la in model.layers)
