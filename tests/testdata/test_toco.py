"""TOCO-style uint8 files derived from TF's int8 output (testdata/toco.py), and the float-mode bound.

Each derivation step must leave every tensor the interpreter computes unchanged; every derived
file converts and verifies, per layer, in both modes at the default bounds; and a float model's
output bound grows with the file's depth (verification/quantized.py) instead of the 48 steps
fitted to the suite.
"""

from __future__ import annotations

import pytest

import tflite2keras as t2k
from tflite2keras.errors import InvalidArgumentError
from tflite2keras.layers import Saturate
from tflite2keras.testdata import quantized_suite, toco
from tflite2keras.tflite.quant import affine
from tflite2keras.verification.quantized import FLOAT_STEPS_PER_OP, bound_steps, depths

MODELS = tuple(toco.SHAPES)
#: Fused activations the output ranges carry in each model (RELU6 into [0, 6], RELU into [0, x]).
DROPPED = {"mobilenet_v1": 25, "mobilenet_v2": 34, "classifier": 2}


@pytest.mark.parametrize("name", MODELS)
def test_uint8_shift_keeps_every_tensor(name: str) -> None:
    int8, uint8 = toco.tflite(name, "int8"), toco.tflite(name, "uint8")
    tfl = t2k.read(uint8)
    assert not any(t.dtype == "INT8" for t in tfl.tensors)
    assert tfl.tensor(tfl.inputs[0]).dtype == tfl.tensor(tfl.outputs[0]).dtype == "UINT8"
    weights = [op.inputs[1] for op in tfl.operators if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D",
                                                                         "FULLY_CONNECTED")]
    zero_points = {int(affine(tfl.tensor(w)).zero_points[0]) for w in weights}
    assert len(zero_points) > 1 and zero_points != {128}, zero_points  # asymmetric, per tensor, as TOCO's
    differ = toco.check_same(int8, uint8, allowed=2)
    # XNNPACK computes the same integers; TFLite's builtin uint8 MEAN and 1x1 CONV_2D kernels round
    # a few values one step off their int8 twins (also with weights shifted by 128): the interpreter's own
    assert not [k for k in differ if k.startswith("xnnpack")], differ
    assert all(v <= 2 for v in differ.values()), differ


@pytest.mark.parametrize("name", MODELS)
def test_dropping_range_carried_activations_keeps_every_tensor(name: str) -> None:
    uint8, derived = toco.tflite(name, "uint8"), toco.tflite(name, "toco")
    assert toco.drop_range_activations(uint8)[1] == DROPPED[name]
    assert toco.check_same(uint8, derived, wide=4.0) == {}  # all integers, on both kernel sets
    def clamps(data: bytes) -> int:
        return sum(op.options.get("fused_activation_function") in ("RELU", "RELU6") for op in t2k.read(data).operators)

    assert clamps(derived) == clamps(uint8) - DROPPED[name]


@pytest.mark.parametrize("mode", ["float", "fake_quant"])
@pytest.mark.parametrize("name", MODELS)
def test_toco_file_converts_and_verifies(name: str, mode: str) -> None:
    data = toco.tflite(name)
    model = t2k.convert(data, quantized=mode)  # float, before saturation: ~250 steps off, 1e11 on MobileNetV2
    report = t2k.verify(model, data, per_layer=True)
    assert report.ok, str(report)
    assert report.layers and all(c.step is not None and c.max_error <= 2 * c.step * 1.0001 for c in report.layers), \
        str(report)
    if mode == "float":  # each range-carried activation is kept: relu6 folded into the layer, else a clamp
        relu6 = sum(getattr(getattr(la, "activation", None), "__name__", "") == "relu6" for la in model.layers)
        clamps = sum(isinstance(la, Saturate) for la in model.layers)
        assert (relu6 >= DROPPED[name]) if name != "classifier" else clamps >= DROPPED[name], (relu6, clamps)


def test_float_output_bound_grows_with_depth() -> None:
    data = toco.tflite("classifier")
    assert depths(t2k.read(data)) == [5]  # conv, depthwise, two FC and softmax; not the pool or reshape
    report = t2k.verify(t2k.convert(data), data)
    check = report.outputs[0]
    assert check.ok and check.bound <= 2 * check.noise + 5 * FLOAT_STEPS_PER_OP * check.step * 1.0001, str(report)
    assert check.bound < 12 * check.step  # before: 48 steps, whatever the depth
    assert bound_steps("float", depth=65) == 65 * FLOAT_STEPS_PER_OP and bound_steps("float", depth=0) == 2.0


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2"])
def test_float_outputs_within_the_depth_bound_alone(name: str) -> None:
    """The depth bound holds without the noise floor (as where XNNPACK is absent)."""
    data = toco.tflite(name)
    check = t2k.verify(t2k.convert(data), data, samples=8).outputs[0]
    assert check.max_error <= bound_steps("float", depth=depths(t2k.read(data))[0]) * check.step, check


def test_to_uint8_refuses_per_channel_weights() -> None:
    with pytest.raises(InvalidArgumentError, match="expected one scale"):
        toco.to_uint8(quantized_suite.tflite("conv1d_audio", "int8"))


def test_unknown_model_or_step_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="received 'resnet'"):
        toco.tflite("resnet")
