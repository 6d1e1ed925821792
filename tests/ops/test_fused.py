"""tflite2keras.ops.fused: every TFLite fused activation, converted, linted and aligned from one table."""

from __future__ import annotations

from typing import Any

import flatbuffers
import keras
import numpy as np
import pytest
import tensorflow as tf
import tflite
from tensorflow.lite.python import schema_py_generated as schema

import tflite2keras as t2k
from tflite2keras.ops import fused as activations
from tflite2keras.ops import registry
from tflite2keras.ops.registry import OpSpec
from tflite2keras.tflite.model import Operator


def _conv(activation: str | None = None) -> keras.Model:
    keras.utils.set_random_seed(4)
    inputs = keras.Input((7, 9, 3), batch_size=1)
    layer = keras.layers.Conv2D(5, 3, activation=activation, name="conv",
                                kernel_initializer=keras.initializers.RandomNormal(stddev=1.0))
    return keras.Model(inputs, layer(inputs))


def _with_fused(data: bytes, name: str) -> bytes:
    """The model with every op's fused activation set to ``name``."""
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    for op in model.subgraphs[0].operators:
        if hasattr(op.builtinOptions, "fusedActivationFunction"):
            op.builtinOptions.fusedActivationFunction = getattr(tflite.ActivationFunctionType, name)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_the_table_covers_every_tflite_activation() -> None:
    names = {k for k, v in vars(tflite.ActivationFunctionType).items() if isinstance(v, int)}
    assert set(activations.KERAS) == names
    for keras_name in filter(None, activations.KERAS.values()):
        assert keras.activations.get(keras_name) is not None


@pytest.mark.parametrize("name", ["RELU", "RELU6", "RELU_N1_TO_1"])
def test_fused_clamps_convert_and_verify(name: str, to_tflite: Any) -> None:
    data = _with_fused(to_tflite(_conv()), name)
    assert t2k.read(data).operators[0].options["fused_activation_function"] == name
    model = t2k.convert(data)
    assert model.layers[-1].activation.__name__ == activations.KERAS[name]
    assert t2k.verify(model, data, samples=2, per_layer=True).ok
    assert not t2k.lint(_conv(activations.KERAS[name]), data)
    assert [f.field for f in t2k.lint(_conv(), data)] == ["activation"]


def test_sign_bit_has_no_keras_form(to_tflite: Any) -> None:
    data = _with_fused(to_tflite(_conv()), "SIGN_BIT")
    with pytest.raises(t2k.UnsupportedOpError) as caught:
        t2k.convert(data)
    for needle in ("op 0", "CONV_2D", "fused_activation_function", "SIGN_BIT"):
        assert needle in str(caught.value), (needle, str(caught.value))
    assert [(f.field, f.tflite) for f in t2k.lint(_conv(), data)] == [("activation", "sign_bit")]


def test_an_undeclared_fused_activation_does_not_convert(to_tflite: Any, scratch_registry: None) -> None:
    """The spec, not the option's presence, says whether an op fuses an activation."""
    data = to_tflite(_conv("relu"))
    builtin = registry.get("CONV_2D")
    registry.register_op(OpSpec("CONV_2D", layers=builtin.layers, weights=builtin.weights,
                                converter=builtin.converter), override=True)
    with pytest.raises(t2k.UnsupportedOpError, match=r"op 0 \(CONV_2D\) has fused_activation_function=RELU, "
                                                     r"but its op spec does not declare fused_activation"):
        t2k.convert(data)


def test_transpose_conv_activation_is_linted_and_converted(to_tflite: Any) -> None:
    def build(activation: str | None) -> keras.Model:
        keras.utils.set_random_seed(5)
        inputs = keras.Input((5, 6, 3), batch_size=1)
        layer = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation=activation, name="up",
                                             kernel_initializer=keras.initializers.RandomNormal(stddev=1.0))
        return keras.Model(inputs, layer(inputs))

    data = _with_fused(to_tflite(build(None)), "RELU")
    assert [op.opcode for op in t2k.read(data).operators] == ["TRANSPOSE_CONV"]
    assert not t2k.lint(build("relu"), data)
    assert [(f.field, f.keras, f.tflite) for f in t2k.lint(build(None), data)] == [("activation", "linear", "relu")]
    model = t2k.convert(data)
    assert model.layers[-1].activation.__name__ == "relu"
    assert t2k.verify(model, data, samples=2).ok


