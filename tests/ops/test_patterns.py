"""Patterns (tflite2keras.ops.patterns.base): op chains that become one standard Keras layer.

Each pattern is tested on files TF 2.21's converter writes with it (the converted model holds
the Keras layer, with the file's constants, and verifies per output and per layer at batch 1
and 3) and on a near miss (no match: the ops convert one by one, or a clear UnsupportedOpError).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.ops import patterns
from tflite2keras.ops.patterns import match as patterns_match
from tflite2keras.ops.patterns.base import ANY, Rule, Step

RNG = np.random.default_rng(7)


def _randomize(model: keras.Model, seed: int = 1) -> keras.Model:
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32") * rng.choice([-1, 1], w.shape))
    return model


def _model(shape: tuple[int, ...], *layers: Any, seed: int = 1) -> keras.Model:
    x = keras.Input(shape)
    y = x
    for layer in layers:
        y = layer(y)
    return _randomize(keras.Model(x, y), seed)


def _found(data: bytes) -> list[str]:
    return [m.pattern for m in patterns.find(t2k.read(data))]


def _kinds(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def _check(data: bytes, compared: str | None = None) -> keras.Model:
    """Convert, verify per output and per layer at batch 1 and 3; ``compared``: a layer class the
    per-layer check must include."""
    model = t2k.convert(data)
    for batch in (1, 3):
        report = t2k.verify(model, data, samples=2, batch=batch, per_layer=True)
        assert report.ok, str(report)
        if compared is not None:
            names = {c.name for c in report.layers}
            assert any(type(la).__name__ == compared and la.name in names for la in model.layers), str(report)
    return model


def _form(layer: Any) -> str:
    """A layer's kind, with its activation or dilation where it has one: what a pattern would build."""
    kind = type(layer).__name__
    if kind == "Activation":
        return f"Activation({layer.activation.__name__})"
    if max(getattr(layer, "dilation_rate", (1,))) > 1:
        return f"{kind}(dilated)"
    return kind


def _near_miss(data: bytes, pattern: str, form: str) -> None:
    """No ``pattern`` match: the model converts op by op (with no layer of the pattern's ``form``)
    and verifies, or the conversion names the op it cannot do."""
    assert pattern not in _found(data)
    try:
        model = t2k.convert(data)
    except t2k.UnsupportedOpError as err:
        assert "op " in str(err), str(err)
        return
    assert form not in [_form(la) for la in model.layers], [_form(la) for la in model.layers]
    for batch in (1, 3):
        report = t2k.verify(model, data, samples=2, batch=batch)
        assert report.ok, str(report)


def _one(model: keras.Model, kind: str) -> Any:
    found = [la for la in model.layers if type(la).__name__ == kind]
    assert len(found) == 1, _kinds(model)
    return found[0]


# -- LayerNormalization --------------------------------------------------------------


@pytest.mark.parametrize("shape, kwargs", [
    ((7, 9), {"epsilon": 1e-3}),
    ((5, 7, 11), {"epsilon": 1e-5}),
    ((5, 7, 11), {"axis": (-2, -1)}),
    ((5, 7, 11), {"axis": 1, "epsilon": 0.01}),
    ((7, 9), {"center": False}),
    ((7, 9), {"scale": False}),
    ((7, 9), {"center": False, "scale": False}),
], ids=["last-7x9", "last-5x7x11", "last-two", "axis-1", "no-center", "no-scale", "plain"])
def test_keras_layer_norm_becomes_layer_normalization(to_tflite: Any, shape: tuple[int, ...], kwargs: dict) -> None:
    source = _model(shape, keras.layers.LayerNormalization(**kwargs))
    data = to_tflite(source)
    assert {"MEAN", "SQUARED_DIFFERENCE", "RSQRT"} <= {op.opcode for op in t2k.read(data).operators}
    assert _found(data) == ["layer_norm"]
    model = _check(data, "LayerNormalization")
    assert _kinds(model) == ["InputLayer", "LayerNormalization"]
    got, want = _one(model, "LayerNormalization"), source.layers[1]
    assert got.epsilon == float(np.float32(want.epsilon))
    assert (got.center, got.scale) == (want.center, want.scale)
    axes = [a % len(source.input.shape) for a in np.atleast_1d(want.axis)]
    assert sorted(got.axis) == sorted(axes)
    for role in ("gamma", "beta"):
        if getattr(want, role) is not None:
            variable = getattr(got, role)
            assert variable.trainable
            np.testing.assert_array_equal(np.asarray(variable), np.asarray(getattr(want, role)))


