"""Tests for :mod:`tflite2keras.tflite.model`: what ``TFLiteModel.constant()`` means.

* fp16 weights behind DEQUANTIZE (palm_detection_lite): the DEQUANTIZE output, its
  fp16 input, the raw fp16 buffer cast to float32 and the interpreter's own
  dequantized tensor agree bit for bit.
* Synthetic Keras models (every dimension a different extent) converted by
  ``tf.lite.TFLiteConverter`` to float32, float16 and int8 (per-channel): after the
  layout change each weight equals the Keras weight exactly (float32), exactly as
  float16 (fp16), or within half a quantization step per output channel and exactly
  ``scale * (q - zero_point)`` computed here from the raw buffer (int8).
* Display (``str``, ``_repr_html_``) and errors: activations are not constants; a
  DEQUANTIZE whose shapes disagree, a shape whose element count wraps around int64,
  and a sparse tensor whose shape would expand to gigabytes are all rejected.
"""

from __future__ import annotations

import os
import re
import struct
import time
import tracemalloc
import warnings
from typing import Any

import numpy as np
import pytest
import tflite

from tflite2keras import read
from tflite2keras.errors import InvalidModelError
from tflite2keras.ops.layout import DEPTHWISE, OHWI_TO_HWIO, OI_TO_IO, VECTOR
from tflite2keras.tflite.model import Operator, Tensor, TFLiteModel

# The synthetic model: input 11x13x3 -> Conv2D(7, 3x5) -> DepthwiseConv2D(5x3, x2) -> Dense(9).
_INPUT = (11, 13, 3)
# op -> (Keras layer, kernel layout, output-channel axis of the TFLite kernel)
_WEIGHT_OPS = {
    "CONV_2D": ("conv", OHWI_TO_HWIO, 0),
    "DEPTHWISE_CONV_2D": ("depthwise", DEPTHWISE, 3),
    "FULLY_CONNECTED": ("dense", OI_TO_IO, 0),
}


# -- fp16 behind DEQUANTIZE on a real model -------------------------------------------------
def _raw_buffer(data: bytes, tensor_index: int, dtype: str) -> np.ndarray:
    """A tensor's stored values read with the ``tflite`` bindings, independently of the reader."""
    root = tflite.Model.GetRootAs(data, 0)
    tensor = root.Subgraphs(0).Tensors(tensor_index)
    raw = root.Buffers(tensor.Buffer()).DataAsNumpy()
    return np.frombuffer(raw.tobytes(), dtype=dtype).reshape(tuple(tensor.ShapeAsNumpy()))


@pytest.fixture(scope="module")
def palm(corpus_model) -> TFLiteModel:
    return read(corpus_model("palm_detection_lite"))


def test_fp16_dequantize_matches_buffer(palm: TFLiteModel) -> None:
    op = palm.operators[1]  # DEQUANTIZE of the first conv kernel
    assert op.opcode == "DEQUANTIZE" and palm.operators[2].inputs[1] == op.outputs[0]
    fp16, out = palm.tensors[op.inputs[0]], palm.tensors[op.outputs[0]]
    assert (fp16.dtype, out.dtype, out.buffer) == ("FLOAT16", "FLOAT32", 0)
    assert palm.is_constant(out.index) and palm.source_of(out.index) == fp16

    expected = _raw_buffer(palm.data, fp16.index, "<f2").astype(np.float32)
    assert expected.shape == (32, 5, 5, 3) and np.abs(expected).max() > 0
    via_dequantize, direct = palm.constant(out.index), palm.constant(fp16.index)
    for value in (via_dequantize, direct):
        assert value.dtype == np.float32 and value.shape == expected.shape
        np.testing.assert_array_equal(value.view(np.uint32), expected.view(np.uint32))


def test_fp16_dequantize_matches_interpreter(palm: TFLiteModel) -> None:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # Without default delegates the builtin DEQUANTIZE kernel fills its output, and
    # preserve_all_tensors keeps it readable after invoke().
    interpreter = Interpreter(
        model_content=palm.data,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=True,
    )
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.random.default_rng(0).random(detail["shape"]).astype(np.float32))
    interpreter.invoke()
    dequantize_ops = [op for op in palm.operators if op.opcode == "DEQUANTIZE"]
    assert len(dequantize_ops) == 113
    for op in dequantize_ops:
        reference = interpreter.get_tensor(op.outputs[0])
        ours = palm.constant(op.outputs[0])
        assert reference.dtype == ours.dtype == np.float32
        assert reference.shape == ours.shape == palm.tensors[op.outputs[0]].shape
        assert np.array_equal(reference.view(np.uint32), ours.view(np.uint32)), palm.tensors[op.outputs[0]].name