def _add_clip(function_to_tflite: Any, name: str = "RELU_N1_TO_1") -> bytes:
    """ADD with a fused activation: the TF converter fuses ``clip_by_value(x + y, -1, 1)`` as RELU_N1_TO_1."""
    data = function_to_tflite(lambda x, y: tf.clip_by_value(x * 3.0 + y, -1.0, 1.0), (7, 9, 5), (7, 9, 5))
    text = t2k.to_json(data)
    assert text.count('"RELU_N1_TO_1"') == 1, text
    return t2k.from_json(text.replace('"RELU_N1_TO_1"', f'"{name}"'))


def test_fused_relu_n1_to_1_from_the_converter(function_to_tflite: Any) -> None:
    data = _add_clip(function_to_tflite)
    (add,) = [op for op in t2k.read(data).operators if op.opcode == "ADD"]
    assert add.options["fused_activation_function"] == "RELU_N1_TO_1"
    model = t2k.convert(data)
    assert model.layers[-1].activation.__name__ == "hard_tanh"
    assert t2k.verify(model, data, samples=2, per_layer=True).ok


@pytest.mark.parametrize("name", ["TANH", "SIGN_BIT"])
def test_an_activation_a_clamping_kernel_ignores_does_not_convert(name: str, function_to_tflite: Any) -> None:
    """TFLite's ADD kernel leaves the sum unchanged under TANH / SIGN_BIT (checked here): no Keras form is right."""
    from tflite2keras.verification.reference import make_interpreter, run

    data = _add_clip(function_to_tflite, name)
    x, y = (np.random.default_rng(i).uniform(-1, 1, (1, 7, 9, 5)).astype(np.float32) for i in (1, 2))
    got = run(make_interpreter(t2k.read(data)), [x, y])[0][0]
    np.testing.assert_allclose(got, x * np.float32(3.0) + y, rtol=1e-6)
    with pytest.raises(t2k.UnsupportedOpError, match=rf"\(ADD\) has fused_activation_function={name}"):
        t2k.convert(data)


def test_recurrent_kernels_compute_tanh(scratch_registry: None) -> None:
    registry.register_op(OpSpec("UNIDIRECTIONAL_SEQUENCE_RNN", layers=("SimpleRNN",), fused_activation=True,
                                full_activation=True), override=True)
    options = {"fused_activation_function": "TANH"}
    rnn = Operator(3, "UNIDIRECTIONAL_SEQUENCE_RNN", 1, (0, 1), (2,), options)
    assert activations.keras_activation(rnn) == "tanh"
    with pytest.raises(t2k.UnsupportedOpError, match=r"op 4 \(ADD\) .*TFLite's ADD kernel ignores"):
        activations.keras_activation(Operator(4, "ADD", 1, (0, 1), (2,), options))


@pytest.mark.parametrize("name, want", [
    ("NONE", [-7, -1, 0, 1, 5, 9]), ("RELU", [0, 0, 0, 1, 5, 9]), ("RELU6", [0, 0, 0, 1, 5, 6]),
    ("RELU_N1_TO_1", [-1, -1, 0, 1, 1, 1]),
])
def test_clamp_folds_the_fused_activation(name: str, want: list[int]) -> None:
    op = Operator(0, "ADD", 1, (0, 1), (2,), {"fused_activation_function": name})
    for dtype in ("int32", "float32"):
        got = activations.clamp(op, np.array([-7, -1, 0, 1, 5, 9], dtype))
        assert got.dtype == dtype and got.tolist() == want


def test_clamp_refuses_what_the_kernel_ignores() -> None:
    op = Operator(0, "MUL", 1, (0, 1), (2,), {"fused_activation_function": "TANH"})
    with pytest.raises(t2k.UnsupportedOpError, match=r"op 0 \(MUL\)"):
        activations.clamp(op, np.zeros(3))


def test_a_bounded_relu_is_not_taken_for_relu() -> None:
    assert activations.layer_activation(keras.layers.ReLU()) == "relu"
    assert activations.layer_activation(keras.layers.ReLU(max_value=6.0)) == "relu6"
    assert activations.layer_activation(keras.layers.ReLU(max_value=1.0)) not in ("relu", "relu6")
    assert activations.layer_activation(keras.layers.ReLU(negative_slope=0.1)) not in ("relu", "relu6")
