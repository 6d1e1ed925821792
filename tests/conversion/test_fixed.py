"""convert() of graphs whose axis 0 is not a free batch: fixed shapes, verified against the interpreter.

The files are written by TF's converter from ``tf.function``s with a fixed input signature: a
rank-1 waveform framed by RESHAPE into a small conv net (float32 and full-integer int8), and
one-op files whose axis 0 is data (a TRANSPOSE moving it, ADDs broadcasting along it, RESHAPEs
folding it away). Files whose ops all keep axis 0 free still convert with a free batch.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.testdata import tiny

WAVE = 15600
FRAMES = (195, 80)
CLASSES = 5
C3 = np.random.default_rng(2).normal(size=(3, 1, 1, 6)).astype(np.float32)  # spans axis 0 of a (3, 4, 5, 6)
C5 = np.float32([1, 2, 3, 4, 5])


class _Audio(tf.Module):
    """A waveform framed into [195, 80], windowed, then a conv net to class scores."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.window = tf.constant(np.hanning(FRAMES[1]).astype(np.float32))
        self.kernel = tf.Variable(rng.normal(0, 0.3, (3, 3, 1, 8)).astype(np.float32))
        self.bias = tf.Variable(rng.normal(0, 0.1, (8,)).astype(np.float32))
        self.dense = tf.Variable(rng.normal(0, 0.3, (8, CLASSES)).astype(np.float32))
        self.dense_bias = tf.Variable(rng.normal(0, 0.1, (CLASSES,)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([WAVE], tf.float32)])
    def __call__(self, wave: Any) -> Any:
        frames = tf.reshape(wave, FRAMES) * self.window
        x = tf.reshape(frames, [1, *FRAMES, 1])
        x = tf.nn.relu(tf.nn.conv2d(x, self.kernel, 2, "SAME") + self.bias)
        x = tf.reduce_mean(x, axis=[1, 2])
        return tf.nn.softmax(tf.matmul(x, self.dense) + self.dense_bias)


def _audio(quant: str | None) -> bytes:
    net = _Audio()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([net.__call__.get_concrete_function()], net)
    if quant == "int8":  # full integer: int8 input and output, representative waveforms
        rng = np.random.default_rng(1)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([rng.uniform(-1, 1, WAVE).astype(np.float32)] for _ in range(16))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def _fixed(function: Callable[..., Any], *shapes: tuple[int, ...]) -> bytes:
    """A TF function traced with these full input shapes (axis 0 fixed, and data)."""
    concrete = tf.function(function).get_concrete_function(*[tf.TensorSpec(s, tf.float32) for s in shapes])
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())


#: id -> (function, full input shapes, the op that pins axis 0, the layer that computes it)
DATA_AXIS = {
    "transpose_0_1": (lambda x: tf.transpose(x, [1, 0, 2, 3]), [(3, 4, 5, 6)], "TRANSPOSE", "FixedTranspose"),
    "transpose_0_3": (lambda x: tf.transpose(x, [3, 1, 2, 0]), [(3, 4, 5, 6)], "TRANSPOSE", "FixedTranspose"),
    "add_const_along_0": (lambda x: x + C3, [(3, 4, 5, 6)], "ADD", "AddConstant"),
    "add_tensor_lower_rank": (lambda x, y: x + y, [(3, 4, 5, 6), (5, 6)], "ADD", "Binary"),
    "add_rank1": (lambda x: x + C5, [(5,)], "ADD", "AddConstant"),
    "reshape_fold_0": (lambda x: tf.reshape(x, [12, 30]), [(3, 4, 5, 6)], "RESHAPE", "FixedReshape"),
    "reshape_n_to_3d": (lambda x: tf.reshape(x, [4, 2, 8]), [(1, 2, 4, 8)], "RESHAPE", "FixedReshape"),
}


@pytest.fixture(scope="module")
def audio() -> dict[str, bytes]:
    """The waveform classifier's files, written once per module."""
    return {"float32": _audio(None), "int8": _audio("int8")}


def _convert(data: bytes, opcode: str, **kwargs: Any) -> keras.Model:
    with pytest.warns(UserWarning, match=rf"converted with fixed shapes.*op \d+ \({opcode}\)"):
        return t2k.convert(data, **kwargs)


@pytest.mark.parametrize("kind, mode", [("float32", "float"), ("int8", "float"), ("int8", "fake_quant")])
def test_rank1_waveform_converts_with_fixed_shapes_and_verifies(kind: str, mode: str, audio: Any,
                                                                tmp_path: Path) -> None:
    data = audio[kind]
    tfl = t2k.read(data)
    assert [tfl.tensor(t).shape for t in tfl.inputs] == [(WAVE,)] and tfl.operators[0].opcode in ("RESHAPE",
                                                                                                     "QUANTIZE")
    model = _convert(data, "RESHAPE", quantized=mode)
    assert "RESHAPE" in model.fixed_shape and tuple(model.inputs[0].shape) == (WAVE,)
    assert tuple(model.outputs[0].shape) == (1, CLASSES)
    assert [type(la).__name__ for la in model.layers].count("FixedReshape") == 2
    report = t2k.verify(model, data)  # fed the file's own shape, [15600]: no batch axis to add
    assert report.ok and report.outputs[0].max_ref > 0.05, str(report)
    assert any("fixed shapes" in note for note in report.notes)
    layers = t2k.verify(model, data, samples=1, per_layer=True)
    assert layers.ok and len(layers.layers) >= 6, str(layers)
    path = tmp_path / "audio.keras"
    model.save(path)
    wave = np.random.default_rng(3).uniform(-1, 1, WAVE).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(t2k.load(path)(wave)), np.asarray(model(wave)))


