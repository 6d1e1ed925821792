"""ops/elementwise.py: ADD, MUL and SUB from Keras merge layers, TF functions and with constant operands (either
side, float and integer), against the interpreter and numpy; constant operands as weights; the folds.

The tables run through test_binary.py's helpers (operands swapped for ``C_FIRST``, reloaded with ``RELOAD``).
"""

from __future__ import annotations

import sys
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from oneop import MODEL_SHAPE, Case, model_case
from test_binary import (
    C5,
    C91,
    I5,
    INT,
    ONE,
    SHAPE,
    TWO,
    check_fold_is_the_kernel,
    check_integer_constant,
    check_table_case,
    check_trainable,
)

import tflite2keras as t2k

L = keras.layers
#: A constant as wide as the input (batch aside), and one that broadcasts over all but the channels.
RAMP = np.linspace(0.5, 2, 21, dtype=np.float32).reshape(1, 7, 3)
CHANNELS = np.linspace(-1, 1, 3, dtype=np.float32)

#: id -> a one-op case (oneop.Case, or (opcode under test, input shapes, TF function, numpy reference)).
CASES: dict[str, Case] = {
    "add_layer": model_case("ADD", lambda: L.Add(), MODEL_SHAPE, MODEL_SHAPE),
    "mul_layer": model_case("MUL", lambda: L.Multiply(), MODEL_SHAPE, MODEL_SHAPE),
    "sub_layer": model_case("SUB", lambda: L.Subtract(), MODEL_SHAPE, MODEL_SHAPE),
    "mul_constant": Case("MUL", ((5, 7, 3),), lambda x: x * tf.constant(RAMP), per_layer=True),
    "add_constant": Case("ADD", ((5, 7, 3),), lambda x: x + tf.constant(CHANNELS), per_layer=True),
    "sub": ("SUB", TWO, tf.subtract, np.subtract),
    "sub_const": ("SUB", ONE, lambda x: x - C5, lambda x: x - C5),
    "sub_const_first": ("SUB", ONE, lambda x: C91 - x, lambda x: C91 - x),
    "sub_int_const": ("SUB", INT, lambda x: x - 3, lambda x: x - 3),
    "add_const_first": ("ADD", ONE, lambda x: x + C91, lambda x: C91 + x),
    "mul_const_first": ("MUL", ONE, lambda x: x * C5, lambda x: C5 * x),
    "add_int_const": ("ADD", INT, lambda x: x + I5, lambda x: x + I5),
}
#: The TF converter puts the constant of a commutative op second: these files have the operands swapped.
C_FIRST = {"add_const_first", "mul_const_first"}
#: Cases whose interpreter runs at batch 1 only (none here).
BATCH_1_CONSTANT: set[str] = set()
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"sub_const_first": "Binary"}


def test_every_op_of_the_module_has_a_case() -> None:
    assert {"ADD", "SUB", "MUL"} <= {case[0] for case in CASES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    check_table_case(sys.modules[__name__], name, function_to_tflite, tmp_path)


#: case id -> (the variable's name, whether a gradient step reaches it).
TRAINABLE = {"sub_const": ("rhs", True), "sub_const_first": ("lhs", True), "add_const_first": ("lhs", True)}


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_float_constant_operand_is_a_trainable_weight(name: str, function_to_tflite: Any) -> None:
    check_trainable(sys.modules[__name__], name, function_to_tflite)


@pytest.mark.parametrize("name", ["sub_int_const"])
def test_integer_constant_stays_fixed_in_the_config(name: str, function_to_tflite: Any) -> None:
    check_integer_constant(CASES[name], function_to_tflite)


#: opcode -> TF function of two operands, for the folds.
FOLDED = {"ADD": tf.add, "SUB": tf.subtract, "MUL": tf.multiply}


@pytest.mark.parametrize("dtype", ["int32", "float32"])
@pytest.mark.parametrize("opcode", sorted(FOLDED))
def test_fold_is_the_kernel(opcode: str, dtype: str, function_to_tflite: Any) -> None:
    check_fold_is_the_kernel(opcode, dtype, FOLDED, function_to_tflite)


def test_sub_broadcast_against_the_batch_converts_with_fixed_shapes(function_to_tflite: Any) -> None:
    data = function_to_tflite(tf.subtract, SHAPE, (5,))
    with pytest.warns(UserWarning, match=r"fixed shapes.*\(SUB\) input 1 of shape \(1, 5\) broadcasts against the batch"):
        model = t2k.convert(data)
    assert model.fixed_shape and t2k.verify(model, data).ok
