"""streaming.py, ops/state.py, verify_stream.py and ops/control.py: stateful files and control flow."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.testdata import quantized_suite
from tflite2keras.verification.reference import make_interpreter, run

STEPS = 12


@pytest.fixture(scope="module")
def data() -> bytes:
    return quantized_suite.streaming_tflite()


def _frames(seed: int = 0, batch: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (batch, 1, 13)).astype(np.float32) for _ in range(STEPS)]


def test_the_file_keeps_state_in_resource_variables(data: bytes) -> None:
    opcodes = {op.opcode for op in t2k.read(data).operators}
    assert {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"} <= opcodes


def test_state_becomes_named_inputs_and_outputs_with_initial_values(data: bytes) -> None:
    model = t2k.convert(data)
    assert [x.name for x in model.inputs] == ["frame", "stream_6_states", "stream_7_states"]
    assert model.output_names[1:] == ["stream_6_states_out", "stream_7_states_out"]
    initial = t2k.streaming.initial_state(model)
    np.testing.assert_array_equal(initial[0], np.zeros((1, 4, 13), np.float32))
    np.testing.assert_array_equal(initial[1], np.full((1, 2, 11), 0.25, np.float32))


def test_every_step_agrees_with_the_interpreter(data: bytes) -> None:
    model = t2k.convert(data)
    frames = _frames()
    got = t2k.streaming.run(model, frames)
    interpreter = make_interpreter(t2k.read(data))  # its variables persist between invokes
    for step, (frame, out) in enumerate(zip(frames, got)):
        want = run(interpreter, [frame], reset=False)[0][0]
        assert float(np.max(np.abs(out - want))) <= 1e-4 + 1e-5 * float(np.max(np.abs(want))), step
    changing = [np.abs(a - b).max() for a, b in zip(got, got[1:])]
    assert min(changing) > 0  # the state really changes the output from step to step
    report = t2k.verify(model, data)
    assert report.ok and report.samples >= 10, str(report)


def test_batched_streams_run_independently(data: bytes) -> None:
    model = t2k.convert(data)
    frames = _frames(1, batch=3)
    batched = t2k.streaming.run(model, frames)
    single = t2k.streaming.run(model, [f[1:2] for f in frames])
    for b, s in zip(batched, single):
        np.testing.assert_allclose(b[1:2], s, atol=1e-6)


def test_trains_reloads_and_exports(data: bytes, tmp_path: Any) -> None:
    model = t2k.convert(data)
    frames = _frames(2)
    state = t2k.streaming.initial_state(model)
    before = [np.array(w) for w in model.trainable_weights]
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        outputs = model([frames[0], *state])
        loss = tf.reduce_sum(outputs[0] * np.arange(4, dtype=np.float32))
    grads = tape.gradient(loss, variables)
    keras.optimizers.SGD(0.5).apply_gradients(zip(grads, variables))
    assert all(not np.array_equal(b, np.asarray(w)) for b, w in zip(before, model.trainable_weights))
    model.save(tmp_path / "stream.keras")
    reloaded = t2k.load(tmp_path / "stream.keras")
    for a, b in zip(model([frames[1], *state]), reloaded([frames[1], *state])):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    report = t2k.export_tflite(model, tmp_path / "explicit_state.tflite")
    exported = t2k.read((tmp_path / "explicit_state.tflite").read_bytes())
    assert exported.data == report.data and report.path == str(tmp_path / "explicit_state.tflite")
    assert len(exported.inputs) == 3 and len(exported.outputs) == 3, report
    # The state is explicit in the export: no resource variables, and verified output by output.
    assert report.ok and report.weights == "float32" and "verified" in str(report), report
    assert not {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"} & set(report.ops), report.ops
    assert [c.shape for c in report.verify.outputs] == [(1, 4), (1, 4, 13), (1, 2, 11)], report
    assert all(c.ok and c.max_error <= c.bound for c in report.verify.outputs), report
    # Streamed: the exported file in the interpreter, its state outputs fed back, step by step.
    interpreter = make_interpreter(exported)
    carried = list(state)
    for step, (frame, want) in enumerate(zip(frames, t2k.streaming.run(model, frames))):
        got, _ = run(interpreter, [frame, *carried])
        carried = got[1:]
        assert float(np.max(np.abs(got[0] - want))) <= 1e-4 + 1e-5 * float(np.max(np.abs(got[0]))), step


def test_a_model_without_state_has_none() -> None:
    from tflite2keras.testdata import tiny

    model = t2k.convert(tiny.tflite())
    assert t2k.streaming.initial_state(model) == []
    with pytest.raises(t2k.InvalidArgumentError, match="streaming"):
        t2k.streaming.initial_state(keras.Model(model.inputs, model.outputs))


@pytest.fixture(scope="module")
def int8_data() -> bytes:
    return quantized_suite.streaming_int8_tflite()


def _assigned(tfl: Any) -> list[int]:
    """The tensors the file assigns to its variables, in the order of the variables' names."""
    handles = {op.outputs[0]: op.options["shared_name"] for op in tfl.operators if op.opcode == "VAR_HANDLE"}
    values = {handles[op.inputs[0]]: op.inputs[1] for op in tfl.operators if op.opcode == "ASSIGN_VARIABLE"}
    return [values[name] for name in sorted(values)]


