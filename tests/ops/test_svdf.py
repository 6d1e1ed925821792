"""ops/svdf.py and layers/svdf.py: SVDF against the interpreter, numpy and the real keyword files.

No TF function makes SVDF: the one-op files are written with the schema's object API
(:func:`_svdf_file`). The state input is a batch-1 variable tensor, so the interpreter runs them
at batch 1 only; the numpy references check batch 3. The state persists across invokes: the
converted model is the first invoke from the zero state (the one ``verify`` resets to), and
:func:`_np_svdf_steps` pins down what the interpreter does after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from oneop import Case, SchemaFile, check_case, inputs

import tflite2keras as t2k
from tflite2keras.errors import InvalidModelError, UnsupportedOpError
from tflite2keras.layers import SVDF
from tflite2keras.verification.reference import make_interpreter, run

#: id -> (features, units, rank, memory_size, activation); odd sizes throughout.
SHAPES = {"svdf_rank1": (5, 3, 1, 4, "NONE"), "svdf_rank2": (7, 5, 2, 3, "RELU"),
          "svdf_rank3_tanh": (3, 1, 3, 5, "TANH")}
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "NONE": lambda x: x, "RELU": lambda x: np.maximum(x, 0), "TANH": np.tanh}


def _weights(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TFLite-layout weights_feature (filters, features), weights_time (filters, memory), bias."""
    features, units, rank, memory, _ = SHAPES[name]
    rng = np.random.default_rng(len(name))
    return (rng.normal(size=(units * rank, features)).astype(np.float32),
            rng.normal(size=(units * rank, memory)).astype(np.float32),
            rng.normal(size=(units,)).astype(np.float32))


def _np_svdf_steps(name: str, frames: list[np.ndarray], use_bias: bool = True) -> list[np.ndarray]:
    """The SVDF kernel over successive invokes of one interpreter, state carried (float64)."""
    features, units, rank, memory, activation = SHAPES[name]
    feature, time, bias = (w.astype(np.float64) for w in _weights(name))
    bias = bias if use_bias else 0 * bias
    state = np.zeros((frames[0].shape[0], units * rank, memory))
    out = []
    for x in frames:
        state = np.concatenate([state[:, :, 1:], (x @ feature.T)[:, :, None]], axis=-1)
        scratch = np.sum(state * time, axis=-1)
        out.append(ACTIVATIONS[activation](scratch.reshape(-1, units, rank).sum(-1) + bias))
    return out


def _np_svdf(name: str, use_bias: bool = True) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: _np_svdf_steps(name, [x], use_bias)[0]


def _svdf_file(name: str, state: np.ndarray | None = None, bias: bool = True) -> bytes:
    """A one-op float SVDF model (batch 1) with :func:`_weights`."""
    features, units, rank, memory, activation = SHAPES[name]
    feature, time, b = _weights(name)
    built = SchemaFile()
    tensor = built.tensor
    x = tensor("x", (1, features))
    ins = [x, tensor("svdf/weights_feature", feature.shape, feature), tensor("svdf/weights_time", time.shape, time),
           tensor("svdf/bias", b.shape, b) if bias else -1,
           tensor("svdf/activation_state", (1, memory * units * rank), state, variable=True)]
    y = tensor("y", (1, units))
    return _one_svdf(built, ins, y, rank, activation)


def _one_svdf(built: SchemaFile, ins: list[int], y: int, rank: int, activation: str) -> bytes:
    """``built`` with one SVDF op of ``ins`` (input first) into ``y``, the graph's only op, packed."""
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.SVDF
    options = schema.SVDFOptionsT()
    options.rank, options.fusedActivationFunction = rank, getattr(schema.ActivationFunctionType, activation)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, ins, [y]
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.SVDFOptions, options
    built.graph.operators, built.graph.inputs, built.graph.outputs = [op], [ins[0]], [y]
    built.model.operatorCodes = [code]
    return built.bytes()


