"""ops/sequence.py: UNIDIRECTIONAL_SEQUENCE_LSTM and _RNN against the interpreter, numpy and Keras.

TF's converter fuses an LSTM into ``UNIDIRECTIONAL_SEQUENCE_LSTM`` only from a function that
carries Keras 2's ``api_implements="lstm_..."`` attribute with ``standard_lstm``'s signature
(input, init_h, init_c, kernel, recurrent_kernel, bias -> 5 outputs), converted through the
saved-model path; Keras 3's ``keras.layers.LSTM`` becomes a ``WHILE`` loop instead. So the LSTM
files here come from such a function (:func:`_lstm_fn`), fed with a Keras LSTM's weights where
the test compares with Keras. No TF function makes ``UNIDIRECTIONAL_SEQUENCE_RNN``: its files are
written with the schema's object API (:func:`_rnn_file`).

The state inputs of both ops are batch-1 variable tensors, so the interpreter runs them at
batch 1 only; the numpy references check batch 3.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from oneop import Case, SchemaFile, check_case, inputs

import tflite2keras as t2k
from tflite2keras.ops import sequence as sequence_ops
from tflite2keras.tflite.schema import pack as finish

TIME, FEATURES, UNITS = 7, 5, 9
SEQ = (TIME, FEATURES)


def _weights(seed: int, scale: float = 0.5, units: int = UNITS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keras-layout LSTM weights: kernel (features, 4 units), recurrent (units, 4 units), bias, gates i f c o."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(FEATURES, 4 * units)).astype(np.float32) * scale,
            rng.normal(size=(units, 4 * units)).astype(np.float32) * scale,
            rng.normal(size=(4 * units,)).astype(np.float32) * scale)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def _np_lstm(kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray, clip: float = 10.0,
             act: Callable[[np.ndarray], np.ndarray] = np.tanh, last: bool = False) -> Callable[[np.ndarray], Any]:
    """The LSTM TFLite computes (cell state clipped to +-clip after each step), in float64."""
    def run(x: np.ndarray) -> np.ndarray:
        units = recurrent.shape[0]
        h = c = np.zeros((x.shape[0], units))
        out = []
        for t in range(x.shape[1]):
            i, f, g, o = np.split(x[:, t] @ kernel + h @ recurrent + bias, 4, axis=-1)
            c = _sigmoid(f) * c + _sigmoid(i) * act(g)
            c = np.clip(c, -clip, clip) if clip else c
            h = _sigmoid(o) * act(c)
            out.append(h)
        return out[-1] if last else np.stack(out, 1)
    return run


def _lstm_fn(kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray, last: bool = False,
             time_major: bool = False, indy: bool = False, go_backwards: bool = False) -> Callable[[Any], Any]:
    """A TF function of ``x`` whose LSTM TF's converter fuses into UNIDIRECTIONAL_SEQUENCE_LSTM.

    The converter replaces the body of ``standard_lstm`` (which computes the same LSTM, unclipped)
    with the op; ``indy`` makes the recurrent weights diagonal (``(units, 4)``, a column per gate);
    ``go_backwards`` runs over the reversed input (a REVERSE_V2 before the op), outputs in that order.
    """
    attributes = {"api_implements": ("indy_lstm_" if indy else "lstm_") + uuid.uuid4().hex,
                  "api_preferred_device": "CPU", "time_major": time_major, "go_backwards": go_backwards}

    @tf.function(experimental_attributes=attributes)
    def standard_lstm(inputs: Any, init_h: Any, init_c: Any, kernel: Any, recurrent_kernel: Any, bias: Any) -> Any:
        def step(carry: Any, x: Any) -> Any:
            h, c = carry
            if indy:
                recurrent_part = tf.tile(h, [1, 4]) * tf.reshape(tf.transpose(recurrent_kernel), [1, -1])
            else:
                recurrent_part = tf.matmul(h, recurrent_kernel)
            i, f, g, o = tf.split(tf.matmul(x, kernel) + recurrent_part + bias, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            return tf.sigmoid(o) * tf.tanh(c), c

        steps = inputs if time_major else tf.transpose(inputs, [1, 0, 2])
        steps = tf.reverse(steps, [0]) if go_backwards else steps
        hs, cs = tf.scan(step, steps, initializer=(init_h, init_c))
        outputs = hs if time_major else tf.transpose(hs, [1, 0, 2])
        return hs[-1], outputs, hs[-1], cs[-1], tf.constant(0.0)

    def function(x: Any) -> Any:
        zeros = tf.zeros((x.shape[1] if time_major else x.shape[0], recurrent.shape[0]))
        out = standard_lstm(x, zeros, zeros, tf.constant(kernel), tf.constant(recurrent), tf.constant(bias))
        return out[0] if last else out[1]

    return function


def _fused_tflite(function: Callable[..., Any], *shapes: tuple[int, ...]) -> bytes:
    """TFLite bytes of ``function`` at batch 1, through the saved-model path (which keeps the
    ``api_implements`` function for the converter to fuse; the frozen-graph path inlines it)."""
    module = tf.Module()
    concrete = tf.function(function).get_concrete_function(*[tf.TensorSpec((1, *s), tf.float32) for s in shapes])
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete], module).convert())


def _np_rnn(kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray,
            act: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``h = act(x W^T + h R^T + b)`` per step, TFLite's (units, inputs) weights."""
    def run(x: np.ndarray) -> np.ndarray:
        h, out = np.zeros((x.shape[0], recurrent.shape[0])), []
        for t in range(x.shape[1]):
            h = act(x[:, t] @ kernel.T + h @ recurrent.T + bias)
            out.append(h)
        return np.stack(out, 1)
    return run


