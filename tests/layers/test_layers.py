"""Registered custom layers: numbers, shapes, serialization."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from tflite2keras.layers import ChannelPadding, PReLU


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


def _prelu_pair(alpha: np.ndarray) -> tuple[keras.layers.PReLU, PReLU]:
    stock, fast = keras.layers.PReLU(shared_axes=[1, 2]), PReLU(shared_axes=[1, 2])
    for layer in (stock, fast):
        layer.build((None, 5, 3, alpha.size))
        layer.set_weights([alpha.reshape(1, 1, -1)])
    return stock, fast


def test_prelu_matches_numpy_for_any_slope() -> None:
    rng = np.random.default_rng(2)
    alpha = np.array([-4.6, -0.5, 0.0, 0.25, 1.0, 1.5, 12.2], np.float32)  # the corpus spans -4.6..12.2
    x = (rng.normal(size=(2, 5, 3, 7)) * 30).astype(np.float32)
    x[0, 0, 0] = 0.0
    expected = np.where(x > 0, x, alpha * x)
    out = np.asarray(_prelu_pair(alpha)[1](x))
    # x + (alpha - 1) * min(x, 0) rounds at most twice: within 2 ulp(|alpha * x| + |x|) of alpha * x.
    np.testing.assert_array_less(np.abs(out - expected), 2 * np.spacing(np.abs(alpha * x) + np.abs(x)) + 1e-30)
    np.testing.assert_array_equal(out[x > 0], x[x > 0])


def test_prelu_gradients_and_config_match_keras() -> None:
    import tensorflow as tf

    alpha = np.linspace(-2, 3, 7).astype(np.float32)
    stock, fast = _prelu_pair(alpha)
    x = tf.constant(np.random.default_rng(3).normal(size=(2, 5, 3, 7)).astype(np.float32))
    grads = []
    for layer in (stock, fast):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) ** 2)
        grads.append(tape.gradient(loss, [x, layer.alpha]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-5)
    assert isinstance(fast, keras.layers.PReLU)
    assert {**fast.get_config(), "name": ""} == {**stock.get_config(), "name": ""}


def test_prelu_safe_reload(tmp_path: Path) -> None:
    inputs = keras.Input((5, 3, 7))
    model = keras.Model(inputs, PReLU(shared_axes=[1, 2], alpha_initializer="random_uniform")(inputs))
    x = np.random.default_rng(4).normal(size=(4, 5, 3, 7)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded.layers[-1]) is PReLU
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


def test_prelu_under_mixed_precision_is_keras_form() -> None:
    # alpha - 1 in float16 would round small slopes away; the layer falls back to Keras's form.
    alpha = np.array([1.4e-5, 2e-4, 0.3, 2.0], np.float32)
    stock, fast = keras.layers.PReLU(dtype="mixed_float16"), PReLU(dtype="mixed_float16")
    for layer in (stock, fast):
        layer.build((None, 4))
        layer.set_weights([alpha])
    x = np.array([[-3.0, -5.0, -1.0, -2.0]], np.float32)
    np.testing.assert_array_equal(np.asarray(fast(x)), np.asarray(stock(x)))
    np.testing.assert_allclose(np.asarray(fast(x), np.float32), alpha * x, rtol=1e-3)


def test_layers_import_nothing_of_the_converter() -> None:
    """tflite2keras.layers depends on tflite2keras.errors only: a saved model's layers never load converter code."""
    import ast

    import tflite2keras.layers

    folder = Path(tflite2keras.layers.__file__).parent
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                assert node.level == 2 and node.module == "errors", (path.name, ast.unparse(node))
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(n and n.split(".")[0] == "tflite2keras" for n in names), (path.name, ast.unparse(node))
