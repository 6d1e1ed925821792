"""Tests for :mod:`tflite2keras.tflite.options`: accessor names and builtin options of real ops."""

from __future__ import annotations

import re
import struct
from typing import Any

import pytest
import tflite

from tflite2keras import read
from tflite2keras.errors import InvalidModelError
from tflite2keras.tflite.options import decode, snake_case

_NAMES = [
    ("StrideW", "stride_w"),
    ("DilationHFactor", "dilation_h_factor"),
    ("FusedActivationFunction", "fused_activation_function"),
    ("HalfPixelCenters", "half_pixel_centers"),
    ("DepthMultiplier", "depth_multiplier"),
    ("PotScaleInt16", "pot_scale_int16"),
    ("IdxOutType", "idx_out_type"),
    ("LSHProjectionType", "lsh_projection_type"),
    ("Axis", "axis"),
]


@pytest.mark.parametrize(("accessor", "expected"), _NAMES, ids=[a for a, _ in _NAMES])
def test_snake_case(accessor: str, expected: str) -> None:
    assert snake_case(accessor) == expected


def _raw_op(data: bytes, index: int) -> Any:
    return tflite.Model.GetRootAs(data, 0).Subgraphs(0).Operators(index)


# (model, op index, options class, decoded fields)
_REAL_OPS = [
    ("palm_detection_lite", 2, "Conv2DOptions", {
        "dilation_h_factor": 1, "dilation_w_factor": 1, "fused_activation_function": "NONE",
        "padding": "SAME", "quantized_bias_type": "FLOAT32", "stride_h": 2, "stride_w": 2}),
    ("face_detection_full_range_sparse", 3, "Conv2DOptions", {
        "dilation_h_factor": 1, "dilation_w_factor": 1, "fused_activation_function": "RELU",
        "padding": "VALID", "quantized_bias_type": "FLOAT32", "stride_h": 2, "stride_w": 2}),
    ("face_detection_full_range_sparse", 7, "DepthwiseConv2DOptions", {
        "depth_multiplier": 1, "dilation_h_factor": 1, "dilation_w_factor": 1,
        "fused_activation_function": "NONE", "padding": "VALID", "stride_h": 1, "stride_w": 1}),
    ("face_detection_full_range_sparse", 377, "DepthToSpaceOptions", {"block_size": 2}),
    ("face_detection_short_range", 162, "ConcatenationOptions", {"axis": 1, "fused_activation_function": "NONE"}),
    ("iris_landmark", 167, "ReshapeOptions", {"new_shape": (1, -1)}),
    ("selfie_segmentation", 12, "Pool2DOptions", {
        "filter_height": 64, "filter_width": 64, "fused_activation_function": "NONE", "padding": "VALID",
        "stride_h": 64, "stride_w": 64}),
    ("hand_landmark_full", 153, "FullyConnectedOptions", {
        "asymmetric_quantize_inputs": False, "fused_activation_function": "NONE", "keep_num_dims": False,
        "quantized_bias_type": "FLOAT32", "weights_format": "DEFAULT"}),
]


@pytest.mark.parametrize(("name", "index", "cls", "fields"), _REAL_OPS,
                         ids=[f"{n}-op{i}-{c}" for n, i, c, _ in _REAL_OPS])
def test_decode_real_op(corpus_model, name: str, index: int, cls: str, fields: dict[str, Any]) -> None:
    data = corpus_model(name).read_bytes()
    op = _raw_op(data, index)
    assert decode(op.BuiltinOptionsType(), op.BuiltinOptions()) == (cls, fields)
    assert read(data).operators[index].options == fields  # the reader stores the same dict


@pytest.mark.parametrize(
    ("union_type", "table"),
    [(0, None), (tflite.BuiltinOptions.Conv2DOptions, None), (10_000, None)],
    ids=["none", "missing-table", "unknown-union-type"],
)
def test_decode_without_options(union_type: int, table: Any) -> None:
    assert decode(union_type, table) == ("", {})


def test_ops_without_options_decode_empty(corpus_model) -> None:
    model = read(corpus_model("palm_detection_lite"))
    for op in model.operators:
        if op.opcode in ("DEQUANTIZE", "PRELU", "PAD"):
            assert op.options == {}, op


def test_corrupt_vector_length(corpus_model) -> None:
    data = bytearray(corpus_model("iris_landmark").read_bytes())
    options = tflite.ReshapeOptions()
    table = _raw_op(bytes(data), 167).BuiltinOptions()
    options.Init(table.Bytes, table.Pos)
    length_at = options._tab.Vector(options._tab.Offset(4)) - 4
    assert struct.unpack_from("<i", data, length_at)[0] == 2
    struct.pack_into("<i", data, length_at, 2**30)
    model = read(bytes(data))  # options are decoded on first access
    with pytest.raises(InvalidModelError, match=r"op 167 \(RESHAPE\).*ReshapeOptions\.NewShape claims 1073741824"):
        dict(model.operators[167].options)