def test_constant_is_cached_and_read_only(palm: TFLiteModel) -> None:
    index = palm.operators[2].inputs[1]
    value = palm.constant(index)
    assert palm.constant(index) is value
    assert palm.constant(palm.tensors[index].name) is value
    with pytest.raises(ValueError):
        value[0, 0, 0, 0] = 1.0


def test_integer_constants_keep_their_dtype(palm: TFLiteModel) -> None:
    reshapes = [op for op in palm.operators if op.opcode == "RESHAPE"]
    shape = palm.constant(reshapes[0].inputs[1])
    assert shape.dtype == np.int32
    assert shape.tolist() == [1, -1, 1]  # the -1 is what makes the output (1, 864, 1)
    assert palm.tensors[reshapes[0].outputs[0]].shape == (1, 864, 1)


# -- synthetic converted models -------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic() -> dict[str, Any]:
    """The Keras model, its weights, and its float32 / float16 / int8 TFLite conversions."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inputs = keras.Input(_INPUT)
    x = keras.layers.Conv2D(7, (3, 5), name="conv")(inputs)
    x = keras.layers.DepthwiseConv2D((5, 3), depth_multiplier=2, name="depthwise")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(9, name="dense")(x)
    net = keras.Model(inputs, x)
    rng = np.random.default_rng(42)
    for layer in net.layers:
        for variable in layer.weights:  # biases too: zeros would hide layout errors
            variable.assign(rng.normal(0.0, 0.5, size=variable.shape).astype(np.float32))
    weights = {
        layer.name: (np.asarray(layer.weights[0]), np.asarray(layer.weights[1]))
        for layer in net.layers if layer.weights
    }
    assert {k: v[0].shape for k, v in weights.items()} == {
        "conv": (3, 5, 3, 7), "depthwise": (5, 3, 7, 2), "dense": (5 * 7 * 14, 9),
    }

    def convert(kind: str) -> TFLiteModel:
        converter = tf.lite.TFLiteConverter.from_keras_model(net)
        if kind != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if kind == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if kind == "int8":
            def representative():
                data = np.random.default_rng(7)
                for _ in range(16):
                    yield [data.normal(size=(1, *_INPUT)).astype(np.float32)]
            converter.representative_dataset = representative
        with warnings.catch_warnings():  # int8 with float input/output: no input statistics, as intended
            warnings.filterwarnings("ignore", "Statistics for quantized inputs were expected")
            return read(converter.convert())

    return {"weights": weights, **{kind: convert(kind) for kind in ("float32", "float16", "int8")}}


def _weight_op(model: TFLiteModel, opcode: str):
    ops = [op for op in model.operators if op.opcode == opcode]
    assert len(ops) == 1, [op.opcode for op in model.operators]
    return ops[0]


def _as_keras(model: TFLiteModel, opcode: str, weights: dict) -> tuple[np.ndarray, np.ndarray]:
    """The op's kernel and bias through constant() and the layout change."""
    layer, layout, _ = _WEIGHT_OPS[opcode]
    op = _weight_op(model, opcode)
    kernel, bias = weights[layer]
    return (layout.apply(model.constant(op.inputs[1]), kernel.shape, f"{layer}.kernel"),
            VECTOR.apply(model.constant(op.inputs[2]), bias.shape, f"{layer}.bias"))


@pytest.mark.parametrize("opcode", list(_WEIGHT_OPS))
def test_float32_weights_are_exact(synthetic, opcode: str) -> None:
    model, weights = synthetic["float32"], synthetic["weights"]
    layer = _WEIGHT_OPS[opcode][0]
    op = _weight_op(model, opcode)
    assert model.tensors[op.inputs[1]].dtype == "FLOAT32"
    assert model.source_of(op.inputs[1]).index == op.inputs[1]  # stored directly, no DEQUANTIZE
    kernel, bias = _as_keras(model, opcode, weights)
    np.testing.assert_array_equal(kernel, weights[layer][0])
    np.testing.assert_array_equal(bias, weights[layer][1])


