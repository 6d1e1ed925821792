"""ops/math.py and ops/reduce.py: one-op models from TF functions against the interpreter and numpy."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.ops import math as math_ops
from tflite2keras.ops import reduce as reduce_ops

from oneop import Case, check_case

SHAPE = (7, 9, 5)  # odd extents, all different
C5 = np.linspace(-1, 1, 5, dtype=np.float32)
C91 = np.linspace(-0.5, 0.5, 9, dtype=np.float32).reshape(9, 1)
TABLE = np.linspace(-3, 3, 4 * 3, dtype=np.float32).reshape(4, 3)  # looked up by indices 0..3
FULL = np.linspace(-2, 2, 7 * 9 * 5, dtype=np.float32).reshape(1, 7, 9, 5)  # TFLite's ATAN2 does not broadcast
ONE, TWO = (SHAPE,), (SHAPE, SHAPE)


def _f2(x: Any) -> Any:  # few distinct values, so that EQUAL / NOT_EQUAL see both outcomes
    return x * 2


#: id -> (opcode under test, input shapes, TF function, numpy reference).
CASES: dict[str, Case] = {
    "floor": ("FLOOR", ONE, tf.floor, np.floor),
    "neg": ("NEG", ONE, lambda x: -x, lambda x: -x),
    "sin": ("SIN", ONE, tf.sin, np.sin),
    "cos": ("COS", ONE, tf.cos, np.cos),
    "cast": ("CAST", ONE, lambda x: tf.cast(x * 4, tf.int32), lambda x: (x * 4).astype(np.int32)),
    "minimum": ("MINIMUM", TWO, tf.minimum, np.minimum),
    "minimum_const_first": ("MINIMUM", ONE, lambda x: tf.minimum(C91, x), lambda x: np.minimum(C91, x)),
    "maximum_const": ("MAXIMUM", ONE, lambda x: tf.maximum(x, C5), lambda x: np.maximum(x, C5)),
    "maximum_broadcast": ("MAXIMUM", TWO, lambda x, y: tf.maximum(x, y[:, :1]), lambda x, y: np.maximum(x, y[:, :1])),
    "atan2": ("ATAN2", TWO, tf.atan2, np.arctan2),
    "atan2_const_first": ("ATAN2", ONE, lambda x: tf.atan2(FULL, x), lambda x: np.arctan2(FULL, x)),
    "atan2_const": ("ATAN2", ONE, lambda x: tf.atan2(x, FULL), lambda x: np.arctan2(x, FULL)),
    "less": ("LESS", TWO, tf.less, np.less),
    "less_equal": ("LESS_EQUAL", TWO, tf.less_equal, np.less_equal),
    "greater": ("GREATER", TWO, tf.greater, np.greater),
    "greater_equal": ("GREATER_EQUAL", TWO, tf.greater_equal, np.greater_equal),
    "greater_const_first": ("GREATER", ONE, lambda x: tf.greater(C5, x), lambda x: C5 > x),
    "greater_equal_scalar": ("GREATER_EQUAL", ONE, lambda x: x >= 0.25, lambda x: x >= 0.25),
    "equal": ("EQUAL", TWO, lambda x, y: tf.equal(tf.floor(_f2(x)), tf.floor(_f2(y))),
              lambda x, y: np.floor(_f2(x)) == np.floor(_f2(y))),
    "not_equal": ("NOT_EQUAL", TWO, lambda x, y: tf.not_equal(tf.floor(_f2(x)), tf.floor(_f2(y))),
                  lambda x, y: np.floor(_f2(x)) != np.floor(_f2(y))),
    "logical_and": ("LOGICAL_AND", TWO, lambda x, y: tf.logical_and(x > 0, y > 0), lambda x, y: (x > 0) & (y > 0)),
    "logical_or": ("LOGICAL_OR", TWO, lambda x, y: tf.logical_or(x > 0, y < 0), lambda x, y: (x > 0) | (y < 0)),
    "logical_not": ("LOGICAL_NOT", TWO, lambda x, y: tf.logical_not(tf.logical_and(x > 0, y > 0)),
                    lambda x, y: ~((x > 0) & (y > 0))),
    "select": ("SELECT", TWO, lambda x, y: tf.raw_ops.Select(condition=x > y, x=x, y=y),
               lambda x, y: np.where(x > y, x, y)),
    "select_v2_broadcast": ("SELECT_V2", TWO, lambda x, y: tf.where(x[..., :1] > 0, x, y[:, :1]),
                            lambda x, y: np.where(x[..., :1] > 0, x, y[:, :1])),
    "select_v2_const": ("SELECT_V2", ONE, lambda x: tf.where(x > 0, x, C5), lambda x: np.where(x > 0, x, C5)),
    "reduce_max_keep": ("REDUCE_MAX", ONE, lambda x: tf.reduce_max(x, [1, 3], keepdims=True),
                        lambda x: x.max((1, 3), keepdims=True)),
    "reduce_max_spatial": ("REDUCE_MAX", ONE, lambda x: tf.reduce_max(x, [1, 2]), lambda x: x.max((1, 2))),
    "reduce_min": ("REDUCE_MIN", ONE, lambda x: tf.reduce_min(x, -1), lambda x: x.min(-1)),
    "sum": ("SUM", ONE, lambda x: tf.reduce_sum(x, 2), lambda x: x.sum(2)),
    "sum_keep_all": ("SUM", ONE, lambda x: tf.reduce_sum(x, [1, 2, 3], keepdims=True),
                     lambda x: x.sum((1, 2, 3), keepdims=True)),
    "reduce_prod": ("REDUCE_PROD", ONE, lambda x: tf.reduce_prod(x + 1, 2), lambda x: (x + 1).prod(2)),
    "gather": ("GATHER", ONE, lambda x: tf.gather(x, [4, 0, 2, 2], axis=3), lambda x: x[..., [4, 0, 2, 2]]),
    "gather_2d_indices": ("GATHER", ONE, lambda x: tf.gather(x, [[8, 0], [1, 2], [3, 3]], axis=-2),
                          lambda x: np.take(x, [[8, 0], [1, 2], [3, 3]], axis=2)),
    "gather_axis1": ("GATHER", ONE, lambda x: tf.gather(x, [6, 1], axis=1), lambda x: x[:, [6, 1]]),
    "gather_table": ("GATHER", ONE, lambda x: tf.gather(TABLE, tf.cast((x + 1) * 2, tf.int32)),
                     lambda x: TABLE[((x + 1) * 2).astype(np.int32)]),
    "pack": ("PACK", TWO, lambda x, y: tf.stack([x, y], axis=2), lambda x, y: np.stack([x, y], 2)),
    "pack_last": ("PACK", (SHAPE,) * 3, lambda x, y, z: tf.stack([x, y, z], axis=-1),
                  lambda x, y, z: np.stack([x, y, z], -1)),
    "pack_axis1": ("PACK", TWO, lambda x, y: tf.stack([x, y], axis=1), lambda x, y: np.stack([x, y], 1)),
}
#: A constant of batch 1 that TFLite's kernel does not broadcast: its interpreter runs at batch 1 only.
BATCH_1_CONSTANT = {"atan2_const", "atan2_const_first"}
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"floor": "Unary", "cast": "Cast", "atan2_const_first": "Binary", "minimum": "Minimum",
          "greater_const_first": "Compare", "select_v2_const": "Select", "sum_keep_all": "Reduce",
          "reduce_max_spatial": "GlobalMaxPooling2D", "gather_table": "Gather", "pack_last": "Pack"}


def test_every_op_of_the_modules_has_a_case() -> None:
    opcodes = {*math_ops.UNARY_OPS, "CAST", *math_ops.BINARY_OPS, *math_ops.COMPARE_OPS, "SELECT", "SELECT_V2",
               *reduce_ops.REDUCE_OPS, "GATHER", "PACK"}
    assert opcodes <= {case[0] for case in CASES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    case = CASES[name]
    batches = (1,) if name in BATCH_1_CONSTANT else (1, 3)
    check_case(case, function_to_tflite(case[2], *case[1]), tmp_path, RELOAD.get(name), batches)


@pytest.mark.parametrize("opcode, function", [
    ("REDUCE_MAX", lambda x: tf.reduce_max(x, [0, 2])),
    ("SUM", lambda x: tf.reduce_sum(x)),
    ("GATHER", lambda x: tf.gather(x, [0, 0], axis=0)),
    ("PACK", lambda x: tf.stack([x, x * 2], axis=0)),
])
def test_batch_axis_is_unsupported(opcode: str, function: Any, function_to_tflite: Any) -> None:
    data = function_to_tflite(function, SHAPE)
    assert opcode in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError, match=rf"\({opcode}\).*batch axis"):
        t2k.convert(data)


def test_layer_configs_round_trip() -> None:
    from tflite2keras import layers

    made = [layers.Unary("sin"), layers.Cast("int32"), layers.Reduce("prod", [2], True), layers.Pack(1),
            layers.Gather([[1, 0]], 2), layers.Compare("equal", [None, {"value": [1.0], "dtype": "float32"}]),
            layers.Select(constants=[{"value": True, "dtype": "bool"}, None, None])]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="unknown fn"):
        layers.Binary("power")