# -- what the interpreter's Prepare rejects, convert rejects -------------------------------------

def _prepare_models() -> dict[str, bytes]:
    """Two small files: CONV_2D, DEPTHWISE_CONV_2D (multiplier 2), MAX_POOL_2D, MUL, CONCATENATION;
    and SPLIT, MUL, PACK, UNPACK."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inputs = keras.Input((9, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)(x)
    x = keras.layers.MaxPooling2D(2)(x)
    convs = bytes(tf.lite.TFLiteConverter.from_keras_model(
        keras.Model(inputs, keras.layers.Concatenate()([x, x * 2.0]))).convert())

    def split(x: Any) -> Any:
        y = tf.split(x, 2, axis=2)
        return tf.stack([y[0], y[1] * 2.0], axis=3), tf.unstack(x, axis=1)[1]

    concrete = tf.function(split).get_concrete_function(tf.TensorSpec((1, 5, 4, 3)))
    return {"convs": convs, "split": bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())}


_POOL_OPTIONS = {"type": "Pool2DOptions", "padding": "SAME", "stride_w": 1, "stride_h": 1, "filter_width": 2,
                 "filter_height": 2, "fused_activation_function": "NONE"}
#: id -> (model, op index, opcode, options to set (None: remove the table), option named, value named,
#: whether the interpreter's Prepare rejects the file too; where it does not, the interpreter runs it
#: to an empty output, or ignores an enum value it does not know).
_PREPARE_CASES: dict[str, tuple[str, int, str, dict[str, Any] | None, str, Any, bool]] = {
    "conv_stride_0": ("convs", 0, "CONV_2D", {"stride_h": 0}, "stride_h", 0, True),
    "conv_stride_negative": ("convs", 0, "CONV_2D", {"stride_w": -2}, "stride_w", -2, True),
    "conv_dilation_0": ("convs", 0, "CONV_2D", {"dilation_w_factor": 0}, "dilation_w_factor", 0, True),
    "conv_padding_enum": ("convs", 0, "CONV_2D", {"padding": 7}, "padding", 7, True),
    "conv_activation_enum": ("convs", 0, "CONV_2D", {"fused_activation_function": 9},
                             "fused_activation_function", 9, False),
    "conv_with_pool_options": ("convs", 0, "CONV_2D", _POOL_OPTIONS, "builtin_options_type", "Pool2DOptions", True),
    "conv_without_options": ("convs", 0, "CONV_2D", None, "builtin_options_type", "NONE", True),
    "depthwise_window": ("convs", 1, "DEPTHWISE_CONV_2D", {"dilation_h_factor": 5}, "window", (11, 3), True),
    "pool_filter_0": ("convs", 2, "MAX_POOL_2D", {"filter_width": 0}, "filter_width", 0, False),
    "pool_stride_0": ("convs", 2, "MAX_POOL_2D", {"stride_w": 0}, "stride_w", 0, True),
    "pool_window": ("convs", 2, "MAX_POOL_2D", {"filter_height": 8}, "window", (8, 2), False),
    "concat_axis": ("convs", 4, "CONCATENATION", {"axis": 2**31 - 1}, "axis", 2**31 - 1, True),
    "split_count": ("split", 0, "SPLIT", {"num_splits": 3}, "num_splits", 3, True),
    "pack_count": ("split", 2, "PACK", {"values_count": 3}, "values_count", 3, True),
    "pack_axis": ("split", 2, "PACK", {"axis": 5}, "axis", 5, True),
    "unpack_count": ("split", 3, "UNPACK", {"num": 4}, "num", 4, True),
}


@pytest.fixture(scope="module")
def prepare_models() -> dict[str, bytes]:
    return _prepare_models()


def _edited(data: bytes, index: int, options: dict[str, Any] | None) -> bytes:
    """``data`` with op ``index``'s builtin options updated (or replaced, with a ``type``; or removed)."""
    import json

    from tflite2keras import from_json, to_json

    model = json.loads(to_json(data))
    op = model["subgraphs"][0]["operators"][index]
    if options is None:
        op.pop("builtin_options")
    elif "type" in options:
        op["builtin_options"] = dict(options)
    else:
        op["builtin_options"].update(options)
    return from_json(json.dumps(model))


_ALLOCATE = """
import sys
from ai_edge_litert.interpreter import Interpreter
try:
    Interpreter(model_content=sys.stdin.buffer.read()).allocate_tensors()
except Exception as err:
    print("REJECTED", type(err).__name__, err)
"""


