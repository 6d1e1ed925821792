"""Float mode keeps the integer kernels' saturation (quantized.py, context.py, layers/quantize.py).

TOCO-era files use uint8 activations and weights with zero points, and carry ReLU6 only in an
op's output range: fused activation NONE, output range [0, 6]. TF 2.21 cannot write such files, so
they are derived exactly from int8 ones: each fused RELU6 whose output range already is [0, 6] is
dropped (:func:`toco_style`), and a per-tensor int8 file is shifted to uint8 (:func:`to_uint8`); the
interpreter must compute the same tensors before and after each. A float model must clamp where
the integer kernels saturate (before: 246 and 244 output steps off).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.layers import Saturate
from tflite2keras.ops.ranges import natural_range, range_activation
from tflite2keras.testdata import quantized_suite
from tflite2keras.tflite.model import Operator
from tflite2keras.tflite.quant import affine
from tflite2keras.verification.reference import make_interpreter, run
from tflite2keras.writer.flatjson import from_json, to_json


def toco_style(data: bytes) -> tuple[bytes, int]:
    """``data`` with every fused RELU6 dropped whose output range is [0, 6] (within half a step,
    where the kernel's own RELU6 clamps); and how many were dropped."""
    tfl = t2k.read(data)
    doc = json.loads(to_json(data))
    dropped = 0
    for op, entry in zip(tfl.operators, doc["subgraphs"][0]["operators"]):
        options = entry.get("builtin_options") or {}
        edge = affine(tfl.tensor(op.outputs[0])) if op.outputs else None
        if options.get("fused_activation_function") != "RELU6" or edge is None:
            continue
        low, high = edge.range()
        if low == 0 and abs(high - 6) <= edge.step / 2:
            options["fused_activation_function"] = "NONE"
            dropped += 1
    return from_json(json.dumps(doc)), dropped


def to_uint8(data: bytes) -> bytes:
    """``data`` with every int8 tensor as uint8: ``q + 128``, zero point + 128, as TOCO wrote weights
    and activations (asymmetric per-tensor uint8). Exact for per-tensor files only."""
    doc = json.loads(to_json(data))
    shifted: set[int] = set()
    for tensor in doc["subgraphs"][0]["tensors"]:
        if tensor["type"] != "INT8":
            continue
        quantization = tensor["quantization"]
        assert len(quantization["scale"]) == 1, tensor["name"]  # uint8 kernels take per-tensor weights
        tensor["type"] = "UINT8"
        quantization["zero_point"] = [z + 128 for z in quantization.get("zero_point", [0])]
        buffer = doc["buffers"][tensor["buffer"]]
        if ("data" in buffer or "base64" in buffer) and tensor["buffer"] not in shifted:
            shifted.add(tensor["buffer"])
            raw = np.array(buffer["data"], np.int8) if "data" in buffer else np.frombuffer(
                base64.b64decode(buffer["base64"]), np.int8)
            values = (raw.astype(np.int16) + 128).astype(np.uint8)
            buffer.clear()
            buffer.update(dtype="UINT8", shape=[values.size], base64=base64.b64encode(values.tobytes()).decode())
    return from_json(json.dumps(doc))


def per_tensor_int8_io() -> bytes:
    """The suite's MobileNetV2 as an int8-I/O file with per-tensor weights (as TOCO quantized them)."""
    import tensorflow as tf

    from tflite2keras.testdata import suite

    model = suite.keras_model("mobilenet_v2")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = quantized_suite.representative(tuple(model.inputs[0].shape))
    converter.representative_dataset = lambda: ([x] for x in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    converter._experimental_disable_per_channel = True
    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(converter.convert())


@pytest.fixture(scope="module")
def files() -> tuple[bytes, bytes, int]:
    original = quantized_suite.tflite("mobilenet_v2", "int8")
    return (original, *toco_style(original))


@pytest.fixture(scope="module")
def uint8_files() -> tuple[bytes, bytes, bytes]:
    """The per-tensor int8 file, it shifted to uint8, and that with its [0, 6] RELU6 dropped."""
    int8 = per_tensor_int8_io()
    shifted = to_uint8(int8)
    return int8, shifted, toco_style(shifted)[0]


def _same_tensors(a: bytes, b: bytes, shift: int, wide: float) -> None:
    """The interpreter computes the same integers from ``a`` and ``b`` (``b``'s less ``shift``), on
    both kernel sets, every op output; inputs over ``wide`` times the input's range, or all integers."""
    ta, tb = t2k.read(a), t2k.read(b)
    produced = [t for op in ta.operators for t in op.outputs]
    rng = np.random.default_rng(0)
    for kernels in ("xnnpack", "builtin"):
        first = make_interpreter(ta, kernels, preserve=True)
        second = make_interpreter(tb, kernels, preserve=True)
        detail = first.get_input_details()[0]
        for _ in range(2):
            if detail["dtype"] == np.float32:
                x = rng.uniform(-wide, wide, detail["shape"]).astype(np.float32)
            else:
                x = rng.integers(-128, 128, detail["shape"]).astype(detail["dtype"])
            y = (x.astype(np.int16) + shift).astype(second.get_input_details()[0]["dtype"]) if shift else x
            _, tensors_a = run(first, [x], produced)
            _, tensors_b = run(second, [y], produced)
            for t in produced:
                offset = shift if tensors_b[t].dtype == np.uint8 and tensors_a[t].dtype == np.int8 else 0
                np.testing.assert_array_equal(tensors_a[t].astype(np.int64), tensors_b[t].astype(np.int64) - offset,
                                              err_msg=f"tensor {t} ({kernels})")


def test_dropping_a_relu6_that_the_range_carries_changes_no_tensor(files: Any) -> None:
    original, toco, dropped = files
    assert dropped >= 30
    assert sum(op.options.get("fused_activation_function") == "RELU6" for op in t2k.read(toco).operators) == 2
    _same_tensors(original, toco, 0, wide=4.0)  # wider than calibration: ranges saturate


def test_float_model_clamps_to_output_ranges_and_verifies(files: Any) -> None:
    _, toco, dropped = files
    model = t2k.convert(toco)  # before: output 246 steps off, since nothing clamped
    report = t2k.verify(model, toco, samples=2, per_layer=True)
    assert report.ok, str(report)
    assert len(report.layers) >= 60, str(report)
    relu6 = [la for la in model.layers if getattr(getattr(la, "activation", None), "__name__", "") == "relu6"]
    assert len(relu6) == dropped + 2  # the range's clamp folded into the conv's activation=
    assert any(isinstance(la, Saturate) for la in model.layers)
    assert not t2k.lint(model, toco)  # a relu6 that the range carries is the file's activation


def test_clamps_only_where_a_result_can_leave_its_range(files: Any) -> None:
    _, toco, _ = files
    model = t2k.convert(toco)
    clamps = [la for la in model.layers if isinstance(la, Saturate)]
    assert clamps
    for clamp in clamps:  # after a linear conv, dense or add, or the float input's QUANTIZE; after relu6 or
        # the mean of relu6 outputs only into a range narrower than [0, 6]; never after a reshape or softmax
        before = clamp._inbound_nodes[0].input_tensors[0]._keras_history.operation
        kind = type(before).__name__
        activation = getattr(getattr(before, "activation", None), "__name__", "linear")
        assert kind in ("Conv2D", "DepthwiseConv2D", "Dense", "Add", "InputLayer", "GlobalAveragePooling2D"), kind
        assert (activation == "linear" and kind != "GlobalAveragePooling2D") or clamp.high < 5.9, (before.name,
                                                                                                 clamp.high)
    tfl = t2k.read(toco)
    assert sum(range_activation(tfl, op) == "relu6" for op in tfl.operators) == len(
        [op for op in t2k.read(files[0]).operators if op.options.get("fused_activation_function") == "RELU6"]) - 2


def test_fake_quant_model_is_unchanged(files: Any) -> None:
    _, toco, _ = files
    model = t2k.convert(toco, quantized="fake_quant")
    assert not any(isinstance(la, Saturate) for la in model.layers)  # FakeQuant clamps already
    report = t2k.verify(model, toco, samples=2, per_layer=True)
    assert report.ok, str(report)


def test_saturated_model_reloads_in_safe_mode_with_identical_outputs(files: Any, tmp_path: Any) -> None:
    model = t2k.convert(files[1])
    assert any(isinstance(la, Saturate) for la in model.layers)
    model.save(tmp_path / "model.keras")
    reloaded = t2k.load(tmp_path / "model.keras")
    x = np.random.default_rng(1).uniform(-4, 4, (2, *model.input.shape[1:])).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(reloaded(x)))


@pytest.mark.parametrize(("op", "inputs", "expected"), [
    (Operator(0, "MAX_POOL_2D", 1, (0,), (1,), {}), [(-1.0, 2.0)], (-1.0, 2.0)),
    (Operator(0, "CONCATENATION", 1, (0, 1), (2,), {}), [(-1.0, 2.0), (0.0, 3.0)], (-1.0, 3.0)),
    (Operator(0, "PAD", 1, (0, 1), (2,), {}), [(1.0, 2.0)], (0.0, 2.0)),
    (Operator(0, "LOGISTIC", 1, (0,), (1,), {}), [(-9.0, 9.0)], (0, 1)),
    (Operator(0, "ADD", 1, (0, 1), (2,), {"fused_activation_function": "RELU"}), [(-1.0, 2.0)] * 2, (0, np.inf)),
    (Operator(0, "ADD", 1, (0, 1), (2,), {}), [(-1.0, 2.0)] * 2, (-np.inf, np.inf)),
])
def test_natural_range(op: Operator, inputs: list[tuple[float, float]], expected: tuple[float, float]) -> None:
    assert natural_range(op, inputs) == expected


def test_saturate_layer_clamps_and_refuses_an_empty_range() -> None:
    layer = Saturate(low=0.0, high=5.5)
    assert np.asarray(layer(np.array([[-1.0, 3.0, 7.0]], np.float32))).tolist() == [[0.0, 3.0, 5.5]]
    assert Saturate.from_config(layer.get_config()).high == 5.5
    with pytest.raises(t2k.errors.InvalidArgumentError, match="low <= high"):
        Saturate(low=1.0, high=0.0)
    assert keras.ops.convert_to_numpy(layer(np.zeros((1, 1), np.float32))).dtype == np.float32


def test_uint8_shift_and_relu6_drop_change_no_tensor(uint8_files: Any) -> None:
    int8, shifted, toco = uint8_files
    tfl = t2k.read(toco)
    assert tfl.tensor(tfl.inputs[0]).dtype == "UINT8" and not any(
        tfl.tensor(t).dtype == "INT8" for op in tfl.operators for t in op.inputs if t >= 0)
    _same_tensors(int8, shifted, 128, wide=1.0)
    _same_tensors(shifted, toco, 0, wide=1.0)


@pytest.mark.parametrize("mode", ["float", "fake_quant"])
def test_uint8_toco_style_file_verifies(uint8_files: Any, mode: str) -> None:
    toco = uint8_files[2]
    model = t2k.convert(toco, quantized=mode)  # float, before: output 244 steps off
    report = t2k.verify(model, toco, samples=2, per_layer=True)
    assert report.ok, str(report)
    assert len(report.layers) >= 60 and all(c.step is not None for c in report.layers)
    if mode == "fake_quant":
        assert all(c.steps <= 2 for c in report.layers), str(report)


def requantized(data: bytes, op_index: int, factor: float) -> bytes:
    """``data`` with a QUANTIZE after op ``op_index`` that requantizes its output to ``factor`` times
    its scale, read by the ops after it in its place."""
    doc = json.loads(to_json(data))
    graph = doc["subgraphs"][0]
    tensor = graph["operators"][op_index]["outputs"][0]
    narrow = json.loads(json.dumps(graph["tensors"][tensor]))
    narrow.update(name=narrow["name"] + "_requantized", buffer=0)
    narrow["quantization"]["scale"] = [s * factor for s in narrow["quantization"]["scale"]]
    graph["tensors"].append(narrow)
    new = len(graph["tensors"]) - 1
    for op in graph["operators"][op_index + 1:]:
        op["inputs"] = [new if i == tensor else i for i in op["inputs"]]
    code = next(i for i, c in enumerate(doc["operator_codes"]) if c.get("builtin_code") == "QUANTIZE")
    graph["operators"].insert(op_index + 1, {"opcode": "QUANTIZE", "opcode_index": code, "inputs": [tensor],
                                             "outputs": [new]})
    return from_json(json.dumps(doc))


@pytest.mark.parametrize("mode", ["float", "fake_quant"])
def test_a_requantization_into_a_narrower_range_pairs_with_its_quantize(mode: str) -> None:
    data = requantized(quantized_suite.tflite("conv1d_audio", "int8"), 12, 0.5)  # before the MEAN, half the range
    model = t2k.convert(data, quantized=mode)
    report = t2k.verify(model, data, samples=2, per_layer=True)  # before: the clamp was paired with the
    assert report.ok, str(report)  # RESHAPE's tensor, as the same tensor: 92 steps off there
    grid = [c for c in report.layers if c.tensor.endswith("_requantized")]
    assert len(grid) == 1 and ("_saturate" if mode == "float" else "_fake_quant") in grid[0].name, str(report)