def test_layer_norm_in_a_block_keeps_its_neighbours(to_tflite: Any) -> None:
    x = keras.Input((7, 9))
    h = keras.layers.LayerNormalization(epsilon=1e-6)(x)
    y = keras.layers.Add()([x, h])
    source = _randomize(keras.Model(x, [y, keras.layers.LayerNormalization()(y)]))
    data = to_tflite(source)
    assert _found(data) == ["layer_norm", "layer_norm"]
    model = _check(data, "LayerNormalization")
    assert _kinds(model).count("LayerNormalization") == 2


GAMMA, BETA = RNG.uniform(0.5, 1.5, 9).astype("float32"), RNG.uniform(-1, 1, 9).astype("float32")


def _batch_norm_form(x: Any) -> Any:
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return tf.nn.batch_normalization(x, mean, variance, BETA, GAMMA, 1e-3)


def _centered_form(x: Any) -> Any:
    mean = tf.reduce_mean(x, -1, keepdims=True)
    variance = tf.reduce_mean(tf.square(x - mean), -1, keepdims=True)
    return (x - mean) / tf.sqrt(variance + 1e-5) * GAMMA + BETA


@pytest.mark.parametrize("fn, eps", [(_batch_norm_form, 1e-3), (_centered_form, 1e-5)], ids=["moments", "centered"])
def test_written_out_layer_norm_becomes_layer_normalization(function_to_tflite: Any, fn: Callable, eps: float) -> None:
    data = function_to_tflite(fn, (7, 9))
    assert _found(data) == ["layer_norm"]
    layer = _one(_check(data, "LayerNormalization"), "LayerNormalization")
    assert layer.epsilon == float(np.float32(eps))
    np.testing.assert_array_equal(np.asarray(layer.gamma), GAMMA)
    np.testing.assert_array_equal(np.asarray(layer.beta), BETA)


def test_rms_normalization_becomes_rms_normalization(to_tflite: Any) -> None:
    source = _model((5, 7, 11), keras.layers.RMSNormalization(epsilon=1e-5))
    data = to_tflite(source)
    assert _found(data) == ["rms_norm"]
    layer = _one(_check(data, "RMSNormalization"), "RMSNormalization")
    assert layer.epsilon == float(np.float32(1e-5))
    np.testing.assert_array_equal(np.asarray(layer.scale), np.asarray(source.layers[1].scale))


def _mean_and_variance_over_other_axes(x: Any) -> Any:
    mean = tf.reduce_mean(x, -1, keepdims=True)
    variance = tf.reduce_mean(tf.math.squared_difference(x, mean), -2, keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + 1e-3)


def _epsilon_after_sqrt(x: Any) -> Any:
    mean = tf.reduce_mean(x, -1, keepdims=True)
    variance = tf.reduce_mean(tf.math.squared_difference(x, mean), -1, keepdims=True)
    return (x - mean) / (tf.sqrt(variance) + 1e-3) * GAMMA


def _gamma_over_two_axes(x: Any) -> Any:
    mean = tf.reduce_mean(x, -1, keepdims=True)
    variance = tf.reduce_mean(tf.math.squared_difference(x, mean), -1, keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + 1e-3) * RNG.uniform(0.5, 1.5, (7, 9)).astype("float32")


def _mean_is_an_output(x: Any) -> Any:
    mean = tf.reduce_mean(x, -1, keepdims=True)
    variance = tf.reduce_mean(tf.math.squared_difference(x, mean), -1, keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + 1e-3), mean


@pytest.mark.parametrize("fn", [_mean_and_variance_over_other_axes, _epsilon_after_sqrt, _mean_is_an_output],
                         ids=["other-axes", "eps-after-sqrt", "mean-out"])
def test_layer_norm_near_misses_convert_op_by_op(function_to_tflite: Any, fn: Callable) -> None:
    _near_miss(function_to_tflite(fn, (7, 9)), "layer_norm", "LayerNormalization")


