"""ops/math.py, ops/binary.py, ops/elementwise.py and ops/reduce.py: one-op models from TF functions
against the interpreter and numpy."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from oneop import Case, check_case

import tflite2keras as t2k
from tflite2keras.ops import binary as binary_ops
from tflite2keras.ops import math as math_ops
from tflite2keras.ops import reduce as reduce_ops

SHAPE = (7, 9, 5)  # odd extents, all different
C5 = np.linspace(-1, 1, 5, dtype=np.float32)
C91 = np.linspace(-0.5, 0.5, 9, dtype=np.float32).reshape(9, 1)
TABLE = np.linspace(-3, 3, 4 * 3, dtype=np.float32).reshape(4, 3)  # looked up by indices 0..3
FULL = np.linspace(-2, 2, 7 * 9 * 5, dtype=np.float32).reshape(1, 7, 9, 5)  # TFLite's ATAN2 does not broadcast
ONE, TWO = (SHAPE,), (SHAPE, SHAPE)
INT, INT2 = ((SHAPE, "int32"),), ((SHAPE, "int32"),) * 2
I5 = np.array([3, -2, 1, -4, 2], np.int32)  # a non-zero integer divisor of both signs
SHIFTS = np.int32([40, -3, 0, 31, 1])  # TFLite clamps a shift to [0, 31]
P5 = np.linspace(0.5, 1.5, 5, dtype=np.float32)  # positive bases and divisors
#: The TF converter puts the constant of a commutative op second: these files have the operands swapped.
C_FIRST = {"add_const_first", "mul_const_first", "squared_difference_const_first"}


def _f2(x: Any) -> Any:  # few distinct values, so that EQUAL / NOT_EQUAL see both outcomes
    return x * 2


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
    "sub": ("SUB", TWO, tf.subtract, np.subtract),
    "sub_const": ("SUB", ONE, lambda x: x - C5, lambda x: x - C5),
    "sub_const_first": ("SUB", ONE, lambda x: C91 - x, lambda x: C91 - x),
    "sub_int_const": ("SUB", INT, lambda x: x - 3, lambda x: x - 3),
    "add_const_first": ("ADD", ONE, lambda x: x + C91, lambda x: C91 + x),
    "mul_const_first": ("MUL", ONE, lambda x: x * C5, lambda x: C5 * x),
    "add_int_const": ("ADD", INT, lambda x: x + I5, lambda x: x + I5),
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
RELOAD = {"floor": "Unary", "cast": "Cast", "sub_const_first": "Binary", "minimum": "Minimum", "add_n": "Add",
          "greater_const_first": "Compare", "select_v2_const": "Select", "sum_keep_all": "Reduce",
          "reduce_max_spatial": "GlobalMaxPooling2D", "gather_table": "Gather", "pack_last": "Pack"}


def _swap_operands(data: bytes, opcode: str) -> bytes:
    """The model with the (one) ``opcode`` op's two inputs swapped, written through JSON."""
    doc = json.loads(t2k.to_json(data))
    (op,) = [op for op in doc["subgraphs"][0]["operators"] if op["opcode"] == opcode]
    op["inputs"] = op["inputs"][::-1]
    return t2k.from_json(json.dumps(doc))


def test_every_op_of_the_modules_has_a_case() -> None:
    opcodes = {*math_ops.UNARY_OPS, "CAST", *binary_ops.BINARY_OPS, "ADD_N", "ADD", "SUB", "MUL",
               *math_ops.COMPARE_OPS, "SELECT", "SELECT_V2",
               *reduce_ops.REDUCE_OPS, "GATHER", "PACK"}
    assert opcodes <= {case[0] for case in CASES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    case = CASES[name]
    batches = (1,) if name in BATCH_1_CONSTANT else (1, 3)
    data = function_to_tflite(case[2], *case[1])
    if name in C_FIRST:
        data = _swap_operands(data, case[0])
    check_case(case, data, tmp_path, RELOAD.get(name), batches)


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
    made = [layers.Binary("floor_mod", [{"value": [2], "dtype": "int32"}, None]),
            layers.Binary("subtract", variable_shapes=[None, [1, 5]])]
    for layer in made:
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="unknown fn"):
        layers.Binary("no_such_fn")
    with pytest.raises(ValueError, match="no variable operands"):
        layers.Compare("less", variable_shapes=[None, [5]])
    with pytest.raises(ValueError, match="both a constant and a variable"):
        layers.Binary("power", [None, {"value": 2.0, "dtype": "float32"}], [None, [1]])


