"""ops/math.py: unary ops, CAST, comparisons, logical ops, SELECT and SELECT_V2: one-op models from TF functions
against the interpreter and numpy; the CAST fold.

(test_activation.py runs some of these cases under JAX.)
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from oneop import Case
from test_binary import C5, INT2, ONE, TWO, check_fold_is_the_kernel, check_table_case

from tflite2keras.ops import math as math_ops


def _f2(x: Any) -> Any:  # few distinct values, so that EQUAL / NOT_EQUAL see both outcomes
    return x * 2


#: id -> (opcode under test, input shapes, TF function, numpy reference).
CASES: dict[str, Case] = {
    "floor": ("FLOOR", ONE, tf.floor, np.floor),
    "neg": ("NEG", ONE, lambda x: -x, lambda x: -x),
    "sin": ("SIN", ONE, tf.sin, np.sin),
    "cos": ("COS", ONE, tf.cos, np.cos),
    "ceil": ("CEIL", ONE, lambda x: tf.math.ceil(x * 3.0), lambda x: np.ceil(x * np.float32(3.0))),
    "round_half_even": ("ROUND", ONE, lambda x: tf.round(tf.floor(x * 8.0) * 0.5),
                        lambda x: np.round(np.floor(x * np.float32(8.0)) * np.float32(0.5))),
    "abs": ("ABS", ONE, tf.abs, np.abs),
    "abs_int": ("ABS", INT2, lambda x, y: tf.abs(x - y), lambda x, y: np.abs(x - y)),
    "sign": ("SIGN", ONE, lambda x: tf.sign(tf.round(x)), lambda x: np.sign(np.round(x))),
    "exp": ("EXP", ONE, tf.math.exp, np.exp),
    "log": ("LOG", ONE, lambda x: tf.math.log(tf.abs(x) + 0.1), lambda x: np.log(np.abs(x) + np.float32(0.1))),
    "sqrt": ("SQRT", ONE, lambda x: tf.sqrt(tf.abs(x)), lambda x: np.sqrt(np.abs(x))),
    "rsqrt": ("RSQRT", ONE, lambda x: tf.math.rsqrt(tf.abs(x) + 0.1),
              lambda x: 1 / np.sqrt(np.abs(x) + np.float32(0.1))),
    "square": ("SQUARE", ONE, tf.square, np.square),
    "cast": ("CAST", ONE, lambda x: tf.cast(x * 4, tf.int32), lambda x: (x * 4).astype(np.int32)),
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
}
#: Cases whose operands test_binary.check_table_case swaps, or whose interpreter runs at batch 1 only (none here).
C_FIRST: set[str] = set()
BATCH_1_CONSTANT: set[str] = set()
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"floor": "Unary", "cast": "Cast", "greater_const_first": "Compare", "select_v2_const": "Select"}


def test_every_op_of_the_module_has_a_case() -> None:
    opcodes = {*math_ops.UNARY_OPS, "CAST", *math_ops.COMPARE_OPS, "SELECT", "SELECT_V2"}
    assert opcodes <= {case[0] for case in CASES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    check_table_case(sys.modules[__name__], name, function_to_tflite, tmp_path)


def test_layer_configs_round_trip() -> None:
    from tflite2keras import layers

    made = [layers.Unary("sin"), layers.Cast("int32"),
            layers.Compare("equal", [None, {"value": [1.0], "dtype": "float32"}]),
            layers.Select(constants=[{"value": True, "dtype": "bool"}, None, None])]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="no variable operands"):
        layers.Compare("less", variable_shapes=[None, [5]])


@pytest.mark.parametrize("dtype", ["int32", "float32"])
@pytest.mark.parametrize("opcode", ["CAST"])
def test_fold_is_the_kernel(opcode: str, dtype: str, function_to_tflite: Any) -> None:
    check_fold_is_the_kernel(opcode, dtype, {}, function_to_tflite)
