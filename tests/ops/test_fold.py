"""shapes.py and ops/reshape.py: shape arithmetic folded with the batch free, against the interpreter
resized to other batches."""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.layers import BatchReshape
from tflite2keras.ops import fold as shapes


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


def test_fold_values_follow_the_batch() -> None:
    data = _free_batch(lambda x: tf.reshape(x, tf.stack([tf.shape(x)[0] * 6, 4])), (6, 4))
    tfl = t2k.read(data)
    folded = shapes.fold(tfl)
    shape_op = next(op for op in tfl.operators if op.opcode == "SHAPE")
    value = folded[shape_op.outputs[0]]
    assert [v.tolist() for v in value] == [[2, 6, 4], [3, 6, 4]]
    assert shapes.batch_axes(value) == [0] and shapes.is_batch(value, 0) and not shapes.is_fixed(value)
    target = folded[next(op for op in tfl.operators if op.opcode == "RESHAPE").inputs[1]]
    assert [v.tolist() for v in target] == [[12, 4], [18, 4]] and not shapes.is_batch(target, 0)


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
