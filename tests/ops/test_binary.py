"""ops/binary.py: DIV, POW, FLOOR_DIV, FLOOR_MOD, SQUARED_DIFFERENCE, MINIMUM, MAXIMUM, ATAN2, RIGHT_SHIFT,
BITWISE_XOR and ADD_N: one-op models from TF functions against the interpreter and numpy; constant operands
as weights; the folds.

The shared helpers of the binary-op tables (:func:`swap_operands`, :func:`check_trainable`,
:func:`check_integer_constant`, :func:`check_fold_is_the_kernel`) serve test_elementwise.py and
test_math.py too.
"""

from __future__ import annotations

import json
import sys
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case, tflite_of

import tflite2keras as t2k
from tflite2keras.ops import binary as binary_ops

SHAPE = (7, 9, 5)  # odd extents, all different
C5 = np.linspace(-1, 1, 5, dtype=np.float32)
C91 = np.linspace(-0.5, 0.5, 9, dtype=np.float32).reshape(9, 1)
FULL = np.linspace(-2, 2, 7 * 9 * 5, dtype=np.float32).reshape(1, 7, 9, 5)  # TFLite's ATAN2 does not broadcast
ONE, TWO = (SHAPE,), (SHAPE, SHAPE)
INT, INT2 = ((SHAPE, "int32"),), ((SHAPE, "int32"),) * 2
I5 = np.array([3, -2, 1, -4, 2], np.int32)  # a non-zero integer divisor of both signs
SHIFTS = np.int32([40, -3, 0, 31, 1])  # TFLite clamps a shift to [0, 31]
P5 = np.linspace(0.5, 1.5, 5, dtype=np.float32)  # positive bases and divisors
#: The TF converter puts the constant of a commutative op second: these files have the operands swapped.
C_FIRST = {"squared_difference_const_first"}


def _ints(x: Any) -> Any:  # integers -9..8 of both signs from a float input
    return tf.cast(tf.floor(x * 9.0), tf.int32)


def _divisor(y: Any) -> Any:  # non-zero integers -4..4 from a float input
    return tf.cast(tf.sign(y) * tf.math.ceil(tf.abs(y) * 3.5), tf.int32)


def _np_ints(x: Any) -> Any:
    return np.floor(x * np.float32(9.0)).astype(np.int32)


def _np_divisor(y: Any) -> Any:
    return (np.sign(y) * np.ceil(np.abs(y) * np.float32(3.5))).astype(np.int32)


