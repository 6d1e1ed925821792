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


def test_folds_read_the_computed_shapes() -> None:
    """A -1 stored for a fixed extent blocks the fold of SHAPE; the interpreter's shapes unblock it."""
    import json

    from tflite2keras.conversion.prepared import prepared_view
    from tflite2keras.writer.flatjson import from_json, to_json

    def flatten(x: Any) -> Any:
        t = tf.nn.relu(x * 2.0)
        return tf.reshape(t, [tf.shape(t)[0], -1]) + 1.0  # SHAPE reads the tensor 'Relu;mul'

    data = _free_batch(flatten, (6, 4))
    document = json.loads(to_json(data))
    tensor = next(t for t in document["subgraphs"][0]["tensors"] if t["name"] == "Relu;mul")
    tensor["shape_signature"] = [-1, -1, 4]  # the interpreter never reads it: 6 is fixed
    stored = t2k.read(from_json(json.dumps(document)))
    shape_op = next(op for op in stored.operators if op.opcode == "SHAPE")
    assert shape_op.outputs[0] not in shapes.fold(stored)
    folded = shapes.fold(prepared_view(stored)[0])
    assert [v.tolist() for v in folded[shape_op.outputs[0]]] == [[2, 6, 4], [3, 6, 4]]
    target = folded[next(op for op in stored.operators if op.opcode == "RESHAPE").inputs[1]]
    assert [v.tolist() for v in target] == [[2, -1], [3, -1]] and shapes.is_batch(target, 0)