#: id -> (opcode, input shapes, no TF function: :func:`_svdf_file` writes them, numpy reference).
CASES: dict[str, Case] = {name: ("SVDF", ((SHAPES[name][0],),), None, _np_svdf(name))  # type: ignore[misc]
                          for name in SHAPES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_svdf_matches_interpreter_and_numpy(name: str, tmp_path: Path) -> None:
    model = check_case(CASES[name], _svdf_file(name), tmp_path, "SVDF", interpreter_batches=(1,))
    layer = next(layer for layer in model.layers if isinstance(layer, SVDF))
    assert (layer.units, layer.rank, layer.memory_size) == SHAPES[name][1:4]
    assert {v.name for v in layer.trainable_weights} == {"kernel", "weights_time", "bias"}


def test_svdf_without_bias(tmp_path: Path) -> None:
    name = "svdf_rank2"
    case = ("SVDF", CASES[name][1], None, _np_svdf(name, use_bias=False))
    model = check_case(case, _svdf_file(name, bias=False), tmp_path, interpreter_batches=(1,))  # type: ignore
    assert not next(layer for layer in model.layers if isinstance(layer, SVDF)).use_bias


def test_transplant_fills_a_user_built_svdf_and_lint_checks_rank() -> None:
    import keras

    name = "svdf_rank2"
    data = _svdf_file(name)
    x = keras.Input((7,))
    model = keras.Model(x, SVDF(5, rank=2, memory_size=3, activation="relu", name="mine")(x))
    report = t2k.transplant(model, data)
    assert {a.variable.split("/")[-1]: a.tensor for a in report.assignments} == {
        "kernel": "svdf/weights_feature", "weights_time": "svdf/weights_time", "bias": "svdf/bias"}
    feed = inputs(CASES[name][1], 3, 0)[0]
    np.testing.assert_allclose(np.asarray(model(feed)), _np_svdf(name)(feed), rtol=1e-5, atol=1e-5)
    assert not t2k.lint(model, data)
    model.get_layer("mine").rank = 1
    assert [finding.field for finding in t2k.lint(model, data)] == ["rank"]


def test_state_persists_across_invokes_as_the_kernel_says() -> None:
    """Successive invokes carry the state: the numpy kernel agrees with the interpreter at every
    step, and the converted model is the first step from a reset state, at every sample."""
    name = "svdf_rank2"
    data = _svdf_file(name)
    tfl, model = t2k.read(data), t2k.convert(data)
    interpreter = make_interpreter(tfl)
    frames = [inputs(CASES[name][1], 1, seed)[0] for seed in range(6)]
    want = _np_svdf_steps(name, frames)
    for step, frame in enumerate(frames):
        got = run(interpreter, [frame], reset=step == 0)[0][0]
        np.testing.assert_allclose(got, want[step], rtol=1e-5, atol=1e-5)
        first = run(make_interpreter(tfl), [frame])[0][0]
        np.testing.assert_allclose(np.asarray(model(frame)), first, rtol=1e-5, atol=1e-5)
    assert np.max(np.abs(want[-1] - _np_svdf(name)(frames[-1]))) > 0.1  # the memory matters after step 0


def _edited(name: str, edit: Callable[[Any, Any], None]) -> bytes:
    from tflite2keras.tflite.schema import pack as finish

    model = schema.ModelT.InitFromPackedBuf(_svdf_file(name), 0)
    edit(model, model.subgraphs[0].operators[0])
    return finish(model)


def _set_type(slot: int, dtype: str) -> Callable[[Any, Any], None]:
    def edit(model: Any, op: Any) -> None:
        model.subgraphs[0].tensors[op.inputs[slot]].type = getattr(schema.TensorType, dtype)
    return edit


@pytest.mark.parametrize("rank", [0, 3])
def test_rank_that_does_not_divide_the_filters_is_an_invalid_model(rank: int) -> None:
    data = _edited("svdf_rank2", lambda m, op: setattr(op.builtinOptions, "rank", rank))
    with pytest.raises(InvalidModelError, match=f"rank.*{rank}.*divisor of the 10 filters"):
        t2k.convert(data)


def test_svdf_without_state_input_is_an_invalid_model() -> None:
    data = _edited("svdf_rank1", lambda m, op: setattr(op, "inputs", op.inputs[:4]))
    with pytest.raises(InvalidModelError, match="number of inputs.*4.*5"):
        t2k.convert(data)


@pytest.mark.parametrize(("data", "message"), [
    (lambda: _svdf_file("svdf_rank1", state=np.ones((1, 12), np.float32)), "activation_state .* starts nonzero"),
    (lambda: _edited("svdf_rank1", _set_type(1, "INT8")), "hybrid"),
], ids=["nonzero_state", "hybrid"])
def test_svdf_raises_what_does_not_convert(data: Callable[[], bytes], message: str) -> None:
    with pytest.raises(UnsupportedOpError, match=message):
        t2k.convert(data())


# --- the integer kernel ------------------------------------------------------------------------


def _quant(scale: float, zero_point: int = 0) -> Any:
    q = schema.QuantizationParametersT()
    q.scale, q.zeroPoint = [scale], [zero_point]
    return q


def _int_svdf_file(wraps: bool = False) -> bytes:
    """A one-op integer SVDF (int8 input/output, int16 time weights and state), rank 2, RELU.

    With ``wraps``, the int32 biases lie near +-2**31, so bias plus time products overflows."""
    features, units, rank, memory = 7, 5, 2, 3
    rng = np.random.default_rng(7)
    feature = rng.integers(-127, 128, (units * rank, features)).astype(np.int8)
    time = rng.integers(-3000, 3001, (units * rank, memory)).astype(np.int16)
    bias = rng.integers(-2**16, 2**16, (units,))
    if wraps:  # within the time products' reach of +-2**31
        bias = np.where(bias < 0, -1, 1) * rng.integers(2**31 - 10**5, 2**31, (units,))
    bias = bias.astype(np.int32)
    built = SchemaFile()
    graph, tensor = built.graph, built.tensor
    s_x, s_f, s_t, s_s, s_y = 0.02, 0.004, 0.0001, 0.05, 0.002  # a coarse state: its rounding shows
    x = tensor("x", (1, features), dtype="int8")
    ins = [x, tensor("svdf/weights_feature", feature.shape, feature, dtype="int8"),
           tensor("svdf/weights_time", time.shape, time, dtype="int16"),
           tensor("svdf/bias", bias.shape, bias, dtype="int32"),
           tensor("svdf/activation_state", (1, memory * units * rank), dtype="int16", variable=True)]
    y = tensor("y", (1, units), dtype="int8")
    for index, scale, point in zip((*ins, y), (s_x, s_f, s_t, s_s * s_t, s_s, s_y), (3, 0, 0, 0, 0, -128)):
        graph.tensors[index].quantization = _quant(scale, point)
    return _one_svdf(built, ins, y, rank, "RELU")


@pytest.mark.parametrize("wraps", [False, True], ids=["in_range", "accumulator_wraps"])
@pytest.mark.parametrize("mode", ["float", "fake_quant"])
def test_integer_svdf_verifies(mode: str, wraps: bool) -> None:
    data = _int_svdf_file(wraps)
    model = t2k.convert(data, quantized=mode)
    layer = next(layer for layer in model.layers if isinstance(layer, SVDF))
    assert layer.state_rounding == (mode == "fake_quant") and (layer.accumulator_scale > 0) == wraps
    # fake_quant rounds the int16 state as the kernel does, so the layer is held to its own bound;
    # float mode does not round it (this file's state is coarse: 4.8 output steps), only the output is
    report = t2k.verify(model, data, samples=20, per_layer=mode == "fake_quant")
    assert report.ok, str(report)


def test_integer_relu_needs_an_output_range_from_zero() -> None:
    """The integer kernel applies no activation but the output's saturation: RELU on an output
    whose range reaches below 0 is not what it computes, and raises."""
    from tflite2keras.tflite.schema import pack as finish

    model = schema.ModelT.InitFromPackedBuf(_int_svdf_file(), 0)
    graph = model.subgraphs[0]
    graph.tensors[graph.operators[0].outputs[0]].quantization.zeroPoint = [-100]
    with pytest.raises(UnsupportedOpError, match="only NONE, or RELU on a range from 0"):
        t2k.convert(finish(model))


# --- the real files -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["float", "fake_quant"])
def test_keyword_scrambled_svdf_part_verifies(mode: str, shared_model: Any) -> None:
    """All 7 SVDF ops of keyword_scrambled (every op to the logits) verify in both modes, per layer
    too. Its scrambled (random) weights make huge biases: every SVDF's int32 accumulator can wrap
    around (without the layer's wrap, 255-step errors) and the layers saturate, so the logits are
    the same on every sample; the one-op files above carry the precision. The file's last op, a
    QUANTIZE from int16 to a quantized int32 output, does not convert: see test_shared_models."""
    tfl = t2k.read(shared_model("keyword_scrambled"))
    softmax = next(op for op in tfl.operators if op.opcode == "SOFTMAX")
    part = t2k.truncate(tfl, [softmax.inputs[0]])
    model = t2k.convert(part, quantized=mode)
    svdfs = [layer for layer in model.layers if isinstance(layer, SVDF)]
    assert len(svdfs) == 7 and all(layer.accumulator_scale > 0 for layer in svdfs)  # the random biases overflow
    with pytest.warns(UserWarning, match="constant reference"):  # the random weights saturate every layer
        report = t2k.verify(model, part, samples=4, per_layer=True)
    assert report.ok, str(report)


def test_keyword_scrambled_8bit_refuses_int8_time_weights(shared_model: Any) -> None:
    """The 8-bit file's SVDF keeps weights_time and state in int8, which the stock interpreter
    does not run (it aborts on this file): convert names it."""
    with pytest.raises(UnsupportedOpError, match="weights_time .* is INT8: the integer SVDF kernel expects INT16"):
        t2k.convert(shared_model("keyword_scrambled_8bit"))


def test_svdf_layer_config_round_trip() -> None:
    layer = SVDF(5, rank=2, memory_size=3, activation="relu", state_scale=0.5, state_rounding=True,
                 accumulator_scale=0.25, name="s")
    again = SVDF.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    x = np.asarray(inputs(((7,),), 3, 0)[0])
    assert tuple(again(x).shape) == (3, 5)