RNN_WEIGHTS = tuple(np.random.default_rng(seed).normal(size=shape).astype(np.float32) * 0.5
                    for seed, shape in ((1, (UNITS, FEATURES)), (2, (UNITS, UNITS)), (3, (UNITS,))))


def _rnn_file(activation: str = "TANH", time_major: bool = False, state: np.ndarray | None = None) -> bytes:
    """A one-op UNIDIRECTIONAL_SEQUENCE_RNN model (batch 1) with :data:`RNN_WEIGHTS`."""
    built = SchemaFile()
    model, graph, tensor = built.model, built.graph, built.tensor
    x = tensor("x", (1, *SEQ))
    weights = [tensor(name, w.shape, w) for name, w in zip(("rnn/kernel", "rnn/recurrent", "rnn/bias"), RNN_WEIGHTS)]
    hidden = tensor("rnn/hidden_state", (1, UNITS), state, variable=True)
    y = tensor("y", (1, TIME, UNITS))
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_RNN
    options = schema.SequenceRNNOptionsT()
    options.timeMajor, options.fusedActivationFunction = time_major, getattr(schema.ActivationFunctionType, activation)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [x, *weights, hidden], [y]
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.SequenceRNNOptions, options
    graph.operators, graph.inputs, graph.outputs = [op], [x], [y]
    model.operatorCodes = [code]
    return built.bytes()


def _edited(data: bytes, edit: Callable[[Any, Any], None]) -> bytes:
    """``data`` with ``edit(model, op)`` applied to its first op (schema object API)."""
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    edit(model, model.subgraphs[0].operators[0])
    return finish(model)


W = _weights(0)
#: id -> (opcode under test, input shapes, TF function, numpy reference). The RNN files have no TF
#: function (None): :func:`_rnn_file` writes them.
CASES: dict[str, Case] = {
    "lstm": ("UNIDIRECTIONAL_SEQUENCE_LSTM", (SEQ,), _lstm_fn(*W), _np_lstm(*W)),
    "lstm_last": ("UNIDIRECTIONAL_SEQUENCE_LSTM", (SEQ,), _lstm_fn(*W, last=True), _np_lstm(*W, last=True)),
    "rnn_tanh": ("UNIDIRECTIONAL_SEQUENCE_RNN", (SEQ,), None, _np_rnn(*RNN_WEIGHTS, np.tanh)),  # type: ignore
    "rnn_relu": ("UNIDIRECTIONAL_SEQUENCE_RNN", (SEQ,), None, _np_rnn(*RNN_WEIGHTS, _relu)),  # type: ignore
}
RNN_ACTIVATION = {"rnn_tanh": "TANH", "rnn_relu": "RELU"}
RELOAD = {"lstm": "SequenceLSTM", "rnn_tanh": "SimpleRNN"}