def _runtime_rejects(data: bytes) -> bool:
    """True when the interpreter cannot allocate the file's tensors (its Prepare fails), asked in a
    child process: on some corrupt files the interpreter crashes rather than raise."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _ALLOCATE], input=data, capture_output=True, timeout=300)
    return done.returncode != 0 or b"REJECTED" in done.stdout


@pytest.mark.parametrize("case", sorted(_PREPARE_CASES))
def test_convert_rejects_what_prepare_rejects(case: str, prepare_models: dict[str, bytes]) -> None:
    from tflite2keras import convert

    name, index, opcode, options, option, value, runtime_rejects = _PREPARE_CASES[case]
    data = _edited(prepare_models[name], index, options)
    assert read(data).operators[index].opcode == opcode
    assert _runtime_rejects(data) == runtime_rejects
    with pytest.raises(InvalidModelError) as caught:
        convert(data)
    message = str(caught.value)
    for needle in (f"op {index} ({opcode})", f"{option} is {value!r}", "expected"):
        assert needle in message, (needle, message)


@pytest.mark.parametrize("name", ["convs", "split"])
def test_prepare_models_convert_unedited(name: str, prepare_models: dict[str, bytes]) -> None:
    import tflite2keras as t2k

    data = prepare_models[name]
    assert t2k.verify(t2k.convert(data), data, samples=2).ok


@pytest.mark.parametrize("index, opcode, keep, want", [(3, "MUL", 1, "2"), (0, "CONV_2D", 1, "2 to 3")],
                         ids=["mul", "conv"])
def test_an_op_with_too_few_inputs_is_named(index: int, opcode: str, keep: int, want: str,
                                           prepare_models: dict[str, bytes]) -> None:
    """An opcode changed into another (an ADD where a RELU was) reads inputs its op lacks."""
    import json

    from tflite2keras import convert, from_json, to_json

    model = json.loads(to_json(prepare_models["convs"]))
    op = model["subgraphs"][0]["operators"][index]
    op["inputs"] = op["inputs"][:keep]
    data = from_json(json.dumps(model))
    assert read(data).operators[index].opcode == opcode
    assert _runtime_rejects(data)
    with pytest.raises(InvalidModelError, match=rf"op {index} \({opcode}\) .*number of inputs is {keep}, "
                                                rf"expected {want}"):
        convert(data)


@pytest.mark.parametrize("multiplier", [0, 3])
def test_depth_multiplier_the_kernels_ignore_converts(multiplier: int, prepare_models: dict[str, bytes]) -> None:
    """The builtin kernels take the multiplier from the shapes (2 here), whatever the option says."""
    import tflite2keras as t2k

    data = _edited(prepare_models["convs"], 1, {"depth_multiplier": multiplier})
    assert read(data).operators[1].options["depth_multiplier"] == multiplier
    assert t2k.verify(t2k.convert(data), data, samples=2).ok


def test_options_kinds_and_types() -> None:
    from tflite2keras.ops.prepare import options_type
    from tflite2keras.testdata import tiny

    model = read(tiny.tflite())
    assert [op.options.kinds for op in model.operators] == [("Conv2DOptions",), ("Pool2DOptions",),
                                                          ("Conv2DOptions",)]
    assert [options_type(op.opcode) for op in model.operators] == ["Conv2DOptions", "Pool2DOptions", "Conv2DOptions"]
    assert options_type("MEAN") == "ReducerOptions" and options_type("STABLEHLO_CONCATENATE") == \
        "StablehloConcatenateOptions" and options_type("LOGISTIC") is None


# -- tensor shapes the interpreter's Prepare rejects (ops/prepare_shapes.py) ----------------------
def _shapes_model() -> bytes:
    """CONV_2D (with bias, RELU), MAX_POOL_2D, ADD of a (4,) constant, RESHAPE to a constant
    (1, 64), FULLY_CONNECTED of 5 units, on a (1, 8, 8, 3) input."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    kernel, bias = rng.normal(size=(3, 3, 3, 4)).astype("float32"), rng.normal(size=4).astype("float32")
    offsets, dense = np.arange(1, 5, dtype="float32"), rng.normal(size=(64, 5)).astype("float32")

    @tf.autograph.experimental.do_not_convert
    def net(x: Any) -> Any:
        y = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME") + bias)
        y = tf.nn.max_pool2d(y, 2, 2, "VALID") + offsets
        return tf.matmul(tf.reshape(y, [1, 64]), dense)

    concrete = tf.function(net).get_concrete_function(tf.TensorSpec((1, 8, 8, 3)))
    return bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())


@pytest.fixture(scope="module")
def shapes_model() -> bytes:
    return _shapes_model()


