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