def _data(name: str) -> bytes:
    case = CASES[name]
    return _rnn_file(RNN_ACTIVATION[name]) if case[2] is None else _fused_tflite(case[2], *case[1])


def test_every_op_of_the_module_has_a_case() -> None:
    assert {"UNIDIRECTIONAL_SEQUENCE_LSTM", "UNIDIRECTIONAL_SEQUENCE_RNN"} <= {case[0] for case in CASES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_interpreter(name: str, tmp_path: Any) -> None:
    model = check_case(CASES[name], _data(name), tmp_path, RELOAD.get(name), interpreter_batches=(1,))
    if name == "lstm":
        layer = next(la for la in model.layers if type(la).__name__ == "SequenceLSTM")
        assert (layer.units, layer.cell_clip, layer.activation.__name__) == (UNITS, 10.0, "tanh")
        assert sorted(v.name for v in layer.trainable_weights) == sorted(
            f"{role}_{g}" for role in ("kernel", "recurrent_kernel", "bias") for g in "ifco")


def test_lstm_is_keras_lstm() -> None:
    """A Keras LSTM's weights in the file: the converted model computes that Keras LSTM (its cell
    state stays under the converter's clip of 10 over 7 steps)."""
    keras.utils.set_random_seed(4)
    source = keras.layers.LSTM(UNITS, return_sequences=True)
    x = inputs((SEQ,), 3, 0)[0]
    want = np.asarray(source(x))
    kernel, recurrent, bias = (np.asarray(w) for w in source.get_weights())
    data = _fused_tflite(_lstm_fn(kernel, recurrent, bias), SEQ)
    model = t2k.convert(data)
    np.testing.assert_allclose(np.asarray(model(x)), want, atol=1e-5)
    assert not t2k.lint(model, data)


def test_bidirectional_lstm_is_two_sequence_lstms(tmp_path: Any) -> None:
    """Keras ``Bidirectional(LSTM)``: TF's converter writes two UNIDIRECTIONAL_SEQUENCE_LSTM (the backward
    one between REVERSE_V2s) and a CONCATENATION, never BIDIRECTIONAL_SEQUENCE_LSTM."""
    keras.utils.set_random_seed(6)
    source = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=True))
    x = inputs((SEQ,), 3, 0)[0]
    want = np.asarray(source(x))
    weights = [np.asarray(w) for w in source.get_weights()]
    forward, backward = _lstm_fn(*weights[:3]), _lstm_fn(*weights[3:], go_backwards=True)
    data = _fused_tflite(lambda v: tf.concat([forward(v), tf.reverse(backward(v), [1])], -1), SEQ)
    assert [op.opcode for op in t2k.read(data).operators] == ["UNIDIRECTIONAL_SEQUENCE_LSTM", "REVERSE_V2",
                                                              "UNIDIRECTIONAL_SEQUENCE_LSTM", "REVERSE_V2",
                                                              "CONCATENATION"]
    np.testing.assert_allclose(np.asarray(t2k.convert(data)(x)), want, atol=1e-5)

    def both(v: np.ndarray) -> np.ndarray:
        return np.concatenate([_np_lstm(*weights[:3])(v), _np_lstm(*weights[3:])(v[:, ::-1])[:, ::-1]], -1)

    case = ("UNIDIRECTIONAL_SEQUENCE_LSTM", (SEQ,), None, both)
    check_case(case, data, tmp_path, interpreter_batches=(1,))  # type: ignore[arg-type]