def test_a_gamma_no_layer_norm_can_hold_stays_its_own_layer(function_to_tflite: Any) -> None:
    """A (7, 9) gamma on a norm over the last axis: the norm without scale, then the MUL by it."""
    data = function_to_tflite(_gamma_over_two_axes, (7, 9))
    assert _found(data) == ["layer_norm"]
    model = _check(data, "LayerNormalization")
    norm = _one(model, "LayerNormalization")
    assert not norm.scale and not norm.center
    assert _kinds(model)[-1] == "MultiplyConstant"


# -- activations ---------------------------------------------------------------------

SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
GELU_FORMS = {
    "tanh": lambda x: 0.5 * x * (1 + tf.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
    "factored": lambda x: x * 0.5 * (1.0 + tf.tanh(SQRT_2_OVER_PI * x * (1.0 + 0.044715 * x * x))),
    "sigmoid": lambda x: x * tf.sigmoid(2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)),
}


@pytest.mark.parametrize("form", sorted(GELU_FORMS))
def test_written_out_tanh_gelu_becomes_approximate_gelu(function_to_tflite: Any, form: str) -> None:
    data = function_to_tflite(GELU_FORMS[form], (7, 9))
    assert "GELU" not in {op.opcode for op in t2k.read(data).operators}
    assert _found(data) == ["gelu"]
    model = _check(data, "Activation")
    assert _kinds(model) == ["InputLayer", "Activation"]
    assert model.layers[1].activation.__name__ == "gelu_approximate"
    assert not model.trainable_weights  # the formula's constants are not weights


def test_gelu_and_tanh_of_one_tensor_are_compared_each_with_its_own(function_to_tflite: Any) -> None:
    """Both are Activation layers reading x: per layer, the GELU pairs with its chain, the tanh with TANH."""
    data = function_to_tflite(lambda x: GELU_FORMS["tanh"](x) * 3.0 + tf.tanh(x), (7, 9))
    assert _found(data) == ["gelu"]
    model = t2k.convert(data)
    report = t2k.verify(model, data, samples=2, batch=3, per_layer=True)
    assert report.ok, str(report)
    compared = {c.name for c in report.layers}
    activations = {la.activation.__name__ for la in model.layers if type(la).__name__ == "Activation" and la.name in compared}
    assert {"gelu_approximate", "tanh"} <= activations, str(report)


@pytest.mark.parametrize("fn", [
    lambda x: 0.5 * x * (1 + tf.tanh(SQRT_2_OVER_PI * (x + 0.0447 * x * x * x))),  # another cubic coefficient
    lambda x: x * tf.sigmoid(1.702 * x),  # the sigmoid GELU ("quick GELU"): not Keras's gelu
], ids=["coefficient", "quick"])
def test_gelu_near_misses_convert_op_by_op(function_to_tflite: Any, fn: Callable) -> None:
    data = function_to_tflite(fn, (7, 9))
    assert not {"gelu", "swish"} & set(_found(data))
    _near_miss(data, "gelu", "Activation(gelu_approximate)")


@pytest.mark.parametrize("build", [
    lambda: _model((7, 9), keras.layers.Activation("swish")),
    lambda: _model((7, 9), keras.layers.Activation("silu")),
    lambda: _model((5, 7, 11), keras.layers.Conv2D(3, 3, activation="swish")),
], ids=["swish", "silu", "conv-swish"])
def test_x_times_sigmoid_x_becomes_swish(to_tflite: Any, build: Callable) -> None:
    data = to_tflite(build())
    assert _found(data) == ["swish"]
    model = _check(data, "Activation")
    activation = [la for la in model.layers if type(la).__name__ == "Activation"]
    assert [la.activation.__name__ for la in activation] == ["silu"]
    assert "Multiply" not in _kinds(model)


@pytest.mark.parametrize("fn", [lambda x: tf.sigmoid(x) * x, lambda x: x * tf.sigmoid(x)], ids=["sx", "xs"])
def test_either_operand_order_is_swish(function_to_tflite: Any, fn: Callable) -> None:
    data = function_to_tflite(fn, (7, 9))
    assert _found(data) == ["swish"]
    _check(data, "Activation")


def test_swish_near_miss_converts_op_by_op(function_to_tflite: Any) -> None:
    data = function_to_tflite(lambda x: x * tf.sigmoid(x + 1.0), (7, 9))  # sigmoid of another tensor
    _near_miss(data, "swish", "Activation(silu)")