#: case id -> (the variable's name, whether a gradient step reaches it).
TRAINABLE = {"sub_const": ("rhs", True), "sub_const_first": ("lhs", True), "add_const_first": ("lhs", True),
             "div_const_first": ("lhs", True), "pow_const": ("rhs", True), "pow_const_first": ("lhs", True),
             "squared_difference_const_first": ("lhs", True), "maximum_const": ("rhs", True),
             "atan2_const": ("rhs", True), "floor_mod_const": ("rhs", True), "floor_div_const": ("rhs", False)}


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_float_constant_operand_is_a_trainable_weight(name: str, function_to_tflite: Any) -> None:
    import keras

    opcode, specs, function, _ = CASES[name]
    data = function_to_tflite(function, *specs)
    data = _swap_operands(data, opcode) if name in C_FIRST else data
    tfl = t2k.read(data)
    (op,) = [op for op in tfl.operators if op.opcode == opcode]
    slot = 0 if TRAINABLE[name][0] == "lhs" else 1
    model = t2k.convert(data)
    (layer,) = [la for la in model.layers if type(la).__name__ == "Binary"]
    (variable,) = layer.weights
    assert variable.name == TRAINABLE[name][0] and variable.trainable
    file_value = tfl.constant(op.inputs[slot]).reshape(tfl.tensor(op.inputs[slot]).shape)
    np.testing.assert_array_equal(np.asarray(variable), file_value)
    if not TRAINABLE[name][1]:
        return  # floor's gradient is zero
    batch = 3 if name not in BATCH_1_CONSTANT else 1
    x = np.random.default_rng(0).uniform(-1, 1, (batch, *SHAPE)).astype(np.float32)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(x, np.asarray(model(x)) + 1)
    assert not np.array_equal(np.asarray(variable), file_value)


@pytest.mark.parametrize("name", ["sub_int_const", "floor_div_int_const", "minimum_int_const", "bitwise_xor_const"])
def test_integer_constant_stays_fixed_in_the_config(name: str, function_to_tflite: Any) -> None:
    opcode, specs, function, _ = CASES[name]
    model = t2k.convert(function_to_tflite(function, *specs))
    (layer,) = [la for la in model.layers if type(la).__name__ == "Binary"]
    assert not layer.weights
    (constant,) = [c for c in layer.get_config()["constants"] if c is not None]
    assert constant["dtype"] == "int32"


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


#: opcode -> TF function of two operands, for the folds.
FOLDED = {"ADD": tf.add, "SUB": tf.subtract, "MUL": tf.multiply, "DIV": tf.truncatediv, "FLOOR_DIV": tf.math.floordiv,
          "FLOOR_MOD": tf.math.floormod, "MAXIMUM": tf.maximum, "MINIMUM": tf.minimum}


@pytest.mark.parametrize("dtype", ["int32", "float32"])
@pytest.mark.parametrize("opcode", sorted(FOLDED) + ["CAST"])
def test_fold_is_the_kernel(opcode: str, dtype: str, function_to_tflite: Any) -> None:
    from tflite2keras.verification.reference import make_interpreter, run

    rng = np.random.default_rng(1)
    a = rng.integers(-9, 9, (1, 41)).astype(dtype) if dtype == "int32" else rng.uniform(-9, 9, (1, 41)).astype(dtype)
    b = np.array([[-4, -3, -2, -1, 1, 2, 3, 4] * 5 + [7]], dtype) * (1 if dtype == "int32" else np.float32(0.37))
    if opcode == "CAST":
        feed = [a]
        data = function_to_tflite(lambda x: tf.cast(x, tf.float32 if dtype == "int32" else tf.int32), ((41,), dtype))
    else:
        feed = [a, b]
        function = tf.divide if opcode == "DIV" and dtype == "float32" else FOLDED[opcode]
        data = function_to_tflite(function, ((41,), dtype), ((41,), dtype))
    tfl = t2k.read(data)
    (op,) = [op for op in tfl.operators if op.opcode == opcode]
    want = run(make_interpreter(tfl), feed)[0][0]
    (got,) = t2k.registry.get(opcode).fold(op, feed)
    got = np.asarray(got).astype(want.dtype)  # CAST without out_data_type: shapes.fold casts to the output type
    np.testing.assert_array_equal(got, want)


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
    ((SHAPE, (5,)), tf.math.floormod, r"\(FLOOR_MOD\) input 1 of shape \(1, 5\) broadcasts against the batch axis"),
    ((SHAPE, (5,)), tf.subtract, r"\(SUB\) input 1 of shape \(1, 5\) broadcasts against the batch axis"),
    (TWO, lambda x, y: tf.math.add_n([x, y, FULL]), r"op 0 \(ADD_N\) has a constant input"),
])
def test_binary_raises(specs: Any, function: Any, message: str, function_to_tflite: Any) -> None:
    with pytest.raises(t2k.UnsupportedOpError, match=message):
        t2k.convert(function_to_tflite(function, *specs))

