"""export_tflite: each layer's export form lowers to its TFLite op; real models round-trip."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import tflite2keras as t2k
from tflite2keras.errors import InvalidArgumentError, UnsupportedOpError
from tflite2keras.layers import (
    AddConstant,
    DepthToSpace,
    MultiplyConstant,
    Resize,
    StridedSlice,
)
from tflite2keras.tflite.reader import read
from tflite2keras.verification import reference
from tflite2keras.writer.export import op_histogram

ROUND_TRIP = ("palm_detection_full", "face_detection_short_range", "hand_landmark_full", "selfie_segmentation")


def _one_layer(layer: keras.layers.Layer, shape: tuple[int, ...]) -> keras.Model:
    x = keras.Input(shape)
    return keras.Model(x, layer(x))


@pytest.mark.parametrize("interpolation, opcode", [("bilinear", "RESIZE_BILINEAR"),
                                                    ("nearest", "RESIZE_NEAREST_NEIGHBOR")])
@pytest.mark.parametrize("align_corners, half_pixel_centers", [(False, False), (True, False), (False, True)])
def test_resize_exports_to_one_resize_op_with_its_flags(interpolation: str, opcode: str, align_corners: bool,
                                                        half_pixel_centers: bool) -> None:
    model = _one_layer(Resize(11, 7, interpolation, align_corners, half_pixel_centers), (5, 4, 3))
    report = t2k.export_tflite(model)
    assert report.ok, report
    assert dict(report.ops) == {opcode: 1}
    (op,) = read(report.data).operators
    assert (op.options["align_corners"], op.options["half_pixel_centers"]) == (align_corners, half_pixel_centers)


def test_resize_keeps_gathers_outside_export() -> None:
    x = np.random.default_rng(0).uniform(size=(1, 5, 4, 3)).astype("float32")
    layer = Resize(11, 7, "bilinear", align_corners=True)
    want = tf.compat.v1.image.resize_bilinear(x, (11, 7), align_corners=True).numpy()
    np.testing.assert_allclose(np.asarray(layer(x)), want, atol=1e-6)


def test_depth_to_space_from_a_tflite_file(function_to_tflite) -> None:
    data = function_to_tflite(lambda x: tf.nn.depth_to_space(x, 2), (3, 4, 12))
    model = t2k.convert(data)
    assert any(isinstance(layer, DepthToSpace) for layer in model.layers)
    report = t2k.export_tflite(model)
    assert report.ok, report
    assert dict(report.ops) == {"DEPTH_TO_SPACE": 1}


def test_strided_slice_exports_to_strided_slice(function_to_tflite) -> None:
    data = function_to_tflite(lambda x: x[:, 1::2, ::-1, :3], (6, 5, 4))
    model = t2k.convert(data)
    assert any(isinstance(layer, StridedSlice) for layer in model.layers)
    report = t2k.export_tflite(model)
    assert report.ok, report
    assert dict(report.ops) == {"STRIDED_SLICE": 1}


def test_hard_swish_exports_to_hard_swish(function_to_tflite) -> None:
    data = function_to_tflite(lambda x: x * tf.nn.relu6(x + 3.0) / 6.0, (6, 5, 4))
    assert op_histogram(data) == {"HARD_SWISH": 1}
    report = t2k.export_tflite(t2k.convert(data))
    assert report.ok, report
    assert dict(report.ops) == {"HARD_SWISH": 1}


@pytest.mark.parametrize("layer, opcode", [(MultiplyConstant((1, 4)), "MUL"), (AddConstant((5, 1, 4)), "ADD")])
def test_constant_operand_layers_export_to_one_binary_op(layer: keras.layers.Layer, opcode: str) -> None:
    model = _one_layer(layer, (5, 3, 4))
    layer.value.assign(np.random.default_rng(0).uniform(0.5, 2.0, size=layer.shape).astype("float32"))
    report = t2k.export_tflite(model)
    assert report.ok, report
    assert dict(report.ops) == {opcode: 1}


def _outputs(tfl: t2k.TFLiteModel, inputs: list[list[np.ndarray]], kernels: str = "xnnpack") -> list[list[np.ndarray]]:
    interpreter = reference.make_interpreter(tfl, kernels=kernels)
    return [reference.run(interpreter, sample)[0] for sample in inputs]


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_round_trip_matches_the_original(corpus_model, name: str) -> None:
    path = corpus_model(name)
    original = read(path)
    report = t2k.export_tflite(t2k.convert(path), weights="float16")
    assert report.ok, report
    exported = read(report.data)
    # selfie_segmentation's custom Convolution2DTransposeBias is the builtin TRANSPOSE_CONV once rewritten.
    builtin = read(t2k.rewrite_custom_ops(original).data)
    want, got = op_histogram(builtin, unfused=True), op_histogram(exported, unfused=True)
    assert set(got) == set(want), (want, got)
    for op, count in want.items():
        assert abs(got[op] - count) <= 0.05 * count, (op, count, got[op])
    assert len(exported.data) <= 1.10 * len(original.data)
    assert t2k.verify(t2k.convert(path), report.data).ok

    inputs = reference.random_inputs(original, 3, seed=7)
    # The noise: the original under XNNPACK against TFLite's builtin kernels (which lack the custom
    # op, so selfie_segmentation's builtin run is of the rewritten file, the same arithmetic).
    ref, builtin_ref, out = _outputs(original, inputs), _outputs(builtin, inputs, "builtin"), _outputs(exported, inputs)
    for k in range(len(ref[0])):
        r = np.stack([s[k] for s in ref])
        noise = float(np.max(np.abs(r - np.stack([s[k] for s in builtin_ref]))))
        bound = max(1e-4 + 1e-5 * float(np.max(np.abs(r))), 2 * noise)
        error = float(np.max(np.abs(np.stack([s[k] for s in out]) - r)))
        assert error <= bound, (name, k, error, bound)


def _round(v: np.ndarray) -> np.ndarray:
    """TFLite's rounding: half away from zero."""
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def _int8_emulation(model: keras.Model, tfl: t2k.TFLiteModel, x: np.ndarray) -> np.ndarray:
    """Conv2D(relu) -> mean -> Dense in float64 with the Keras weights rounded to the file's per-channel steps
    and every activation rounded to its tensor's int8 grid, as integer kernels compute it.

    Also checks that the file stores exactly those rounded weights.
    """
    ops = {op.opcode: op for op in tfl.operators}
    quant = lambda t: tfl.tensor(t).quantization  # noqa: E731

    def on_grid(v: np.ndarray, t: int) -> np.ndarray:
        s, z = float(quant(t).scales[0]), int(quant(t).zero_points[0])
        return (np.clip(_round(v / s) + z, -128, 127) - z) * s

    def rounded(op, layer: keras.layers.Layer, to_file) -> tuple[np.ndarray, np.ndarray]:
        kernel, bias = (w.astype(np.float64) for w in layer.get_weights())
        step, x_step = quant(op.inputs[1]).scales.astype(np.float64), float(quant(op.inputs[0]).scales[0])
        kernel = _round(kernel / step) * step
        assert np.array_equal(tfl.constant(op.inputs[1]), to_file(kernel).astype(np.float32)), op
        return kernel, _round(bias / (x_step * step)) * x_step * step

    conv, mean, dense = ops["CONV_2D"], ops["MEAN"], ops["FULLY_CONNECTED"]
    kernel, bias = rounded(conv, model.layers[1], lambda k: np.transpose(k, (3, 0, 1, 2)))  # HWIO -> OHWI
    windows = np.lib.stride_tricks.sliding_window_view(on_grid(x.astype(np.float64), conv.inputs[0]), (3, 3),
                                                       axis=(1, 2))
    y = on_grid(np.maximum(np.einsum("nhwcij,ijco->nhwo", windows, kernel) + bias, 0), conv.outputs[0])
    y = on_grid(y.mean((1, 2)), mean.outputs[0])
    kernel, bias = rounded(dense, model.layers[3], np.transpose)
    return on_grid(y @ kernel + bias, dense.outputs[0])