def test_hard_swish_keeps_its_layer(to_tflite: Any) -> None:
    data = to_tflite(_model((7, 9), keras.layers.Activation("hard_swish")))
    assert _found(data) == []
    model = _check(data)
    assert [la.activation for la in model.layers[1:]] == [keras.activations.hard_swish]


# -- dilated convolutions --------------------------------------------------------------


@pytest.mark.parametrize("shape, layer", [
    ((9, 11, 5), lambda: keras.layers.Conv2D(4, 3, dilation_rate=2, padding="same")),
    ((9, 11, 5), lambda: keras.layers.Conv2D(4, 3, dilation_rate=2, padding="valid")),
    ((13, 17, 5), lambda: keras.layers.Conv2D(4, (3, 2), dilation_rate=(2, 3), padding="same", activation="relu6")),
    ((12, 16, 5), lambda: keras.layers.Conv2D(4, 3, dilation_rate=2, padding="same")),
    ((13, 17, 5), lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2, dilation_rate=3, padding="same")),
], ids=["same", "valid", "rect-relu6", "even", "depthwise"])
def test_space_to_batch_conv_becomes_dilated_conv(to_tflite: Any, shape: tuple[int, ...], layer: Callable) -> None:
    source = _model(shape, layer())
    data = to_tflite(source)
    assert {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"} <= {op.opcode for op in t2k.read(data).operators}
    assert _found(data) == ["dilated_conv"]
    assert not t2k.lint(t2k.convert(data), data)  # (before verify: per-layer checks add nodes lint then sees)
    want = source.layers[1]
    model = _check(data, type(want).__name__)
    got = _one(model, type(want).__name__)
    assert tuple(got.dilation_rate) == tuple(want.dilation_rate)
    assert (got.padding, tuple(got.kernel_size)) == (want.padding, tuple(want.kernel_size))
    np.testing.assert_array_equal(got.get_weights()[0], want.get_weights()[0])
    assert not got.use_bias  # TF adds the bias after BATCH_TO_SPACE_ND: an ADD of its own
    np.testing.assert_array_equal(_one(model, "AddConstant").get_weights()[0].reshape(-1), want.get_weights()[1])


def test_dilated_conv1d_becomes_dilated_conv(to_tflite: Any) -> None:
    source = _model((31, 5), keras.layers.Conv1D(4, 3, dilation_rate=2, padding="same", activation="relu"))
    data = to_tflite(source)
    assert _found(data) == ["dilated_conv"]
    model = _check(data, "Reshape")
    conv = _one(model, "Conv2D")
    assert tuple(conv.dilation_rate) == (1, 2) and conv.padding == "same"
    np.testing.assert_array_equal(conv.get_weights()[0][0], source.layers[1].get_weights()[0])


def _phased_conv(padding: str, crops: list[list[int]]) -> keras.Model:
    """SPACE_TO_BATCH_ND, a convolution on the phases, BATCH_TO_SPACE_ND, with the batch free (so that
    the converter cannot fuse them)."""
    kernel = RNG.normal(size=(3, 3, 5, 4)).astype("float32")

    def fn(x: Any) -> Any:
        y = tf.space_to_batch_nd(x, [2, 2], [[2, 1], [2, 1]])
        return tf.batch_to_space(tf.nn.conv2d(y, kernel, 1, padding), [2, 2], crops)
    x = keras.Input((9, 11, 5))
    return keras.Model(x, keras.layers.Lambda(fn)(x))


@pytest.mark.parametrize("padding, crops", [("SAME", [[2, 1], [2, 1]]), ("VALID", [[3, 0], [0, 0]])],
                         ids=["same-on-phases", "crops-over-pads"])
def test_dilated_conv_near_misses_convert_op_by_op(to_tflite: Any, padding: str, crops: list) -> None:
    data = to_tflite(_phased_conv(padding, crops))
    assert {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"} <= {op.opcode for op in t2k.read(data).operators}
    _near_miss(data, "dilated_conv", "Conv2D(dilated)")


# -- Dense on more than one axis ---------------------------------------------------------


@pytest.mark.parametrize("activation", [None, "relu", "gelu"])
def test_reshape_fully_connected_reshape_becomes_dense(to_tflite: Any, activation: str | None) -> None:
    source = _model((5, 7, 9), keras.layers.Dense(11, activation=activation))
    data = to_tflite(source)
    assert [op.opcode for op in t2k.read(data).operators].count("RESHAPE") >= 2
    assert _found(data) == ["dense"]
    model = _check(data, "Dense")
    assert _kinds(model)[:2] == ["InputLayer", "Dense"] and "Reshape" not in _kinds(model)
    np.testing.assert_array_equal(_one(model, "Dense").get_weights()[0], source.layers[1].get_weights()[0])


def test_flatten_then_dense_is_no_dense_pattern(to_tflite: Any) -> None:
    data = to_tflite(_model((7, 9), keras.layers.Flatten(), keras.layers.Dense(5)))
    assert "dense" not in _found(data)
    _check(data)


# -- the engine ------------------------------------------------------------------------


def test_a_step_must_read_what_an_earlier_step_binds() -> None:
    with pytest.raises(InvalidArgumentError, match="reads no tensor"):
        Rule("bad", (Step("LOGISTIC", ("x",), "s"), Step("MUL", ("z", "$c"), "y")), "y",
             lambda f: {}, lambda *a: None)
    with pytest.raises(InvalidArgumentError, match="output"):
        Rule("bad", (Step("LOGISTIC", ("x",), "s"),), "y", lambda f: {}, lambda *a: None)


SWISH = Rule("swish", (Step("LOGISTIC", ("x",), "s"), Step("MUL", ("x", "s"), "y", commutative=True)),
             "y", lambda found: {}, lambda *args: None, "Activation")


def _swish(x: Any) -> Any:
    return x * tf.sigmoid(x)


def test_matches_in_graph_order_with_their_inputs_and_output(function_to_tflite: Any) -> None:
    tfl = t2k.read(function_to_tflite(lambda x: _swish(_swish(x)), (7, 9)))
    first, second = patterns.search(tfl, (SWISH,))
    assert first.layer == "Activation" and first.inputs == (tfl.inputs[0],)
    assert [tfl.operators[i].opcode for i in first.ops] == ["LOGISTIC", "MUL"]
    assert second.inputs == (first.output,) and second.output == tfl.outputs[0]
    assert not set(first.ops) & set(second.ops) and first.ops[-1] < second.ops[-1]


@pytest.mark.parametrize("fn", [lambda x: _swish(x) + tf.sigmoid(x), lambda x: (_swish(x), tf.sigmoid(x))],
                         ids=["read-outside", "graph-output"])
def test_an_intermediate_used_outside_the_chain_is_no_match(function_to_tflite: Any, fn: Callable) -> None:
    assert patterns.search(t2k.read(function_to_tflite(fn, (7, 9))), (SWISH,)) == []


def test_optional_steps_and_wildcards() -> None:
    step = Step(("CONV_2D", "DEPTHWISE_CONV_2D"), ("x", ANY, ANY), "y", optional=True)
    assert step.opcodes == ("CONV_2D", "DEPTHWISE_CONV_2D") and step.names == ("x",)
    assert patterns_match.is_close(np.float32(math.sqrt(2 / math.pi)), math.sqrt(2 / math.pi))
    assert not patterns_match.is_close(np.float32(0.0447), 0.044715)


# -- a transformer block, op by op around its patterns --------------------------------------


def _vit_block() -> keras.Model:
    keras.utils.set_random_seed(3)
    tokens = keras.Input((7, 9))
    x = keras.layers.LayerNormalization(epsilon=1e-6)(tokens)
    x = keras.layers.MultiHeadAttention(num_heads=3, key_dim=5)(x, x)
    x = keras.layers.Add()([tokens, x])
    y = keras.layers.LayerNormalization(epsilon=1e-6)(x)
    y = keras.layers.Dense(13, activation="gelu")(y)
    y = keras.layers.Dense(9)(y)
    model = keras.Model(tokens, keras.layers.Add()([x, y]))
    rng = np.random.default_rng(4)
    for w in model.weights:  # distinct values everywhere: the converter deduplicates equal constants
        w.assign(rng.normal(0, 0.3, w.shape).astype("float32") + (1.0 if "gamma" in w.path else 0.0))
    return model


def test_vit_block_converts_verifies_and_trains(to_tflite: Any) -> None:
    """MultiHeadAttention converts op by op (BATCH_MATMUL, SOFTMAX, TRANSPOSE, its projections'
    FULLY_CONNECTED); LayerNorm and the MLP's Dense layers (RESHAPE, FULLY_CONNECTED, RESHAPE) come
    from patterns, its GELU is the GELU op. One SGD step changes every weight it changes in the
    Keras model the file came from: all but the attention's key bias."""
    source = _vit_block()
    data = to_tflite(source)
    assert {"BATCH_MATMUL", "SOFTMAX", "TRANSPOSE"} <= {op.opcode for op in t2k.read(data).operators}
    assert sorted(set(_found(data))) == ["dense", "layer_norm"]
    model = _check(data, "LayerNormalization")
    assert _kinds(model).count("LayerNormalization") == 2
    x, y = RNG.uniform(-1, 1, (4, 7, 9)).astype("float32"), RNG.normal(size=(4, 7, 9)).astype("float32")
    unchanged = {}
    for name, m in (("source", source), ("converted", model)):
        before = [np.array(w) for w in m.trainable_weights]
        m.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        m.fit(x, y, epochs=1, batch_size=4, verbose=0)
        unchanged[name] = [np.array(w) for w, b in zip(m.trainable_weights, before) if np.array_equal(np.array(w), b)]
    # The key bias adds the same q.b to every score of a query: softmax cancels it, its gradient is zero.
    key_bias = next(np.array(w) for w in source.weights if w.path.endswith("key/bias"))
    assert len(model.trainable_weights) > 10
    assert [u.reshape(-1).tolist() for u in unchanged["source"]] == [key_bias.reshape(-1).tolist()]
    assert [u.reshape(-1).tolist() for u in unchanged["converted"]] == [key_bias.reshape(-1).tolist()]


def test_pattern_layers_reload_in_safe_mode(to_tflite: Any, tmp_path: Any) -> None:
    x = keras.Input((9, 11, 5))
    y = keras.layers.LayerNormalization()(keras.layers.Conv2D(4, 3, dilation_rate=2, padding="same")(x))
    y = keras.layers.Activation("swish")(y)
    data = to_tflite(_randomize(keras.Model(x, y)))
    assert sorted(_found(data)) == ["dilated_conv", "layer_norm", "swish"]
    model = t2k.convert(data)
    model.save(tmp_path / "m.keras")
    sample = RNG.uniform(-1, 1, (3, 9, 11, 5)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(sample)), np.asarray(t2k.load(tmp_path / "m.keras")(sample)))


JAX_CHILD = r"""
import json, sys
import numpy as np
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
import tflite2keras as t2k
out = {}
for path in sys.argv[1:]:
    model = t2k.convert(path)
    ok = all(t2k.verify(model, path, samples=2, batch=b).ok for b in (1, 3))
    before = [np.array(w) for w in model.trainable_weights]
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, *model.inputs[0].shape[1:])).astype("float32")
    if before:
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        model.fit(x, rng.normal(size=(2, *model.outputs[0].shape[1:])).astype("float32"), epochs=1, verbose=0)
    unchanged = [w.path for w, b in zip(model.trainable_weights, before) if np.array_equal(np.array(w), b)]
    out[path] = {"ok": ok, "kinds": sorted({type(la).__name__ for la in model.layers}), "unchanged": unchanged}
print("RESULT " + json.dumps({"models": out, "tf": "tensorflow" in sys.modules}))
"""


def test_patterns_under_jax(to_tflite: Any, function_to_tflite: Any, tmp_path: Any) -> None:
    x = keras.Input((9, 11, 5))
    y = keras.layers.LayerNormalization()(keras.layers.Conv2D(4, 3, dilation_rate=2, padding="same")(x))
    files = {"image": to_tflite(_randomize(keras.Model(x, keras.layers.Activation("swish")(y)))),
             "vit": to_tflite(_vit_block()), "gelu": function_to_tflite(GELU_FORMS["tanh"], (7, 9))}
    paths = []
    for name, data in files.items():
        paths.append(str(tmp_path / f"{name}.tflite"))
        (tmp_path / f"{name}.tflite").write_bytes(data)
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", JAX_CHILD, *paths], env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert not result["tf"]
    for path, row in result["models"].items():  # the attention's key bias has a zero gradient (see above)
        assert row["ok"] and len(row["unchanged"]) == path.endswith("vit.tflite"), (path, row)
    kinds = result["models"][paths[0]]["kinds"]
    assert {"LayerNormalization", "Conv2D", "Activation"} <= set(kinds) and "Multiply" not in kinds