#: id -> (opcode under test, input shapes, TF function, numpy reference).
CASES: dict[str, Case] = {
    "div": ("DIV", TWO, tf.divide, np.divide),
    "div_const_first": ("DIV", ONE, lambda x: C91 / x, lambda x: C91 / x),
    "div_broadcast": ("DIV", TWO, lambda x, y: x / (y[:, :1] + 2.0), lambda x, y: x / (y[:, :1] + np.float32(2.0))),
    "div_int": ("DIV", TWO, lambda x, y: tf.truncatediv(_ints(x), _divisor(y)),
                lambda x, y: binary_ops.np_divide(_np_ints(x), _np_divisor(y))),
    "div_int_const": ("DIV", ONE, lambda x: tf.truncatediv(_ints(x), I5), lambda x: np.trunc(_np_ints(x) / I5)),
    "pow": ("POW", TWO, lambda x, y: tf.pow(tf.abs(x) + 0.5, y), lambda x, y: np.power(np.abs(x) + np.float32(0.5), y)),
    "pow_const": ("POW", ONE, lambda x: tf.pow(tf.abs(x) + 0.5, C5),
                  lambda x: np.power(np.abs(x) + np.float32(0.5), C5)),
    "pow_const_first": ("POW", ONE, lambda x: tf.pow(P5, x), lambda x: np.power(P5, x)),
    "pow_int": ("POW", INT2, tf.pow, np.power),
    "floor_div": ("FLOOR_DIV", TWO, tf.math.floordiv, binary_ops.np_floor_divide),
    "floor_div_const": ("FLOOR_DIV", ONE, lambda x: tf.math.floordiv(x, P5 - 1.01),
                        lambda x: binary_ops.np_floor_divide(x, P5 - np.float32(1.01))),
    "floor_div_const_first": ("FLOOR_DIV", ONE, lambda x: tf.math.floordiv(C91, x),
                              lambda x: binary_ops.np_floor_divide(C91, x)),
    "floor_div_int": ("FLOOR_DIV", TWO, lambda x, y: tf.math.floordiv(_ints(x), _divisor(y)),
                      lambda x, y: _np_ints(x) // _np_divisor(y)),
    "floor_div_int_const": ("FLOOR_DIV", ONE, lambda x: tf.math.floordiv(_ints(x), I5), lambda x: _np_ints(x) // I5),
    "floor_mod": ("FLOOR_MOD", TWO, tf.math.floormod, binary_ops.np_floor_mod),
    "floor_mod_const": ("FLOOR_MOD", ONE, lambda x: tf.math.floormod(x * 3.0, C5 + 0.01),
                        lambda x: binary_ops.np_floor_mod(x * np.float32(3.0), C5 + np.float32(0.01))),
    "floor_mod_const_first": ("FLOOR_MOD", ONE, lambda x: tf.math.floormod(C91, x),
                              lambda x: binary_ops.np_floor_mod(C91, x)),
    "floor_mod_int": ("FLOOR_MOD", TWO, lambda x, y: tf.math.floormod(_ints(x), _divisor(y)),
                      lambda x, y: np.mod(_np_ints(x), _np_divisor(y))),
    "floor_mod_int_const": ("FLOOR_MOD", ONE, lambda x: tf.math.floormod(_ints(x), I5),
                            lambda x: np.mod(_np_ints(x), I5)),
    "squared_difference": ("SQUARED_DIFFERENCE", TWO, tf.math.squared_difference, lambda x, y: np.square(x - y)),
    "squared_difference_const": ("SQUARED_DIFFERENCE", ONE, lambda x: tf.math.squared_difference(x, C5),
                                 lambda x: np.square(x - C5)),
    "squared_difference_const_first": ("SQUARED_DIFFERENCE", ONE, lambda x: tf.math.squared_difference(C91, x),
                                       lambda x: np.square(C91 - x)),
    "add_n": ("ADD_N", TWO, lambda x, y: tf.math.add_n([x, y, x]), lambda x, y: x + y + x),
    "right_shift": ("RIGHT_SHIFT", (SHAPE, *INT), lambda x, y: tf.bitwise.right_shift(_ints(x), y),
                    lambda x, y: _np_ints(x) >> y),
    "right_shift_clamped": ("RIGHT_SHIFT", ONE, lambda x: tf.bitwise.right_shift(_ints(x), SHIFTS),
                            lambda x: _np_ints(x) >> np.int32([31, 0, 0, 31, 1])),
    "bitwise_xor": ("BITWISE_XOR", INT2, tf.bitwise.bitwise_xor, np.bitwise_xor),
    "bitwise_xor_const": ("BITWISE_XOR", INT, lambda x: tf.bitwise.bitwise_xor(x, I5), lambda x: x ^ I5),
    "minimum_int_const": ("MINIMUM", INT, lambda x: tf.minimum(x, I5), lambda x: np.minimum(x, I5)),
    "minimum": ("MINIMUM", TWO, tf.minimum, np.minimum),
    "minimum_const_first": ("MINIMUM", ONE, lambda x: tf.minimum(C91, x), lambda x: np.minimum(C91, x)),
    "maximum_const": ("MAXIMUM", ONE, lambda x: tf.maximum(x, C5), lambda x: np.maximum(x, C5)),
    "maximum_broadcast": ("MAXIMUM", TWO, lambda x, y: tf.maximum(x, y[:, :1]), lambda x, y: np.maximum(x, y[:, :1])),
    "atan2": ("ATAN2", TWO, tf.atan2, np.arctan2),
    "atan2_const_first": ("ATAN2", ONE, lambda x: tf.atan2(FULL, x), lambda x: np.arctan2(FULL, x)),
    "atan2_const": ("ATAN2", ONE, lambda x: tf.atan2(x, FULL), lambda x: np.arctan2(x, FULL)),
}
#: A constant of batch 1 that TFLite's kernel does not broadcast: its interpreter runs at batch 1 only.
BATCH_1_CONSTANT = {"atan2_const", "atan2_const_first"}
#: One case per layer class: its model is saved and reloaded in safe mode.
RELOAD = {"minimum": "Minimum", "add_n": "Add"}


def swap_operands(data: bytes, opcode: str) -> bytes:
    """The model with the (one) ``opcode`` op's two inputs swapped, written through JSON."""
    doc = json.loads(t2k.to_json(data))
    (op,) = [op for op in doc["subgraphs"][0]["operators"] if op["opcode"] == opcode]
    op["inputs"] = op["inputs"][::-1]
    return t2k.from_json(json.dumps(doc))


def check_table_case(table: ModuleType, name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    """``table.CASES[name]`` against the interpreter: operands swapped for ``table.C_FIRST``, at batch 1 only
    for ``table.BATCH_1_CONSTANT``, reloaded with ``table.RELOAD``."""
    case = table.CASES[name]
    batches = (1,) if name in table.BATCH_1_CONSTANT else (1, 3)
    data = tflite_of(case, function_to_tflite)
    if name in table.C_FIRST:
        data = swap_operands(data, case[0])
    check_case(case, data, tmp_path, table.RELOAD.get(name), batches)


def test_every_op_of_the_module_has_a_case() -> None:
    opcodes = {*binary_ops.BINARY_OPS, "ADD_N"}
    assert opcodes <= {case[0] for case in CASES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    check_table_case(sys.modules[__name__], name, function_to_tflite, tmp_path)


def test_layer_configs_round_trip() -> None:
    from tflite2keras import layers

    made = [layers.Binary("floor_mod", [{"value": [2], "dtype": "int32"}, None]),
            layers.Binary("subtract", variable_shapes=[None, [1, 5]])]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="unknown fn"):
        layers.Binary("no_such_fn")
    with pytest.raises(ValueError, match="both a constant and a variable"):
        layers.Binary("power", [None, {"value": 2.0, "dtype": "float32"}], [None, [1]])


def check_trainable(table: ModuleType, name: str, function_to_tflite: Any) -> None:
    """``table.TRAINABLE[name]``: the case's float constant operand is the Binary layer's one trainable
    variable (named lhs or rhs), holding the file's value, and (where the gradient is not zero) one SGD
    step moves it."""
    import keras

    opcode, specs, function, _ = table.CASES[name]
    data = function_to_tflite(function, *specs)
    data = swap_operands(data, opcode) if name in table.C_FIRST else data
    tfl = t2k.read(data)
    (op,) = [op for op in tfl.operators if op.opcode == opcode]
    slot = 0 if table.TRAINABLE[name][0] == "lhs" else 1
    model = t2k.convert(data)
    (layer,) = [la for la in model.layers if type(la).__name__ == "Binary"]
    (variable,) = layer.weights
    assert variable.name == table.TRAINABLE[name][0] and variable.trainable
    file_value = tfl.constant(op.inputs[slot]).reshape(tfl.tensor(op.inputs[slot]).shape)
    np.testing.assert_array_equal(np.asarray(variable), file_value)
    if not table.TRAINABLE[name][1]:
        return  # floor's gradient is zero
    batch = 3 if name not in table.BATCH_1_CONSTANT else 1
    x = np.random.default_rng(0).uniform(-1, 1, (batch, *SHAPE)).astype(np.float32)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(x, np.asarray(model(x)) + 1)
    assert not np.array_equal(np.asarray(variable), file_value)


#: case id -> (the variable's name, whether a gradient step reaches it).
TRAINABLE = {"div_const_first": ("lhs", True), "pow_const": ("rhs", True), "pow_const_first": ("lhs", True),
             "squared_difference_const_first": ("lhs", True), "maximum_const": ("rhs", True),
             "atan2_const": ("rhs", True), "floor_mod_const": ("rhs", True), "floor_div_const": ("rhs", False)}


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_float_constant_operand_is_a_trainable_weight(name: str, function_to_tflite: Any) -> None:
    check_trainable(sys.modules[__name__], name, function_to_tflite)


def check_integer_constant(case: Case, function_to_tflite: Any) -> None:
    """The case's integer constant operand stays in the Binary layer's config, not a weight."""
    opcode, specs, function, _ = case
    model = t2k.convert(function_to_tflite(function, *specs))
    (layer,) = [la for la in model.layers if type(la).__name__ == "Binary"]
    assert not layer.weights
    (constant,) = [c for c in layer.get_config()["constants"] if c is not None]
    assert constant["dtype"] == "int32"


@pytest.mark.parametrize("name", ["floor_div_int_const", "minimum_int_const", "bitwise_xor_const"])
def test_integer_constant_stays_fixed_in_the_config(name: str, function_to_tflite: Any) -> None:
    check_integer_constant(CASES[name], function_to_tflite)


def test_floor_div_takes_the_double_quotient_of_the_kernel(function_to_tflite: Any) -> None:
    """``x / y`` rounds up onto an integer in float32 for these pairs; TFLite divides in double."""
    from tflite2keras.verification.reference import make_interpreter, run

    x = np.float32([5.004443, 7.537869, 1.6057626, -0.8567472, -25.27478, 0.42876235, -27.18927, 6.0, -6.0])
    y = np.float32([0.29437903, 0.37689346, -0.5352542, 0.1427912, -0.7221366, -0.14292078, 0.5784951, 2.0, 4.0])
    assert np.sum(np.floor(x / y) != np.floor(x.astype(np.float64) / y)) == 7
    data = function_to_tflite(tf.math.floordiv, (9,), (9,))
    want = run(make_interpreter(t2k.read(data)), [x[None], y[None]])[0][0]
    np.testing.assert_array_equal(np.asarray(t2k.convert(data)([x[None], y[None]])), want)
    np.testing.assert_array_equal(binary_ops.np_floor_divide(x, y)[None], want)


def check_fold_is_the_kernel(opcode: str, dtype: str, folded: dict[str, Any], function_to_tflite: Any) -> None:
    """The op's fold (CAST, or the binary op ``folded[opcode]`` traces) is what the interpreter computes."""
    from tflite2keras.verification.reference import make_interpreter, run

    rng = np.random.default_rng(1)
    a = rng.integers(-9, 9, (1, 41)).astype(dtype) if dtype == "int32" else rng.uniform(-9, 9, (1, 41)).astype(dtype)
    b = np.array([[-4, -3, -2, -1, 1, 2, 3, 4] * 5 + [7]], dtype) * (1 if dtype == "int32" else np.float32(0.37))
    if opcode == "CAST":
        feed = [a]
        data = function_to_tflite(lambda x: tf.cast(x, tf.float32 if dtype == "int32" else tf.int32), ((41,), dtype))
    else:
        feed = [a, b]
        function = tf.divide if opcode == "DIV" and dtype == "float32" else folded[opcode]
        data = function_to_tflite(function, ((41,), dtype), ((41,), dtype))
    tfl = t2k.read(data)
    (op,) = [op for op in tfl.operators if op.opcode == opcode]
    want = run(make_interpreter(tfl), feed)[0][0]
    (got,) = t2k.registry.get(opcode).fold(op, feed)
    got = np.asarray(got).astype(want.dtype)  # CAST without out_data_type: shapes.fold casts to the output type
    np.testing.assert_array_equal(got, want)


#: opcode -> TF function of two operands, for the folds.
FOLDED = {"DIV": tf.truncatediv, "FLOOR_DIV": tf.math.floordiv, "FLOOR_MOD": tf.math.floormod, "MAXIMUM": tf.maximum,
          "MINIMUM": tf.minimum}


@pytest.mark.parametrize("dtype", ["int32", "float32"])
@pytest.mark.parametrize("opcode", sorted(FOLDED))
def test_fold_is_the_kernel(opcode: str, dtype: str, function_to_tflite: Any) -> None:
    check_fold_is_the_kernel(opcode, dtype, FOLDED, function_to_tflite)


def test_fold_applies_the_fused_activation(function_to_tflite: Any) -> None:
    from tflite2keras.verification.reference import make_interpreter, run

    data = function_to_tflite(lambda x, y: tf.nn.relu6(x / y), (9,), (9,))
    tfl = t2k.read(data)
    (op,) = tfl.operators
    assert (op.opcode, op.options["fused_activation_function"]) == ("DIV", "RELU6")
    a, b = np.float32([np.linspace(-9, 9, 9)]), np.float32([[0.5, -1, 2, 0.25, 1, 3, -0.5, 0.7, 1]])
    np.testing.assert_array_equal(binary_ops.fold_binary(op, [a, b])[0], run(make_interpreter(tfl), [a, b])[0][0])
    with pytest.raises(t2k.UnsupportedOpError, match="divides by 0"):
        binary_ops.fold_binary(t2k.read(function_to_tflite(tf.math.floordiv, (3,), (3,))).operators[0],
                               [np.ones(3, np.float32), np.float32([1, 0, 2])])


@pytest.mark.parametrize("specs, function, message", [
    (ONE, lambda x: tf.truncatediv(_ints(x), np.int32([1, 0, 2, 1, 1])), r"op 3 \(DIV\) divides by a constant 0"),
    (TWO, lambda x, y: tf.math.add_n([x, y, FULL]), r"op 0 \(ADD_N\) has a constant input"),
])
def test_binary_raises(specs: Any, function: Any, message: str, function_to_tflite: Any) -> None:
    with pytest.raises(t2k.UnsupportedOpError, match=message):
        t2k.convert(function_to_tflite(function, *specs))


def test_broadcast_against_axis_0_converts_with_fixed_shapes(function_to_tflite: Any) -> None:
    data = function_to_tflite(tf.math.floormod, SHAPE, (5,))  # y (1, 5) lines up with axes 2-3 of x (1, 7, 9, 5)
    with pytest.warns(UserWarning, match=r"\(FLOOR_MOD\) input 1 of shape \(1, 5\) broadcasts against the batch"):
        model = t2k.convert(data)
    assert [tuple(x.shape) for x in model.inputs] == [(1, *SHAPE), (1, 5)]
    assert t2k.verify(model, data).ok