def test_int8_with_representative_data() -> None:
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 3, activation="relu", bias_initializer="random_normal")(x)
    y = keras.layers.GlobalAveragePooling2D()(y)
    model = keras.Model(x, keras.layers.Dense(2, bias_initializer="random_normal")(y))
    data = [np.random.default_rng(i).uniform(-1, 1, (1, 8, 8, 3)).astype("float32") for i in range(8)]
    report = t2k.export_tflite(model, weights="int8", representative_data=data)
    tfl = read(report.data)
    assert [tfl.tensor(t).dtype for t in (*tfl.inputs, *tfl.outputs)] == ["FLOAT32", "FLOAT32"]
    assert report.ops == {"QUANTIZE": 1, "CONV_2D": 1, "MEAN": 1, "FULLY_CONNECTED": 1, "DEQUANTIZE": 1}
    interpreter = reference.make_interpreter(tfl)
    got = np.concatenate([reference.run(interpreter, [x])[0][0] for x in data])
    want = np.concatenate([_int8_emulation(model, tfl, x) for x in data])
    keras_out = np.concatenate([keras.ops.convert_to_numpy(model(x)) for x in data])
    step = float(tfl.tensor(tfl.operators[-1].inputs[0]).quantization.scales[0])
    # The interpreter requantizes with 31-bit fixed-point multipliers, not float64: a value within
    # about 2**-31 of a rounding tie may land one step of the output grid away. Nothing else may differ.
    assert np.max(np.abs(got - want)) <= step * (1 + 1e-4), np.abs(got - want) / step
    assert np.mean(np.abs(got - want) < 1e-3 * step) >= 0.75
    # The report measures the same file against the float Keras model.
    assert report.int8_error == pytest.approx([float(np.max(np.abs(got - keras_out)))], rel=1e-5)
    assert "output 0 max|int8-keras|" in str(report)