def test_depthwise_channel_order(synthetic) -> None:
    """TFLite's depthwise output channel c*M + m holds Keras kernel[..., c, m]."""
    model, (kernel, _) = synthetic["float32"], synthetic["weights"]["depthwise"]
    stored = model.constant(_weight_op(model, "DEPTHWISE_CONV_2D").inputs[1])
    assert stored.shape == (1, 5, 3, 14)
    for c in range(7):
        for m in range(2):
            np.testing.assert_array_equal(stored[0, :, :, c * 2 + m], kernel[:, :, c, m])


@pytest.mark.parametrize("opcode", list(_WEIGHT_OPS))
def test_float16_weights_are_exact(synthetic, opcode: str) -> None:
    model, weights = synthetic["float16"], synthetic["weights"]
    layer = _WEIGHT_OPS[opcode][0]
    op = _weight_op(model, opcode)
    for slot in (1, 2):
        used, stored = model.tensors[op.inputs[slot]], model.source_of(op.inputs[slot])
        assert (used.dtype, stored.dtype) == ("FLOAT32", "FLOAT16")
        assert model.producer(used.index).opcode == "DEQUANTIZE"
        np.testing.assert_array_equal(model.constant(used.index), model.constant(stored.index))
        np.testing.assert_array_equal(
            model.constant(stored.index), _raw_buffer(model.data, stored.index, "<f2").astype(np.float32)
        )
    kernel, bias = _as_keras(model, opcode, weights)
    np.testing.assert_array_equal(kernel, weights[layer][0].astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(bias, weights[layer][1].astype(np.float16).astype(np.float32))
    assert not np.array_equal(kernel, weights[layer][0])  # fp16 really rounded something


@pytest.mark.parametrize("opcode", list(_WEIGHT_OPS))
def test_int8_per_channel_weights(synthetic, opcode: str) -> None:
    model, weights = synthetic["int8"], synthetic["weights"]
    layer, layout, axis = _WEIGHT_OPS[opcode]
    op = _weight_op(model, opcode)
    tensor = model.tensors[op.inputs[1]]
    kernel = weights[layer][0]
    channels = kernel.shape[-1] if opcode != "DEPTHWISE_CONV_2D" else kernel.shape[2] * kernel.shape[3]
    assert tensor.dtype == "INT8"
    quant = tensor.quantization
    assert quant is not None and quant.quantized_dimension == axis
    assert len(quant.scales) == channels == tensor.shape[axis]  # really per channel
    assert len(set(quant.scales.tolist())) == channels

    # Independently: the raw int8 buffer and the flatbuffer's quantization parameters.
    q = _raw_buffer(model.data, tensor.index, "i1")
    params = tflite.Model.GetRootAs(model.data, 0).Subgraphs(0).Tensors(tensor.index).Quantization()
    scales, zero_points = params.ScaleAsNumpy().astype(np.float64), params.ZeroPointAsNumpy().astype(np.float64)
    assert not zero_points.any()  # symmetric weights
    shape = [1] * q.ndim
    shape[axis] = -1
    # f32 scale * small integer is exact in float64; one rounding to float32 equals numpy's f32 product.
    expected = (scales.reshape(shape) * (q - zero_points.reshape(shape))).astype(np.float32)
    dequantized = model.constant(tensor.index)
    assert dequantized.dtype == np.float32
    np.testing.assert_array_equal(dequantized, expected)

    # Within half a step of the Keras weights, per output channel. Keras keeps output
    # channels last (HWIO, IO) or as the last two axes (depthwise HWCM: channel c*M + m),
    # so the flattened trailing axes line up with the TFLite channel index.
    as_keras = layout.apply(dequantized, kernel.shape, f"{layer}.kernel")
    error = np.abs(as_keras - kernel).reshape(-1, channels).T
    half_step = scales.astype(np.float32)[:, None] / 2
    ulp = np.spacing(np.abs(kernel)).reshape(-1, channels).T  # the float32 rounding of the result
    assert (error <= half_step + ulp).all(), float((error / half_step).max())
    assert (error.max(axis=1) > 0).all()  # quantization did change every channel


@pytest.mark.parametrize("opcode", list(_WEIGHT_OPS))
def test_int8_biases_within_half_a_step(synthetic, opcode: str) -> None:
    model, weights = synthetic["int8"], synthetic["weights"]
    layer = _WEIGHT_OPS[opcode][0]
    op = _weight_op(model, opcode)
    tensor = model.tensors[op.inputs[2]]
    assert tensor.dtype == "INT32" and tensor.quantization is not None
    bias = weights[layer][1]
    scales = tensor.quantization.scales
    assert scales.shape == bias.shape
    q = _raw_buffer(model.data, tensor.index, "<i4").astype(np.float64)
    value = model.constant(tensor.index)
    np.testing.assert_array_equal(value, (scales.astype(np.float64) * q).astype(np.float32))
    assert (np.abs(value - bias) <= scales / 2 + np.spacing(np.abs(bias))).all()
    assert (np.abs(value - bias) > 0).any()


# -- display ---------------------------------------------------------------------------
def test_str_has_the_op_table(palm: TFLiteModel) -> None:
    text = str(palm)
    lines = text.splitlines()
    assert lines[0].startswith("palm_detection_lite.tflite: 232 ops, 353 tensors;")
    assert "custom ops none" in lines[0] and "'DEQUANTIZE': 113" in lines[0]
    assert re.match(r"#\s+opcode\s+inputs\s+outputs\s+output tensor$", lines[1])
    assert len(lines) == 3 + 232  # summary, header, rule, one row per op
    row = lines[3 + 2].split()
    assert row[:5] == ["2", "CONV_2D", "1x192x192x3", "32x5x5x3", "32"]
    assert row[5] == "1x96x96x32"
    assert repr(palm) == "<TFLiteModel palm_detection_lite.tflite: 232 ops, 353 tensors>"


def test_html_has_the_op_table(palm: TFLiteModel) -> None:
    html = palm._repr_html_()
    assert html.startswith("<div")
    assert html.count("<tr id='t2k-op-") == 232
    assert "<td>CONV_2D</td>" in html
    assert "232 ops, 353 tensors" in html


# -- errors ----------------------------------------------------------------------------
def test_activation_is_not_a_constant(palm: TFLiteModel) -> None:
    conv = palm.operators[2]
    name = palm.tensors[conv.outputs[0]].name
    assert not palm.is_constant(conv.outputs[0])
    with pytest.raises(InvalidModelError, match=re.escape(f"{name!r} is not a constant")) as info:
        palm.constant(conv.outputs[0])
    assert "computed by op 2 (CONV_2D)" in str(info.value)
    graph_input = palm.inputs[0]
    with pytest.raises(InvalidModelError, match=r"tensor 0 'input_1' is not a constant: it has no data$"):
        palm.constant(graph_input)


def test_unknown_tensor(palm: TFLiteModel) -> None:
    with pytest.raises(InvalidModelError, match="no tensor named 'nope'"):
        palm.constant("nope")
    with pytest.raises(InvalidModelError, match="tensor index 353 is out of range: the model has 353 tensors"):
        palm.constant(353)


def _shape_slot(data: bytes, tensor_index: int) -> int:
    """Byte position of ``Tensors(tensor_index).Shape[0]``."""
    tensor = tflite.Model.GetRootAs(data, 0).Subgraphs(0).Tensors(tensor_index)
    return tensor._tab.Vector(tensor._tab.Offset(4))


def _with_shape(data: bytes, tensor_index: int, shape: tuple[int, ...]) -> bytes:
    out = bytearray(data)
    struct.pack_into(f"<{len(shape)}i", out, _shape_slot(data, tensor_index), *shape)
    return bytes(out)


def test_dequantize_output_with_another_shape(palm: TFLiteModel) -> None:
    op = palm.operators[1]
    out = op.outputs[0]
    model = read(_with_shape(palm.data, out, (32, 5, 3, 5)))  # same element count, other shape
    np.testing.assert_array_equal(model.constant(op.inputs[0]), palm.constant(op.inputs[0]))
    with pytest.raises(InvalidModelError, match=re.escape(
        f"has shape (32, 5, 3, 5), but op 1 (DEQUANTIZE) computes it from tensor {op.inputs[0]} of shape (32, 5, 5, 3)"
    )):
        model.constant(out)


def test_shape_whose_product_wraps_around(corpus_model) -> None:
    data = corpus_model("hand_recrop").read_bytes()
    model = read(data)
    kernel = model.tensors[1]
    assert (kernel.name, kernel.shape, model.raw(1).size) == ("conv2d/Kernel", (8, 3, 3, 3), 216)
    # 2147418113 * 429509837 * 5 == 1 (mod 2**61), so the product is 216 (mod 2**64):
    # an int64 product would wrap around to exactly the stored size.
    huge = (2147418113, 429509837, 5, 216)
    assert np.prod(huge, dtype=np.int64) == 216
    corrupt = read(_with_shape(data, 1, huge))
    with pytest.raises(InvalidModelError, match=r"shape \(2147418113, 429509837, 5, 216\) needs \d{20,} values, "
                                                r"the buffer holds 216"):
        corrupt.constant(1)


@pytest.mark.parametrize("extent", [2**20, 2**24], ids=["2^20", "2^24"])
def test_sparse_tensor_with_a_huge_shape(corpus_model, extent: int) -> None:
    """A corrupt dense extent of a SPARSE_CSR level stays consistent with the indices."""
    data = corpus_model("face_detection_full_range_sparse").read_bytes()
    model = read(data)
    sparse = model.tensors[328]
    assert sparse.is_sparse and sparse.shape == (96, 1, 1, 384)
    assert [m.format for m in sparse.sparsity.dim_metadata] == ["DENSE", "DENSE", "DENSE", "SPARSE_CSR"]
    assert model.constant(328).shape == (96, 1, 1, 384)
    corrupt = read(_with_shape(data, 328, (96, 1, 1, extent)))
    tracemalloc.start()
    start = time.process_time()  # CPU time, never wall-clock: a loaded machine must not fail the test
    try:
        with pytest.raises(InvalidModelError, match=rf"sparse tensor 328 .* has {96 * extent} elements, more than"):
            corrupt.constant(328)
    finally:
        elapsed, peak = time.process_time() - start, tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # Refused before densifying: nothing of the claimed size is allocated or looped over.
    assert peak < 96 * extent * 4 // 8, f"{peak / 2**20:.1f} MiB allocated"
    assert elapsed < 10.0, f"{elapsed:.2f} s of CPU time"


def test_sparse_tensor_with_a_larger_shape_mismatches_densify(corpus_model) -> None:
    data = corpus_model("face_detection_full_range_sparse").read_bytes()
    model = read(_with_shape(data, 328, (96, 1, 1, 512)))
    value = model.constant(328)  # still decodable: the extra columns are zeros
    assert value.shape == (96, 1, 1, 512) and not value[..., 384:].any()
    densify = model.consumers(328)[0]
    assert densify.opcode == "DENSIFY"
    with pytest.raises(InvalidModelError, match=r"has shape \(96, 1, 1, 384\), but op \d+ \(DENSIFY\)"):
        model.constant(densify.outputs[0])


def _dequantize_chain(hops: int) -> TFLiteModel:
    """A float16 constant behind ``hops`` chained DEQUANTIZE ops."""
    data = np.arange(6, dtype="<f2").tobytes()
    tensors = [Tensor(0, "w", (2, 3), (2, 3), "FLOAT16", 1)]
    tensors += [Tensor(i, f"w_{i}", (2, 3), (2, 3), "FLOAT32", 0) for i in range(1, hops + 1)]
    operators = [Operator(i, "DEQUANTIZE", 1, (i,), (i + 1,)) for i in range(hops)]
    return TFLiteModel(data, tensors=tensors, operators=operators, inputs=(), outputs=(hops,),
                       buffers=[(0, 0), (0, len(data))], signature_defs={}, metadata=(), subgraphs=(),
                       version=3, description="")


def test_short_dequantize_chain_decodes() -> None:
    model = _dequantize_chain(3)
    assert model.is_constant(3) and model.source_of(3).index == 0
    np.testing.assert_array_equal(model.constant(3), np.arange(6, dtype=np.float32).reshape(2, 3))


@pytest.mark.parametrize("hops", [9, 16, 5000])  # 5000: deeper than Python's recursion limit
def test_long_dequantize_chain_is_rejected_without_recursion(hops: int) -> None:
    model = _dequantize_chain(hops)
    assert not model.is_constant(hops)
    with pytest.raises(InvalidModelError, match=rf"tensor {hops} 'w_{hops}' is not a constant: it is more than 8 "):
        model.constant(hops)
    assert model.is_constant(8) and model.constant(8).shape == (2, 3)


def test_every_verb_takes_one_source_type() -> None:
    import typing

    import tflite2keras as t2k
    from tflite2keras.tflite.model import Source

    import keras  # the verbs name keras.Model under TYPE_CHECKING: importing the package does not import Keras

    for verb in (t2k.read, t2k.convert, t2k.transplant, t2k.lint, t2k.verify, t2k.truncate):
        hints = typing.get_type_hints(verb, {**verb.__globals__, "keras": keras})
        assert hints["source"] == Source, verb.__name__
    assert set(typing.get_args(Source)) == {str, os.PathLike[str], bytes, TFLiteModel}