def test_lstm_clips_the_cell_state_as_tflite(tmp_path: Any) -> None:
    """RELU as the cell activation and a clip of 2: the clip shows in the outputs (it is the
    difference from keras.layers.LSTM); the interpreter agrees at every step."""
    kernel, recurrent, bias = _weights(5)
    bias = bias + np.repeat(np.float32([2, 3, 2, 0]), UNITS)  # open input/forget gates, a positive cell input

    def edit(model: Any, op: Any) -> None:
        op.builtinOptions.cellClip = 2.0
        op.builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU

    data = _edited(_fused_tflite(_lstm_fn(kernel, recurrent, bias), SEQ), edit)
    reference = _np_lstm(kernel, recurrent, bias, clip=2.0, act=_relu)
    case = ("UNIDIRECTIONAL_SEQUENCE_LSTM", (SEQ,), None, reference)
    model = check_case(case, data, tmp_path, interpreter_batches=(1,))  # type: ignore[arg-type]
    x = inputs((SEQ,), 3, 1)[0]
    assert np.abs(_np_lstm(kernel, recurrent, bias, clip=0.0, act=_relu)(x) - reference(x)).max() > 0.5
    assert model.layers[-1].activation.__name__ == "relu" and model.layers[-1].cell_clip == 2.0
    assert not t2k.lint(model, data)
    from tflite2keras.layers import SequenceLSTM

    source = keras.Input(SEQ)
    target = keras.Model(source, SequenceLSTM(UNITS, activation="relu", cell_clip=10.0)(source))
    assert len(t2k.transplant(target, data).assignments) == 12
    assert [(f.field, f.keras, f.tflite) for f in t2k.lint(target, data)] == [("cell_clip", 10.0, 2.0)]


def test_lstm_trains() -> None:
    model = t2k.convert(_data("lstm"))
    before = [np.array(w) for w in model.trainable_weights]
    x = inputs((SEQ,), 4, 2)[0]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(x, np.ones((4, TIME, UNITS), np.float32))
    assert len(before) == 12 and all(not np.array_equal(b, np.asarray(w))
                                     for b, w in zip(before, model.trainable_weights))


def test_rnn_transplants_into_keras_simple_rnn() -> None:
    data = _rnn_file("TANH")
    inputs_ = keras.Input(SEQ)
    target = keras.Model(inputs_, keras.layers.SimpleRNN(UNITS, return_sequences=True)(inputs_))
    report = t2k.transplant(target, data)
    assert [a.variable for a in report.assignments] == ["kernel", "recurrent_kernel", "bias"]
    assert not t2k.lint(target, data)
    x = inputs((SEQ,), 3, 0)[0]
    np.testing.assert_allclose(np.asarray(target(x)), _np_rnn(*RNN_WEIGHTS, np.tanh)(x), atol=1e-5)


def _raises(data: bytes, opcode: str, *needles: str) -> None:
    assert opcode in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError) as caught:
        t2k.convert(data)
    for needle in (f"({opcode})", *needles):
        assert needle in str(caught.value), (needle, str(caught.value))


def test_lstm_time_major_is_unsupported() -> None:
    # the graph input (1, 7, 5) is time-major: 1 step over a batch of 7
    _raises(_fused_tflite(_lstm_fn(*W, time_major=True), SEQ), "UNIDIRECTIONAL_SEQUENCE_LSTM", "time_major=True")


def test_lstm_diagonal_recurrent_weights_are_unsupported() -> None:
    kernel, _, bias = W
    diagonal = np.linspace(-1, 1, 4 * UNITS, dtype=np.float32).reshape(UNITS, 4)
    data = _fused_tflite(_lstm_fn(kernel, diagonal, bias, indy=True), SEQ)
    _raises(data, "UNIDIRECTIONAL_SEQUENCE_LSTM", "diagonal_recurrent_tensors=True")


def test_lstm_without_input_gate_is_unsupported() -> None:
    def cifg(model: Any, op: Any) -> None:
        op.inputs = [-1 if i in (1, 5, 12) else t for i, t in enumerate(op.inputs)]

    _raises(_edited(_data("lstm"), cifg), "UNIDIRECTIONAL_SEQUENCE_LSTM", "[1, 5, 12]", "CIFG")


def test_lstm_nonzero_initial_state_is_unsupported() -> None:
    def warm(model: Any, op: Any) -> None:
        model.buffers.append(schema.BufferT())
        model.buffers[-1].data = np.full(UNITS, 0.5, "<f4").view(np.uint8)
        model.subgraphs[0].tensors[op.inputs[19]].buffer = len(model.buffers) - 1

    _raises(_edited(_data("lstm"), warm), "UNIDIRECTIONAL_SEQUENCE_LSTM", "cell_state", "starts nonzero")


