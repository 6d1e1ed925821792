"""ops/activation.py: activation ops from TF functions and Keras layers against the interpreter and numpy."""

from __future__ import annotations

import json
import math
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
import test_binary
import test_elementwise
import test_math
from oneop import Case, check_case, model_case, tflite_of

import tflite2keras as t2k

erf = np.vectorize(math.erf, otypes=[np.float64])  # scipy is not a declared dependency

SHAPE = (7, 9, 5)  # odd extents, all different
ONE, TWO = (SHAPE,), (SHAPE, SHAPE)


def _gelu_tanh(x: Any) -> Any:
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def _log_softmax(x: Any) -> Any:
    shifted = x - x.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _l2(x: Any) -> Any:
    return x / np.maximum(np.sqrt((x * x).sum(-1, keepdims=True)), 1e-6)


L = keras.layers
#: id -> (opcode under test, input shapes, TF function, numpy reference), or a Keras-model case (model_case).
CASES: dict[str, Case] = {
    # ATAN2 (no fused activation, range [-pi, pi]) in front, so that the clamp is an op of its own
    "relu_n1_to_1": ("RELU_N1_TO_1", TWO, lambda x, y: tf.clip_by_value(tf.atan2(x, y), -1.0, 1.0),
                     lambda x, y: np.clip(np.arctan2(x, y), -1, 1)),
    "relu_0_to_1": ("RELU_0_TO_1", TWO, lambda x, y: tf.nn.relu(tf.atan2(x, y)),
                    lambda x, y: np.clip(np.arctan2(x, y), 0, 1)),
    "leaky_relu": ("LEAKY_RELU", ONE, lambda x: tf.nn.leaky_relu(x, 0.15), lambda x: np.where(x > 0, x, x * 0.15)),
    "leaky_relu_steep": ("LEAKY_RELU", ONE, lambda x: tf.nn.leaky_relu(x, 1.75),
                         lambda x: np.where(x > 0, x, x * 1.75)),
    "elu": ("ELU", ONE, lambda x: tf.nn.elu(x * 3.0), lambda x: np.where(x > 0, x * 3, np.expm1(x * 3))),
    "gelu": ("GELU", ONE, lambda x: tf.nn.gelu(x * 3.0, approximate=False),
             lambda x: 0.5 * x * 3 * (1 + erf(x * 3 / np.sqrt(2)))),
    "gelu_approximate": ("GELU", ONE, lambda x: tf.nn.gelu(x * 3.0, approximate=True), lambda x: _gelu_tanh(x * 3)),
    "log_softmax": ("LOG_SOFTMAX", ONE, lambda x: tf.nn.log_softmax(x * 4.0), lambda x: _log_softmax(x * 4)),
    "l2_normalization": ("L2_NORMALIZATION", ONE, lambda x: tf.math.l2_normalize(x, axis=-1), _l2),
    "l2_normalization_rank2": ("L2_NORMALIZATION", ((9,),), lambda x: tf.math.l2_normalize(x, axis=-1), _l2),
    "prelu_layer": model_case("PRELU", lambda: L.PReLU(shared_axes=[1, 2], alpha_initializer="random_uniform"),
                              conv_first=True),
    "relu_layer": model_case("RELU", lambda: L.ReLU()),
    "relu6_layer": model_case("RELU6", lambda: L.ReLU(max_value=6)),
    "logistic_layer": model_case("LOGISTIC", lambda: L.Activation("sigmoid")),
    "tanh_layer": model_case("TANH", lambda: L.Activation("tanh")),
    "hard_swish_layer": model_case("HARD_SWISH", lambda: L.Activation("hard_swish")),
    "softmax_layer": model_case("SOFTMAX", lambda: L.Softmax(), (9,)),
}
#: Ops the TF converter does not write: the file is edited through JSON, id -> (written, wanted opcode).
EDITS = {"relu_0_to_1": ("RELU", "RELU_0_TO_1")}
RELOAD = {"gelu_approximate": "Activation", "l2_normalization": "L2Normalize", "leaky_relu": "LeakyReLU",
          "elu": "ELU", "relu_0_to_1": "ReLU"}


def _replace_opcode(data: bytes, written: str, wanted: str) -> bytes:
    """The model with every ``written`` op turned into ``wanted`` (an opcode > 127 takes the placeholder)."""
    doc = json.loads(t2k.to_json(data))
    for code in doc["operator_codes"]:
        if code["builtin_code"] == written:
            code["builtin_code"] = wanted
            code["deprecated_builtin_code"] = "PLACEHOLDER_FOR_GREATER_OP_CODES"
    for op in doc["subgraphs"][0]["operators"]:
        if op.get("opcode") == written:
            op["opcode"] = wanted
    return t2k.from_json(json.dumps(doc))


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, function_to_tflite: Any, tmp_path: Any) -> None:
    case = CASES[name]
    data = tflite_of(case, function_to_tflite)
    if name in EDITS:
        data = _replace_opcode(data, *EDITS[name])
    model = check_case(case, data, tmp_path, RELOAD.get(name))
    if name.startswith("gelu"):
        assert model.layers[-1].activation.__name__ == ("gelu_approximate" if "approximate" in name else "gelu")


def test_keras_targets_are_standard_layers(function_to_tflite: Any) -> None:
    import keras

    def last(name: str) -> Any:
        data = function_to_tflite(CASES[name][2], *CASES[name][1])
        return t2k.convert(data).layers[-1]

    leaky = last("leaky_relu")
    assert type(leaky) is keras.layers.LeakyReLU and leaky.negative_slope == pytest.approx(0.15)
    assert type(last("elu")) is keras.layers.ELU
    assert last("relu_n1_to_1").activation.__name__ == "hard_tanh"
    assert last("log_softmax").activation.__name__ == "log_softmax"