@pytest.mark.parametrize("name", sorted(DATA_AXIS))
def test_first_axis_as_data_converts_with_fixed_shapes(name: str) -> None:
    function, shapes, opcode, layer = DATA_AXIS[name]
    data = _fixed(function, *shapes)
    assert [op.opcode for op in t2k.read(data).operators] == [opcode]
    model = _convert(data, opcode)
    assert opcode in model.fixed_shape
    assert [tuple(x.shape) for x in model.inputs] == shapes
    assert layer in {type(la).__name__ for la in model.layers}
    report = t2k.verify(model, data)
    assert report.ok and report.outputs[0].max_ref > 0.5, str(report)
    assert t2k.verify(model, data, samples=1, per_layer=True).ok


def test_verify_of_a_fixed_model_takes_the_files_shapes_only() -> None:
    function, shapes = DATA_AXIS["transpose_0_1"][:2]
    data = _fixed(function, *shapes)
    model = _convert(data, "TRANSPOSE")
    x = np.random.default_rng(0).uniform(-1, 1, (3, 4, 5, 6)).astype(np.float32)
    assert t2k.verify(model, data, inputs=[x], samples=0).ok
    with pytest.raises(InvalidArgumentError, match=r"fixed shapes .*TRANSPOSE.*expected batch=1, received batch=2"):
        t2k.verify(model, data, batch=2)
    with pytest.raises(InvalidArgumentError, match=r"expected shape \(3, 4, 5, 6\).*received \(1, 4, 5, 6\)"):
        t2k.verify(model, data, inputs=[x[:1]], samples=0)


def test_heads_and_streaming_refuse_a_fixed_model(audio: Any) -> None:
    model = _convert(audio["float32"], "RESHAPE")
    with pytest.raises(InvalidArgumentError, match=r"replace_classifier needs .*free batch.*RESHAPE"):
        t2k.heads.replace_classifier(model, num_classes=3)
    with pytest.raises(InvalidArgumentError, match=r"heads.classifier needs .*free batch.*RESHAPE"):
        t2k.heads.classifier(model, mean=0.0, std=1.0)
    with pytest.raises(InvalidArgumentError, match=r"fixed shapes.*expected frames of shapes \[\(15600,\)\]"):
        t2k.streaming.step(model, np.zeros((1, WAVE), np.float32))
    outputs, state = t2k.streaming.step(model, np.zeros(WAVE, np.float32))
    assert [o.shape for o in outputs] == [(1, CLASSES)] and state == []


def test_batch_free_files_stay_batch_free(corpus_model: Any) -> None:
    for data in (tiny.tflite(), corpus_model("hand_recrop")):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # no fixed-shapes warning
            model = t2k.convert(data)
        assert model.fixed_shape is None and all(x.shape[0] is None for x in model.inputs)
        assert t2k.verify(model, data).ok


def test_a_free_model_of_a_file_written_at_batch_3_verifies_at_batch_1() -> None:
    data = _fixed(lambda x: tf.nn.relu(x * 2.0 - 0.5), (3, 4, 5))  # every op keeps axis 0 free
    model = t2k.convert(data)
    assert model.fixed_shape is None and model.inputs[0].shape[0] is None
    assert t2k.verify(model, data).ok  # the interpreter resized to the batch compared


def test_an_op_that_refuses_either_way_says_both() -> None:
    data = _fixed(lambda x: tf.reverse(tf.transpose(x, [1, 0, 2]), [0]), (3, 4, 5))
    assert [op.opcode for op in t2k.read(data).operators] == ["TRANSPOSE", "REVERSE_V2"]
    message = r"op 0 \(TRANSPOSE\).*moves the batch axis; converting with fixed shapes.*fails too: op 1 \(REVERSE_V2\)"
    with pytest.raises(t2k.UnsupportedOpError, match=message):
        t2k.convert(data)


def test_expand_dims_of_axis_0_with_fixed_shapes() -> None:
    data = _fixed(lambda x: tf.expand_dims(tf.transpose(x, [1, 0, 2]), 0) * 2.0, (3, 4, 5))
    model = _convert(data, "TRANSPOSE")
    assert tuple(model.outputs[0].shape) == (1, 4, 3, 5) and t2k.verify(model, data).ok


def test_the_cli_says_when_a_model_has_fixed_shapes(tmp_path: Any, capsys: Any) -> None:
    from tflite2keras.cli import main

    source = tmp_path / "transpose.tflite"
    source.write_bytes(_fixed(*DATA_AXIS["transpose_0_1"][:1], *DATA_AXIS["transpose_0_1"][1]))
    with pytest.warns(UserWarning, match="fixed shapes"):
        assert main(["convert", str(source), "-o", str(tmp_path / "transpose.keras")]) == 0
    out = capsys.readouterr().out
    assert "fixed shapes [(3, 4, 5, 6)]: " in out and "TRANSPOSE" in out