def test_rnn_variants_are_unsupported() -> None:
    _raises(_rnn_file(time_major=True), "UNIDIRECTIONAL_SEQUENCE_RNN", "time_major=True")
    _raises(_rnn_file(state=np.ones(UNITS, np.float32)), "UNIDIRECTIONAL_SEQUENCE_RNN", "hidden_state", "nonzero")
    _raises(_rnn_file("SIGN_BIT"), "UNIDIRECTIONAL_SEQUENCE_RNN", "SIGN_BIT")


def test_lstm_layer_round_trips_and_checks_arguments() -> None:
    from tflite2keras.layers import SequenceLSTM

    layer = SequenceLSTM(3, activation="relu", cell_clip=2.5, name="l")
    clone = SequenceLSTM.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.get_config()["activation"] == "relu"
    for bad in ({"units": 0}, {"units": 2, "cell_clip": -1.0}, {"units": 2, "activation": "no_such"}):
        with pytest.raises(t2k.errors.InvalidArgumentError):
            SequenceLSTM(**bad)
    assert sequence_ops.LSTM_KERNELS == {"i": 1, "f": 2, "c": 3, "o": 4}


INT8_LSTMS = ("micro_speech_lstm", "trained_lstm_int8")  # real int8 LSTM files (../shared/models)


@pytest.mark.parametrize("name", INT8_LSTMS)
def test_int8_lstm_in_fake_quant_is_the_integer_kernel_bit_for_bit(name: str,
                                                                    shared_model: Callable[[str], Any]) -> None:
    """The float cell with a fake-quantized output missed micro_speech_lstm's int8 output by one step
    on 439 of 11760 elements (its softmax by 17 steps); each of the kernel's roundings (gate
    requantization, fixed-point sigmoid and tanh, int16 cell, int8 hidden state) mattered."""
    from tflite2keras.verification.reference import make_interpreter, run

    path = shared_model(name)
    tfl = t2k.read(path)
    op = tfl.operators[0]
    model = t2k.convert(path, quantized="fake_quant")
    layer = next(la for la in model.layers if type(la).__name__ == "IntegerSequenceLSTM")
    lstm = keras.Model(model.inputs[0], layer.output)
    interpreter = make_interpreter(tfl, preserve=True)
    grid, out = tfl.tensor(op.inputs[0]).quantization, tfl.tensor(op.outputs[0]).quantization
    rng, shape = np.random.default_rng(0), tfl.tensor(op.inputs[0]).shape
    for sample in range(4):  # full-range int8 inputs, and the [-1, 1) that verify draws
        q = (rng.integers(-128, 128, shape) if sample % 2 else
             np.clip(np.round(rng.uniform(-1, 1, shape) / grid.scales[0]) + grid.zero_points[0], -128, 127))
        q = q.astype(np.int8)
        want = run(interpreter, [q], [op.outputs[0]])[1][op.outputs[0]].astype(np.int64)
        got = np.asarray(lstm((q.astype(np.float32) - grid.zero_points[0]) * grid.scales[0]))
        np.testing.assert_array_equal(np.round(got / out.scales[0]).astype(np.int64) + out.zero_points[0], want)
    assert not t2k.lint(model, path)
    assert type(next(la for la in t2k.convert(path).layers if "LSTM" in type(la).__name__)).__name__ == "SequenceLSTM"


def test_int8_lstm_variants_the_integer_layer_cannot_repeat_raise(shared_model: Callable[[str], Any]) -> None:
    data = shared_model("trained_lstm_int8").read_bytes()

    def relu(model: Any, op: Any) -> None:
        op.builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU

    def no_intermediates(model: Any, op: Any) -> None:
        op.intermediates = []

    for edit, needle in ((relu, "activation 'relu'"), (no_intermediates, "0 intermediate tensors")):
        with pytest.raises(t2k.errors.UnsupportedOpError, match=needle):
            t2k.convert(_edited(data, edit), quantized="fake_quant")