@keras.saving.register_keras_serializable(package="tflite2keras_test")
class SingularValues(keras.layers.Layer):
    """The singular values: ``Svd``, which TFLite's builtin ops do not have."""

    def call(self, inputs):
        return keras.ops.linalg.svd(inputs, compute_uv=False)


def test_layer_without_builtin_lowering_names_it_and_writes_nothing(tmp_path) -> None:
    model = _one_layer(SingularValues(name="singular_values"), (4, 3))
    dst = tmp_path / "svd.tflite"
    with pytest.raises(UnsupportedOpError, match=r"singular_values.*Svd"):
        t2k.export_tflite(model, dst)
    assert not dst.exists()
    assert list(tmp_path.iterdir()) == []


def test_argument_errors() -> None:
    model = _one_layer(keras.layers.Dense(2), (3,))
    with pytest.raises(InvalidArgumentError, match="weights"):
        t2k.export_tflite(model, weights="bf16")
    with pytest.raises(InvalidArgumentError, match="representative_data"):
        t2k.export_tflite(model, weights="int8")
    free = _one_layer(keras.layers.Conv2D(2, 3), (None, None, 3))
    with pytest.raises(InvalidArgumentError, match="input_shape"):
        t2k.export_tflite(free)
    assert t2k.export_tflite(free, input_shape=(1, 9, 9, 3)).ok


@pytest.mark.parametrize("shape", [(1, 5), (1, 6, 3), (1, 5, 3, 1), (1, 0, 3), (1, 5, "3")], ids=str)
def test_an_input_shape_that_does_not_fit_is_refused_before_converting(shape: tuple, monkeypatch) -> None:
    """A wrong rank or size was a raw TensorFlow error from the trace (or verify's, after converting)."""
    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_concrete_functions", None)  # never reached
    model = _one_layer(keras.layers.Dense(2), (5, 3))
    with pytest.raises(InvalidArgumentError, match=rf"input_shape must fit input 0 .*: expected 3 positive sizes "
                                                   rf"agreeing with \(None, 5, 3\) .*received {re.escape(str(shape))}"):
        t2k.export_tflite(model, input_shape=shape)


@pytest.mark.parametrize("sample, message", [
    (np.zeros((1, 4, 3), np.float32), r"sample 1 input 0: expected shape \(n, 5, 3\) .*received \(1, 4, 3\)"),
    (np.zeros((5, 3), np.float32), r"sample 1 input 0: expected shape \(n, 5, 3\) .*received \(5, 3\)"),
    ([np.zeros((1, 5, 3)), np.zeros((1, 5, 3))], r"sample 1: expected 1 array\(s\), one per input .*received 2"),
], ids=["size", "rank", "count"])
def test_representative_data_of_the_wrong_shape_is_refused_before_converting(sample, message: str,
                                                                             monkeypatch) -> None:
    """A wrong shape was an UnsupportedOpError ("BytesRequired overflowed") from the converter."""
    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_concrete_functions", None)  # never reached
    model = _one_layer(keras.layers.Dense(2), (5, 3))
    with pytest.raises(InvalidArgumentError, match="representative_data " + message):
        t2k.export_tflite(model, weights="int8", representative_data=[np.zeros((1, 5, 3), np.float32), sample])
