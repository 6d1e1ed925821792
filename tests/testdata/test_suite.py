"""The standard-architecture suite: nine Keras models, float32 and float16, convert and verify.

Each of :func:`tflite2keras.testdata.suite.names` in each of :data:`tflite2keras.testdata.suite.KINDS` (files
generated once and cached, see :mod:`tflite2keras.testdata.suite`) must convert; verify per output
and per layer at batch 1 and per output at batch 16 (the interpreter resized) with the
default tolerance; have no Lambda layer and reload in safe mode with identical outputs;
and train: one SGD step changes every trainable weight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.testdata import suite

PARAMS = [pytest.param(name, kind, id=f"{name}-{kind}") for name in suite.names() for kind in suite.KINDS]


@pytest.fixture(scope="module")
def converted() -> Any:
    """``converted[name, kind]``: the suite file converted, once per test module."""

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, key: tuple[str, str]) -> keras.Model:
            self[key] = t2k.convert(suite.tflite(*key), name=f"{key[0]}_{key[1]}")
            return self[key]

    return Lazy()


def _sample(model: keras.Model, batch: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (batch, *model.inputs[0].shape[1:])).astype(np.float32)


def _outputs(model: keras.Model, x: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(y) for y in keras.tree.flatten(model(x, training=False))]


@pytest.mark.parametrize(("name", "kind"), PARAMS)
def test_verifies_per_output_and_per_layer(name: str, kind: str, converted: Any) -> None:
    data = suite.tflite(name, kind)
    model = converted[name, kind]
    report = t2k.verify(model, data, samples=2)
    assert report.ok, str(report)
    layers = t2k.verify(model, data, samples=1, per_layer=True)
    assert layers.ok and len(layers.layers) >= 5, str(layers)


@pytest.mark.parametrize(("name", "kind"), PARAMS)
def test_verifies_at_batch_16(name: str, kind: str, converted: Any) -> None:
    report = t2k.verify(converted[name, kind], suite.tflite(name, kind), samples=1, batch=16)
    assert report.ok and report.batch == 16, str(report)


@pytest.mark.parametrize(("name", "kind"), PARAMS)
def test_is_clean_keras_and_reloads_in_safe_mode(name: str, kind: str, converted: Any, tmp_path: Path) -> None:
    model = converted[name, kind]
    tfl = t2k.read(suite.tflite(name, kind))
    assert not [la.name for la in model.layers if isinstance(la, keras.layers.Lambda)]
    assert model.inputs[0].shape == (None, *suite.SHAPES[name])
    assert [tuple(o.shape[1:]) for o in model.outputs] == [tfl.tensor(t).shape[1:] for t in tfl.outputs]
    model.save(tmp_path / "model.keras")
    reloaded = t2k.load(tmp_path / "model.keras")
    x = _sample(model, 3, seed=5)
    for a, b in zip(_outputs(model, x), _outputs(reloaded, x)):
        np.testing.assert_array_equal(a, b)
        assert np.isfinite(a).all()
        assert np.ptp(a, axis=0).max() > 1e-2  # the output depends on the input (the suite tests something)


@pytest.mark.parametrize(("name", "kind"), PARAMS)
def test_one_gradient_step_changes_every_trainable_weight(name: str, kind: str, converted: Any) -> None:
    model = converted[name, kind]
    saved = model.get_weights()  # the other tests share the model: put its weights back
    try:
        before = [np.array(v) for v in model.trainable_variables]
        assert before, "the converted model has no trainable weights"
        x = _sample(model, 4, seed=1)
        targets = [np.random.default_rng(2).uniform(0, 1, (4, *o.shape[1:])).astype(np.float32)
                   for o in model.outputs]
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
        loss = model.train_on_batch(x, targets if len(targets) > 1 else targets[0])
        assert np.isfinite(loss).all()
        unchanged = [v.path for v, b in zip(model.trainable_variables, before) if np.array_equal(np.array(v), b)]
        assert not unchanged, f"{len(unchanged)}/{len(before)} trainable weights did not change: {unchanged[:10]}"
    finally:
        model.set_weights(saved)
