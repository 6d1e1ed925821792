"""Registered custom layers: numbers, shapes, serialization."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from tflite2keras.layers import ChannelPadding


def test_channel_padding_matches_numpy() -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 7)).astype(np.float32)
    out = np.asarray(ChannelPadding(pad_after=4, pad_before=2)(x))
    np.testing.assert_array_equal(out, np.pad(x, [(0, 0), (0, 0), (0, 0), (2, 4)]))


def test_channel_padding_predict_and_safe_reload(tmp_path: Path) -> None:
    inputs = keras.Input((6, 5, 3))
    conv = keras.layers.Conv2D(5, 1)(inputs)
    model = keras.Model(inputs, keras.layers.Add()([ChannelPadding(pad_after=2)(inputs), conv]))
    x = np.random.default_rng(1).normal(size=(4, 6, 5, 3)).astype(np.float32)
    expected = np.asarray(model(x))
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(loaded(x)), expected)
    padding = next(la for la in loaded.layers if isinstance(la, ChannelPadding))
    assert padding.get_config()["pad_after"] == 2
