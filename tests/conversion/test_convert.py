"""convert(): every corpus model converts; the runnable ones verify per output and per layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.cli import main as cli
from tflite2keras.testdata import corpus
from tflite2keras.writer.truncation import inputs_before

ATTENTION = "face_landmark_with_attention"
RUNNABLE = [name for name in corpus.MODELS if name != ATTENTION]


@pytest.fixture(scope="module")
def converted(corpus_model: Any) -> dict[str, keras.Model]:
    """Each corpus model converted once per test module."""
    cache: dict[str, keras.Model] = {}

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, name: str) -> keras.Model:
            cache[name] = t2k.convert(corpus_model(name))
            self[name] = cache[name]
            return cache[name]

    return Lazy()


def _outputs(model: keras.Model, x: Any) -> list[np.ndarray]:
    return [np.asarray(y) for y in keras.tree.flatten(model(x, training=False))]


def _sample(model: keras.Model, batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (batch, *model.inputs[0].shape[1:])).astype(np.float32)


@pytest.mark.parametrize("name", RUNNABLE)
def test_corpus_model_verifies_per_output_and_per_layer(name: str, converted: Any, corpus_model: Any) -> None:
    model = converted[name]
    report = t2k.verify(model, corpus_model(name), samples=4)
    assert report.ok, str(report)
    layers = t2k.verify(model, corpus_model(name), samples=1, per_layer=True)
    assert layers.ok and len(layers.layers) > 20, str(layers)


@pytest.mark.parametrize("name", corpus.MODELS)
def test_converted_model_is_clean_keras(name: str, converted: Any, corpus_model: Any, tmp_path: Path) -> None:
    model = converted[name]
    tfl = t2k.read(corpus_model(name))
    assert not [la for la in model.layers if isinstance(la, keras.layers.Lambda)]
    names = [la.name for la in model.layers]
    assert len(names) == len(set(names))
    assert [tuple(o.shape[1:]) for o in model.outputs] == [tfl.tensor(t).shape[1:] for t in tfl.outputs]
    assert all(o.shape[0] is None for o in model.inputs)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    x = _sample(model, 2)
    for a, b in zip(_outputs(model, x), _outputs(reloaded, x)):
        np.testing.assert_array_equal(a, b)
        assert np.isfinite(a).all()


def test_attention_model_prefix_verifies_and_whole_model_runs(converted: Any, corpus_model: Any) -> None:
    path = corpus_model(ATTENTION)
    tfl = t2k.read(path)
    cut = inputs_before(tfl, [op for op in tfl.operators if op.is_custom])
    assert len(cut) == 4
    prefix = t2k.truncate(tfl, cut)
    prefix_model = t2k.convert(prefix)
    report = t2k.verify(prefix_model, prefix, samples=2, per_layer=True)
    assert report.ok and len(report.outputs) == len(cut), str(report)
    whole = converted[ATTENTION]  # same names, same weights: its prefix is the verified model
    x = _sample(whole, 2)
    inner = keras.Model(whole.input, [whole.get_layer(o._keras_history.operation.name).output
                                       for o in keras.tree.flatten(prefix_model.outputs)])
    for a, b in zip(_outputs(inner, x), _outputs(prefix_model, x)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    outputs = _outputs(whole, x)
    assert [o.shape[1:] for o in outputs] == [tfl.tensor(t).shape[1:] for t in tfl.outputs]
    assert all(np.isfinite(o).all() for o in outputs)


@pytest.mark.parametrize("name", ["selfie_segmentation", "hand_landmark_lite"])
def test_batch_sixteen_matches_the_interpreter(name: str, converted: Any, corpus_model: Any) -> None:
    """Keras at batch 16 against the interpreter resized to batch 16 (never Keras against Keras).

    Only files whose graph computes each sample on its own at batch 16 can be compared: the
    detectors reshape to a constant ``[1, anchors, 18]`` and hand_recrop slices ``[0:1]`` of the
    batch, so at batch 16 the interpreter mixes samples where the Keras model keeps them apart.
    """
    report = t2k.verify(converted[name], corpus_model(name), samples=2, batch=16)
    assert report.ok and report.batch == 16, str(report)


@pytest.mark.parametrize("name", ["palm_detection_full", "selfie_segmentation", "hand_landmark_lite", ATTENTION])
def test_one_gradient_step_changes_every_weight(name: str, converted: Any) -> None:
    model = keras.models.clone_model(converted[name])
    model.set_weights(converted[name].get_weights())
    assert len(model.trainable_weights) == len(model.weights) > 0
    x = _sample(model, 2)
    rng = np.random.default_rng(1)
    projections = [rng.normal(size=o.shape[1:]).astype(np.float32) for o in keras.tree.flatten(model.outputs)]
    before = [v.numpy().copy() for v in model.trainable_weights]
    with tf.GradientTape() as tape:
        outputs = keras.tree.flatten(model(x, training=True))
        loss = sum(tf.reduce_sum(o * p) for o, p in zip(outputs, projections))
    grads = tape.gradient(loss, model.trainable_weights)
    keras.optimizers.SGD(1e-3).apply_gradients(zip(grads, model.trainable_weights))
    unchanged = [v.path for v, b in zip(model.trainable_weights, before) if np.array_equal(v.numpy(), b)]
    assert not unchanged, f"weights a gradient step did not change: {unchanged}"


def test_fit_to_own_outputs_under_perturbation_reduces_loss(converted: Any) -> None:
    source = converted["palm_detection_lite"]
    x = _sample(source, 8, seed=3)
    targets = _outputs(source, x)
    model = keras.models.clone_model(source)
    rng = np.random.default_rng(2)
    model.set_weights([w + rng.normal(scale=0.02, size=w.shape).astype(w.dtype) * np.abs(w).mean()
                       for w in source.get_weights()])
    model.compile(optimizer=keras.optimizers.Adam(3e-6), loss=["mse", "mse"])  # outputs reach ~500: small steps
    start = model.evaluate(x, targets, verbose=0)[0]
    model.fit(x, targets, epochs=5, batch_size=4, verbose=0)
    end = model.evaluate(x, targets, verbose=0)[0]
    assert end < start * 0.9, (start, end)


def test_same_architecture_transplants_by_name(to_tflite: Any) -> None:
    def build(seed: int) -> keras.Model:
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((13, 11, 3), batch_size=1)
        x = keras.layers.Conv2D(6, 3, activation="relu", name="stem")(inputs)
        x = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
        x = keras.layers.PReLU(shared_axes=[1, 2], alpha_initializer="random_uniform", name="act")(x)
        return keras.Model(inputs, keras.layers.Conv2D(4, 1, name="head")(x))

    first, second = to_tflite(build(1)), to_tflite(build(2))
    model = t2k.convert(first)
    report = t2k.transplant(model, second)
    assert set(report.rules) == {"name"}
    assert t2k.verify(model, second, samples=2).ok


def _without(*opcodes: str) -> None:
    """Unregister ops for one test (with the scratch_registry fixture), so they stand for ops without a converter."""
    from tflite2keras.ops import registry

    for opcode in opcodes:
        registry._REGISTRY.pop(opcode)


def test_unknown_op_names_op_tensors_and_docs(function_to_tflite: Any, scratch_registry: None) -> None:
    _without("CUMSUM")
    data = function_to_tflite(lambda x: tf.math.cumsum(x, axis=1), (5, 3))
    with pytest.raises(t2k.UnsupportedOpError) as caught:
        t2k.convert(data)
    message = str(caught.value)
    for needle in ("op 0", "CUMSUM", "inputs:", "outputs:", "Adding an op"):
        assert needle in message, (needle, message)


def test_every_unsupported_op_is_listed_with_counts(function_to_tflite: Any, scratch_registry: None) -> None:
    _without("CUMSUM", "REVERSE_V2")

    def graph(x: Any) -> Any:
        y = tf.math.cumsum(x, axis=1) + tf.math.cumsum(x * 2.0, axis=2)
        return tf.reverse(y, axis=[1])

    data = function_to_tflite(graph, (5, 3))
    with pytest.raises(t2k.UnsupportedOpError) as caught:
        t2k.convert(data)
    message = str(caught.value)
    assert "3 ops in 2 kinds have no converter" in message, message
    assert "CUMSUM x2 (ops " in message and "REVERSE_V2 x1" in message, message
    assert "The first: op " in message and "Adding an op" in message


@pytest.mark.parametrize("beta", [1.0, 0.37, 2.5])
def test_softmax_beta(beta: float) -> None:
    import keras

    inputs = keras.Input((9,))
    source = keras.Model(inputs, keras.layers.Softmax()(keras.layers.Dense(7)(inputs)))
    plain = bytes(tf.lite.TFLiteConverter.from_keras_model(source).convert())
    # TF's converter folds a scale into the Dense before it; write beta into the file as JSON instead.
    text = t2k.to_json(plain)
    assert text.count('"beta": 1.0') == 1
    data = t2k.from_json(text.replace('"beta": 1.0', f'"beta": {beta}'))
    softmax = [op for op in t2k.read(data).operators if op.opcode == "SOFTMAX"]
    assert len(softmax) == 1 and softmax[0].options["beta"] == pytest.approx(beta)
    model = t2k.convert(data)
    assert t2k.verify(model, data, samples=3).ok


def test_cli_convert_and_verify(corpus_model: Any, tmp_path: Path, capsys: Any) -> None:
    path = str(corpus_model("hand_recrop"))
    out = str(tmp_path / "recrop.keras")
    assert cli(["convert", path, "-o", out, "--verify"]) == 0
    assert cli(["verify", out, path, "--samples", "2", "--per-layer"]) == 0
    text = capsys.readouterr().out
    assert "converted" in text and "OK" in text and "layers within bound" in text
    assert t2k.load(out).count_params() > 0


@pytest.mark.parametrize("broken,received", [
    (lambda x: keras.layers.Dense(4)(x), "(None, 5, 4) float32"),
    (lambda x: keras.layers.Activation("linear", dtype="float16")(x), "(None, 5, 3) float16"),
], ids=["shape", "dtype"])
def test_a_converter_with_the_wrong_output_is_named(broken: Any, received: str, function_to_tflite: Any,
                                                    scratch_registry: None) -> None:
    from tflite2keras.ops import registry

    data = function_to_tflite(lambda x: tf.nn.relu(x), (5, 3))
    relu = registry.get("RELU")
    registry.register_op(registry.OpSpec("RELU", layers=relu.layers, converter=lambda ctx, op: [
        broken(ctx.input(op, 0))]), override=True)
    tfl = t2k.read(data)
    with pytest.raises(t2k.ShapeMismatchError) as caught:
        t2k.convert(data)
    message = str(caught.value)
    name = tfl.tensor(tfl.operators[0].outputs[0]).name
    for needle in ("op 0 (RELU)", repr(name), "expected shape (None, 5, 3) float32", f"received {received}"):
        assert needle in message, (needle, message)


def test_dynamic_dimensions_are_not_compared() -> None:
    """A dimension the TFLite signature leaves dynamic (-1) may be anything on the Keras side."""
    function = tf.function(lambda x: tf.nn.relu6(x), input_signature=[tf.TensorSpec((1, None, 3), tf.float32)])
    data = bytes(tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()]).convert())
    tfl = t2k.read(data)
    out = tfl.tensor(tfl.outputs[0])
    assert out.shape_signature == (1, -1, 3) and out.shape == (1, 1, 3)
    model = t2k.convert(data)
    assert tuple(model.outputs[0].shape) == (None, None, 3)
    x = np.random.default_rng(0).uniform(-8, 8, (2, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.clip(x, 0, 6))


class _FailsWhenRun(keras.layers.Layer):
    """Builds symbolically with the right shape, but cannot run (as an int8 tensor fed to a float op)."""

    def call(self, x: Any) -> Any:
        raise ValueError("Incompatible type conversion requested to type int8")

    def compute_output_spec(self, x: Any) -> Any:
        return keras.KerasTensor(x.shape, x.dtype)


def test_a_model_that_cannot_run_never_converts(function_to_tflite: Any, scratch_registry: None) -> None:
    from tflite2keras.ops import registry

    data = function_to_tflite(lambda x: tf.nn.relu(x), (5, 3))
    relu = registry.get("RELU")
    registry.register_op(registry.OpSpec("RELU", layers=relu.layers, converter=lambda ctx, op: [
        _FailsWhenRun()(ctx.input(op, 0))]), override=True)
    with pytest.raises(t2k.ShapeMismatchError, match=r"fails on a zero input of batch 1: ValueError: (?s:.*)_FailsWhenRun(?s:.*)Incompatible type"):
        t2k.convert(data)


def test_scalar_input_is_named(tmp_path: Path) -> None:
    """A rank-0 input has no batch axis for Keras: a library error names it (no IndexError)."""
    concrete = tf.function(lambda x: x * 2.0 + 1.0).get_concrete_function(tf.TensorSpec((), tf.float32, name="gain"))
    data = bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())
    tfl = t2k.read(data)
    assert tfl.tensor(tfl.inputs[0]).shape == ()
    with pytest.raises(t2k.UnsupportedOpError) as caught:
        t2k.convert(data)
    message = str(caught.value)
    for needle in (f"graph input tensor {tfl.inputs[0]}", repr(tfl.tensor(tfl.inputs[0]).name), "scalar",
                   "expected rank >= 1, received rank 0"):
        assert needle in message, (needle, message)


def _with_buffer(data: bytes, tensor_index: int, value: np.ndarray) -> bytes:
    """``data`` with the stored values of tensor ``tensor_index`` replaced by ``value``."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    tensor = model.subgraphs[0].tensors[tensor_index]
    model.buffers[tensor.buffer].data = np.ascontiguousarray(value, np.float32).view(np.uint8).ravel()
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_nan_and_inf_weights_warn_naming_the_tensor(to_tflite: Any) -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,))
    data = to_tflite(keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Dense(4)(inputs))))
    tfl = t2k.read(data)
    kernel = tfl.operators[1].inputs[1]
    value = np.array(tfl.constant(kernel))
    value[0, 0], value[1, 2] = np.nan, -np.inf
    broken = _with_buffer(data, kernel, value)
    with pytest.warns(UserWarning) as caught:
        model = t2k.convert(broken)
    messages = [str(w.message) for w in caught if "NaN" in str(w.message)]
    assert len(messages) == 1, messages
    for needle in (f"weight tensor {kernel}", repr(tfl.tensor(kernel).name), "1 NaN and 1 infinite values of 12"):
        assert needle in messages[0], (needle, messages[0])
    weights = [w for w in model.weights if tuple(w.shape) == (4, 3)]
    assert len(weights) == 1 and np.isnan(np.asarray(weights[0])).sum() == 1  # converted all the same
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        t2k.convert(data)  # a sound file: no word


