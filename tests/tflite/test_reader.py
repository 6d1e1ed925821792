"""Tests for :mod:`tflite2keras.tflite.reader`: :func:`read` on the real corpus and on bad input.

* Every corpus model: counts, graph input and output shapes, valid tensor indices,
  and every constant decodes to the tensor's own shape with finite values.
* palm_detection_lite: decoded options of CONV_2D, MAX_POOL_2D and RESIZE_BILINEAR.
* Custom ops (selfie_segmentation, face_landmark_with_attention) keep their names
  and raw ``custom_options`` bytes.
* Every accepted source type gives the same model.
* Not-a-model, empty, truncated and out-of-order files raise :class:`InvalidModelError`;
  a missing path raises :class:`FileNotFoundError`.
* Reading does not import TensorFlow or Keras (checked in a fresh interpreter).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import tflite

from tflite2keras import read
from tflite2keras.errors import InvalidModelError, Tflite2KerasError
from tflite2keras.testdata import corpus
from tflite2keras.tflite.model import TFLiteModel

# Graph input and output shapes of every corpus model, as MediaPipe documents them.
_IO_SHAPES: dict[str, tuple[list[tuple[int, ...]], list[tuple[int, ...]]]] = {
    "face_detection_full_range_sparse": ([(1, 192, 192, 3)], [(1, 2304, 16), (1, 2304, 1)]),
    "face_detection_short_range": ([(1, 128, 128, 3)], [(1, 896, 16), (1, 896, 1)]),
    "face_landmark": ([(1, 192, 192, 3)], [(1, 1, 1, 1404), (1, 1, 1, 1)]),
    "face_landmark_with_attention": (
        [(1, 192, 192, 3)],
        [(1, 1, 1, 1404), (1, 1, 1, 160), (1, 1, 1, 142), (1, 1, 1, 142), (1, 1, 1, 10), (1, 1, 1, 10),
         (1, 1, 1, 1)],
    ),
    "hand_landmark_full": ([(1, 224, 224, 3)], [(1, 63), (1, 1), (1, 1), (1, 63)]),
    "hand_landmark_lite": ([(1, 224, 224, 3)], [(1, 63), (1, 1), (1, 1), (1, 63)]),
    "hand_recrop": ([(1, 256, 256, 3)], [(1, 1, 1, 4)]),
    "iris_landmark": ([(1, 64, 64, 3)], [(1, 213), (1, 15)]),
    "palm_detection_full": ([(1, 192, 192, 3)], [(1, 2016, 18), (1, 2016, 1)]),
    "palm_detection_lite": ([(1, 192, 192, 3)], [(1, 2016, 18), (1, 2016, 1)]),
    "pose_detection": ([(1, 224, 224, 3)], [(1, 2254, 12), (1, 2254, 1)]),
    "pose_landmark_full": (
        [(1, 256, 256, 3)], [(1, 195), (1, 1), (1, 256, 256, 1), (1, 64, 64, 39), (1, 117)],
    ),
    "selfie_segmentation": ([(1, 256, 256, 3)], [(1, 256, 256, 1)]),
    "selfie_segmentation_landscape": ([(1, 144, 256, 3)], [(1, 144, 256, 1)]),
}


def test_io_table_covers_the_corpus() -> None:
    assert sorted(_IO_SHAPES) == sorted(corpus.MODELS)


@pytest.mark.parametrize("name", corpus.MODELS)
def test_read_corpus_model(corpus_model, name: str) -> None:
    model = read(corpus_model(name))
    assert len(model.operators) > 0 and len(model.tensors) > 0
    assert model.version == 3
    assert model.source == f"{name}.tflite"
    inputs, outputs = _IO_SHAPES[name]
    assert [model.tensors[i].shape for i in model.inputs] == inputs
    assert [model.tensors[i].shape for i in model.outputs] == outputs
    assert [t.index for t in model.tensors] == list(range(len(model.tensors)))
    assert [op.index for op in model.operators] == list(range(len(model.operators)))
    for op in model.operators:
        assert op.outputs, f"op {op.index} ({op.opcode}) has no outputs"
        assert all(-1 <= i < len(model.tensors) for i in op.inputs + op.outputs)
        assert op.version >= 1


@pytest.mark.parametrize("name", corpus.MODELS)
def test_every_constant_decodes(corpus_model, name: str) -> None:
    model = read(corpus_model(name))
    constants = [t for t in model.tensors if model.is_constant(t.index)]
    assert constants
    for tensor in constants:
        value = model.constant(tensor.index)
        assert value.shape == tensor.shape, tensor.name
        assert not value.flags.writeable
        if value.dtype.kind == "f":
            assert value.dtype == np.float32 and np.isfinite(value).all(), tensor.name
        else:
            assert value.dtype.kind in "iub", tensor.name
    # Graph inputs are never constants.
    for index in model.inputs:
        assert not model.is_constant(index)


def test_palm_detection_lite_options(corpus_model) -> None:
    model = read(corpus_model("palm_detection_lite"))
    conv = model.operators[2]
    assert conv.opcode == "CONV_2D" and not conv.is_custom
    assert conv.options == {
        "dilation_h_factor": 1, "dilation_w_factor": 1, "fused_activation_function": "NONE",
        "padding": "SAME", "quantized_bias_type": "FLOAT32", "stride_h": 2, "stride_w": 2,
    }
    assert model.tensors[conv.inputs[0]].shape == (1, 192, 192, 3)
    assert model.tensors[conv.inputs[1]].shape == (32, 5, 5, 3)
    assert model.tensors[conv.outputs[0]].shape == (1, 96, 96, 32)

    pools = [op for op in model.operators if op.opcode == "MAX_POOL_2D"]
    assert len(pools) == 4
    for op in pools:
        assert (op.options["filter_height"], op.options["filter_width"]) == (2, 2)
        assert (op.options["stride_h"], op.options["stride_w"]) == (2, 2)
        assert op.options["padding"] == "SAME"

    resizes = [op for op in model.operators if op.opcode == "RESIZE_BILINEAR"]
    assert len(resizes) == 2
    for op in resizes:
        assert op.options == {"align_corners": False, "half_pixel_centers": True}
        # The size input is an INT32 constant: the doubled spatial size.
        size = model.constant(op.inputs[1])
        in_shape, out_shape = model.tensors[op.inputs[0]].shape, model.tensors[op.outputs[0]].shape
        assert size.dtype == np.int32
        assert size.tolist() == list(out_shape[1:3]) == [2 * in_shape[1], 2 * in_shape[2]]


def test_selfie_segmentation_custom_op(corpus_model) -> None:
    model = read(corpus_model("selfie_segmentation"))
    custom = [op for op in model.operators if op.is_custom]
    assert [op.opcode for op in custom] == ["Convolution2DTransposeBias"]
    op = custom[0]
    assert op.options == {}
    # TfLiteTransposeConvParams: padding SAME (1), stride_width 2, stride_height 2.
    assert op.custom_options == struct.pack("<3i", 1, 2, 2)
    assert [model.tensors[i].shape for i in op.inputs] == [(1, 128, 128, 16), (1, 2, 2, 16), (1,)]
    assert model.tensors[op.outputs[0]].shape == (1, 256, 256, 1)


def test_face_landmark_with_attention_custom_ops(corpus_model) -> None:
    model = read(corpus_model("face_landmark_with_attention"))
    custom = [op for op in model.operators if op.is_custom]
    names = [op.opcode for op in custom]
    assert {n: names.count(n) for n in set(names)} == {
        "Landmarks2TransformMatrix": 3, "TransformTensorBilinear": 3, "TransformLandmarks": 5,
    }
    for op in custom:
        assert isinstance(op.custom_options, bytes)
        assert op.options == {}
    # Flexbuffer maps keep their key names in the raw bytes; TransformLandmarks has none.
    by_name = {op.opcode: op for op in custom}
    assert b"output_height\x00output_width\x00" in by_name["TransformTensorBilinear"].custom_options
    assert b"subset_idxs\x00" in by_name["Landmarks2TransformMatrix"].custom_options
    assert by_name["TransformLandmarks"].custom_options == b""


def test_models_without_custom_ops(corpus_model) -> None:
    model = read(corpus_model("hand_recrop"))
    assert not any(op.is_custom for op in model.operators)
    assert all(op.custom_options is None for op in model.operators)


# -- source types ----------------------------------------------------------------------
def _signature(model: TFLiteModel) -> tuple:
    return (
        [(t.name, t.shape, t.dtype, t.buffer) for t in model.tensors],
        [(op.opcode, op.inputs, op.outputs, op.options, op.custom_options) for op in model.operators],
        model.inputs, model.outputs, model.metadata,
    )


@pytest.mark.parametrize("kind", ["str", "pathlib", "bytes", "bytearray", "memoryview", "model"])
def test_read_accepts(corpus_model, kind: str) -> None:
    path = corpus_model("hand_recrop")
    reference = read(path)
    source = {
        "str": lambda: str(path), "pathlib": lambda: Path(path), "bytes": path.read_bytes,
        "bytearray": lambda: bytearray(path.read_bytes()), "memoryview": lambda: memoryview(path.read_bytes()),
        "model": lambda: reference,
    }[kind]()
    model = read(source)
    if kind == "model":
        assert model is reference
    assert _signature(model) == _signature(reference)
    assert model.source == ("<bytes>" if kind in ("bytes", "bytearray", "memoryview") else "hand_recrop.tflite")
    weight = reference.operators[0].inputs[1]
    np.testing.assert_array_equal(model.constant(weight), reference.constant(weight))


# -- errors ----------------------------------------------------------------------------
def test_error_classes() -> None:
    assert issubclass(InvalidModelError, Tflite2KerasError)
    assert issubclass(InvalidModelError, ValueError)


@pytest.mark.parametrize(
    "content",
    [b"", b"TFL3", b"not a model at all, just text\n" * 4, b"\x89PNG\r\n\x1a\n" + bytes(64),
     bytes(4) + b"TFL2" + bytes(32)],
    ids=["empty", "four-bytes", "text", "png", "wrong-identifier"],
)
def test_not_a_tflite_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.tflite"
    path.write_bytes(content)
    with pytest.raises(InvalidModelError, match=r"bad\.tflite is not a TFLite model.*TFL3") as info:
        read(path)
    assert f"in {len(content)} bytes" in str(info.value)
    with pytest.raises(InvalidModelError, match=r"<bytes> is not a TFLite model"):
        read(content)


@pytest.mark.parametrize("fraction", [0.0001, 0.01, 0.25, 0.5, 0.9, 0.999], ids=lambda f: f"{f:.2%}")
@pytest.mark.parametrize("name", ["hand_recrop", "palm_detection_lite"])
def test_truncated_file(corpus_model, tmp_path: Path, name: str, fraction: float) -> None:
    data = corpus_model(name).read_bytes()
    cut = max(8, int(len(data) * fraction))
    path = tmp_path / f"{name}_cut.tflite"
    path.write_bytes(data[:cut])
    with pytest.raises(InvalidModelError, match=rf"{name}_cut\.tflite is a corrupt TFLite flatbuffer"):
        read(path)


@pytest.mark.parametrize("drop", [1, 2, 3, 4, 64])
def test_truncated_tail(corpus_model, drop: int) -> None:
    data = corpus_model("hand_recrop").read_bytes()
    with pytest.raises(InvalidModelError, match=r"<bytes> is a corrupt TFLite flatbuffer"):
        read(data[:-drop])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read(tmp_path / "missing.tflite")
    with pytest.raises(FileNotFoundError):
        read(str(tmp_path / "missing.tflite"))


def _ops_vector_slot(data: bytes, op_index: int, field: str) -> int:
    """Byte position of ``Operators(op_index).Inputs/Outputs`` element 0 in ``data``."""
    op = tflite.Model.GetRootAs(data, 0).Subgraphs(0).Operators(op_index)
    return op._tab.Vector(op._tab.Offset({"inputs": 6, "outputs": 8}[field]))


def test_op_reading_its_own_output(corpus_model) -> None:
    """A DEQUANTIZE that reads its own output would send constant() around forever."""
    data = bytearray(corpus_model("palm_detection_lite").read_bytes())
    assert read(bytes(data)).operators[0].opcode == "DEQUANTIZE"
    out = struct.unpack_from("<i", data, _ops_vector_slot(bytes(data), 0, "outputs"))[0]
    struct.pack_into("<i", data, _ops_vector_slot(bytes(data), 0, "inputs"), out)
    with pytest.raises(InvalidModelError, match=rf"op 0 \(DEQUANTIZE\) reads tensor {out}, which op 0 writes"):
        read(bytes(data))


def test_op_reading_a_later_output(corpus_model) -> None:
    data = bytearray(corpus_model("hand_recrop").read_bytes())
    model = read(bytes(data))
    later = model.operators[5].outputs[0]
    struct.pack_into("<i", data, _ops_vector_slot(bytes(data), 1, "inputs"), later)
    with pytest.raises(InvalidModelError, match=rf"op 1 \({model.operators[1].opcode}\) reads tensor {later}"):
        read(bytes(data))


def test_read_does_not_import_tensorflow(corpus_model, fresh_python) -> None:
    path = corpus_model("palm_detection_lite")
    code = (
        "import sys, tflite2keras\n"
        f"m = tflite2keras.read({str(path)!r})\n"
        "m.constant(m.operators[2].inputs[1]); str(m)\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "assert 'keras' not in sys.modules, 'keras was imported'\n"
    )
    done = fresh_python(code)
    assert done.returncode == 0, done.stderr
