"""ops/elementwise.py: ADD, MUL and SUB from Keras merge layers and with constant operands, against the interpreter.

(test_math.py holds more cases of these ops, with numpy references.)
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from oneop import MODEL_SHAPE, Case, check_case, model_case, tflite_of

L = keras.layers
#: A constant as wide as the input (batch aside), and one that broadcasts over all but the channels.
RAMP = np.linspace(0.5, 2, 21, dtype=np.float32).reshape(1, 7, 3)
CHANNELS = np.linspace(-1, 1, 3, dtype=np.float32)

#: id -> a one-op case (oneop.Case).
CASES: dict[str, Case] = {
    "add_layer": model_case("ADD", lambda: L.Add(), MODEL_SHAPE, MODEL_SHAPE),
    "mul_layer": model_case("MUL", lambda: L.Multiply(), MODEL_SHAPE, MODEL_SHAPE),
    "sub_layer": model_case("SUB", lambda: L.Subtract(), MODEL_SHAPE, MODEL_SHAPE),
    "mul_constant": Case("MUL", ((5, 7, 3),), lambda x: x * tf.constant(RAMP), per_layer=True),
    "add_constant": Case("ADD", ((5, 7, 3),), lambda x: x + tf.constant(CHANNELS), per_layer=True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    check_case(CASES[name], tflite_of(CASES[name], function_to_tflite), tmp_path)
