"""verification/stream.py: stateful files stepped against the interpreter, integer state included."""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.testdata import quantized_suite
from tflite2keras.verification import stream


@pytest.fixture(scope="module")
def int8_stream() -> bytes:
    return quantized_suite.streaming_int8_tflite()


def _saturated(integer: bool) -> bytes:
    """A one-variable stream whose score is LOGISTIC of a pre-activation near 40: 1.0 (or int8 127) on
    every frame, while the state and the pre-activation change."""

    class Saturated(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.total = tf.Variable(tf.zeros((1, 3)), name="acc/states")

        @tf.function(input_signature=[tf.TensorSpec((1, 3), tf.float32, name="frame")])
        def __call__(self, frame: Any) -> Any:
            total = self.total * 0.5 + frame
            self.total.assign(total)
            return tf.math.sigmoid(total * 4.0 + 40.0)

    module = Saturated()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.__call__.get_concrete_function()], module)
    if integer:
        data = quantized_suite.representative((1, 3), samples=32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x] for x in data)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
        converter._experimental_variable_quantization = True
    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(converter.convert())


def test_the_int8_stream_keeps_int8_state_and_int8_edges(int8_stream: bytes) -> None:
    tfl = t2k.read(int8_stream)
    reads = [tfl.tensor(op.outputs[0]) for op in tfl.operators if op.opcode == "READ_VARIABLE"]
    assert len(reads) == 2 and all(t.dtype == "INT8" and t.quantization is not None for t in reads)
    assert [tfl.tensor(i).dtype for i in (*tfl.inputs, *tfl.outputs)] == ["INT8", "INT8"]


@pytest.mark.parametrize("mode", ["float", "fake_quant"])
def test_int8_stream_verifies_outputs_and_state_in_steps(int8_stream: bytes, mode: str) -> None:
    model = t2k.convert(int8_stream, quantized=mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the scores change over the frames: no degenerate warning
        report = t2k.verify(model, int8_stream)
    assert report.ok and report.samples >= 12, str(report)
    assert [c.name for c in report.layers] == ["state stream_6_states", "state stream_7_states"], str(report)
    for check in report.outputs + report.layers:
        assert check.step is not None and not check.degenerate, str(report)
        assert check.steps <= (2.0 if mode == "fake_quant" else 48.0), str(report)
    if mode == "fake_quant":  # the assigned state rounded to the variable's grid, as the kernel stores it
        assert all(c.within_step >= 0.99 for c in report.layers), str(report)


def test_fewer_than_twelve_frames_are_refused(int8_stream: bytes) -> None:
    model = t2k.convert(int8_stream)
    with pytest.raises(t2k.InvalidArgumentError, match="at least 12 frames, received steps=4"):
        stream.verify_stream(model, t2k.read(int8_stream), steps=4)


@pytest.mark.parametrize("integer, mode", [(False, "float"), (True, "float"), (True, "fake_quant")],
                         ids=["float_file", "int8_float", "int8_fake_quant"])
def test_a_score_that_never_changes_warns_and_its_pre_activation_is_compared(integer: bool, mode: str) -> None:
    data = _saturated(integer)
    model = t2k.convert(data, quantized=mode)
    with pytest.warns(UserWarning, match=r"never changed over the 12 frames.*'add_1', was compared"):
        report = t2k.verify(model, data)
    assert report.outputs[0].degenerate, str(report)
    pre = report.layers[-1]
    assert pre.name == "output 0 before LOGISTIC" and pre.tensor == "add_1" and not pre.degenerate, str(report)
    assert pre.max_ref > 30 and report.ok, str(report)  # the pre-activation really varies near 40


def test_float_bounds_count_requantizations_over_the_unrolled_frames(int8_stream: bytes) -> None:
    """A ring buffer only moves values: its depth stays put; an accumulator's grows every frame."""
    kws = t2k.read(int8_stream)
    depth = stream._unrolled_depths(kws, 12)
    assigned = {kws.tensor(op.inputs[1]).name: depth[op.inputs[1]] for op in kws.operators
                if op.opcode == "ASSIGN_VARIABLE"}
    assert assigned == {"strided_slice1": 0, "strided_slice_11": 1}  # frames; one conv's outputs
    assert depth[kws.outputs[0]] == 4  # conv, conv, fully connected, softmax
    saturated = t2k.read(_saturated(True))
    depth = stream._unrolled_depths(saturated, 12)
    total = next(op.inputs[1] for op in saturated.operators if op.opcode == "ASSIGN_VARIABLE")
    assert depth[total] == 36  # MUL, ADD and the QUANTIZE onto the variable's grid, on every frame
