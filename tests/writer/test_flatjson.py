"""tflite2keras.writer.flatjson: lossless TFLite <-> JSON round trips, edits, and errors that name the JSON path."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.errors import InvalidModelError
from tflite2keras.testdata import corpus, tiny
from tflite2keras.verification import reference
from tflite2keras.writer.flatjson import from_json, to_json
from tflite2keras.writer.flatjson.fields import schema

_EXTERNAL_LAYOUT = {"offset", "size", "largeCustomOptionsOffset", "largeCustomOptionsSize"}


def assert_same_object(a: Any, b: Any, path: str = "model") -> None:
    """Compare two object-API trees field by field (numpy arrays with array_equal)."""
    if isinstance(a, (np.ndarray, list)) or isinstance(b, (np.ndarray, list)):
        assert a is not None and b is not None, path
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype.kind != "O":
            assert a.dtype == b.dtype and np.array_equal(a, b), path
            return
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_object(x, y, f"{path}[{i}]")
    elif hasattr(a, "__dict__") and not isinstance(a, (bytes, str)):
        assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
        for key in vars(a):
            if key not in _EXTERNAL_LAYOUT:
                assert_same_object(getattr(a, key), getattr(b, key), f"{path}.{key}")
    else:
        assert a == b or (a != a and b != b), f"{path}: {a!r} != {b!r}"


def assert_same_read(a: t2k.TFLiteModel, b: t2k.TFLiteModel) -> None:
    assert [(t.name, t.shape, t.shape_signature, t.dtype, t.buffer, t.is_variable) for t in a.tensors] == \
        [(t.name, t.shape, t.shape_signature, t.dtype, t.buffer, t.is_variable) for t in b.tensors]
    for x, y in zip(a.tensors, b.tensors):
        assert (x.quantization is None) == (y.quantization is None) and (x.sparsity is None) == (y.sparsity is None)
        if x.quantization is not None:
            assert np.array_equal(x.quantization.scales, y.quantization.scales)
            assert np.array_equal(x.quantization.zero_points, y.quantization.zero_points)
            assert x.quantization.quantized_dimension == y.quantization.quantized_dimension
        if x.sparsity is not None:
            assert repr(x.sparsity) == repr(y.sparsity)
        assert bytes(a.raw(x.index).tobytes()) == bytes(b.raw(y.index).tobytes())
    assert [(o.opcode, o.version, o.inputs, o.outputs, dict(o.options), o.custom_options) for o in a.operators] == \
        [(o.opcode, o.version, o.inputs, o.outputs, dict(o.options), o.custom_options) for o in b.operators]
    assert (a.inputs, a.outputs, a.signature_defs, a.metadata, a.version, a.description) == \
        (b.inputs, b.outputs, b.signature_defs, b.metadata, b.version, b.description)
    assert repr(a.subgraphs) == repr(b.subgraphs)
    assert [a.data[s:s + n] for s, n in a._buffers] == [b.data[s:s + n] for s, n in b._buffers]


def model_t(data: bytes) -> Any:
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    for buffer in model.buffers or []:  # external buffers: compare their bytes, not their offsets
        if buffer.offset > 1:
            buffer.data = np.frombuffer(data[buffer.offset:buffer.offset + buffer.size], np.uint8)
    return model


def assert_same_outputs(a: t2k.TFLiteModel, b: t2k.TFLiteModel) -> None:
    inputs = reference.random_inputs(a, 1)[0]
    expected, _ = reference.run(reference.make_interpreter(a), inputs)
    actual, _ = reference.run(reference.make_interpreter(b), inputs)
    for x, y in zip(expected, actual, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


@pytest.mark.parametrize("name", corpus.MODELS)
def test_corpus_round_trip_is_lossless(corpus_model: Any, name: str) -> None:
    original = t2k.read(corpus_model(name))
    text = to_json(original)
    rebuilt = t2k.read(from_json(text))
    assert_same_read(original, rebuilt)
    assert_same_object(model_t(original.data), model_t(rebuilt.data))
    assert to_json(rebuilt) == text  # and the JSON is a fixed point
    if name != "face_landmark_with_attention":  # its custom ops are not in the stock interpreter
        assert_same_outputs(original, rebuilt)


def test_tiny_round_trip_and_path_source(tmp_path: Any) -> None:
    path = tmp_path / "tiny.tflite"
    path.write_bytes(tiny.tflite())
    text = to_json(path, tmp_path / "tiny.json")
    assert (tmp_path / "tiny.json").read_text() == text
    data = from_json(text, tmp_path / "back.tflite")
    assert (tmp_path / "back.tflite").read_bytes() == data
    assert from_json(to_json(data)) == data  # repacking is deterministic
    assert_same_outputs(t2k.read(path), t2k.read(data))


def test_buffer_encodings_small_lists_large_base64() -> None:
    doc = json.loads(to_json(tiny.tflite()))
    tfl = t2k.read(tiny.tflite())
    kernel = tfl.tensor(tfl.operators[0].inputs[1])
    entry = doc["buffers"][kernel.buffer]
    assert entry["dtype"] == "FLOAT32" and entry["shape"] == list(kernel.shape)
    assert base64.b64decode(entry["base64"]) == tfl.raw(kernel.index).tobytes()
    bias = doc["buffers"][tfl.tensor(tfl.operators[0].inputs[2]).buffer]
    assert bias["dtype"] == "FLOAT32" and len(bias["data"]) == 4
    bias["data"] = [1.5, 2.5, 3.5, 4.5]
    edited = t2k.read(from_json(json.dumps(doc)))
    assert edited.constant(tfl.operators[0].inputs[2]).tolist() == [1.5, 2.5, 3.5, 4.5]
    assert doc["subgraphs"][0]["tensors"][0]["type"] == "FLOAT32"


def test_external_buffers_round_trip() -> None:
    doc = json.loads(to_json(tiny.tflite()))
    for entry in doc["buffers"]:
        if entry:
            entry["external"] = True
    count = sum(bool(entry) for entry in doc["buffers"])
    data = from_json(json.dumps(doc))
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    placed = [b for b in model.buffers if b.offset > 1]
    assert len(placed) == count >= 4 and all(b.data is None and b.offset % 16 == 0 for b in placed)
    assert json.loads(to_json(data))["buffers"] == doc["buffers"]
    assert_same_read(t2k.read(tiny.tflite()), t2k.read(from_json(to_json(tiny.tflite()))))
    assert_same_object(model_t(tiny.tflite()), model_t(data))
    assert_same_outputs(t2k.read(tiny.tflite()), t2k.read(data))


def test_editing_a_stride_changes_the_output_shape() -> None:
    import tensorflow as tf

    kernel = np.random.default_rng(0).normal(size=(3, 3, 2, 4)).astype(np.float32)
    function = tf.function(lambda x: tf.nn.conv2d(x, kernel, 1, "SAME"))
    concrete = function.get_concrete_function(tf.TensorSpec((1, 8, 8, 2), tf.float32))
    data = bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())
    doc = json.loads(to_json(data))
    (conv,) = [op for op in doc["subgraphs"][0]["operators"] if op["opcode"] == "CONV_2D"]
    assert conv["builtin_options"]["stride_w"] == 1
    conv["builtin_options"]["stride_w"] = conv["builtin_options"]["stride_h"] = 2
    out = doc["subgraphs"][0]["tensors"][conv["outputs"][0]]
    out["shape"] = [1, 4, 4, 4]  # the interpreter checks the declared output shape of static models
    edited = t2k.read(from_json(json.dumps(doc)))
    interp = reference.make_interpreter(edited)
    (result,), _ = reference.run(interp, reference.random_inputs(edited, 1)[0])
    assert result.shape == (1, 4, 4, 4)


def test_renaming_a_tensor() -> None:
    doc = json.loads(to_json(tiny.tflite()))
    doc["subgraphs"][0]["tensors"][3]["name"] = "kernel"
    assert t2k.read(from_json(json.dumps(doc))).tensor(3).name == "kernel"


def _broken(edit: Any) -> str:
    doc = json.loads(to_json(tiny.tflite()))
    edit(doc)
    with pytest.raises(InvalidModelError) as info:
        from_json(json.dumps(doc))
    return str(info.value)


def test_truncated_json_text() -> None:
    text = to_json(tiny.tflite())
    with pytest.raises(InvalidModelError, match="not JSON text at line"):
        from_json(text[: len(text) // 2])


def test_deeply_nested_json_is_a_library_error() -> None:
    """The json module recurses once per level: 100000 levels were a raw RecursionError."""
    deep = "[" * 100_000 + "]" * 100_000
    for text in (deep, '{"subgraphs": ' + deep + "}"):
        with pytest.raises(InvalidModelError, match="nested too deeply to parse"):
            from_json(text)


def test_wrong_type_names_the_path() -> None:
    message = _broken(lambda d: d["subgraphs"][0]["operators"][2]["builtin_options"].update(stride_w="two"))
    assert "subgraphs[0].operators[2].builtin_options.stride_w" in message
    assert "expected an integer in int32's range" in message and "received 'two' (str)" in message
    message = _broken(lambda d: d["subgraphs"][0]["tensors"][1].update(shape=[2.5]))
    assert "subgraphs[0].tensors[1].shape[0]" in message
    message = _broken(lambda d: d["subgraphs"][0]["tensors"][1].update(name=7))
    assert "subgraphs[0].tensors[1].name: expected a string, received 7 (int)" in message


def test_unknown_enum_name() -> None:
    options = lambda d: d["subgraphs"][0]["operators"][0]["builtin_options"]  # noqa: E731
    message = _broken(lambda d: options(d).update(fused_activation_function="RELU7"))
    assert "builtin_options.fused_activation_function: expected a ActivationFunctionType name" in message
    assert "RELU6" in message and "received 'RELU7'" in message
    message = _broken(lambda d: options(d).update(type="Conv9DOptions"))
    assert "builtin_options.type" in message
    message = _broken(lambda d: d["subgraphs"][0]["tensors"][0].update(type="FLOAT33"))
    assert "subgraphs[0].tensors[0].type: expected a TensorType name" in message


def test_unknown_field() -> None:
    message = _broken(lambda d: d["subgraphs"][0]["operators"][1]["builtin_options"].update(stride_x=1))
    assert "subgraphs[0].operators[1].builtin_options.stride_x: unknown field of Pool2DOptions" in message
    assert "stride_w" in message
    assert "at colour: unknown field of Model" in _broken(lambda d: d.update(colour=1))


def test_out_of_range_indices() -> None:
    message = _broken(lambda d: d["subgraphs"][0]["operators"][1]["inputs"].__setitem__(0, 99))
    assert "subgraphs[0].operators[1].inputs[0]: expected a tensor index (-1: absent) in [-1, 8), received 99" in message
    message = _broken(lambda d: d["subgraphs"][0]["tensors"][2].update(buffer=40))
    assert "subgraphs[0].tensors[2].buffer: expected a buffer index in [0, " in message
    message = _broken(lambda d: d["subgraphs"][0]["operators"][1].update(opcode_index=5))
    assert "subgraphs[0].operators[1].opcode_index: expected an operator_codes index in [0, 2)" in message
    message = _broken(lambda d: d["subgraphs"][0]["operators"][1].update(opcode="ADD"))
    assert "subgraphs[0].operators[1].opcode: expected 'MAX_POOL_2D'" in message
    message = _broken(lambda d: d["subgraphs"][0]["tensors"][0].update(buffer=-1))
    assert "subgraphs[0].tensors[0].buffer: expected an integer in uint32's range" in message


def test_bad_buffers() -> None:
    message = _broken(lambda d: d["buffers"][4].update(shape=[9]))
    assert "buffers[4].base64: expected 36 bytes for FLOAT32 [9], received 432" in message
    message = _broken(lambda d: d["buffers"][2].update(data=[1, "x"]))
    assert "buffers[2].data[1]: expected a number (float32)" in message
    message = _broken(lambda d: d["buffers"][2].update(dtype="FLOAT8"))
    assert "buffers[2].dtype: expected a dtype name" in message
