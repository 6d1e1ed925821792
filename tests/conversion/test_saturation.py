"""Float mode keeps the integer kernels' saturation (quantized.py, context.py, layers/quantize.py).

TOCO-era files use uint8 activations and weights with zero points, and carry ReLU6 only in an
op's output range: fused activation NONE, output range [0, 6]. TF 2.21 cannot write such files, so
they are derived exactly from int8 ones: each fused RELU6 whose output range already is [0, 6] is
dropped, and a per-tensor int8 file is shifted to uint8 (:mod:`tflite2keras.testdata.toco`, whose
tests cover the TOCO-style MobileNetV1, MobileNetV2 and classifier); the interpreter must compute
the same tensors before and after each. A float model must clamp where
the integer kernels saturate (before: 246 and 244 output steps off).
"""

from __future__ import annotations

import json
from typing import Any

import keras
import numpy as np
import pytest

import tflite2keras as t2k
from tflite2keras.layers import Saturate
from tflite2keras.ops.ranges import natural_range, range_activation
from tflite2keras.testdata import quantized_suite
from tflite2keras.testdata import toco as toco_lib
from tflite2keras.tflite.model import Operator
from tflite2keras.writer.flatjson import from_json, to_json


def per_tensor_int8_io() -> bytes:
    """The suite's MobileNetV2 as an int8-I/O file with per-tensor weights (as TOCO quantized them)."""
    from tflite2keras.testdata import suite

    return toco_lib.per_tensor_int8(suite.keras_model("mobilenet_v2"))


@pytest.fixture(scope="module")
def files() -> tuple[bytes, bytes, int]:
    original = quantized_suite.tflite("mobilenet_v2", "int8")
    return (original, *toco_lib.drop_range_activations(original))


@pytest.fixture(scope="module")
def uint8_files() -> tuple[bytes, bytes, bytes]:
    """The per-tensor int8 file, it shifted to uint8, and that with its [0, 6] RELU6 dropped."""
    int8 = per_tensor_int8_io()
    shifted = toco_lib.to_uint8(int8)
    return int8, shifted, toco_lib.drop_range_activations(shifted)[0]


def test_dropping_a_relu6_that_the_range_carries_changes_no_tensor(files: Any) -> None:
    original, toco, dropped = files
    assert dropped >= 30
    assert sum(op.options.get("fused_activation_function") == "RELU6" for op in t2k.read(toco).operators) == 2
    assert toco_lib.check_same(original, toco, wide=4.0) == {}  # wider than calibration: ranges saturate


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
    assert toco_lib.check_same(int8, shifted) == {}  # XNNPACK and builtin kernels alike
    assert toco_lib.check_same(shifted, toco) == {}


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
