"""ops/fold.py: shape arithmetic folded with the batch free, its values following the batch.

(test_reshape.py holds the RESHAPE targets such folds give, and test_fold_ops.py every op's fold.)
"""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.ops import fold as shapes


def _free_batch(function: Callable[..., Any], *shapes_: tuple[int | None, ...]) -> bytes:
    """TFLite bytes of a TF function traced with float32 inputs of a free batch."""
    specs = [tf.TensorSpec((None, *s), tf.float32) for s in shapes_]
    concrete = tf.function(function).get_concrete_function(*specs)
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())


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