def test_a_second_signature_is_named(tmp_path: Path) -> None:
    class TwoSignatures(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((1, 4), tf.float32)])
        def double(self, x: Any) -> Any:
            return {"y": x * 2.0}

        @tf.function(input_signature=[tf.TensorSpec((1, 3), tf.float32)])
        def relu(self, x: Any) -> Any:
            return {"z": tf.nn.relu(x)}

    module = TwoSignatures()
    tf.saved_model.save(module, str(tmp_path), signatures={"double": module.double, "relu": module.relu})
    data = bytes(tf.lite.TFLiteConverter.from_saved_model(str(tmp_path), signature_keys=["double", "relu"]).convert())
    assert sorted(t2k.read(data).signature_defs) == ["double", "relu"]
    with pytest.warns(UserWarning, match=r"2 signatures \['double', 'relu'\]: convert builds subgraph 0, the graph "
                                         r"of signature 'double'; signatures \['relu'\] are not converted"):
        model = t2k.convert(data)
    assert tuple(model.input.shape) == (None, 4)
    assert t2k.verify(model, data, samples=2).ok
    import warnings

    from tflite2keras.tflite.signatures import read_signature

    for key, width in (("relu", 3), ("double", 4)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # a signature chosen: nothing left unsaid
            chosen = t2k.convert(data, signature=key)
        assert tuple(chosen.input.shape) == (None, width)
        assert t2k.verify(chosen, read_signature(data, key), samples=2).ok
    with pytest.raises(t2k.errors.InvalidArgumentError, match=r"no signature 'serving_default'; expected one of "
                                                            r"\['double', 'relu'\]"):
        t2k.convert(data, signature="serving_default")