@pytest.mark.parametrize("mode", ["float", "fake_quant"])
def test_int8_state_is_float_state_dequantized_with_the_variables_grid(int8_data: bytes, mode: str) -> None:
    model = t2k.convert(int8_data, quantized=mode)
    assert [x.dtype for x in model.inputs] == ["float32"] * 3
    grids = [v.quantization for v in t2k.streaming.info(model).variables]
    assert [g.dtype for g in grids] == ["INT8", "INT8"]
    initial = t2k.streaming.initial_state(model)
    assert all(x.dtype == np.float32 for x in initial)
    np.testing.assert_array_equal(initial[0], np.zeros((1, 4, 13), np.float32))
    # 0.25 as the int8 variable holds it: on its grid, within half a step
    np.testing.assert_array_equal(initial[1], grids[1].dequantize(grids[1].quantize(np.full((1, 2, 11), 0.25))))
    assert abs(float(initial[1][0, 0, 0]) - 0.25) <= grids[1].step / 2


def test_quantized_io_takes_and_returns_the_int8_state(int8_data: bytes) -> None:
    tfl = t2k.read(int8_data)
    model = t2k.convert(int8_data, quantized="fake_quant")
    grids = [v.quantization for v in t2k.streaming.info(model).variables]
    frame_grid = model.quantization.inputs[0]
    assigned = _assigned(tfl)
    for wrapped in (t2k.quantized_io(model),
                    t2k.quantized_io(keras.Model(model.inputs, model.outputs), source=int8_data)):  # reloaded
        assert [x.dtype for x in wrapped.inputs] == ["int8"] * 3 and [o.dtype for o in wrapped.outputs] == ["int8"] * 3
        interpreter = make_interpreter(tfl, "builtin", preserve=True)  # its variables start from CALL_ONCE's
        state = [g.quantize(x) for g, x in zip(grids, t2k.streaming.initial_state(model))]
        for step, frame in enumerate(_frames(4)):
            q = frame_grid.quantize(frame)
            want, inner = run(interpreter, [q], assigned, reset=False)
            got = [np.asarray(o) for o in wrapped([q, *state])]
            state = got[1:]
            assert all(g.dtype == np.int8 for g in got), step
            for ours, theirs in zip(got, [want[0], *(inner[t] for t in assigned)]):  # score, then state
                assert int(np.max(np.abs(ours.astype(int) - theirs.astype(int)))) <= 1, step


def test_a_variable_read_on_another_grid_is_refused(int8_data: bytes) -> None:
    from tflite2keras.tflite import schema

    tree = schema.unpack(int8_data)
    graph = tree.subgraphs[0]
    read = next(op for op in graph.operators if tree.operatorCodes[op.opcodeIndex].builtinCode
                == schema.module().BuiltinOperator.READ_VARIABLE)
    graph.tensors[read.outputs[0]].quantization.scale = [0.5]
    with pytest.raises(t2k.UnsupportedOpError, match=r"\(READ_VARIABLE\) tensor \d+ .* expected the variable's grid "
                                                     r"\(int8 scale .*received int8 scale \[0.5\]"):
        t2k.convert(schema.pack(tree))


def _control_flow(kind: str) -> bytes:
    def loop(x: Any) -> Any:
        _, y = tf.while_loop(lambda i, y: i < tf.shape(x)[1], lambda i, y: (i + 1, y * 0.5 + 1), (tf.constant(0), x))
        return y

    def branch(x: Any) -> Any:
        return tf.cond(tf.shape(x)[0] > 1, lambda: x * 2, lambda: x - 1)

    concrete = tf.function(loop if kind == "WHILE" else branch).get_concrete_function(tf.TensorSpec((None, 3)))
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())


@pytest.mark.parametrize("kind, named", [("WHILE", "body subgraph 2, cond subgraph 1"),
                                         ("IF", r"else subgraph \d, then subgraph \d")])
def test_control_flow_raises_naming_the_subgraphs(kind: str, named: str) -> None:
    data = _control_flow(kind)
    assert kind in {op.opcode for op in t2k.read(data).operators}
    with pytest.raises(t2k.UnsupportedOpError, match=rf"\({kind}\) runs {named}: control flow is not converted"):
        t2k.convert(data)
