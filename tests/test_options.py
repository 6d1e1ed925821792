"""Tests for :mod:`tflite2keras.options`: accessor names and builtin options of real ops."""

from __future__ import annotations

import struct
from typing import Any

import pytest
import tflite

from tflite2keras import read
from tflite2keras.errors import InvalidModelError
from tflite2keras.options import decode, snake_case


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
