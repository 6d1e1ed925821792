"""tflite2keras.tflite.custom_options: MediaPipe custom-op options, on the corpus and on bad bytes."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from flatbuffers import flexbuffers

import tflite2keras as t2k
from tflite2keras.errors import InvalidModelError, UnsupportedOpError
from tflite2keras.ops import custom_options
from tflite2keras.ops.mediapipe import transpose_conv_bias_output_size

SELFIE = ("selfie_segmentation", "selfie_segmentation_landscape")
FACE = "face_landmark_with_attention"


def _custom_ops(corpus_model: Callable[[str], Path], name: str) -> tuple[Any, list[Any]]:
    model = t2k.read(corpus_model(name))
    return model, [op for op in model.operators if op.is_custom]


def _flex(value: dict[str, Any]) -> bytes:
    return bytes(flexbuffers.Dumps(value))


@pytest.mark.parametrize("name", SELFIE)
def test_selfie_transpose_conv_options(corpus_model: Callable[[str], Path], name: str) -> None:
    model, ops = _custom_ops(corpus_model, name)
    assert [op.opcode for op in ops] == ["Convolution2DTransposeBias"]
    op = ops[0]
    options = custom_options.parse(op.opcode, op.custom_options, index=op.index)
    print(name, op.index, options)
    assert options == {"padding": "SAME", "stride_width": 2, "stride_height": 2}
    _, in_h, in_w, in_c = model.tensor(op.inputs[0]).shape
    out_ch, k_h, k_w, w_in = model.tensor(op.inputs[1]).shape
    assert w_in == in_c and model.tensor(op.inputs[2]).shape == (out_ch,)
    expected = (1, transpose_conv_bias_output_size(in_h, k_h, 2, "SAME"),
                transpose_conv_bias_output_size(in_w, k_w, 2, "SAME"), out_ch)
    assert model.tensor(op.outputs[0]).shape == expected == (1, 2 * in_h, 2 * in_w, out_ch)


def test_face_attention_options(corpus_model: Callable[[str], Path]) -> None:
    model, ops = _custom_ops(corpus_model, FACE)
    parsed = [(op, custom_options.parse(op.opcode, op.custom_options, index=op.index)) for op in ops]
    for op, options in parsed:
        print(op.index, op.opcode, options)
    by_code: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for op, options in parsed:
        by_code.setdefault(op.opcode, []).append((op, options))
    assert {code: len(v) for code, v in by_code.items()} == {
        "Landmarks2TransformMatrix": 3, "TransformTensorBilinear": 3, "TransformLandmarks": 5}
    for op, options in by_code["Landmarks2TransformMatrix"]:
        landmarks = model.tensor(op.inputs[0]).shape
        assert landmarks == (1, 468, 3) and model.tensor(op.outputs[0]).shape == (1, 4, 4)
        assert (options["output_height"], options["output_width"]) == (16, 16)
        assert options["scale_x"] == options["scale_y"] == 1.5
        assert options["target_rotation_radians"] == 0.0
        assert len(options["subset_idxs"]) in (71, 80)  # eyes 71, lips 80 landmarks
        assert max(options["subset_idxs"]) < landmarks[1]
        assert {options["left_rotation_idx"], options["right_rotation_idx"]} <= set(options["subset_idxs"])
    for op, options in by_code["TransformTensorBilinear"]:
        out_shape = model.tensor(op.outputs[0]).shape
        assert (options["output_height"], options["output_width"]) == out_shape[1:3] == (16, 16)
        assert model.tensor(op.inputs[1]).shape == (1, 4, 4)
    for op, options in by_code["TransformLandmarks"]:
        assert options == {} and op.custom_options == b""
        assert model.tensor(op.inputs[0]).shape == model.tensor(op.outputs[0]).shape
        assert model.tensor(op.inputs[0]).shape[2] == 2


def test_truncated_corpus_options_raise(corpus_model: Callable[[str], Path]) -> None:
    ops = _custom_ops(corpus_model, SELFIE[0])[1] + _custom_ops(corpus_model, FACE)[1]
    checked = 0
    for op in ops:
        for end in range(len(op.custom_options)):
            with pytest.raises(InvalidModelError, match=f"op {op.index} \\({op.opcode}\\)"):
                custom_options.parse(op.opcode, op.custom_options[:end], index=op.index)
            checked += 1
    assert checked > 1000


@pytest.mark.parametrize("opcode", custom_options.supported_ops())
def test_garbage_bytes_raise_invalid_model_error(opcode: str) -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        garbage = rng.integers(0, 256, int(rng.integers(1, 80))).astype(np.uint8).tobytes()
        with pytest.raises(InvalidModelError, match=opcode):
            custom_options.parse(opcode, garbage)


def test_unknown_opcode() -> None:
    with pytest.raises(UnsupportedOpError, match="MaxPoolingWithArgmax2D"):
        custom_options.parse("MaxPoolingWithArgmax2D", b"", index=3)
    with pytest.raises(NotImplementedError):
        custom_options.parse("CONV_2D", b"")


@pytest.mark.parametrize(("raw", "message"), [
    (struct.pack("<iii", 7, 2, 2), "padding=7"),
    (struct.pack("<iii", 1, 0, 2), "stride_width=0"),
    (struct.pack("<iii", 2, 1, -3), "stride_height=-3"),
    (struct.pack("<ii", 1, 2), "12-byte"),
], ids=["bad-padding", "zero-stride", "negative-stride", "short"])
def test_transpose_conv_struct_errors(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidModelError, match=message):
        custom_options.parse("Convolution2DTransposeBias", raw, index=244)


def test_transpose_conv_struct_values() -> None:
    parse = custom_options.parse
    assert parse("Convolution2DTransposeBias", struct.pack("<iii", 2, 3, 1)) == {
        "padding": "VALID", "stride_width": 3, "stride_height": 1}
    # Code 0 (kTfLitePaddingUnknown) gets no padding in MediaPipe's kernel, like VALID.
    assert parse("Convolution2DTransposeBias", struct.pack("<iii", 0, 1, 1))["padding"] == "VALID"
    # A longer TfLiteTransposeConvParams (activation, ...) is read by its first 12 bytes.
    assert parse("Convolution2DTransposeBias", struct.pack("<iiii", 1, 2, 2, 0))["padding"] == "SAME"


L2TM = {"left_rotation_idx": 1, "right_rotation_idx": 4, "subset_idxs": [1, 2, 3, 4, 5],
        "output_height": 7, "output_width": 5, "scale_x": 1.25, "scale_y": 2, "target_rotation_radians": 0.5}


def test_landmarks_to_transform_matrix_values() -> None:
    options = custom_options.parse("Landmarks2TransformMatrix", _flex(L2TM))
    assert options == {**L2TM, "subset_idxs": (1, 2, 3, 4, 5), "scale_y": 2.0}
    without_target = {k: v for k, v in L2TM.items() if k != "target_rotation_radians"}
    parsed = custom_options.parse("Landmarks2TransformMatrix", _flex(without_target))
    assert parsed["target_rotation_radians"] == 0.0


@pytest.mark.parametrize(("change", "message"), [
    ({"scale_x": 0.0}, "scale_x"),
    ({"output_width": 0}, "output_width"),
    ({"left_rotation_idx": -1}, "left_rotation_idx"),
    ({"subset_idxs": []}, "subset_idxs"),
    ({"subset_idxs": [1, -2]}, "subset_idxs"),
    ({"output_height": "16"}, "output_height must be an integer"),
    ({"right_rotation_idx": None}, "right_rotation_idx"),
], ids=["zero-scale", "zero-width", "negative-index", "empty-subset", "negative-subset", "string", "missing"])
def test_landmarks_to_transform_matrix_errors(change: dict[str, Any], message: str) -> None:
    options = {k: v for k, v in {**L2TM, **change}.items() if v is not None}
    with pytest.raises(InvalidModelError, match=message):
        custom_options.parse("Landmarks2TransformMatrix", _flex(options), index=192)


def test_landmarks_to_transform_matrix_version_1_is_unsupported() -> None:
    v1 = {"dimensions": 3, "landmarks_range": 192, "left_rotation_idx": 0, "right_rotation_idx": 1,
          "bbox_size_multiplier": 1.5, "input_hw": [192, 192], "output_hw": [16, 16], "subset": [0, 1]}
    with pytest.raises(UnsupportedOpError, match="version-1"):
        custom_options.parse("Landmarks2TransformMatrix", _flex(v1))


def test_transform_tensor_bilinear_and_landmarks() -> None:
    assert custom_options.parse("TransformTensorBilinear", _flex({"output_height": 9, "output_width": 5})) == {
        "output_height": 9, "output_width": 5}
    with pytest.raises(InvalidModelError, match="output_width"):
        custom_options.parse("TransformTensorBilinear", _flex({"output_height": 9}))
    with pytest.raises(InvalidModelError, match="flexbuffers map"):
        custom_options.parse("TransformTensorBilinear", _flex([9, 5]))
    assert custom_options.parse("TransformLandmarks", None) == {}
    assert custom_options.parse("TransformLandmarks", _flex({"dimensions": 3, "scale": 0.5})) == {
        "dimensions": 3, "scale": 0.5}


def test_the_decoder_is_the_op_specs(scratch_registry: None) -> None:
    """A custom op registered from a notebook brings its own decoder; there is no second table."""
    from tflite2keras.ops.registry import OpSpec, register_op

    register_op(OpSpec("MyCustomOp", layers=("Dense",), parse_options=lambda raw: {"units": raw[0]}))
    assert "MyCustomOp" in custom_options.supported_ops()
    assert custom_options.parse("MyCustomOp", b"\x05") == {"units": 5}
    with pytest.raises(InvalidModelError, match=r"op 9 \(MyCustomOp\) custom options: 0 bytes are malformed"):
        custom_options.parse("MyCustomOp", b"", index=9)