def _with_tensor(data: bytes, index: int, shape: tuple[int, ...] | None = None,
                 values: tuple[int, ...] | None = None) -> bytes:
    """``data`` with tensor ``index``'s shape set, or its int32 buffer's values overwritten (as many)."""
    import json

    import numpy as np

    from tflite2keras import from_json, to_json

    if values is not None:
        root = tflite.Model.GetRootAs(data, 0)
        buffer = root.Buffers(root.Subgraphs(0).Tensors(index).Buffer())
        start = buffer._tab.Vector(buffer._tab.Offset(4))
        out = bytearray(data)
        out[start:start + 4 * len(values)] = np.asarray(values, "<i4").tobytes()
        return bytes(out)
    model = json.loads(to_json(data))
    model["subgraphs"][0]["tensors"][index]["shape"] = list(shape or ())
    return from_json(json.dumps(model))


#: id -> (op index, opcode, input slot, new shape, new int32 values, what the message says, whether the
#: interpreter rejects the file too: it recomputes the shapes of the tensors that are not constant).
_SHAPE_CASES: dict[str, tuple[int, str, int, tuple[int, ...] | None, tuple[int, ...] | None, str, bool]] = {
    "conv_input_rank_3": (0, "CONV_2D", 0, (1, 8, 8), None, "shape is (1, 8, 8), expected rank 4", True),
    "conv_filter_2d": (0, "CONV_2D", 1, (4, 27), None, "shape is (4, 27), expected rank 4", True),
    "conv_filter_channels": (0, "CONV_2D", 1, (3, 3, 3, 4), None,
                             "shape is (3, 3, 3, 4), expected input channels dividing the input's 3", True),
    "conv_bias_length": (0, "CONV_2D", 1, (2, 3, 6, 3), None, "input 2 '", True),  # 4 biases, 2 filters
    "add_unbroadcastable": (2, "ADD", 1, (2, 2), None, "shape is (2, 2), expected a shape that broadcasts", True),
    "add_stored_shape": (2, "ADD", 0, (1, 4, 4, 3), None, "expected a shape that broadcasts", False),
    "reshape_size": (3, "RESHAPE", 1, None, (1, 60), "expected 60 elements, for the target shape (1, 60)", True),
    "fully_connected_columns": (4, "FULLY_CONNECTED", 1, (64, 5), None, "expected a last dimension of 5", True),
    "pool_input_rank_5": (1, "MAX_POOL_2D", 0, (1, 1, 8, 8, 4), None, "expected rank 4", False),
}


@pytest.mark.parametrize("case", sorted(c for c, v in _SHAPE_CASES.items() if not v[-1]))
def test_stale_stored_shapes_the_interpreter_ignores_convert(case: str, shapes_model: bytes) -> None:
    """A stored shape of a computed tensor that the interpreter recomputes (and so runs the file):
    convert follows the computed shape, says so naming the tensor, and the model verifies."""
    from tflite2keras import convert, verify

    index, opcode, slot, shape, values, _, _ = _SHAPE_CASES[case]
    tensor = read(shapes_model).operators[index].inputs[slot]
    data = _with_tensor(shapes_model, tensor, shape, values)
    assert not _runtime_rejects(data)
    name = read(data).tensors[tensor].name
    with pytest.warns(UserWarning, match=rf"tensor {tensor} '{re.escape(name)}' stored \[{', '.join(map(str, shape))}\]"):
        model = convert(data)
    assert verify(model, data, samples=2).ok


@pytest.mark.parametrize("case", sorted(c for c, v in _SHAPE_CASES.items() if v[-1]))
def test_convert_rejects_inconsistent_shapes(case: str, shapes_model: bytes) -> None:
    from tflite2keras import convert

    index, opcode, slot, shape, values, says, runtime_rejects = _SHAPE_CASES[case]
    op = read(shapes_model).operators[index]
    assert op.opcode == opcode
    tensor = op.inputs[slot]
    data = _with_tensor(shapes_model, tensor, shape, values)
    assert _runtime_rejects(data) == runtime_rejects
    with pytest.raises(InvalidModelError) as caught:
        convert(data)
    message = str(caught.value)
    name = read(data).tensors[tensor].name
    for needle in (f"op {index} ({opcode})", says, "expected"):
        assert needle in message, (needle, message)
    assert f"'{name}'" in message or case == "conv_bias_length", message


def test_shapes_model_converts_and_verifies_unedited(shapes_model: bytes) -> None:
    import tflite2keras as t2k

    assert [op.opcode for op in read(shapes_model).operators] == [
        "CONV_2D", "MAX_POOL_2D", "ADD", "RESHAPE", "FULLY_CONNECTED"]
    assert t2k.verify(t2k.convert(shapes_model), shapes_model, samples=2).ok
