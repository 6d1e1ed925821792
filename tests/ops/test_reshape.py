"""ops/reshape.py: RESHAPE and SHAPE: RESHAPE from a Keras layer against the interpreter; targets that TFLite
computes from the shape at a free batch (verified against the interpreter resized to other batches); the
BatchReshape layer; and the RESHAPEs around a Dense on a computed rank-3 tensor.

(test_fold.py tests the folding of the shape arithmetic itself.)
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case, model_case, tflite_of

import tflite2keras as t2k
from tflite2keras.layers import BatchReshape

#: id -> a one-op case (oneop.Case).
CASES: dict[str, Case] = {
    "reshape_layer": model_case("RESHAPE", lambda: keras.layers.Reshape((13, 11, 6))),
}
#: Files whose target shape says batch 1: their interpreter runs at batch 1 only.
BATCH_1 = {"reshape_layer"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    batches = (1,) if name in BATCH_1 else (1, 3)
    check_case(CASES[name], tflite_of(CASES[name], function_to_tflite), tmp_path, interpreter_batches=batches)


# -- Dense on a rank-3 tensor that is not a graph input ------------------------------------


def _dense_after(kind: str) -> Any:
    """A Keras model whose Dense reads a rank-3 tensor computed by another layer."""
    import keras

    keras.utils.set_random_seed(4)
    if kind == "conv1d":
        inputs = keras.Input((9, 5))
        x = keras.layers.Conv1D(6, 3)(inputs)
    elif kind == "reshape":
        inputs = keras.Input((35,))
        x = keras.layers.Reshape((7, 5))(inputs)
    else:  # dense, int8
        inputs = keras.Input((7, 5))
        x = keras.layers.Dense(6, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(4)(x))


@pytest.mark.parametrize("kind", ["dense", "conv1d", "reshape", "int8"])
def test_dense_on_a_computed_rank_3_tensor(kind: str, to_tflite: Any) -> None:
    """The converter folds the leading axes into the batch (RESHAPE to [-1, C]) and, where the next
    Dense reads the flat tensor directly, never reshapes back before it: the RESHAPE that restores
    the batch reshapes over all axes."""
    data = to_tflite(_dense_after(kind), "int8" if kind == "int8" else None)
    model = t2k.convert(data)
    for batch in (1, 16):
        report = t2k.verify(model, data, samples=2, batch=batch)
        assert report.ok, str(report)


# -- Targets computed from the shape at a free batch ----------------------------------------


def _free_batch(function: Callable[..., Any], *shapes_: tuple[int | None, ...]) -> bytes:
    """TFLite bytes of a TF function traced with float32 inputs of a free batch."""
    specs = [tf.TensorSpec((None, *s), tf.float32) for s in shapes_]
    concrete = tf.function(function).get_concrete_function(*specs)
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())


def _verified(data: bytes) -> keras.Model:
    model = t2k.convert(data)
    for batch in (1, 16):
        report = t2k.verify(model, data, samples=2, batch=batch, per_layer=True)
        assert report.ok, str(report)
    return model


def _layers(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_flatten_dense_reshape_at_a_free_batch(to_tflite: Any) -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5, 7, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.Dense(6)(keras.layers.Flatten()(x))
    source = keras.Model(inputs, keras.layers.Reshape((2, 3))(x))
    data = to_tflite(source)
    opcodes = [op.opcode for op in t2k.read(data).operators]
    assert opcodes.count("SHAPE") == 2 and "PACK" in opcodes and "STRIDED_SLICE" in opcodes
    model = _verified(data)
    assert _layers(model) == ["InputLayer", "Conv2D", "Reshape", "Dense", "Reshape"]
    sample = np.random.default_rng(1).uniform(-1, 1, (4, 5, 7, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model(sample)), np.asarray(source(sample)), atol=1e-5)


@pytest.mark.parametrize("name, function, layer", [
    ("minus_one_first", lambda x: tf.reshape(x, [-1, 6 * 4]) * 2, "Reshape"),
    ("batch_into_rows", lambda x: tf.reshape(x, [-1, 4]) * 2, "BatchReshape"),
    ("shape_times_rows", lambda x: tf.reshape(x, tf.stack([tf.shape(x)[0] * 6, 4])) * 2, "BatchReshape"),
    ("gather_prod_concat", lambda x: tf.reshape(
        x, tf.concat([tf.shape(x)[:1], [tf.reduce_prod(tf.shape(x)[1:])]], 0)) * 2, "Reshape"),
    ("shape_of_the_input", lambda x: tf.reshape(tf.reshape(x, [-1, 4]) * 2, tf.shape(x)) + 1, "Reshape"),
])
def test_reshape_targets(name: str, function: Any, layer: str) -> None:
    data = _free_batch(function, (6, 4))
    model = _verified(data)
    assert layer in _layers(model)
    assert "SHAPE" not in {op.opcode for op in t2k.read(data).operators} or name not in ("minus_one_first",)


def test_shape_of_a_dynamic_dimension_is_unsupported() -> None:
    data = _free_batch(lambda x: tf.reshape(x, tf.stack([tf.shape(x)[0], tf.shape(x)[1] * 4])), (None, 4))
    with pytest.raises(t2k.UnsupportedOpError, match=r"\(SHAPE\).*dynamic"):
        t2k.convert(data)


def test_batch_reshape_layer(tmp_path: Any) -> None:
    layer = BatchReshape([-1, 4])
    assert layer.compute_output_shape((None, 6, 4)) == (None, 4)
    assert layer.compute_output_shape((3, 6, 4)) == (18, 4)
    assert BatchReshape.from_config(layer.get_config()).target == [-1, 4]
    with pytest.raises(t2k.InvalidArgumentError, match="exactly one -1"):
        BatchReshape([3, 4])
