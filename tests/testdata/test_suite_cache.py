"""tflite2keras.testdata.suite: names, arguments, the cache (location, key, reuse) and determinism."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.testdata import suite


def test_nine_models_two_kinds() -> None:
    assert len(suite.names()) == 9 and set(suite.names()) == set(suite.SHAPES)
    assert suite.KINDS == ("fp32", "fp16")
    images = [shape for shape in suite.SHAPES.values() if len(shape) == 3]
    assert all(h != w and min(h, w) >= 32 for h, w, _ in images)  # non-square: layout mistakes show


@pytest.mark.parametrize(("name", "kind", "message"), [("mobilenet", "fp32", "'mobilenet' is not a suite model"),
                                                     ("resnet50", "int8", "kind must be one of fp32, fp16")])
def test_unknown_name_or_kind(name: str, kind: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        suite.path(name, kind)


def test_cache_dir_follows_environment_and_is_keyed_by_versions(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    import keras
    import tensorflow as tf

    monkeypatch.setenv("TFLITE2KERAS_CACHE", str(tmp_path))
    folder = suite.cache_dir()
    assert folder.parent == tmp_path
    assert folder.name == f"suite-v{suite.SUITE_VERSION}-tf{tf.__version__}-keras{keras.__version__}"


def test_generates_both_kinds_once_then_reuses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TFLITE2KERAS_CACHE", str(tmp_path))
    data = suite.tflite("conv1d_audio", "fp16")
    assert sorted(p.name for p in suite.cache_dir().iterdir()) == ["conv1d_audio_fp16.tflite",
                                                                   "conv1d_audio_fp32.tflite"]
    assert "DEQUANTIZE" in {op.opcode for op in t2k.read(data).operators}
    assert "DEQUANTIZE" not in {op.opcode for op in t2k.read(suite.tflite("conv1d_audio")).operators}
    tfl = t2k.read(data)
    assert tfl.tensor(tfl.inputs[0]).shape_signature[0] == -1  # the batch is free

    def fail(*args: Any) -> None:
        raise AssertionError("a cached file was generated again")

    monkeypatch.setattr(suite, "to_tflite_kinds", fail)
    assert suite.tflite("conv1d_audio", "fp16") == data


def test_models_are_deterministic() -> None:
    first, second = suite.keras_model("vit_block"), suite.keras_model("vit_block")
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    other = suite.keras_model("vit_block", seed=1)
    assert not np.array_equal(np.asarray(first.weights[0]), np.asarray(other.weights[0]))


def test_generation_is_byte_for_byte_reproducible(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cached = {kind: suite.tflite("vit_block", kind) for kind in suite.KINDS}  # the user cache
    monkeypatch.setenv("TFLITE2KERAS_CACHE", str(tmp_path))
    assert suite.to_tflite_kinds(suite.keras_model("vit_block")) == cached


def test_normalizations_are_calibrated() -> None:
    import keras

    model = suite.keras_model("conv1d_audio")
    x = np.random.default_rng(3).uniform(-1, 1, (16, *suite.SHAPES["conv1d_audio"])).astype(np.float32)
    normalized = np.asarray(keras.Model(model.input, model.get_layer("bn_1").output)(x))
    bn = model.get_layer("bn_1")
    standard = (normalized - np.asarray(bn.beta)) / np.asarray(bn.gamma)  # what the moving statistics made
    assert np.abs(standard.mean(axis=(0, 1))).max() < 0.2 and np.abs(standard.std(axis=(0, 1)) - 1).max() < 0.2


def test_constant_initialisations_are_redrawn() -> None:
    model = suite.keras_model("conv1d_audio")
    for variable in model.weights:
        value = np.asarray(variable)
        assert value.size == 1 or np.ptp(value) > 0, variable.path  # no all-zero bias, all-one scale
    variance = np.asarray(model.get_layer("bn_1").moving_variance)
    assert (variance > 0).all()


def test_reading_a_cached_file_imports_neither_tensorflow_nor_keras(fresh_python: Any) -> None:
    suite.path("vit_block", "fp32")  # in this process's cache (generated here if missing)
    done = fresh_python(
        "import sys\n"
        "from tflite2keras import suite\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'import'\n"
        "data = suite.tflite('vit_block', 'fp32')\n"
        "assert len(data) > 1000\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