def test_l2_normalization_bounds_the_norm_like_tflite(function_to_tflite: Any) -> None:
    """Below a norm of 1e-6 TFLite divides by 1e-6 (Keras's UnitNormalization would use 1e-12)."""
    from tflite2keras.verification.reference import make_interpreter, run

    data = function_to_tflite(CASES["l2_normalization_rank2"][2], (9,))
    x = np.linspace(-1, 1, 3 * 9, dtype=np.float32).reshape(3, 9) * np.float32([[1], [1e-8], [0]])
    want = run(make_interpreter(t2k.read(data), batch=3), [x])[0][0]
    got = np.asarray(t2k.convert(data)(x))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(got[1], x[1] / 1e-6, rtol=1e-6)


@pytest.mark.parametrize("opcode, function", [
    ("LOG_SOFTMAX", tf.nn.log_softmax),
    ("L2_NORMALIZATION", lambda x: tf.math.l2_normalize(x, axis=-1)),
])
def test_last_axis_of_a_rank_1_input_is_the_batch(opcode: str, function: Any, function_to_tflite: Any) -> None:
    data = function_to_tflite(function, ())
    assert opcode in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError, match=rf"\({opcode}\).*batch axis"):
        t2k.convert(data)


def test_negative_leaky_relu_alpha_is_unsupported(function_to_tflite: Any) -> None:
    data = function_to_tflite(lambda x: tf.nn.leaky_relu(x, -0.5), SHAPE)
    assert "LEAKY_RELU" in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError, match=r"op 0 \(LEAKY_RELU\) has alpha=-0.5"):
        t2k.convert(data)


@pytest.mark.parametrize("function, right, wrong, field", [
    (lambda x: tf.nn.leaky_relu(x, 0.15), lambda k: k.LeakyReLU(negative_slope=0.15), lambda k: k.LeakyReLU(),
     "negative_slope"),
    (lambda x: tf.nn.gelu(x, approximate=True), None, lambda k: k.Activation("gelu"), "activation"),
    (lambda x: tf.nn.gelu(x, approximate=False), lambda k: k.Activation("gelu"), None, "activation"),
])
def test_lint_checks_leaky_relu_alpha_and_gelu_form(function: Any, right: Any, wrong: Any, field: str,
                                                     function_to_tflite: Any) -> None:
    import keras

    data = function_to_tflite(function, SHAPE)
    assert not t2k.lint(t2k.convert(data), data)
    inputs = keras.Input(SHAPE)
    if right is not None:
        assert not t2k.lint(keras.Model(inputs, right(keras.layers)(inputs)), data)
    if wrong is not None:
        found = t2k.lint(keras.Model(inputs, wrong(keras.layers)(inputs)), data)
        assert [f.field for f in found] == [field], found


JAX_CHILD = r"""
import os, sys
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np
import keras
import tflite2keras as t2k
assert keras.backend.backend() == "jax"
saved = np.load(sys.argv[1], allow_pickle=True).item()
for name, (data, feed, want) in saved.items():
    got = t2k.convert(data)(feed if len(feed) > 1 else feed[0])
    got = np.asarray(got)
    assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
    bound = 0 if want.dtype.kind in "biu" else 1e-4 + 1e-5 * float(np.max(np.abs(want)))
    assert float(np.max(np.abs(got.astype(np.float64) - want))) <= bound, (name, np.max(np.abs(got - want)))
assert "tensorflow" not in sys.modules
print("JAX OK", len(saved))
"""
ALL_CASES = {**test_math.CASES, **test_binary.CASES, **test_elementwise.CASES, **CASES}
#: The cases whose files have the operands swapped (test_binary.swap_operands).
C_FIRST = test_binary.C_FIRST | test_elementwise.C_FIRST
#: Cases run under the JAX backend (one per new activation, Binary and Unary function).
JAX_CASES = ["gelu_approximate", "l2_normalization", "leaky_relu", "relu_0_to_1", "log_softmax",
             "sub_const_first", "div_int", "floor_div", "floor_div_const_first", "floor_mod", "floor_mod_int",
             "pow_const", "squared_difference_const", "right_shift_clamped", "bitwise_xor", "round_half_even",
             "rsqrt", "sign", "add_n", "add_const_first"]


def test_layers_under_jax(function_to_tflite: Any, fresh_python: Any, tmp_path: Any) -> None:
    from oneop import inputs

    from tflite2keras.verification.reference import make_interpreter, run

    saved = {}
    for name in JAX_CASES:
        opcode, specs, function, _ = ALL_CASES[name]
        data = function_to_tflite(function, *specs)
        data = test_binary.swap_operands(data, opcode) if name in C_FIRST else data
        data = _replace_opcode(data, *EDITS[name]) if name in EDITS else data
        feed = inputs(specs, 3, 7)
        saved[name] = (data, feed, run(make_interpreter(t2k.read(data), batch=3), feed)[0][0])
    np.save(tmp_path / "cases.npy", np.array(saved, dtype=object), allow_pickle=True)
    done = fresh_python(JAX_CHILD.replace("sys.argv[1]", repr(str(tmp_path / "cases.npy"))))
    assert done.returncode == 0 and "JAX OK" in done.stdout, done.stderr[-3000:]
